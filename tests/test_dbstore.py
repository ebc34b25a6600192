"""guifan check --db: checked conversations stored straight into the workspace (SQLite and the real
PostgreSQL), with the workspace's rulebook, once each, results resumed from a state file not stored
again, a conversation the database refuses reported by name while the rest is stored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")

from sqlalchemy import create_engine, delete, inspect, select  # noqa: E402

from guifan.web.models import Conversation, Finding  # noqa: E402

from tests.web.conftest import db_url  # noqa: E402,F401 (fixture: a fresh SQLite or PostgreSQL database)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "chat_sessions.jsonl"


def guifan(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "guifan", "check", *map(str, args), "--no-progress"],
                          capture_output=True, text=True)


def said(run: subprocess.CompletedProcess) -> str:
    """Standard error without its white space (the console wraps long lines)."""
    return "".join(run.stderr.split())


def stored(url: str) -> dict[str, float]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(Conversation.external_id, Conversation.auto_score)).all())
    finally:
        engine.dispose()


def test_stored_once_with_the_scores_of_the_report_and_resumed_results_not_stored_again(db_url, tmp_path):  # noqa: F811
    report = json.loads(guifan(EXAMPLES, "-f", "json").stdout)
    expected = {c["id"]: c["score"]["total"] for c in report["conversations"]}
    state = tmp_path / "state.jsonl"
    first = guifan(EXAMPLES, "--db", db_url, "--state", state)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "" and f"已存入工作台{len(expected)}通" in said(first)
    assert stored(db_url) == expected
    engine = create_engine(db_url)
    with engine.begin() as conn:  # a conversation gone from the workspace since ...
        gone = conn.scalar(select(Conversation.id).where(Conversation.external_id == "chat-003"))
        conn.execute(delete(Finding).where(Finding.conversation_id == gone))
        conn.execute(delete(Conversation).where(Conversation.id == gone))
    engine.dispose()
    resumed = guifan(EXAMPLES, "--db", db_url, "--state", state)  # ... is not stored by a resumed run
    assert resumed.returncode == 0 and f"恢复{len(expected)}通" in said(resumed)
    assert stored(db_url) == {k: v for k, v in expected.items() if k != "chat-003"}
    again = guifan(EXAMPLES, "--db", db_url)  # without the state file: every one stored, none twice
    assert again.returncode == 0, again.stderr
    assert stored(db_url) == expected


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite stores any text; PostgreSQL's no NUL
def test_a_conversation_the_database_refuses_is_an_error_and_the_rest_is_stored(db_url, tmp_path):  # noqa: F811
    path = tmp_path / "chats.jsonl"
    lines = EXAMPLES.read_text(encoding="utf-8").splitlines()[:3]
    bad = json.loads(lines[1])
    bad["turns"][0]["text"] += "\u0000"
    path.write_text("\n".join([lines[0], json.dumps(bad), lines[2]]) + "\n", encoding="utf-8")
    run = guifan(path, "--db", db_url)
    assert run.returncode == 1
    assert f"{path}:2" in said(run) and bad["id"] in said(run)
    assert set(stored(db_url)) == {json.loads(lines[0])["id"], json.loads(lines[2])["id"]}


def test_the_workspace_rulebook_is_not_overridden(db_url):  # noqa: F811
    run = guifan(EXAMPLES, "--db", db_url, "--config", EXAMPLES)
    assert run.returncode == 2 and "工作台当前的规则手册" in said(run)
    engine = create_engine(db_url)
    assert "conversations" not in inspect(engine).get_table_names()  # refused before the workspace is opened
    engine.dispose()
