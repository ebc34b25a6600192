"""Live assist's API (docs/assist.md) on SQLite and PostgreSQL: sessions, turns, drafts, dismissals,
the end stored as an import, the WebSocket with its timer pushes and the live board, who may do
what, bad input, floods, the idle timeout and a restart; and every example conversation replayed
turn by turn through the API, ending with exactly what `guifan check` says of it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.websockets import WebSocketDisconnect
from typer.testing import CliRunner

from guifan.cli import app as cli
from guifan.model import Conversation as ModelConversation
from guifan.readers import read_path
from guifan.web.app import create_app
from guifan.web.assist.models import AssistEvent, AssistSession
from guifan.web.assist.service import BURST, RATE, Bucket
from guifan.web.models import ApiToken, Conversation

from .conftest import PASSWORD, Actor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
API = "/api/v1/assist"
COMPLAINT = "我的快递怎么还没到,都三天了"


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def detail(response) -> str:
    body = response.json()["detail"]
    return body if isinstance(body, str) else body[0]["msg"]


def open_session(actor: Actor, **body) -> str:
    response = actor.post(f"{API}/sessions", json={"channel": "chat", **body})
    assert response.status_code == 200, response.text
    return response.json()["session_id"]


def turn(actor: Actor, sid: str, role: str, text: str, **extra):
    return actor.post(f"{API}/sessions/{sid}/turns", json={"role": role, "text": text, **extra})


# -- the session ---------------------------------------------------------------------------------


def test_a_session_from_greeting_to_the_stored_result(app, people):
    agent = people["agent1"]
    response = agent.post(f"{API}/sessions", json={"channel": "chat"})
    body = response.json()
    sid = body["session_id"]
    assert body["status"] == "open" and body["agent_id"] == "1024" and [h["rule"] for h in body["hints"]] == ["OPN001"]
    update = turn(agent, sid, "customer", COMPLAINT).json()
    hint = next(h for h in update["hints"] if h["rule"] == "CMP001")
    assert set(hint) >= {"id", "kind", "rule", "clauses", "message", "wording", "turn", "expires"}
    assert hint["kind"] == "next_step" and hint["clauses"] == ["S-D1"] and hint["turn"] == 0
    draft = agent.post(f"{API}/sessions/{sid}/draft", json={"text": "你先听我说"}).json()
    assert draft["ok"] is False and {f["rule"] for f in draft["findings"]} >= {"FBD002", "FBD010"}
    ni = next(f for f in draft["findings"] if f["rule"] == "FBD010")
    assert ni["span"] == [0, 1] and ni["quote"] == "你" and ni["replacement"] == "您先听我说"
    update = turn(agent, sid, "agent", "您好,非常抱歉让您久等了,我马上帮您查询。").json()
    assert hint["id"] in update["cleared"] and update["turn"] == 1
    state = agent.get(f"{API}/sessions/{sid}").json()
    assert state["turn_count"] == 2 and state["turns"][1]["text"].startswith("您好") and state["result"] is None
    ended = agent.post(f"{API}/sessions/{sid}/end").json()
    assert ended["status"] == "ended" and ended["result"]["id"] == f"live-{sid}"
    rules = {f["rule"] for f in ended["result"]["findings"]}
    assert "CLS001" in rules and "CMP001" not in rules
    # Stored as an import is: in the agent's list, waiting for review, marked live.
    stored = agent.get(f"/api/v1/conversations/{ended['conversation_id']}").json()
    assert stored["review_status"] == "pending" and stored["meta"]["live"] is True
    assert stored["meta"]["assist_session"] == sid and {f["rule"] for f in stored["findings"]} == rules
    assert agent.post(f"{API}/sessions/{sid}/end").json()["conversation_id"] == ended["conversation_id"]
    refused = turn(agent, sid, "agent", "再见")
    assert refused.status_code == 409 and detail(refused) == "实时会话已结束"
    people["rev"].post(f"/api/v1/conversations/{ended['conversation_id']}/review")
    assert agent.get(f"/api/v1/conversations/{ended['conversation_id']}").json()["review_status"] == "reviewed"


def test_partials_funasr_and_dismissals(app, people):
    agent = people["agent1"]
    sid = open_session(agent, channel="phone")
    turn(agent, sid, "customer", "我订单上显示的不是这个")
    update = turn(agent, sid, "agent", "你是不是搞错了", final=False).json()
    assert update["final"] is False and "FBD003" in [h["rule"] for h in update["hints"]]
    update = agent.post(f"{API}/sessions/{sid}/funasr", json={
        "role": "agent", "message": {"mode": "2pass-offline", "text": "我帮您再核对一下订单。", "is_final": False,
                                     "timestamp": "[[5000,7000]]"}}).json()
    assert update["final"] is True and not [h for h in update["hints"] if h["rule"] == "FBD003"]
    bad = agent.post(f"{API}/sessions/{sid}/funasr", json={"role": "agent", "message": {"mode": "nope"}})
    assert bad.status_code == 422 and chinese(detail(bad))
    hint = next(h for h in turn(agent, sid, "customer", "我要投诉你们").json()["hints"] if h["rule"] == "CMP001")
    dismissed = agent.post(f"{API}/sessions/{sid}/hints/{hint['id']}/dismiss").json()
    assert dismissed["dismissed"] == hint["id"] and hint["id"] not in [h["id"] for h in dismissed["hints"]]
    assert hint["id"] not in [h["id"] for h in turn(agent, sid, "customer", "快点,都三天了").json()["hints"]]
    missing = agent.post(f"{API}/sessions/{sid}/hints/CMP001:S-D1:77/dismiss")
    assert missing.status_code == 404 and chinese(detail(missing))
    agent.post(f"{API}/sessions/{sid}/draft", json={"text": "您是不是搞错了?"})
    turn(agent, sid, "agent", "您是不是搞错了?")
    board = people["super"].get(f"{API}/sessions").json()
    alerts = next(s for s in board if s["session_id"] == sid)["alerts"]
    assert any(a["kind"] == "forbidden_sent" and a["sent_after_warning"] for a in alerts)
    agent.post(f"{API}/sessions/{sid}/end")
    with app.state.workspace.sessions() as db:
        kinds = [e.kind for e in db.scalars(select(AssistEvent).where(AssistEvent.session_id == sid))]
    assert "dismissed" in kinds and "sent_after_warning" in kinds and "alert" in kinds


# -- who may do what ------------------------------------------------------------------------------


def test_a_session_is_its_agents_their_team_leads_and_supervisors(app, people):
    sid = open_session(people["agent1"])
    for name in ("agent1", "lead1", "super", "admin"):
        assert people[name].get(f"{API}/sessions/{sid}").status_code == 200, name
    for name in ("agent2", "lead2", "rev"):
        response = people[name].get(f"{API}/sessions/{sid}")
        assert response.status_code == 404 and detail(response) == "没有这个实时会话", name
    draft = people["agent2"].post(f"{API}/sessions/{sid}/draft", json={"text": "您好"})
    assert draft.status_code == 404 and chinese(detail(draft))
    looking = turn(people["lead1"], sid, "agent", "您好")
    assert looking.status_code == 403 and chinese(detail(looking))
    assert turn(people["super"], sid, "customer", "在吗").status_code == 200
    assert [s["session_id"] for s in people["lead1"].get(f"{API}/sessions").json()] == [sid]
    assert people["lead2"].get(f"{API}/sessions").json() == [] and people["rev"].get(f"{API}/sessions").json() == []
    for name, status in (("rev", 403), ("lead1", 403)):
        response = people[name].post(f"{API}/sessions", json={"channel": "chat"})
        assert response.status_code == status and chinese(detail(response))
    other = people["agent1"].post(f"{API}/sessions", json={"channel": "chat", "agent_id": "2048"})
    assert other.status_code == 403 and detail(other) == "坐席只能为自己创建实时会话"
    for_agent = people["super"].post(f"{API}/sessions", json={"channel": "phone", "agent_id": "2048"}).json()
    assert people["agent2"].get(f"{API}/sessions/{for_agent['session_id']}").status_code == 200
    assert people["agent1"].get(f"{API}/sessions/{for_agent['session_id']}").status_code == 404
    anonymous = TestClient(app).post(f"{API}/sessions", json={"channel": "chat"})
    assert anonymous.status_code == 401
    no_csrf = people["agent1"].client.post(f"{API}/sessions/{sid}/turns", json={"role": "agent", "text": "您好"})
    assert no_csrf.status_code == 403


def test_api_tokens_for_integrations(app, people):
    token = people["super"].post("/api/v1/tokens", json={"name": "chat-desk"}).json()["token"]
    desk = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    sid = desk.post(f"{API}/sessions", json={"channel": "chat", "agent_id": "1024"}).json()["session_id"]
    assert desk.post(f"{API}/sessions/{sid}/turns", json={"role": "customer", "text": "在吗"}).status_code == 200
    assert people["agent1"].get(f"{API}/sessions/{sid}").status_code == 200
    with desk.websocket_connect(f"{API}/ws") as socket:
        socket.send_json({"type": "draft", "session_id": sid, "text": "您好", "request_id": "r1"})
        answer = socket.receive_json()
        assert answer["type"] == "draft" and answer["ok"] is True and answer["request_id"] == "r1"
    with app.state.workspace.sessions() as db:  # revoked: refused within a second
        db.execute(update(ApiToken).values(revoked=True))
        db.commit()
    time.sleep(1.2)
    refused = desk.post(f"{API}/sessions/{sid}/draft", json={"text": "您好"})
    assert refused.status_code == 401 and chinese(detail(refused))
    assert desk.post(f"{API}/sessions/{sid}/draft", json={"text": "您好"}).status_code == 401


# -- bad input and faults -------------------------------------------------------------------------


def test_bad_input_gets_a_clear_chinese_4xx_and_the_session_goes_on(app, people):
    agent = people["agent1"]
    sid = open_session(agent)
    cases = [
        (f"{API}/sessions/nope/turns", {"role": "agent", "text": "您好"}, 404),
        (f"{API}/sessions/{sid}/turns", {"role": "robot", "text": "您好"}, 422),
        (f"{API}/sessions/{sid}/turns", {"role": "agent", "text": "您" * 1_000_000}, 422),
        (f"{API}/sessions/{sid}/turns", {"role": "agent", "text": "您好", "start": -1}, 422),
        (f"{API}/sessions/{sid}/turns", {"role": "agent", "text": "您好", "start": 9, "end": 3}, 422),
        (f"{API}/sessions/{sid}/turns", {"role": "agent", "text": "a\x00b"}, 422),
        (f"{API}/sessions/{sid}/draft", {"text": "您" * 1_000_000}, 422),
        (f"{API}/sessions", {"channel": "fax"}, 422),
        (f"{API}/sessions", {"channel": "chat", "metadata": {"x": "y" * 70_000}}, 422),
    ]
    for url, body, status in cases:
        response = agent.post(url, json=body)
        assert response.status_code == status, (url, body, response.text)
        assert chinese(detail(response)), response.text
    malformed = agent.post(f"{API}/sessions/{sid}/turns", content=b'{"role": "agent", "text": ',
                           headers={"Content-Type": "application/json"})
    assert malformed.status_code == 422 and chinese(detail(malformed))
    assert turn(agent, sid, "customer", COMPLAINT).status_code == 200
    assert agent.get(f"{API}/sessions/{sid}").json()["turn_count"] == 1


class StoppedClock:
    """The rate limits' clock, stopped: a bucket refills only when the test moves it on, however
    slowly the machine answers."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stopped_clock(monkeypatch) -> StoppedClock:
    clock = StoppedClock()
    monkeypatch.setattr(Bucket, "clock", staticmethod(clock))
    return clock


def test_a_flood_is_throttled(app, people, stopped_clock):
    agent = people["agent1"]
    sid = open_session(agent)
    codes = [agent.post(f"{API}/sessions/{sid}/draft", json={"text": "您好"}).status_code for _ in range(45)]
    assert codes == [200] * BURST + [429] * 5  # bursts of 40, then 20 a second
    response = agent.post(f"{API}/sessions/{sid}/draft", json={"text": "您好"})
    assert response.status_code == 429 and detail(response) == "请求过于频繁,请稍后再试"
    stopped_clock.now += 1.0
    codes = [agent.post(f"{API}/sessions/{sid}/draft", json={"text": "您好"}).status_code for _ in range(21)]
    assert codes == [200] * int(RATE) + [429]


def test_open_sessions_are_bounded(app, people):
    app.state.assist.max_per_agent = 2
    agent = people["agent1"]
    open_session(agent)
    open_session(agent)
    response = agent.post(f"{API}/sessions", json={"channel": "chat"})
    assert response.status_code == 429 and "上限" in detail(response)


@pytest.fixture
def quick_app(db_url, tmp_path):
    return create_app(db_url, secret="test-secret", upload_dir=tmp_path / "uploads", assist_idle_seconds=1.0)


def add_people(app) -> None:
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, "super", PASSWORD, "supervisor")
        workspace.add_user(session, "agent1", PASSWORD, "agent", team="一组", agent_code="1024")
        session.commit()


def test_a_session_never_ended_is_stored_after_the_idle_timeout(quick_app):
    with TestClient(quick_app):
        add_people(quick_app)
        agent = Actor(quick_app, "agent1")
        sid = open_session(agent)
        turn(agent, sid, "customer", COMPLAINT)
        with agent.client.websocket_connect(f"{API}/ws") as socket:
            socket.send_json({"type": "attach", "session_id": sid})
            assert socket.receive_json()["type"] == "state"
            closed = socket.receive_json()  # within the timeout and one check
            assert closed["type"] == "closed" and closed["reason"] == "idle" and closed["conversation_id"]
        state = agent.get(f"{API}/sessions/{sid}").json()
        assert state["status"] == "ended" and state["conversation_id"] == closed["conversation_id"]
        assert turn(agent, sid, "agent", "您好").status_code == 409


def test_a_restart_loses_no_ended_session_and_resumes_open_ones(db_url, tmp_path):
    def app():
        return create_app(db_url, secret="test-secret", upload_dir=tmp_path / "uploads")

    first = app()
    with TestClient(first):
        add_people(first)
        agent = Actor(first, "agent1")
        ended = open_session(agent)
        turn(agent, ended, "customer", COMPLAINT)
        result = agent.post(f"{API}/sessions/{ended}/end").json()
        sid = open_session(agent, channel="phone")
        turn(agent, sid, "customer", COMPLAINT)
        hint = next(h for h in turn(agent, sid, "customer", "我姓王").json()["hints"] if h["rule"] == "CMP001")
        agent.post(f"{API}/sessions/{sid}/hints/{hint['id']}/dismiss")
    second = app()
    with TestClient(second):
        agent = Actor(second, "agent1")
        state = agent.get(f"{API}/sessions/{ended}").json()
        assert state["status"] == "ended" and state["conversation_id"] == result["conversation_id"]
        assert state["result"]["findings"] == result["result"]["findings"]
        resumed = agent.get(f"{API}/sessions/{sid}").json()
        assert resumed["status"] == "open" and resumed["resumed"] is True and resumed["turn_count"] == 2
        assert hint["id"] in resumed["dismissed"] and hint["id"] not in [h["id"] for h in resumed["hints"]]
        assert "S-A5" in {c for h in resumed["hints"] for c in h["clauses"]}
        assert turn(agent, sid, "agent", "王先生您好,非常抱歉让您久等了").status_code == 200
        assert agent.post(f"{API}/sessions/{sid}/end").json()["result"]["turns"][2]["text"].startswith("王先生")


# -- WebSocket -------------------------------------------------------------------------------------


def test_the_websocket_carries_the_same_messages(app, people):
    agent = people["agent1"]
    with agent.client.websocket_connect(f"{API}/ws") as socket:
        socket.send_json({"type": "create", "channel": "chat", "request_id": 1})
        created = socket.receive_json()
        assert created["type"] == "created" and created["request_id"] == 1 and created["hints"]
        sid = created["session_id"]
        socket.send_json({"type": "turn", "session_id": sid, "role": "customer", "text": COMPLAINT, "request_id": 2})
        hints = socket.receive_json()
        assert hints["type"] == "hints" and hints["reason"] == "turn" and "CMP001" in [h["rule"] for h in hints["hints"]]
        socket.send_json({"type": "draft", "session_id": sid, "text": "他们财务会处理"})
        draft = socket.receive_json()
        assert draft["type"] == "draft" and draft["findings"][0]["replacement"] == "我们财务会处理"
        hint = next(h for h in hints["hints"] if h["rule"] == "CMP001")
        socket.send_json({"type": "dismiss", "session_id": sid, "hint_id": hint["id"]})
        dismissed = socket.receive_json()
        assert dismissed["reason"] == "dismiss" and hint["id"] in dismissed["cleared"]
        for bad, status in (("{nope", 422), (json.dumps({"type": "fly"}), 422),
                            (json.dumps({"type": "turn", "session_id": sid, "role": "robot", "text": "x"}), 422),
                            (json.dumps({"type": "turn", "session_id": "missing", "role": "agent", "text": "x"}), 404),
                            (json.dumps({"type": "turn", "session_id": sid, "role": "agent", "text": "您" * 10_001},
                                        ensure_ascii=False), 422),
                            ("x" * 70_000, 413)):
            socket.send_text(bad)
            error = socket.receive_json()
            assert error["type"] == "error" and error["status"] == status and chinese(error["detail"]), bad[:80]
        socket.send_json({"type": "ping"})
        assert socket.receive_json()["type"] == "pong"
        socket.send_json({"type": "end", "session_id": sid})
        ended = socket.receive_json()
        assert ended["type"] in ("ended", "closed")
        if ended["type"] == "closed":
            ended = socket.receive_json()
        assert ended["type"] == "ended" and ended["conversation_id"]


def test_the_websocket_needs_a_signed_in_user_or_a_token(app, people):
    stranger = TestClient(app)
    with stranger.websocket_connect(f"{API}/ws") as socket:
        socket.send_json({"type": "auth", "token": "gf_not-a-token"})
        assert socket.receive_json()["status"] == 401
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4401
    token = people["super"].post("/api/v1/tokens", json={"name": "ws"}).json()["token"]
    with stranger.websocket_connect(f"{API}/ws") as socket:
        socket.send_json({"type": "auth", "token": token})
        assert socket.receive_json()["user"]["username"] == "super"
    # A page of another site cannot ride on the cookie.
    agent = people["agent1"]
    with agent.client.websocket_connect(f"{API}/ws", headers={"Origin": "https://evil.example"}) as socket:
        socket.send_json({"type": "ping"})
        assert socket.receive_json()["status"] == 401
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4403


def test_timer_hints_are_pushed_on_time_and_the_board_sees_alerts(app, people):
    agent, supervisor = people["agent1"], people["super"]
    sid = open_session(agent, channel="phone")
    with supervisor.client.websocket_connect(f"{API}/ws") as board, agent.client.websocket_connect(f"{API}/ws") as socket:
        board.send_json({"type": "watch"})
        first = board.receive_json()
        assert first["type"] == "board" and sid in [s["session_id"] for s in first["sessions"]]
        socket.send_json({"type": "attach", "session_id": sid})
        assert socket.receive_json()["type"] == "state"
        socket.send_json({"type": "turn", "session_id": sid, "role": "agent", "text": "您好!请问有什么可以帮助您?"})
        said = time.monotonic()
        assert socket.receive_json()["reason"] == "turn"
        pushed = socket.receive_json()  # nothing is sent: the timer pushes
        late = time.monotonic() - said - app.state.assist.open[sid].session.rulebook.settings.silent_call_wait_seconds["phone"]
        assert pushed["reason"] == "timer" and "SPC001" in [h["rule"] for h in pushed["hints"]]
        assert late <= 1.0
        socket.send_json({"type": "turn", "session_id": sid, "role": "customer", "text": "你们这帮废物"})
        assert socket.receive_json()["reason"] == "turn"
        update = board.receive_json()
        while update["type"] != "board_update" or not update["session"]["alerts"]:
            update = board.receive_json()
        assert update["session"]["session_id"] == sid and update["session"]["alerts"][0]["kind"] == "abuse"
    assert max(app.state.assist.lateness) <= 1.0


# -- live and after the fact agree -----------------------------------------------------------------


def example_transcripts() -> list[ModelConversation]:
    found = []
    for name in ("phone_calls.jsonl", "chat_sessions.jsonl", "chat_log.txt", "turns.csv", "call-subtitles.srt"):
        found += [(name, c) for c in read_path(EXAMPLES / name) if isinstance(c, ModelConversation)]
    return found


@pytest.fixture
def sqlite_app(tmp_path):
    return create_app(f"sqlite:///{tmp_path / 'guifan.db'}", secret="test-secret", upload_dir=tmp_path / "uploads")


def test_every_example_replayed_turn_by_turn_ends_as_guifan_check_says(sqlite_app, tmp_path):
    expected = {}
    for name in {name for name, _ in example_transcripts()}:
        report = tmp_path / f"{name}.json"
        outcome = CliRunner().invoke(cli, ["check", str(EXAMPLES / name), "--format", "json", "-o", str(report)])
        assert outcome.exit_code == 0, outcome.output
        for record in json.loads(report.read_text(encoding="utf-8"))["conversations"]:
            expected[record["id"]] = record
    with TestClient(sqlite_app):
        add_people(sqlite_app)
        supervisor = Actor(sqlite_app, "super")
        replayed = 0
        for name, conversation in example_transcripts():
            timed = all(t.timed for t in conversation.turns)
            body = {"channel": conversation.channel.value, "id": conversation.id, "agent_id": conversation.agent_id,
                    "metadata": dict(conversation.metadata), "stamp_times": False,
                    "started_at": conversation.started_at.isoformat() if conversation.started_at else None}
            sid = supervisor.post(f"{API}/sessions", json=body).json()["session_id"]
            for t in conversation.turns:
                times = {"start": t.start, "end": t.end} if timed else {}
                response = turn(supervisor, sid, t.role.value, t.text, **times)
                assert response.status_code == 200, response.text
            live = supervisor.post(f"{API}/sessions/{sid}/end").json()["result"]
            batch = expected[conversation.id]
            for key in ("findings", "score", "turns", "channel", "agent_id", "started_at"):
                assert live[key] == batch[key], (name, conversation.id, key)
            replayed += 1
        assert replayed >= 40
        with sqlite_app.state.workspace.sessions() as db:
            assert db.scalar(select(Conversation).where(Conversation.source.like("live:%"))) is not None
            assert len(db.scalars(select(AssistSession)).all()) == replayed
