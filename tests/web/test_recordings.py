"""Imported call recordings kept and played: the file served with range requests in the
conversation's scope, the page's player and timeline, and (headless Chromium) a click on a turn
seeking the player. The calls are synthesized (tests/audio/synth.py: espeak-ng + sox)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from guifan.web.models import Conversation, User

from tests.web.conftest import PASSWORD, serving, stored, wait_for_job
from tests.web.test_browser import CHROMIUM, browser, log_in, violations  # noqa: F401 (fixtures)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "audio"))
import synth  # noqa: E402

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def call(tmp_path_factory) -> tuple[bytes, list]:
    """A short two-channel call as WAV bytes (the agent's last turns break voice clauses), and where
    each utterance is."""
    synth.fail_without_tools()
    path = tmp_path_factory.mktemp("calls") / "call-1024.wav"
    truth = synth.build_call([
        synth.Utterance("agent", 0.5, "您好,很高兴为您服务,请问有什么可以帮您"),
        synth.Utterance("customer", 4.5, "我的快递三天了还没到"),
        synth.Utterance("agent", 8.0, "您提供一下订单号,我帮您查一下", ending="fall"),  # falling end (S-H3)
        synth.Utterance("agent", 13.0, "请您保持电话畅通", gain_db=14),  # too loud (S-H2)
    ], path, sample_rate=8000)
    return path.read_bytes(), truth


def import_recording(actor, name: str, content: bytes) -> int:
    response = actor.post("/api/v1/imports", files=[("files", (name, content, "audio/wav"))])
    assert response.status_code == 200, response.text
    job = wait_for_job(actor, response.json()["id"])
    assert (job["checked"], job["failed"]) == (1, 0), job
    return actor.get("/api/v1/conversations").json()["items"][0]["id"]


def test_the_recording_is_kept_and_served_with_range_requests(app, people, call, tmp_path):
    content, _ = call
    rev = people["rev"]
    cid = import_recording(rev, "call-1024.wav", content)
    kept = list((tmp_path / "recordings").iterdir())
    assert [p.name for p in kept] == [f"{cid}.wav"] and not list((tmp_path / "uploads").iterdir())
    url = f"/api/v1/conversations/{cid}/recording"
    whole = rev.get(url)
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["content-type"] == "audio/wav" and whole.headers["accept-ranges"] == "bytes"
    part = rev.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == content[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(content)}"
    tail = rev.get(url, headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == content[-500:]
    open_ended = rev.get(url, headers={"Range": f"bytes={len(content) - 10}-"})
    assert open_ended.status_code == 206 and open_ended.content == content[-10:]
    beyond = rev.get(url, headers={"Range": f"bytes={len(content)}-{len(content) + 10}"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(content)}"
    # Scoped exactly like the conversation: its agent and team lead hear it, the others get 404. (A
    # stereo recording names no agent: the test gives it agent1, as a transcript's agent_id would.)
    workspace = app.state.workspace
    with workspace.sessions() as session:
        agent = session.scalar(select(User).where(User.username == "agent1"))
        row = session.get(Conversation, cid)
        row.agent_id, row.team_id = agent.id, agent.team_id
        session.commit()
    assert people["agent1"].get(url, headers={"Range": "bytes=0-3"}).content == b"RIFF"
    assert people["lead1"].get(url).status_code == 200
    for outsider in ("agent2", "lead2"):
        assert people[outsider].get(url).status_code == 404
        assert people[outsider].get(url, headers={"Range": "bytes=0-3"}).status_code == 404
    assert people["agent2"].get(url, headers=HTML).status_code == 404
    # Re-imported: the same conversation, its file replaced, never a second one.
    assert import_recording(rev, "call-1024.wav", content) == cid
    assert [p.name for p in (tmp_path / "recordings").iterdir()] == [f"{cid}.wav"]


def test_a_transcript_has_no_recording_and_the_import_page_accepts_recordings(app, people):
    rev = people["rev"]
    cid = stored(app, "c1", [])
    missing = rev.get(f"/api/v1/conversations/{cid}/recording")
    assert missing.status_code == 404 and missing.json() == {"detail": "这通会话没有录音"}
    assert "<audio" not in rev.get(f"/conversations/{cid}").text
    accept = rev.get("/imports").text.split('accept="')[1].split('"')[0].split(",")
    assert {".wav", ".flac", ".mp3", ".jsonl"} <= set(accept)


def test_the_page_plays_from_turns_findings_and_the_timeline(people, call):
    content, _ = call
    rev = people["rev"]
    cid = import_recording(rev, "call-1024.wav", content)
    detail = rev.get(f"/api/v1/conversations/{cid}").json()
    page = rev.get(f"/conversations/{cid}").text
    assert f'<audio id="recording" controls preload="metadata" src="/api/v1/conversations/{cid}/recording">' in page
    assert '<script src="/static/recording-player.js" defer></script>' in page and '<svg class="timeline"' in page
    for n, turn in enumerate(detail["turns"]):
        assert f'data-seek="{turn["start"]}" aria-label="从第 {n + 1} 轮播放"' in page
    timed = [f for f in detail["findings"] if f["turn"] is not None]
    assert timed and page.count("▶ 从此处播放") == len(timed)
    # The header's call figures are the panel's.
    header = page[page.index('class="kpis"'):page.index("</p>", page.index('class="kpis"'))]
    panel = page[page.index("语音指标"):]
    for label in ("通话时长", "保持音乐"):
        value = header.split(label, 1)[1].split("·")[0].strip()
        assert f"<dt>{label}</dt><dd>{value}</dd>" in panel.replace("\n", "").replace("    ", ""), (label, value)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_clicking_a_turn_seeks_the_player(tmp_path, call, browser, violations):  # noqa: F811
    import httpx

    from guifan.web.app import create_app

    content, truth = call
    app = create_app(f"sqlite:///{tmp_path / 'play.db'}", secret="play")
    with app.state.workspace.sessions() as session:
        app.state.workspace.add_user(session, "rev", PASSWORD, "reviewer")
        session.commit()
    with serving(app) as base:
        with httpx.Client(base_url=base) as api:
            token = api.post("/api/v1/auth/login", json={"username": "rev", "password": PASSWORD}).json()["csrf"]
            job = api.post("/api/v1/imports", files=[("files", ("call-1024.wav", content, "audio/wav"))],
                           headers={"X-CSRF-Token": token}).json()
            for _ in range(600):
                if api.get(f"/api/v1/imports/{job['id']}").json()["status"] == "done":
                    break
            cid = api.get("/api/v1/conversations").json()["items"][0]["id"]
            turns = api.get(f"/api/v1/conversations/{cid}").json()["turns"]
        page = log_in(browser, base, "rev", violations)
        page.goto(f"{base}/conversations/{cid}")
        page.wait_for_function("document.getElementById('recording').readyState >= 1")
        last = len(turns)
        page.click(f'button[aria-label="从第 {last} 轮播放"]')
        start = turns[-1]["start"]
        page.wait_for_function(f"Math.abs(document.getElementById('recording').currentTime - {start}) < 1")
        # The keyboard: the turn's button by Enter, the timeline by arrow keys.
        page.focus('button[aria-label="从第 1 轮播放"]')
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.getElementById('recording').currentTime < {turns[0]['start'] + 1}")
        page.evaluate("document.getElementById('recording').pause()")
        page.focus("svg.timeline")
        before = page.evaluate("document.getElementById('recording').currentTime")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"document.getElementById('recording').currentTime >= {before + 4}")
        # A click on the customer's speech segment plays from its start.
        customer = next(p for p in truth if p.role == "customer")
        page.click("svg.timeline rect.tl-speech.customer")
        page.wait_for_function(
            f"Math.abs(document.getElementById('recording').currentTime - {customer.start}) < 1")
        x = page.get_attribute("svg.timeline line.tl-playhead", "x1")
        assert x is not None and float(x) > 0
