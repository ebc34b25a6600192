"""Fixtures for the QA workspace: a fresh database per test on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402

from guifan.engine import get_rule  # noqa: E402
from guifan.model import Evidence, Finding  # noqa: E402
from guifan.readers.fields import build  # noqa: E402
from guifan.web.app import create_app  # noqa: E402
from guifan.web.models import Conversation  # noqa: E402

PG_ADMIN = os.environ.get("GUIFAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct-horse-9"


def _postgres_available() -> bool:
    try:
        with create_engine(PG_ADMIN).connect():
            return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'guifan.db'}"
        return
    if not _postgres_available():
        pytest.fail("PostgreSQL on 127.0.0.1:5432 is not running (.ci/run starts it)")
    name = f"guifan_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def app(db_url, tmp_path):
    return create_app(db_url, secret="test-secret", upload_dir=tmp_path / "uploads")


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


class Actor:
    """A signed-in user's client: JSON calls carry the session cookie and the CSRF token."""

    def __init__(self, app, username: str):
        self.client = TestClient(app)
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf"]
        self.user = response.json()["user"]

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, **kw):
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self.client.post(url, headers=headers, **kw)


def signed_in(app, username: str = "rev", role: str = "reviewer") -> Actor:
    """A new user of ``role`` on a running app (inside its TestClient context), signed in."""
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, username, PASSWORD, role)
        session.commit()
    return Actor(app, username)


@pytest.fixture
def people(app, client):
    """Users of every role: two teams, an agent in each, and the bundled examples imported."""
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, "admin", PASSWORD, "admin")
        workspace.add_user(session, "super", PASSWORD, "supervisor")
        workspace.add_user(session, "rev", PASSWORD, "reviewer")
        workspace.add_user(session, "rev2", PASSWORD, "reviewer")
        workspace.add_user(session, "lead1", PASSWORD, "team_lead", team="一组")
        workspace.add_user(session, "lead2", PASSWORD, "team_lead", team="二组")
        workspace.add_user(session, "agent1", PASSWORD, "agent", team="一组", agent_code="1024")
        workspace.add_user(session, "agent2", PASSWORD, "agent", team="二组", agent_code="2048")
        session.commit()
    return {name: Actor(app, name) for name in ("admin", "super", "rev", "rev2", "lead1", "lead2", "agent1", "agent2")}


def wait_for_job(actor: Actor, job_id: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = actor.get(f"/api/v1/imports/{job_id}").json()
        if job["status"] == "done":
            return job
        time.sleep(0.05)
    raise AssertionError(f"import {job_id} did not finish: {job}")


def conversation(cid: str, agent: str | None, agent_text: str = "您好,请问有什么可以帮您?", **extra) -> dict:
    return {"id": cid, "channel": "chat", "agent_id": agent, "started_at": "2026-11-02T10:00:00+08:00",
            "turns": [{"role": "customer", "text": "我的快递三天了还没到,太慢了"},
                      {"role": "agent", "text": agent_text},
                      {"role": "customer", "text": "好的谢谢"},
                      {"role": "agent", "text": "我查一下"}], **extra}


def made(rule: str, turn: int | None, quote: str, confidence: float = 1.0, evidence: str = "phrase") -> Finding:
    """A finding of ``rule`` made by the test, not by the engine (whose rulebook may change)."""
    cls = get_rule(rule)
    return Finding(rule=cls.code, clauses=cls.clauses, severity=cls.severity, turn=turn, span=None, quote=quote,
                   message=cls.what, suggestion="", confidence=confidence, evidence=Evidence(evidence))


def stored(app, cid: str, findings: list[Finding], agent: str | None = "1024", **item) -> int:
    """Store ``conversation(cid, agent, **item)`` as checked with the active rulebook version, with
    these findings (``Workspace.store``, as an import does); returns the conversation's row id."""
    workspace = app.state.workspace
    with workspace.sessions() as session:
        version = workspace.active_rulebook(session)
        result = workspace.checker(version).result(build(conversation(cid, agent, **item)), tuple(findings))
        workspace.store(session, result, version.version, mask=True)
        session.commit()
        key = workspace.conversation_key(session, cid)
        return session.scalar(select(Conversation.id).where(Conversation.external_key == key))


def jsonl(*items: dict) -> bytes:
    return "\n".join(json.dumps(i, ensure_ascii=False) for i in items).encode("utf-8")


@contextmanager
def serving(app, **options):
    """The app served by a real uvicorn on a free local port, in a thread; yields the base URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
