"""The conversation page: findings beside the turn they concern with the phrase marked, turns
numbered from 1, severity, confidence, clause title and standard wording; review by keyboard in
headless Chromium (j/k, c, x)."""

from __future__ import annotations

import re
import time
from dataclasses import replace

from tests.web.conftest import PASSWORD, made, stored
from tests.web.test_browser import CHROMIUM, browser, log_in, server, violations  # noqa: F401 (fixtures)

import pytest


def test_findings_beside_their_turn_with_the_phrase_marked(app, people):
    # Turn index 1 ("您好,请问…"): 您好 marked; a whole-conversation finding stays apart.
    cid = stored(app, "c1", [replace(made("FBD010", 1, "您好"), span=(0, 2)), made("OPN001", None, "")],
                 agent_text="您好<b>请问</b>有什么可以帮您?")
    rev = people["rev"]
    page = rev.get(f"/conversations/{cid}").text
    row = page[page.index('id="turn-1"'):page.index('id="turn-2"')]
    assert "第 2 轮" in row  # the second turn, counted from 1
    assert re.search(r'<mark class="minor" data-finding="finding-\d+"[^>]*>您好</mark>&lt;b&gt;请问', row)
    assert row.index('class="beside"') < row.index('<article class="finding open minor"')
    assert "FBD010" in row and "轻微" in row and "原话 100%" in row
    assert "S-F10" in row and "标准用语" in row
    loose = page[page.index("整通对话的问题"):page.index('id="turn-0"')]
    assert "OPN001" in loose
    assert "快捷键" in page and "<kbd>j</kbd>" in page
    # The manual form takes the turn as shown (from 1).
    rev.post(f"/conversations/{cid}/findings", data={"csrf": rev.csrf, "rule": "FBD003", "turn": "4",
                                                     "quote": "我查一下"})
    manual = [f for f in rev.get(f"/api/v1/conversations/{cid}").json()["findings"] if f["manual"]]
    assert [(f["rule"], f["turn"]) for f in manual] == [("FBD003", 3)]
    assert people["agent2"].get(f"/conversations/{cid}").status_code == 404


judged_and_focused = """([id, status]) => {
    const shown = document.querySelector(`#${id} .status`);
    return document.activeElement.id === id && shown !== null && shown.innerText.includes(status);
}"""


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_review_by_keyboard(server, browser, violations):  # noqa: F811
    import httpx

    with httpx.Client(base_url=server) as api:
        token = api.post("/api/v1/auth/login", json={"username": "rev", "password": PASSWORD}).json()["csrf"]
        body = {"conversations": [{"id": "k1", "channel": "chat", "agent_id": "1024",
                                   "turns": [{"role": "customer", "text": "在吗"},
                                             {"role": "agent", "text": "你等着,我查一下"},
                                             {"role": "agent", "text": "不知道"}]}]}
        job = api.post("/api/v1/conversations", json=body, headers={"X-CSRF-Token": token}).json()
        for _ in range(600):  # up to a minute on a loaded machine
            if api.get(f"/api/v1/imports/{job['id']}").json()["status"] == "done":
                break
            time.sleep(0.1)
        cid = api.get("/api/v1/conversations").json()["items"][0]["id"]
        findings = api.get(f"/api/v1/conversations/{cid}").json()["findings"]
    assert len(findings) >= 2
    page = log_in(browser, server, "rev", violations)
    page.goto(f"{server}/conversations/{cid}")
    ids = page.eval_on_selector_all("article.finding", "els => els.map(e => e.id)")
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.id") == ids[1]
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.id") == ids[0]
    # A verdict reloads the page; focus is already on the finding before the reload, so wait for
    # the new status and the focus together.
    page.keyboard.press("c")  # confirm the first
    page.wait_for_function(judged_and_focused, arg=[ids[0], "已确认"])
    page.keyboard.press("j")
    page.keyboard.press("x")  # reject the second
    page.wait_for_function(judged_and_focused, arg=[ids[1], "已驳回"])
    # Typing in a field does not judge anything.
    page.fill(f"#{ids[1]} input[name=comment]", "cx")
    assert "已驳回" in page.inner_text(f"#{ids[1]} .status")
