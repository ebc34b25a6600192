"""The look, in headless Chromium at 1440 and 390 px wide: every page of every role renders with the
app's stylesheet, fits the window (a wide table scrolls inside its own box, never the page), keeps
its header on one band, and breaks no Content-Security-Policy. Each page is kept as a screenshot
(``GUIFAN_SCREENSHOTS=DIR`` keeps them; otherwise in the test's temporary folder)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import PASSWORD, serving
from tests.web.test_browser import CHROMIUM, browser, violations  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WIDTHS = (1440, 390)
ROLES = {"admin": "admin", "super": "supervisor", "rev": "reviewer", "lead": "team_lead", "agent1": "agent",
         "trainee": "trainee"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A workspace with the bundled examples imported, a live session, a training attempt and an
    appeal: every page has something to show."""
    from guifan.web.app import create_app

    folder = tmp_path_factory.mktemp("look")
    app = create_app(f"sqlite:///{folder / 'look.db'}", secret="look")
    workspace = app.state.workspace
    with workspace.sessions() as session:
        for name, role in ROLES.items():
            workspace.add_user(session, name, PASSWORD, role, display_name=f"{name} 的名字",
                               team="一组" if role in ("agent", "team_lead", "trainee") else None,
                               agent_code="1001" if role == "agent" else None)
        session.commit()
    with serving(app) as base:
        ids = _fill(base)
        yield base, ids


def _client(base: str, username: str) -> tuple[httpx.Client, dict]:
    client = httpx.Client(base_url=base, timeout=60)
    token = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).json()["csrf"]
    return client, {"X-CSRF-Token": token}


def _fill(base: str) -> dict[str, int | str]:
    admin, headers = _client(base, "admin")
    files = [("files", (p.name, p.read_bytes())) for p in sorted(EXAMPLES.iterdir()) if p.suffix != ".md"]
    job = admin.post("/api/v1/imports", files=files, headers=headers).json()
    for _ in range(600):
        if admin.get(f"/api/v1/imports/{job['id']}").json()["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    items = admin.get("/api/v1/conversations", params={"per_page": 100}).json()["items"]
    recording = next(c["id"] for c in items if c["external_id"].startswith("call-recording"))
    text = next(c["id"] for c in items if c["channel"] == "chat" and c["findings"])
    agent, agent_headers = _client(base, "agent1")
    live = agent.post("/api/v1/assist/sessions", json={"channel": "chat"}, headers=agent_headers).json()["session_id"]
    agent.post(f"/api/v1/assist/sessions/{live}/turns", json={"role": "customer", "text": "你们这快递怎么回事"},
               headers=agent_headers)
    trainee, trainee_headers = _client(base, "trainee")
    attempt = trainee.post("/api/v1/training/attempts", json={"scenario": "complaint-late-delivery"},
                           headers=trainee_headers).json()["id"]
    return {"text": text, "recording": recording, "live": live, "attempt": attempt}


def _pages(ids) -> dict[str, list[str]]:
    common = ["/", "/notifications", "/rulebook", f"/conversations/{ids['text']}", "/no-such-page"]
    return {
        "admin": common + ["/imports", "/users", "/audit", "/exemplars", "/calibration", "/dashboard", "/appeals",
                           f"/conversations/{ids['recording']}", "/assist", "/assist/board", "/training",
                           "/training/scenarios", "/training/proposals", "/training/team"],
        "rev": common + ["/imports"],
        "lead": common + ["/dashboard", "/assist/board", "/training/team"],
        "agent1": common + ["/dashboard", "/assist", f"/assist/{ids['live']}"],
        "trainee": ["/training", f"/training/attempts/{ids['attempt']}", "/notifications"],
    }


# What a page must not do: scroll sideways as a whole, hide its header's links, or fall back to
# the browser's default look (the stylesheet did not load).
LAYOUT = """() => {
  const doc = document.documentElement;
  const header = document.querySelector('header.top');
  const links = header ? [...header.querySelectorAll('a, button')] : [];
  const clipped = links.filter(a => { const r = a.getBoundingClientRect();
                                      return r.width > 0 && (r.right > innerWidth + 1 || r.left < -1); });
  return {overflow: doc.scrollWidth - innerWidth, clipped: clipped.map(a => a.textContent.trim()),
          font: getComputedStyle(document.body).fontFamily, title: document.title};
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_at_desktop_and_phone_width(shop, browser, violations, width, tmp_path):  # noqa: F811
    base, ids = shop
    shots = Path(os.environ.get("GUIFAN_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base}/login")
    page.screenshot(path=str(shots / f"{width}-login.png"), full_page=True)
    for username, paths in _pages(ids).items():
        context.clear_cookies()
        page.goto(f"{base}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        for path in paths:
            page.goto(f"{base}{path}")
            page.wait_for_load_state("networkidle")
            found = page.evaluate(LAYOUT)
            name = f"{width}-{username}{path.replace('/', '_') or '_'}.png"
            page.screenshot(path=str(shots / name), full_page=True)
            if found["overflow"] > 1:
                problems.append(f"{username} {path}: the page scrolls sideways by {found['overflow']} px")
            if found["clipped"]:
                problems.append(f"{username} {path}: header links outside the window: {found['clipped']}")
            if "WenQuanYi" not in found["font"] and "sans" not in found["font"]:
                problems.append(f"{username} {path}: no stylesheet font ({found['font']})")
            if not found["title"].endswith(("质检工作台", "规范 Guifan")):
                problems.append(f"{username} {path}: title {found['title']!r}")
    context.close()
    assert problems == [], "\n".join(problems)
