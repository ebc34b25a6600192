"""`guifan user list|add|set|disable|enable|passwd` against the workspace's SQLite database, through
the workspace's own services (the web's admin uses the same ones)."""

import json

import pytest
from typer.testing import CliRunner

pytest.importorskip("fastapi", reason="the web extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import select  # noqa: E402

from guifan.cli import app  # noqa: E402
from guifan.readers.fields import build  # noqa: E402
from guifan.web.app import create_app  # noqa: E402
from guifan.web.db import make_engine  # noqa: E402
from guifan.web.models import AuditEntry, Conversation  # noqa: E402
from guifan.web.services import Workspace  # noqa: E402

runner = CliRunner()
PASSWORD = "correct-horse-9"


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'guifan.db'}"


def run(db, *args, **kwargs):
    return runner.invoke(app, ["user", *[str(a) for a in args], "--db", db], **kwargs)


def users(db):
    result = run(db, "list", "--json")
    assert result.exit_code == 0, result.output
    return {u["username"]: u for u in json.loads(result.stdout)}


def add(db, username, role, *extra):
    result = run(db, "add", username, "--role", role, "--password", PASSWORD, *extra)
    assert result.exit_code == 0, result.output
    return result


def test_list_add_set_and_the_table(db):
    empty = run(db, "list")
    assert empty.exit_code == 0 and "还没有用户" in empty.stderr
    assert "角色 管理员 (admin)" in add(db, "admin", "admin").stderr
    add(db, "wang", "agent", "--team", "一组", "--agent-code", "1024")
    assert users(db)["wang"] == {**users(db)["wang"], "role": "agent", "team": "一组", "agent_code": "1024",
                                 "active": True}

    changed = run(db, "set", "wang", "--role", "team_lead", "--team", "二组", "--name", "王组长")
    assert changed.exit_code == 0, changed.output
    assert "角色 坐席 (agent) → 组长 (team_lead)" in changed.stderr and "班组 一组 → 二组" in changed.stderr
    assert "已导入的对话仍属原班组" in changed.stderr
    assert users(db)["wang"]["role"] == "team_lead" and users(db)["wang"]["display_name"] == "王组长"
    assert "没有变化" in run(db, "set", "wang", "--team", "二组").stderr
    assert run(db, "set", "wang", "--no-team").exit_code == 0 and users(db)["wang"]["team"] is None

    table = runner.invoke(app, ["user", "list", "--db", db], env={"COLUMNS": "120"}).stdout
    assert "组长 (team_lead)" in table and "王组长" in table and "启用" in table
    assert "Usage" not in table and "—" in table


@pytest.mark.parametrize(("args", "message"), [
    (("set", "nobody", "--role", "agent"), "没有用户 nobody"),
    (("set", "admin", "--role", "boss"), "未知角色 boss"),
    (("set", "admin"), "没有要修改的内容"),
    (("set", "admin", "--team", "一组", "--no-team"), "只能给一个"),
    (("set", "admin", "--role", "agent"), "admin 是唯一启用的管理员"),
    (("disable", "admin"), "admin 是唯一启用的管理员"),
    (("disable", "nobody"), "没有用户 nobody"),
    (("passwd", "admin", "--password", "short"), "密码至少 8 位"),
    (("set", "admin", "--agent-code", "1024"), "坐席工号 1024 已属于另一个用户"),
])
def test_refusals_are_chinese_and_change_nothing(db, args, message):
    add(db, "admin", "admin")
    add(db, "wang", "agent", "--agent-code", "1024")
    before = users(db)
    result = run(db, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert users(db) == before


def test_disable_and_passwd_sign_the_user_out_and_are_audited(db, tmp_path):
    add(db, "admin", "admin")
    add(db, "rev", "reviewer")
    web = create_app(db, secret="s", upload_dir=tmp_path / "uploads")
    with TestClient(web) as client:
        assert client.post("/api/v1/auth/login", json={"username": "rev", "password": PASSWORD}).status_code == 200
        assert client.get("/api/v1/me").status_code == 200

        assert "其所有登录已退出" in run(db, "disable", "rev").stderr
        assert client.get("/api/v1/me").status_code == 401
        assert client.post("/api/v1/auth/login", json={"username": "rev", "password": PASSWORD}).status_code != 200
        assert users(db)["rev"]["active"] is False and "本已停用" in run(db, "disable", "rev").stderr
        assert "已启用用户 rev" in run(db, "enable", "rev").stderr

        assert client.post("/api/v1/auth/login", json={"username": "rev", "password": PASSWORD}).status_code == 200
        typed = run(db, "passwd", "rev", input="new-secret-1\nnew-secret-1\n")
        assert typed.exit_code == 0, typed.output
        assert "密码 (至少 8 位)" in typed.stdout and "已重设用户 rev 的密码" in typed.stderr
        assert client.get("/api/v1/me").status_code == 401  # signed out by the reset
        assert client.post("/api/v1/auth/login", json={"username": "rev", "password": PASSWORD}).status_code != 200
        assert client.post("/api/v1/auth/login", json={"username": "rev", "password": "new-secret-1"}).status_code == 200

    engine = make_engine(db)
    workspace = Workspace(engine)
    with workspace.sessions() as session:
        actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert {"user.disable", "user.enable", "user.password"} <= set(actions)
        assert not any("new-secret" in json.dumps([a.before, a.after], ensure_ascii=False)
                       for a in session.scalars(select(AuditEntry)))
    engine.dispose()


def test_agent_code_links_conversations_and_a_team_change_keeps_history(db):
    add(db, "admin", "admin")
    add(db, "wang", "agent", "--team", "一组")
    engine = make_engine(db)
    workspace = Workspace(engine)
    with workspace.sessions() as session:
        version = workspace.active_rulebook(session)
        conversation = build({"id": "c1", "agent_id": "1024", "turns": [{"role": "agent", "text": "您好"}]})
        workspace.store(session, workspace.checker(version).check(conversation), version.version, mask=True)
        session.commit()
    assert run(db, "set", "wang", "--agent-code", "1024").exit_code == 0
    with workspace.sessions() as session:
        row = session.scalar(select(Conversation))
        wang = workspace.user_named(session, "wang")
        assert row.agent_id == wang.id and row.team_id == wang.team_id  # the agent's calls are theirs now
        first_team = wang.team_id
    assert run(db, "set", "wang", "--team", "二组").exit_code == 0
    with workspace.sessions() as session:
        assert session.scalar(select(Conversation)).team_id == first_team  # history stays with the old team
    assert run(db, "set", "wang", "--agent-code", "").exit_code == 0
    with workspace.sessions() as session:
        assert session.scalar(select(Conversation)).agent_id is None  # no longer this agent's code
    engine.dispose()
