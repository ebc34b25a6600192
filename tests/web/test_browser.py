"""End to end in headless Chromium (Debian's chromium through Playwright; no browser download):
log in, import, open a conversation and a recording, review, appeal, decide, see the dashboard,
all under the pages' Content-Security-Policy with no violation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORD, conversation, jsonl, serving

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test extra")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest.fixture
def server(tmp_path):
    from guifan.web.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'e2e.db'}", secret="e2e")
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, "rev", PASSWORD, "reviewer", display_name="质检员小王")
        workspace.add_user(session, "super", PASSWORD, "supervisor")
        workspace.add_user(session, "agent1", PASSWORD, "agent", team="一组", agent_code="1024")
        session.commit()
    with serving(app) as base:
        yield base


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def violations():
    """Console messages of every page that report a Content-Security-Policy violation."""
    found: list[str] = []
    yield found
    assert found == []


def log_in(browser, base: str, username: str, violations: list[str]):
    page = browser.new_context().new_page()
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{base}/")
    assert page.url.endswith("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def test_review_appeal_and_decision_in_the_browser(server, browser, tmp_path, violations):
    upload = tmp_path / "calls.jsonl"
    upload.write_bytes(jsonl(conversation("e2e-1", "1024", agent_text="你好,<b>不</b>客气 13812345678")))
    recording = Path(__file__).resolve().parents[2] / "examples" / "call-recording.mp3"

    reviewer = log_in(browser, server, "rev", violations)
    reviewer.click("text=导入")
    reviewer.set_input_files("input[type=file]", [str(upload), str(recording)])
    reviewer.click("text=上传并检查")
    reviewer.wait_for_selector('tr.job[data-status="done"]', timeout=60_000)  # the page refreshes itself
    assert reviewer.locator("tr.job td").nth(4).inner_text() == "2"

    reviewer.click("text=会话")
    reviewer.click("text=call-recording")
    # The timeline is drawn with the linked stylesheet (no inline style under the CSP): coloured lanes.
    speech = reviewer.locator("rect.tl-speech.agent").first
    assert speech.evaluate("e => getComputedStyle(e).fill") not in ("", "rgb(0, 0, 0)")

    reviewer.click("text=会话")
    reviewer.click("text=e2e-1")
    transcript = reviewer.locator(".transcript").inner_text()
    assert "<b>不</b>" in transcript  # shown as text, not markup
    assert "13812345678" not in transcript and "138****5678" in transcript
    assert reviewer.locator("mark").count() >= 1
    first = reviewer.locator("article.finding").first
    first.locator("input[name=comment]").fill("误报")
    first.locator("button", has_text="驳回").click()
    reviewer.wait_for_selector("article.finding.rejected")
    reviewer.click("text=完成复核")
    reviewer.wait_for_selector("text=已复核")

    agent = log_in(browser, server, "agent1", violations)
    agent.click("text=e2e-1")
    open_finding = agent.locator("article.finding.confirmed").first
    open_finding.locator("input[name=reason]").fill("客户先称呼我为你")
    open_finding.locator("button", has_text="申诉").click()
    agent.wait_for_selector("text=申诉:客户先称呼我为你")

    supervisor = log_in(browser, server, "super", violations)
    supervisor.click("text=申诉处理")
    supervisor.locator("input[name=decision]").fill("采纳")
    supervisor.click("text=采纳 (撤销该问题)")
    supervisor.wait_for_selector("text=没有待处理的申诉")

    agent.reload()
    assert "已结案" in agent.locator("h1").inner_text()
    agent.click("text=看板")
    assert agent.locator("svg.chart").count() >= 2 and agent.locator("svg.chart text.axis-title").count() >= 4
    for path in ("/rulebook", "/calibration", "/audit", "/dashboard"):
        supervisor.goto(f"{server}{path}")
    supervisor.click("text=退出")
    supervisor.wait_for_url(f"{server}/login")
