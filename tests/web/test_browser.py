"""End to end in headless Chromium (Debian's chromium through Playwright; no browser download):
log in, import, open a conversation, review, appeal, decide, see the dashboard."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

from tests.web.conftest import PASSWORD, conversation, jsonl

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test extra")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest.fixture
def server(tmp_path):
    import uvicorn

    from guifan.web.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'e2e.db'}", secret="e2e")
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, "rev", PASSWORD, "reviewer", display_name="质检员小王")
        workspace.add_user(session, "super", PASSWORD, "supervisor")
        workspace.add_user(session, "agent1", PASSWORD, "agent", team="一组", agent_code="1024")
        session.commit()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def log_in(browser, base: str, username: str):
    page = browser.new_context().new_page()
    page.goto(f"{base}/")
    assert page.url.endswith("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def test_review_appeal_and_decision_in_the_browser(server, browser, tmp_path):
    upload = tmp_path / "calls.jsonl"
    upload.write_bytes(jsonl(conversation("e2e-1", "1024", agent_text="你好,<b>不</b>客气 13812345678")))

    reviewer = log_in(browser, server, "rev")
    reviewer.click("text=导入")
    reviewer.set_input_files("input[type=file]", str(upload))
    reviewer.click("text=上传并检查")
    reviewer.wait_for_selector('tr.job[data-status="done"]', timeout=60_000)  # the page refreshes itself
    assert reviewer.locator("tr.job td").nth(4).inner_text() == "1"

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

    agent = log_in(browser, server, "agent1")
    agent.click("text=e2e-1")
    open_finding = agent.locator("article.finding.confirmed").first
    open_finding.locator("input[name=reason]").fill("客户先称呼我为你")
    open_finding.locator("button", has_text="申诉").click()
    agent.wait_for_selector("text=申诉:客户先称呼我为你")

    supervisor = log_in(browser, server, "super")
    supervisor.click("text=申诉处理")
    supervisor.locator("input[name=decision]").fill("采纳")
    supervisor.click("text=采纳 (撤销该问题)")
    supervisor.wait_for_selector("text=没有待处理的申诉")

    agent.reload()
    assert "已结案" in agent.locator("h1").inner_text()
    agent.click("text=看板")
    assert agent.locator("svg.chart polyline").count() == 1
