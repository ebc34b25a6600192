"""Notifications on SQLite and PostgreSQL: agents hear of new findings on their conversations (one
notification per conversation and import) and of decided appeals, reviewers of assignments; each
user sees only their own; the header's count, the page and its forms; mail through a real local
SMTP server (aiosmtpd) started by the test."""

from __future__ import annotations

import logging
import re
import socket
import time
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from fastapi.testclient import TestClient
from sqlalchemy import select

from guifan.web.app import create_app
from guifan.web.models import utcnow
from guifan.web.notifications.mail import MailSettings
from guifan.web.notifications.models import Kind, Notification
from tests.web.conftest import PASSWORD, Actor, jsonl, made, stored, wait_for_job


def notes(actor, **params) -> dict:
    response = actor.get("/api/v1/notifications", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def texts(actor, **params) -> list[str]:
    return [item["text"] for item in notes(actor, **params)["items"]]


def two_findings() -> list:
    return [made("FBD010", 1, "你"), made("FBD010", 3, "我")]


def test_an_import_tells_the_agent_once_per_conversation_and_no_one_else(app, people):
    agent1, agent2, rev = people["agent1"], people["agent2"], people["rev"]
    first = stored(app, "c1", two_findings(), agent="1024")
    stored(app, "c2", [made("FBD010", 1, "你")], agent="2048")
    stored(app, "c3", [], agent="1024")  # nothing found: nothing to tell
    mine = notes(agent1)
    assert (mine["total"], mine["unread"]) == (1, 1)
    item = mine["items"][0]
    assert item["text"] == "您的会话 c1 有 2 个新问题" and item["count"] == 2
    assert item["link"] == f"/conversations/{first}" and item["kind"] == "findings" and item["read"] is False
    assert re.match(r"\d{4}-\d\d-\d\dT", item["created_at"])
    assert texts(agent2) == ["您的会话 c2 有 1 个新问题"]
    assert notes(rev)["total"] == 0  # a reviewer's notifications are assignments
    # The same conversation imported again: only what is new is told, nothing when nothing is.
    stored(app, "c1", two_findings(), agent="1024")
    assert notes(agent1)["total"] == 1
    stored(app, "c1", [*two_findings(), made("FBD010", 3, "我查")], agent="1024")
    assert texts(agent1) == ["您的会话 c1 有 1 个新问题", "您的会话 c1 有 2 个新问题"]


def test_an_import_job_notifies_the_agent(people):
    rev, agent1 = people["rev"], people["agent1"]
    upload = jsonl({"id": "imp-1", "channel": "chat", "agent_id": "1024",
                    "turns": [{"role": "customer", "text": "在吗"}, {"role": "agent", "text": "你好,有什么事"}]})
    response = rev.post("/api/v1/imports", files=[("files", ("one.jsonl", upload, "application/octet-stream"))])
    wait_for_job(rev, response.json()["id"])
    (item,) = notes(agent1)["items"]
    found = len(rev.get(f"/api/v1/conversations/{item['conversation_id']}").json()["findings"])
    assert found >= 1 and item["text"] == f"您的会话 imp-1 有 {found} 个新问题"


def test_one_users_notifications_are_theirs_alone(app, people):
    agent1, agent2, admin = people["agent1"], people["agent2"], people["admin"]
    stored(app, "c1", two_findings(), agent="1024")
    (theirs,) = notes(agent1)["items"]
    # Another user cannot read, open or mark it; their "mark all" leaves it unread.
    assert agent2.post(f"/api/v1/notifications/{theirs['id']}/read").status_code == 404
    assert admin.post(f"/api/v1/notifications/{theirs['id']}/read").status_code == 404
    assert agent2.post(f"/notifications/{theirs['id']}/open").status_code == 404
    assert agent2.post("/api/v1/notifications/read-all").json() == {"marked": 0}
    assert notes(agent1)["unread"] == 1 and notes(admin)["total"] == 0
    # An agent whose agent code changes no longer sees the old code's conversations, nor hears of them.
    user_id = agent1.user["id"]
    changed = admin.client.patch(f"/api/v1/users/{user_id}", json={"agent_code": "9999"},
                                 headers={"X-CSRF-Token": admin.csrf})
    assert changed.status_code == 200
    assert notes(agent1) == {"total": 0, "unread": 0, "page": 1, "per_page": 50, "items": []}
    # Signed out: nothing.
    assert TestClient(app).get("/api/v1/notifications").status_code == 401
    assert TestClient(app).post("/api/v1/notifications/read-all").status_code == 401


def test_reading_one_all_and_paging(app, people):
    agent1 = people["agent1"]
    for n in range(3):
        stored(app, f"c{n}", two_findings(), agent="1024")
    items = notes(agent1)["items"]
    assert [i["text"] for i in items] == [f"您的会话 c{n} 有 2 个新问题" for n in (2, 1, 0)]  # newest first
    read = agent1.post(f"/api/v1/notifications/{items[1]['id']}/read").json()
    assert read["read"] is True and read["id"] == items[1]["id"]
    assert notes(agent1)["unread"] == 2
    assert [i["id"] for i in notes(agent1, unread="true")["items"]] == [items[0]["id"], items[2]["id"]]
    page = notes(agent1, per_page=2, page=2)
    assert (page["total"], [i["id"] for i in page["items"]]) == (3, [items[2]["id"]])
    assert agent1.post("/api/v1/notifications/read-all").json() == {"marked": 2}
    assert notes(agent1)["unread"] == 0 and notes(agent1)["total"] == 3
    for bad in ({"per_page": 201}, {"per_page": 0}, {"page": 0}):
        assert agent1.get("/api/v1/notifications", params=bad).status_code == 422


def test_a_decided_appeal_is_told_to_its_agent(app, people):
    rev, agent1, boss = people["rev"], people["agent1"], people["super"]
    cid = stored(app, "c1", two_findings(), agent="1024")
    assert rev.post(f"/api/v1/conversations/{cid}/review").status_code == 200
    findings = rev.get(f"/api/v1/conversations/{cid}").json()["findings"]
    appeals = [agent1.post(f"/api/v1/findings/{f['id']}/appeal", json={"reason": "客户先用的你"}).json()
               for f in findings]
    agent1.post("/api/v1/notifications/read-all")
    boss.post(f"/api/v1/appeals/{appeals[0]['id']}/decision", json={"accept": True, "decision": "确属客户先称呼"})
    boss.post(f"/api/v1/appeals/{appeals[1]['id']}/decision", json={"accept": False, "decision": "<b>仍需</b>称呼您"})
    denied, accepted = notes(agent1, unread="true")["items"]
    assert accepted["text"] == "您对会话 c1 的申诉已采纳,该问题已撤销" and accepted["note"] == "确属客户先称呼"
    assert accepted["link"] == f"/conversations/{cid}#finding-{findings[0]['id']}"
    assert denied["text"] == "您对会话 c1 的申诉未被采纳" and denied["kind"] == "appeal"
    assert notes(people["agent2"])["total"] == 0 and notes(rev)["total"] == 0
    page = agent1.get("/notifications").text
    assert "处理意见:&lt;b&gt;仍需&lt;/b&gt;称呼您" in page  # escaped


def test_assignments_are_told_to_their_reviewer(app, people):
    boss, rev, rev2 = people["super"], people["rev"], people["rev2"]
    ids = [stored(app, f"c{n}", [], agent="1024") for n in range(3)]
    assert boss.post("/api/v1/conversations/assign", json={"ids": ids[:2], "reviewer_id": rev.user["id"]}).status_code == 200
    boss.post("/api/v1/conversations/assign", json={"ids": ids[2:], "reviewer_id": rev2.user["id"]})
    (many,) = notes(rev)["items"]
    assert re.fullmatch(r"2 通会话已分配给您复核 \(\d{4}-W\d\d\)", many["text"]) and many["link"] == "/"
    (one,) = notes(rev2)["items"]
    assert one["text"].startswith("会话 c2 已分配给您复核") and one["link"] == f"/conversations/{ids[2]}"
    # Assigning to oneself tells no one; a sampling plan tells each reviewer dealt conversations.
    boss.post("/api/v1/conversations/assign", json={"ids": ids, "reviewer_id": boss.user["id"]})
    assert notes(boss)["total"] == 0
    for n in range(4):
        stored(app, f"w{n}", [], agent="2048")
    assert boss.post("/api/v1/sampling", json={"per_agent": 4, "week": "2026-W45", "seed": 1}).status_code == 200
    assert texts(rev)[0] == "2 通会话已分配给您复核 (2026-W45)" and texts(rev2)[0] == "2 通会话已分配给您复核 (2026-W45)"


def test_the_header_count_the_page_and_its_forms(app, people):
    agent1 = people["agent1"]
    first = stored(app, "c1", two_findings(), agent="1024")
    stored(app, "c2", two_findings(), agent="1024")
    home = agent1.get("/").text
    assert re.search(r'<a class="notifications" href="/notifications">通知<span class="badge"[^>]*>2</span></a>', home)
    page = agent1.get("/notifications")
    assert page.status_code == 200 and page.text.count('class="notification findings unread"') == 2
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d</td>", page.text)
    items = notes(agent1)["items"]
    # Opening one marks it read and goes to its conversation.
    opened = agent1.post(f"/notifications/{items[1]['id']}/open", data={"csrf": agent1.csrf}, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/conversations/{first}"
    assert re.search(r'class="badge"[^>]*>1</span>', agent1.get("/").text)
    assert agent1.get("/notifications?unread=true").text.count("<tr class=\"notification") == 1
    # A form without the CSRF token changes nothing.
    assert agent1.client.post("/notifications/read-all", data={}).status_code == 403
    done = agent1.post("/notifications/read-all", data={"csrf": agent1.csrf, "next": "/notifications?unread=true"},
                       follow_redirects=False)
    assert done.headers["location"] == "/notifications?unread=true"
    assert 'class="badge"' not in agent1.get("/").text
    assert "没有未读的通知" in agent1.get("/notifications?unread=true").text
    # Elsewhere than this site, "next" goes to the list.
    stored(app, "c3", two_findings(), agent="1024")
    third = notes(agent1)["items"][0]["id"]
    away = agent1.post(f"/notifications/{third}/read", data={"csrf": agent1.csrf, "next": "//evil.example"},
                       follow_redirects=False)
    assert away.headers["location"] == "/"
    assert agent1.get("/notifications?per_page=500").status_code == 422


def test_admins_set_an_email_address(app, people):
    admin, agent1 = people["admin"], people["agent1"]
    url = f"/api/v1/users/{agent1.user['id']}"
    patch = lambda body: admin.client.patch(url, json=body, headers={"X-CSRF-Token": admin.csrf})
    assert patch({"email": "agent1@example.com"}).json()["email"] == "agent1@example.com"
    for bad in ("not-an-address", "a@b.c\r\nBcc: x@y.z", "a b@example.com"):
        response = patch({"email": bad})
        assert response.status_code == 400 and "邮箱地址格式不正确" in response.json()["detail"]
    assert patch({"email": ""}).json()["email"] is None
    form = admin.post(f"/users/{agent1.user['id']}/edit", data={"csrf": admin.csrf, "role": "agent",
                                                                 "agent_code": "1024", "team": "一组",
                                                                 "display_name": "agent1", "email": "a1@example.com"})
    assert form.status_code == 200 and 'value="a1@example.com"' in form.text
    audit = admin.get(f"/api/v1/audit?entity=user&entity_id={agent1.user['id']}").json()
    assert audit[0]["after"] == {"email": "a1@example.com"}


# -- mail ------------------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd's handler: the messages it received, parsed."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def wait(self, count: int, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"smtp-secret")

    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    inbox.port, inbox.logins = controller.port, logins
    yield inbox
    controller.stop()


def mailing_app(db_url, tmp_path, port: int, **settings):
    mail = MailSettings(host="127.0.0.1", port=port, sender="qa@example.com", site_url="https://qa.example.com",
                        **settings)
    return create_app(db_url, secret="test-secret", upload_dir=tmp_path / "uploads", mail=mail, mail_poll_seconds=0.5)


def users_with_addresses(app) -> None:
    workspace = app.state.workspace
    with workspace.sessions() as session:
        agent = workspace.add_user(session, "agent1", PASSWORD, "agent", agent_code="1024", display_name="张三")
        workspace.add_user(session, "agent2", PASSWORD, "agent", agent_code="2048")  # no address: no mail
        workspace.add_user(session, "rev", PASSWORD, "reviewer")
        workspace.update_user(session, agent, email="zhangsan@example.com")
        session.commit()


def test_notifications_are_mailed_through_the_smtp_server(db_url, tmp_path, smtp):
    app = mailing_app(db_url, tmp_path, smtp.port, username="guifan", password="smtp-secret")
    with TestClient(app):
        users_with_addresses(app)
        cid = stored(app, "c1", two_findings(), agent="1024")
        stored(app, "c2", two_findings(), agent="2048")
        ((recipients, message),) = smtp.wait(1)
        assert recipients == ["zhangsan@example.com"] and smtp.logins == [(b"guifan", b"smtp-secret")]
        assert message["Subject"] == "规范质检工作台:1 条新通知" and message["From"] == "qa@example.com"
        body = message.get_content()
        assert "张三,您好" in body and "您的会话 c1 有 2 个新问题" in body
        assert f"https://qa.example.com/conversations/{cid}" in body
        assert "· 您的会话 c1 有 2 个新问题" in body
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not mailed(app)[0][0]:  # recorded after the server took it
            time.sleep(0.05)
        assert mailed(app) == [(True, 1), (False, 0)]  # agent2 has no address
        # An import's conversations are stored in one transaction: one mail tells of them all.
        rev = Actor(app, "rev")
        calls = [{"id": f"imp-{n}", "channel": "chat", "agent_id": "1024",
                  "turns": [{"role": "customer", "text": "在吗"}, {"role": "agent", "text": "你好,有什么事"}]}
                 for n in (1, 2)]
        job = rev.post("/api/v1/imports", files=[("files", ("two.jsonl", jsonl(*calls), "application/octet-stream"))])
        wait_for_job(rev, job.json()["id"])
        ((_, second),) = smtp.wait(2)[1:]
        assert second["Subject"] == "规范质检工作台:2 条新通知"
        assert "您的会话 imp-1 有" in second.get_content() and "您的会话 imp-2 有" in second.get_content()
        # A notification read before the mailer came to it is not mailed.
        quiet = stored(app, "c3", [], agent="1024")
        with app.state.workspace.sessions() as session:
            session.add(Notification(user_id=agent_id(app), kind=Kind.FINDINGS, conversation_id=quiet, count=7,
                                     detail={}, read_at=utcnow()))
            session.commit()
        stored(app, "c4", two_findings(), agent="1024")
        ((_, third),) = smtp.wait(3)[2:]
        assert "c4 有 2 个新问题" in third.get_content() and "c3" not in third.get_content()


def agent_id(app) -> int:
    with app.state.workspace.sessions() as session:
        return app.state.workspace.user_named(session, "agent1").id


def mailed(app) -> list[tuple[bool, int]]:
    with app.state.workspace.sessions() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id))
        return [(row.mailed_at is not None, row.mail_attempts) for row in rows]


def test_a_server_that_is_down_breaks_nothing_and_is_logged(db_url, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="guifan.web.notifications.mail")
    app = mailing_app(db_url, tmp_path, free_port())  # nothing listens there
    with TestClient(app):
        users_with_addresses(app)
        stored(app, "c1", two_findings(), agent="1024")
        agent = Actor(app, "agent1")
        assert notes(agent)["unread"] == 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and mailed(app) == [(False, 0)]:
            time.sleep(0.05)
        assert mailed(app)[0][0] is False and mailed(app)[0][1] >= 1
        assert agent.get("/notifications").status_code == 200
    assert any("通知邮件发送失败 (SMTP 服务器 127.0.0.1" in r.getMessage() for r in caplog.records)


def test_a_refused_login_is_logged_and_not_marked_mailed(db_url, tmp_path, smtp, caplog):
    caplog.set_level(logging.WARNING, logger="guifan.web.notifications.mail")
    app = mailing_app(db_url, tmp_path, smtp.port, username="guifan", password="wrong")
    with TestClient(app):
        users_with_addresses(app)
        stored(app, "c1", two_findings(), agent="1024")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("通知邮件发送失败" in r.getMessage() for r in caplog.records):
            time.sleep(0.05)
    assert smtp.messages == [] and mailed(app)[0][0] is False
    assert any("通知邮件发送失败" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("settings, problem", [
    ({"sender": "qa@example.com\r\nBcc: x@y.z"}, "发件地址格式不正确"),
    ({"host": " "}, "SMTP 服务器地址"),
    ({"port": 0}, "SMTP 端口"),
])
def test_mail_settings_are_checked(settings, problem):
    with pytest.raises(ValueError, match=problem):
        MailSettings(**{"host": "smtp.example.com", "sender": "qa@example.com", **settings})


def test_guifan_serve_mails_to_addresses_set_with_guifan_user(tmp_path, monkeypatch, smtp):
    """``guifan serve --smtp-…`` as started (the server itself not run: the app it would serve is)."""
    import uvicorn
    from typer.testing import CliRunner

    from guifan.cli import app as cli

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda application, **options: started.update(app=application))
    db, runner = f"sqlite:///{tmp_path / 'serve.db'}", CliRunner()
    assert runner.invoke(cli, ["user", "add", "agent1", "--role", "agent", "--agent-code", "1024", "--password",
                               PASSWORD, "--db", db]).exit_code == 0
    changed = runner.invoke(cli, ["user", "set", "agent1", "--email", "a1@example.com", "--db", db])
    assert changed.exit_code == 0 and "邮箱 无 → a1@example.com" in changed.stderr
    refused = runner.invoke(cli, ["user", "set", "agent1", "--email", "a1 at example", "--db", db])
    assert refused.exit_code == 2 and "邮箱地址格式不正确" in refused.stderr
    alone = runner.invoke(cli, ["serve", "--db", db, "--smtp-host", "127.0.0.1"])
    assert alone.exit_code == 2 and "--smtp-host 和 --smtp-from" in alone.stderr
    assert runner.invoke(cli, ["serve", "--db", db]).exit_code == 0 and started["app"].state.mailer is None
    served = runner.invoke(cli, ["serve", "--db", db, "--port", "8123", "--smtp-host", "127.0.0.1", "--smtp-port",
                                 str(smtp.port), "--smtp-from", "qa@example.com"])
    assert served.exit_code == 0, served.output
    app = started["app"]
    assert app.state.mailer.settings == MailSettings(host="127.0.0.1", port=smtp.port, sender="qa@example.com",
                                                     site_url="http://127.0.0.1:8123")
    with TestClient(app):
        cid = stored(app, "c1", two_findings(), agent="1024")
        ((recipients, message),) = smtp.wait(1)
    assert recipients == ["a1@example.com"] and f"http://127.0.0.1:8123/conversations/{cid}" in message.get_content()
