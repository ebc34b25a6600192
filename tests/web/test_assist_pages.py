"""Live assist pages end to end in headless Chromium (Debian's chromium through Playwright, no
download), against a real ``guifan serve`` app with the live assist API: the agent's page used by
keyboard alone (a forbidden phrase typed shows the warning, taking the replacement fixes the draft,
a complaint brings the apology hint and the apology clears it, a dismissed hint stays gone), turns
posted by the chat platform's integration appearing on the page, the page embedded in another
origin's frame telling its parent what was sent, and the live board by role, updated without a
reload. Every page fails the test on a Content-Security-Policy violation or a script error."""

from __future__ import annotations

import http.server
import re
import shutil
import socket
import threading
from contextlib import contextmanager

import httpx
import pytest

from tests.web.conftest import PASSWORD, serving
from tests.web.test_browser import browser, violations  # noqa: F401 (fixtures)
from tests.web.test_browser import log_in as sign_in

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test extra")
expect = sync_api.expect
pytest.importorskip("guifan.web.assist.api", reason="the live assist API is not in this tree yet")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")

COMPLAINT = "我要投诉,快递三天了还没到,<b>太慢了</b>"
APOLOGY = "非常抱歉给您带来了不好的体验,我非常理解您现在的心情。"
FORBIDDEN = "这不归我管"
GREETING = "您好,很高兴为您服务,请问有什么可以帮您?"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def desktop(files: dict[str, str]):
    """A stand-in agent desktop on another origin (another port: the origin ``guifan serve
    --frame-ancestors`` allows) serving ``files`` (path → HTML or JavaScript)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            path = self.path.split("?")[0]
            if path not in files:
                self.send_error(404)
                return
            kind = "text/javascript" if path.endswith(".js") else "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.end_headers()
            self.wfile.write(files[path].encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", DESK_PORT), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield DESK_ORIGIN
    finally:
        server.shutdown()
        thread.join(timeout=5)


def framing(guifan: str, session_id: str) -> dict[str, str]:
    """A desktop that frames the assist page and lists the messages the page posts to it."""
    return {"/": f'<!doctype html><html><body><h1>坐席桌面</h1><iframe id="assist" title="实时辅助" '
                 f'src="{guifan}/assist/{session_id}" width="1000" height="700"></iframe>'
                 f'<ol id="sent"></ol><script src="/desk.js"></script></body></html>',
            "/desk.js": 'window.addEventListener("message", function (e) { var li = document.createElement("li");'
                        ' li.textContent = e.origin + " " + JSON.stringify(e.data);'
                        ' document.getElementById("sent").appendChild(li); });'}


# A chat platform's page on another origin using assist-client.js over the WebSocket with an API
# token (the API's HTTP answers carry no CORS headers; a WebSocket needs none). It logs each step.
PLATFORM_JS = """
(async function () {
  var params = new URLSearchParams(location.search);
  function log(line) { var li = document.createElement("li"); li.textContent = line; document.getElementById("log").appendChild(li); }
  try {
    var client = new GuifanAssist.Client({baseUrl: params.get("guifan"), token: params.get("token"), transport: "socket"});
    var session = await client.createSession({channel: "chat", agentId: "1024"});
    log("created " + (session.id.length > 10));
    var pushed = [];
    session.on("hint", function (hint) { pushed.push(hint.clauses.join(",")); });
    session.connect();
    await session.turn({role: "customer", text: "我要投诉,快递三天了还没到"});
    var apology = session.list().filter(function (h) { return h.clauses.indexOf("S-D1") >= 0; })[0];
    log("apology hint " + !!apology + " " + (apology ? apology.wording[0] : ""));
    var check = await session.draft("这不归我管");
    log("draft " + check.ok + " " + check.findings.map(function (f) { return f.clauses.join(","); }).join(" "));
    var fixed = GuifanAssist.applyReplacement("这不归我管", check.findings[0]);
    log("fixed " + (await session.draft(fixed)).ok);
    await session.turn({role: "agent", text: "非常抱歉给您带来了不好的体验,我非常理解您现在的心情。"});
    log("apology cleared " + !session.hints.has(apology.id));
    var other = session.list()[0];
    await session.dismiss(other.id);
    log("dismissed " + !session.hints.has(other.id) + " " + (await session.state()).dismissed.indexOf(other.id));
    log("listed " + (await client.listSessions()).length);
    var ended = await session.end();
    log("ended " + (ended.conversation_id > 0));
    try { await session.turn({role: "agent", text: "再见"}); } catch (error) { log("after end " + error.status + " " + error.message); }
    log("pushed " + pushed.join(" "));
  } catch (error) {
    log("error " + error.status + " " + error.message);
  }
  log("done");
})();
"""


DESK_PORT = _free_port()
DESK_ORIGIN = f"http://127.0.0.1:{DESK_PORT}"


@pytest.fixture
def site(tmp_path):
    """The workspace served for real, with agents in two teams, their leads, a supervisor, a
    reviewer, and an API token of the supervisor for the chat platform's integration."""
    from guifan.web.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'assist.db'}", secret="e2e", frame_ancestors=[DESK_ORIGIN])
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, "agent1", PASSWORD, "agent", team="一组", agent_code="1024", display_name="坐席小李")
        workspace.add_user(session, "agent2", PASSWORD, "agent", team="二组", agent_code="2048", display_name="坐席小张")
        workspace.add_user(session, "lead1", PASSWORD, "team_lead", team="一组")
        workspace.add_user(session, "lead2", PASSWORD, "team_lead", team="二组")
        integration = workspace.add_user(session, "super", PASSWORD, "supervisor")
        workspace.add_user(session, "rev", PASSWORD, "reviewer")
        session.flush()
        token = workspace.create_token(session, integration, "聊天平台")
        session.commit()
    with serving(app) as base:
        yield {"base": base, "token": token,
               "platform": httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)}


@pytest.fixture
def problems(violations):
    """Content-Security-Policy violations (test_browser's ``violations``) and script errors of every page."""
    return violations


def log_in(browser, base: str, username: str, problems: list[str]):
    page = sign_in(browser, base, username, problems)
    watch(page, problems)
    return page


def watch(page, problems: list[str]) -> None:
    """Script errors count as problems too (sign_in already watches the policy)."""
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))


def start_session(platform: httpx.Client, agent: str, channel: str = "chat") -> str:
    response = platform.post("/api/v1/assist/sessions", json={"channel": channel, "agent_id": agent})
    assert response.status_code == 200, response.text
    return response.json()["session_id"]


def say(platform: httpx.Client, session_id: str, role: str, text: str) -> dict:
    response = platform.post(f"/api/v1/assist/sessions/{session_id}/turns", json={"role": role, "text": text})
    assert response.status_code == 200, response.text
    return response.json()


def focused(page) -> str:
    """The focused element, described: tag, id and classes."""
    return page.evaluate("() => { const e = document.activeElement; return e.tagName + '#' + e.id + '.' + e.className; }")


def outline_of_focused(page) -> str:
    return page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")


def test_agent_page_by_keyboard_alone(site, browser, problems):
    base, platform = site["base"], site["platform"]
    agent = log_in(browser, base, "agent1", problems)

    # Start a session from /assist (the form is keyboard-reachable; Enter on the button submits).
    agent.goto(f"{base}/assist")
    agent.focus("#channel")
    agent.keyboard.press("Tab")
    assert focused(agent).startswith("BUTTON")
    agent.keyboard.press("Enter")
    agent.wait_for_url(f"{base}/assist/*")
    session_id = agent.url.rsplit("/", 1)[1]
    agent.wait_for_selector("#link-status[data-status=open]")
    assert "坐席" in agent.locator("#session-info").inner_text() and "1024" in agent.locator("#session-info").inner_text()

    # The draft box has the focus, and it is visible.
    assert focused(agent).startswith("TEXTAREA#draft")
    assert outline_of_focused(agent) not in ("", "none")

    # The customer complains through the chat platform: the turn shows (as text, not markup) and
    # the apology hint comes, naming its clause and giving the standard wording.
    say(platform, session_id, "customer", COMPLAINT)
    apology_hint = agent.locator('.hint:has-text("S-D1")')
    apology_hint.wait_for()
    expect(agent.locator("#turns")).to_contain_text(COMPLAINT)
    assert agent.locator("#turns b").count() == 0
    assert "投诉先致歉" in apology_hint.inner_text()
    assert agent.locator(".hint .wording button", has_text="非常抱歉").count() >= 1
    expect(agent.locator("#announce")).to_contain_text("新提示")

    # Typing a forbidden phrase shows the warning inline, with its clause and the standard wording.
    agent.keyboard.type(FORBIDDEN)
    warning = agent.locator(".warning").first
    warning.wait_for()
    assert "S-F6" in warning.inner_text()
    assert "标准用语" in warning.inner_text()
    assert agent.locator("#draft-preview mark").first.inner_text() in FORBIDDEN
    assert agent.locator("#draft").get_attribute("aria-invalid") == "true"
    # Focus order: from the draft, Tab reaches the warning's replacement first; Shift+Tab comes back.
    agent.keyboard.press("Tab")
    assert focused(agent).startswith("BUTTON") and "take" in focused(agent)
    assert outline_of_focused(agent) not in ("", "none")
    agent.keyboard.press("Shift+Tab")
    assert focused(agent).startswith("TEXTAREA#draft")

    # Enter with a warning does not send at once: it says so; Alt+R takes the replacement.
    agent.keyboard.press("Enter")
    agent.wait_for_selector("#notice:not([hidden])")
    assert "再按一次 Enter" in agent.locator("#notice").inner_text()
    assert agent.locator("#turns .turn.agent").count() == 0
    agent.keyboard.press("Alt+r")
    expect(agent.locator("#draft")).not_to_have_value(re.compile(FORBIDDEN))
    agent.wait_for_selector("#warnings:empty", state="attached")
    expect(agent.locator("#draft-status")).to_have_text("草稿符合规范")
    fixed = agent.input_value("#draft")
    assert fixed and FORBIDDEN not in fixed
    assert focused(agent).startswith("TEXTAREA#draft")

    # The apology, typed and sent with Enter, clears the apology hint.
    agent.fill("#draft", "")
    agent.keyboard.type(APOLOGY)
    expect(agent.locator("#draft-status")).not_to_be_empty()
    agent.keyboard.press("Enter")
    agent.locator("#turns .turn.agent", has_text=APOLOGY).wait_for()
    apology_hint.wait_for(state="detached")
    assert agent.input_value("#draft") == ""

    # A hint dismissed by keyboard (Alt+H to the list, Delete) goes and does not come back.
    hints_before = agent.locator(".hint").count()
    if hints_before == 0:  # a hint to dismiss: the customer thanks the agent (S-A11)
        say(platform, session_id, "customer", "好的,谢谢你")
        agent.wait_for_selector(".hint")
    agent.keyboard.press("Alt+h")
    first = agent.locator(".hint").first
    assert focused(agent).startswith("LI") and "hint" in focused(agent)
    assert outline_of_focused(agent) not in ("", "none")
    dismissed = first.get_attribute("data-id")
    agent.keyboard.press("Delete")
    agent.wait_for_selector(f'.hint[data-id="{dismissed}"]', state="detached")
    agent.reload()
    agent.wait_for_selector("#link-status[data-status=open]")
    assert agent.locator(f'.hint[data-id="{dismissed}"]').count() == 0

    # Ending the session stores the conversation for QA, marked live.
    agent.click("#end")
    agent.wait_for_selector("#result-link:not([hidden])")
    agent.click("#result-link")
    agent.wait_for_url(f"{base}/conversations/*")
    assert APOLOGY in agent.locator(".transcript").inner_text()


def test_embedded_page_tells_the_desktop_what_was_sent(site, browser, problems):
    base, platform = site["base"], site["platform"]
    session_id = start_session(platform, "1024")
    agent = log_in(browser, base, "agent1", problems)
    with desktop(framing(base, session_id)) as desk:
        agent.goto(desk)
        frame = agent.frame_locator("#assist")
        frame.locator("#link-status[data-status=open]").wait_for()
        frame.locator("#draft").fill("您好,请问有什么可以帮您?")
        frame.locator("#draft").press("Enter")
        agent.wait_for_selector("#sent li")
        sent = agent.locator("#sent li").first.inner_text()
        assert sent.startswith(base) and "guifan-assist:send" in sent and "请问有什么可以帮您" in sent
    state = platform.get(f"/api/v1/assist/sessions/{session_id}").json()
    assert [t["text"] for t in state["turns"]] == ["您好,请问有什么可以帮您?"]


def test_client_from_another_origin_over_the_socket(site, browser, problems):
    """assist-client.js loaded by a chat platform's page on another origin, with an API token and
    transport "socket": create, customer turn, the apology hint, a draft warning and its replacement,
    the apology clearing the hint, a dismissal, the list, the end, and a Chinese error after it."""
    base, token = site["base"], site["token"]
    files = {"/": f'<!doctype html><html><body><ol id="log"></ol><script src="{base}/static/assist-client.js"></script>'
                  f'<script src="/platform.js"></script></body></html>', "/platform.js": PLATFORM_JS}
    page = browser.new_context().new_page()
    watch(page, problems)
    with desktop(files) as desk:
        page.goto(f"{desk}/?guifan={base}&token={token}")
        page.locator("#log li", has_text="done").wait_for()
        lines = page.locator("#log li").all_inner_texts()
    assert lines == [
        "created true",
        "apology hint true 非常抱歉给您带来了不好的体验,我非常理解您现在的心情。",
        "draft false S-F6",
        "fixed true",
        "apology cleared true",
        lines[5] if lines[5].startswith("dismissed true ") and not lines[5].endswith(" -1") else "dismissed …",
        "listed 1",
        "ended true",
        "after end 409 实时会话已结束",
        lines[9] if lines[9].startswith("pushed ") else "pushed …",
        "done",
    ]


def test_live_board_by_role_updated_live(site, browser, problems):
    base, platform = site["base"], site["platform"]
    first = start_session(platform, "1024", channel="phone")
    second = start_session(platform, "2048")
    say(platform, first, "customer", "你们再不解决我就去找媒体曝光,<img src=x>还要向消费者协会投诉")

    supervisor = log_in(browser, base, "super", problems)
    supervisor.goto(f"{base}/assist/board")
    supervisor.wait_for_selector(f'#board-rows tr[data-id="{first}"] .alert')
    assert supervisor.locator("#board-rows tr").count() == 2
    assert supervisor.locator(f'#board-rows tr[data-id="{first}"] .alert').first.get_attribute("data-kind") == "threat"
    assert supervisor.locator("#board-rows tr").first.get_attribute("data-id") == first  # the alerting one first
    assert supervisor.locator("#board-rows img").count() == 0  # the customer's words quoted as text
    assert "<img src=x>" in supervisor.locator(f'#board-rows tr[data-id="{first}"] .alert').first.inner_text()
    assert "一组" in supervisor.locator(f'#board-rows tr[data-id="{first}"]').inner_text()

    # A new alert in the other session shows without a reload, and that session moves to the top.
    say(platform, second, "agent", "这不归我管")
    supervisor.wait_for_selector(f'#board-rows tr[data-id="{second}"] .alert[data-kind="forbidden_sent"]')
    expect(supervisor.locator("#board-rows tr").first).to_have_attribute("data-id", second)
    expect(supervisor.locator("#board-alerts")).to_contain_text("新告警")

    # Team leads see their team's sessions, agents their own; the pages of others' sessions are 404.
    lead = log_in(browser, base, "lead1", problems)
    lead.goto(f"{base}/assist/board")
    lead.wait_for_selector(f'#board-rows tr[data-id="{first}"]')
    assert lead.locator("#board-rows tr").count() == 1
    assert lead.goto(f"{base}/assist/{second}").status == 404
    watcher = lead.goto(f"{base}/assist/{first}")
    assert watcher.status == 200
    lead.wait_for_selector(".turn.customer")
    assert lead.locator("#draft").count() == 0  # a team lead looks on, read-only

    agent = log_in(browser, base, "agent2", problems)
    agent.goto(f"{base}/assist/board")
    agent.wait_for_selector(f'#board-rows tr[data-id="{second}"]')
    assert agent.locator("#board-rows tr").count() == 1
    assert agent.goto(f"{base}/assist/{first}").status == 404

    reviewer = log_in(browser, base, "rev", problems)
    assert reviewer.goto(f"{base}/assist/board").status == 403

    # An ended session leaves the board.
    assert platform.post(f"/api/v1/assist/sessions/{first}/end").status_code == 200
    supervisor.wait_for_selector(f'#board-rows tr[data-id="{first}"]', state="detached")


def test_timer_hint_pushed_after_the_socket_dropped(site, browser, problems):
    """The WebSocket drops (closed under the page); the client reconnects by itself, attaches again,
    and the phone timer's hint (silent customer: greet again at 5 s, S-C1) is pushed to the page."""
    base, platform = site["base"], site["platform"]
    session_id = start_session(platform, "1024", channel="phone")
    agent = log_in(browser, base, "agent1", problems)
    sockets = []

    def through(route):  # pass every message through, and keep the route to close it
        sockets.append(route)
        route.connect_to_server()

    agent.route_web_socket(re.compile(r"/api/v1/assist/ws$"), through)
    agent.goto(f"{base}/assist/{session_id}")
    agent.wait_for_selector("#link-status[data-status=open]")
    agent.fill("#draft", GREETING)
    expect(agent.locator("#draft-status")).not_to_be_empty()
    agent.press("#draft", "Enter")
    agent.locator("#turns .turn.agent").wait_for()

    sockets[0].close()
    agent.wait_for_selector("#link-status:not([data-status=open])")
    agent.wait_for_selector("#link-status[data-status=open]", timeout=10_000)
    assert len(sockets) == 2  # a new socket, not the old one
    timer = agent.locator(".hint.kind-timer")
    timer.first.wait_for(timeout=15_000)
    assert "S-C1" in timer.first.inner_text()
    expect(agent.locator("#announce")).to_contain_text("新提示")
