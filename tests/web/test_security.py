"""Security of the QA workspace: every role against every endpoint, CSRF (sessions and the login
form), server-side sessions, XSS, SQL injection in filters, login throttling (and the proxy it
trusts), security headers, rulebook patterns, API tokens, personal-data masking and upload limits."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from guifan.web.app import create_app
from guifan.web.models import ApiToken, User, UserSession, utcnow
from guifan.web.security import CLIENT_ATTEMPTS, LOGIN_ATTEMPTS, LOGIN_FORM_COOKIE, SESSION_COOKIE, SESSION_SECONDS
from tests.web.conftest import PASSWORD, Actor, conversation, jsonl, serving, signed_in, wait_for_job

LOGIN = "/api/v1/auth/login"


def add_user(app, username: str = "rev", role: str = "reviewer") -> None:
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, username, PASSWORD, role)
        session.commit()

ROLES = ("admin", "super", "rev", "lead1", "agent1")


@pytest.fixture
def seeded(people):
    """One reviewed conversation of agent1 (team 一组) with an open appeal."""
    rev, agent = people["rev"], people["agent1"]
    job = rev.post("/api/v1/imports", files=[("files", ("a.jsonl", jsonl(conversation("c1", "1024", agent_text="你好")),
                                                       "application/json"))]).json()
    wait_for_job(rev, job["id"])
    cid = rev.get("/api/v1/conversations").json()["items"][0]["id"]
    findings = rev.get(f"/api/v1/conversations/{cid}").json()["findings"]
    rev.post(f"/api/v1/conversations/{cid}/review")
    appeal = agent.post(f"/api/v1/findings/{findings[0]['id']}/appeal", json={"reason": "理由"}).json()
    return {"conversation": cid, "finding": findings[-1]["id"], "appeal": appeal["id"], "job": job["id"]}


# (method, path, body, roles allowed). Allowed means "not refused": the call may still fail on its own
# merits (e.g. an appeal already decided), but never with 401/403.
def endpoints(ids):
    c, f, a, j = ids["conversation"], ids["finding"], ids["appeal"], ids["job"]
    everyone = set(ROLES)
    return [
        ("GET", "/api/v1/me", None, everyone),
        ("GET", "/api/v1/conversations", None, everyone),
        ("GET", "/api/v1/teams", None, everyone),
        ("GET", "/api/v1/users", None, {"admin"}),
        ("POST", "/api/v1/users", {"username": "new", "password": PASSWORD, "role": "agent"}, {"admin"}),
        ("POST", "/api/v1/tokens", {"name": "crm"}, {"admin", "super", "rev"}),
        ("POST", "/api/v1/conversations", {"conversations": [conversation("x1", "1024")]}, {"admin", "super", "rev"}),
        ("GET", f"/api/v1/imports/{j}", None, {"admin", "super", "rev"}),
        ("POST", f"/api/v1/findings/{f}/verdict", {"confirmed": True}, {"admin", "super", "rev"}),
        ("POST", f"/api/v1/conversations/{c}/findings", {"rule": "FBD006", "turn": 1}, {"admin", "super", "rev"}),
        ("POST", f"/api/v1/conversations/{c}/comments", {"text": "好"}, {"admin", "super", "rev"}),
        ("POST", f"/api/v1/conversations/{c}/review", None, {"admin", "super", "rev"}),
        ("POST", f"/api/v1/conversations/{c}/acknowledge", None, {"admin", "agent1"}),
        ("POST", f"/api/v1/findings/{f}/appeal", {"reason": "r"}, {"admin", "agent1"}),
        ("GET", "/api/v1/appeals", None, {"admin", "super"}),
        ("POST", f"/api/v1/appeals/{a}/decision", {"accept": False}, {"admin", "super"}),
        ("GET", "/api/v1/audit", None, {"admin", "super"}),
        ("GET", "/api/v1/calibration", None, {"admin", "super", "rev"}),
        ("POST", "/api/v1/sampling", {"per_agent": 1, "week": "2026-W45"}, {"admin", "super"}),
        ("GET", "/api/v1/assignments", None, {"admin", "super", "rev"}),
        ("GET", "/api/v1/dashboard", None, everyone),
        ("GET", "/api/v1/conversations.csv", None, everyone),
        ("GET", "/dashboard", None, everyone),
        ("GET", "/calibration", None, {"admin", "super", "rev"}),
        ("GET", "/appeals", None, {"admin", "super"}),
        ("GET", "/imports", None, {"admin", "super", "rev"}),
        ("GET", "/api/v1/rulebook", None, everyone),
        ("GET", "/api/v1/settings", None, {"admin"}),
        ("GET", "/audit", None, {"admin", "super"}),
        ("POST", "/api/v1/rulebook/try", {"transcript": "客户: 在吗\n客服: 在"}, {"admin", "super"}),
        ("POST", "/api/v1/rulebook", {"override_yaml": ""}, {"admin", "super"}),
        ("GET", "/rulebook", None, everyone),
        ("GET", "/api/v1/exemplars", None, {"admin", "super"}),
        ("POST", "/api/v1/exemplars/approve", {"ids": [2**31 - 1]}, {"admin", "super"}),
        ("POST", "/api/v1/exemplars/decline", {"ids": [2**31 - 1]}, {"admin", "super"}),
        ("GET", "/exemplars", None, {"admin", "super"}),
        ("GET", f"/api/v1/conversations/{c}", None, everyone),
        ("GET", "/api/v1/dashboard/trend.xlsx", None, everyone),
        ("GET", "/api/v1/saved-filters", None, everyone),
        ("GET", "/api/v1/notifications", None, everyone),
        ("POST", "/api/v1/notifications/read-all", None, everyone),
        ("GET", "/notifications", None, everyone),
        ("POST", "/api/v1/users/2147483647/disable", None, {"admin"}),
        ("POST", "/api/v1/users/2147483647/password", {"password": PASSWORD}, {"admin"}),
        ("GET", "/users", None, {"admin"}),
        # 陪练: practising (agents), coaching (team leads), authoring (supervisors); reviewers do neither
        ("GET", "/api/v1/training/scenarios", None, everyone - {"rev"}),
        ("POST", "/api/v1/training/attempts", {"scenario": "complaint-late-delivery"}, {"admin", "super", "agent1"}),
        ("GET", "/api/v1/training/readiness", None, {"admin", "super", "lead1"}),
        ("GET", "/api/v1/training/proposals", None, {"admin", "super", "lead1"}),
        ("POST", "/api/v1/training/scenarios/validate", {"yaml": "id: x"}, {"admin", "super"}),
        ("GET", "/api/v1/training/scenarios/versions", None, {"admin", "super"}),
        ("GET", "/training", None, everyone - {"rev"}),
        ("GET", "/training/team", None, {"admin", "super", "lead1"}),
    ]


def test_every_role_against_every_endpoint(app, people, seeded):
    anonymous = TestClient(app, follow_redirects=False)
    for method, path, body, allowed_roles in endpoints(seeded):
        response = anonymous.request(method, path, json=body)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path)
        else:  # pages send a browser without a session to the login page
            assert (response.status_code, response.headers["location"]) == (303, "/login"), (method, path)
        for role in ROLES:
            actor = people[role]
            response = actor.post(path, json=body) if method == "POST" else actor.get(path)
            refused = response.status_code in (401, 403)
            assert refused == (role not in allowed_roles), (role, method, path, response.status_code, response.text)


def test_out_of_scope_conversations_are_invisible(people, seeded):
    c, f = seeded["conversation"], seeded["finding"]
    for role in ("lead2", "agent2"):
        actor = people[role]
        assert actor.get(f"/api/v1/conversations/{c}").status_code == 404
        assert actor.get("/api/v1/conversations").json()["total"] == 0
        assert actor.get(f"/conversations/{c}").status_code == 404
    assert people["agent2"].post(f"/api/v1/findings/{f}/appeal", json={"reason": "x"}).status_code == 404


def test_csrf_is_required_for_cookie_sessions_not_for_api_tokens(app, people, seeded):
    rev = people["rev"]
    path = f"/api/v1/conversations/{seeded['conversation']}/comments"
    assert rev.client.post(path, json={"text": "无令牌"}).status_code == 403
    assert rev.client.post(path, json={"text": "错令牌"}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert rev.post(path, json={"text": "有令牌"}).status_code == 200
    # A page form without the token is refused too.
    assert rev.client.post(f"/conversations/{seeded['conversation']}/comments", data={"text": "x"}).status_code == 403
    token = rev.post("/api/v1/tokens", json={"name": "crm"}).json()["token"]
    integration = TestClient(app)
    bearer = {"Authorization": f"Bearer {token}"}
    assert integration.post(path, json={"text": "集成"}, headers=bearer).status_code == 200
    assert integration.get("/api/v1/me", headers={"Authorization": "Bearer gf_wrong"}).status_code == 401


def test_session_cookie_flags(app, people):
    client = TestClient(app)
    response = client.post("/api/v1/auth/login", json={"username": "rev", "password": PASSWORD})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_logout_ends_the_session_on_the_server(app):
    add_user(app)
    actor = Actor(app, "rev")
    saved = actor.client.cookies.get(SESSION_COOKIE)
    assert actor.client.post("/api/v1/auth/logout").status_code == 403  # the cookie alone is not enough (CSRF)
    assert actor.post("/api/v1/auth/logout").status_code == 200
    replay = TestClient(app)
    replay.cookies.set(SESSION_COOKIE, saved)  # a copy of the cookie kept from before the logout
    assert replay.get("/api/v1/me").status_code == 401
    assert actor.post("/api/v1/auth/logout").status_code == 401  # no session left to end

    page = Actor(app, "rev")
    saved = page.client.cookies.get(SESSION_COOKIE)
    response = page.client.post("/logout", data={"csrf": page.csrf}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    replay = TestClient(app, follow_redirects=False)
    replay.cookies.set(SESSION_COOKIE, saved)
    assert replay.get("/").headers["location"] == "/login"


def test_sessions_are_stored_as_digests_and_end_with_their_time_or_the_account(app):
    add_user(app)
    actor = Actor(app, "rev")
    secret = actor.client.cookies.get(SESSION_COOKIE)
    workspace = app.state.workspace
    with workspace.sessions() as session:
        [row] = session.scalars(select(UserSession))
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest() and row.csrf == actor.csrf
        assert row.expires_at - row.created_at == timedelta(seconds=SESSION_SECONDS)
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    assert actor.get("/api/v1/me").status_code == 401  # expired
    actor = Actor(app, "rev")
    with workspace.sessions() as session:
        assert len(list(session.scalars(select(UserSession)))) == 1  # the expired one was cleared at login
        session.scalar(select(User).where(User.username == "rev")).active = False
        session.commit()
    assert actor.get("/api/v1/me").status_code == 401  # deactivated: the live session stops working


def test_the_login_form_has_its_own_csrf_token(app):
    add_user(app)
    credentials = {"username": "rev", "password": PASSWORD}
    browser = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', browser.get("/login").text)[1]
    assert browser.cookies.get(LOGIN_FORM_COOKIE)
    # Another site's form can copy a token but not the cookie that goes with it.
    forged = TestClient(app, follow_redirects=False).post("/login", data={**credentials, "csrf": token})
    assert forged.status_code == 403 and "请重新登录" in forged.text and SESSION_COOKIE not in forged.cookies
    refused = browser.post("/login", data={**credentials, "csrf": "forged"})
    assert refused.status_code == 403
    token = re.search(r'name="csrf" value="([^"]+)"', refused.text)[1]  # the refusal shows a fresh form
    signed_in = browser.post("/login", data={**credentials, "csrf": token})
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/")
    assert browser.get("/").status_code == 200


def test_the_json_login_takes_json_only(app):
    add_user(app)
    client = TestClient(app)
    credentials = {"username": "rev", "password": PASSWORD}
    assert client.post(LOGIN, data=credentials).status_code == 415  # what an HTML form sends
    as_text = client.post(LOGIN, content=json.dumps(credentials), headers={"Content-Type": "text/plain"})
    assert as_text.status_code == 415 and "application/json" in as_text.json()["detail"]
    assert client.post(LOGIN, content=json.dumps(credentials)).status_code == 415  # no type at all
    assert client.post(LOGIN, json=credentials).status_code == 200


def test_login_throttle_counts_one_client_across_user_names(app):
    add_user(app)
    client = TestClient(app)
    for i in range(CLIENT_ATTEMPTS):
        assert client.post(LOGIN, json={"username": f"guess{i}", "password": "wrong"}).status_code == 401
    refused = client.post(LOGIN, json={"username": "rev", "password": PASSWORD})
    assert refused.status_code == 429 and "请 5 分钟后再试" in refused.json()["detail"]
    other = TestClient(app, client=("192.0.2.7", 50000))
    assert other.post(LOGIN, json={"username": "rev", "password": PASSWORD}).status_code == 200


def test_serve_believes_x_forwarded_for_only_from_trusted_proxies(tmp_path, monkeypatch):
    """``guifan serve`` as started: a client sending its own X-Forwarded-For is still one client."""
    import httpx
    import uvicorn
    from typer.testing import CliRunner

    from guifan.cli import app as cli

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda application, **options: started.update(app=application, **options))
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["serve", "--db", db, "--trusted-proxy", "10.0.0.5,10.0.0.6"]).exit_code == 0
    assert (started["proxy_headers"], started["forwarded_allow_ips"]) == (True, "10.0.0.5,10.0.0.6")
    started.clear()
    assert runner.invoke(cli, ["serve", "--db", db]).exit_code == 0
    options = {key: value for key, value in started.items() if key not in ("app", "host", "port", "log_level")}
    assert options == {"proxy_headers": False}
    add_user(started["app"])
    with serving(started["app"], **options) as base:
        for i in range(LOGIN_ATTEMPTS):
            spoofed = {"X-Forwarded-For": f"203.0.113.{i}"}
            wrong = httpx.post(f"{base}{LOGIN}", json={"username": "rev", "password": "wrong"}, headers=spoofed)
            assert wrong.status_code == 401
        right = httpx.post(f"{base}{LOGIN}", json={"username": "rev", "password": PASSWORD},
                           headers={"X-Forwarded-For": "203.0.113.200"})
        assert right.status_code == 429


def test_login_is_throttled(app, people):
    client = TestClient(app)
    for _ in range(5):
        assert client.post("/api/v1/auth/login", json={"username": "rev", "password": "wrong"}).status_code == 401
    blocked = client.post("/api/v1/auth/login", json={"username": "rev", "password": PASSWORD})
    assert blocked.status_code == 429
    # Another account from the same client is not locked out by someone else's failures.
    assert client.post("/api/v1/auth/login", json={"username": "super", "password": PASSWORD}).status_code == 200


XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'


def test_transcript_text_is_escaped_in_pages(people):
    rev = people["rev"]
    item = conversation("<b>id</b>", "1024", agent_text=f"你好 {XSS}")
    job = rev.post("/api/v1/conversations", json={"conversations": [item]}).json()
    wait_for_job(rev, job["id"])
    cid = rev.get("/api/v1/conversations").json()["items"][0]["id"]
    for page in (f"/conversations/{cid}", "/"):
        html = rev.get(page).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>id</b>" not in html
    html = rev.get(f"/conversations/{cid}").text
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in html
    assert "<mark" in html  # the 你 finding is still highlighted, around escaped text


@pytest.mark.parametrize(
    "params",
    [
        {"agent": "' OR 1=1 --"},
        {"rule": "x' OR '1'='1"},
        {"clause": "%"},
        {"clause": '"; DROP TABLE conversations; --'},
        {"sort": "id; DROP TABLE users"},
        {"status": "pending' OR 'a'='a"},
    ],
)
def test_sql_injection_in_filters_finds_nothing_and_breaks_nothing(people, seeded, params):
    rev = people["rev"]
    response = rev.get("/api/v1/conversations", params=params)
    assert response.status_code in (200, 422)
    if response.status_code == 200 and "sort" not in params:
        assert response.json()["total"] == 0
    assert rev.get("/api/v1/conversations").json()["total"] == 1
    assert rev.get("/api/v1/me").status_code == 200


def test_personal_data_is_masked_unless_the_setting_says_otherwise(app, people):
    rev = people["rev"]
    item = conversation("pii", "1024", agent_text="您的手机号13812345678,身份证11010519491231002X,卡号6222021234567890")
    wait_for_job(rev, rev.post("/api/v1/conversations", json={"conversations": [item]}).json()["id"])
    cid = rev.get("/api/v1/conversations").json()["items"][0]["id"]
    text = rev.get(f"/api/v1/conversations/{cid}").json()["turns"][1]["text"]
    assert "13812345678" not in text and "138****5678" in text
    assert "11010519491231002X" not in text and "6222021234567890" not in text
    assert "13812345678" not in rev.get(f"/conversations/{cid}").text
    admin = people["admin"]
    assert admin.client.put("/api/v1/settings/mask_personal_data", json={"value": False},
                            headers={"X-CSRF-Token": admin.csrf}).status_code == 200
    assert admin.get("/api/v1/settings").json()["mask_personal_data"] is False
    wait_for_job(rev, rev.post("/api/v1/conversations", json={"conversations": [item]}).json()["id"])
    assert "13812345678" in rev.get(f"/api/v1/conversations/{cid}").json()["turns"][1]["text"]


def test_upload_limits_give_clear_errors(db_url, tmp_path):
    from guifan.web.app import create_app

    small = create_app(db_url, secret="s", max_upload_mb=1, max_upload_files=2, upload_dir=tmp_path / "uploads")
    with TestClient(small):
        rev = signed_in(small)
        three = [("files", (f"{i}.jsonl", b"{}", "application/json")) for i in range(3)]
        response = rev.post("/api/v1/imports", files=three)
        assert response.status_code == 400 and "最多上传 2 个文件" in response.json()["detail"]
        big = [("files", ("big.jsonl", b"x" * (1024 * 1024 + 1), "application/json"))]
        response = rev.post("/api/v1/imports", files=big)
        assert response.status_code == 400 and "big.jsonl" in response.json()["detail"]


def test_exports_guard_against_formula_injection_and_keep_the_scope(people):
    import csv
    import io

    from openpyxl import load_workbook

    rev = people["rev"]
    items = [conversation("=HYPERLINK(\"http://evil\",\"x\")", "1024"), conversation("+cmd|' /C calc'!A0", "2048")]
    wait_for_job(rev, rev.post("/api/v1/conversations", json={"conversations": items}).json()["id"])
    response = rev.get("/api/v1/conversations.csv")
    assert response.status_code == 200 and response.text.startswith("\ufeff会话ID")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    ids = sorted(r[0] for r in rows[1:])
    assert ids == ["'+cmd|' /C calc'!A0", "'=HYPERLINK(\"http://evil\",\"x\")"]
    book = load_workbook(io.BytesIO(rev.get("/api/v1/conversations.xlsx").content))
    cells = [row[0] for row in book.active.iter_rows(min_row=2, values_only=True)]
    assert all(str(v).startswith("'") for v in cells) and len(cells) == 2
    # The export holds only what the caller may see.
    agent_rows = list(csv.reader(io.StringIO(people["agent1"].get("/api/v1/conversations.csv").text.lstrip("\ufeff"))))
    assert [r[0] for r in agent_rows[1:]] == ["'=HYPERLINK(\"http://evil\",\"x\")"]


def test_every_response_carries_the_security_headers(tmp_path):
    app = create_app(f"sqlite:///{tmp_path / 'headers.db'}", secret="s", worker=False)

    def broken():
        raise RuntimeError("boom")

    app.add_api_route("/api/v1/broken", broken)
    client = TestClient(app, raise_server_exceptions=False)
    for path in ("/login", "/api/v1/me", "/static/app.css", "/audio.css", "/nowhere", "/api/v1/conversations/0",
                 "/api/v1/broken", "/api/docs"):
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        assert policy.startswith("default-src 'self'") and policy.endswith("frame-ancestors 'none'"), path
        assert headers["x-frame-options"] == "DENY", path
        assert (headers["x-content-type-options"], headers["referrer-policy"]) == ("nosniff", "same-origin"), path
        # Only Swagger UI (FastAPI's page, from a CDN) may run inline script.
        assert ("unsafe-inline" in policy) == (path == "/api/docs"), path

    embedded = create_app(f"sqlite:///{tmp_path / 'headers.db'}", secret="s", worker=False,
                          frame_ancestors=["https://desk.example.com", "https://*.crm.example.com:8443"])
    headers = TestClient(embedded).get("/login").headers
    assert headers["content-security-policy"].endswith(
        "frame-ancestors https://desk.example.com https://*.crm.example.com:8443")
    assert "x-frame-options" not in headers  # frame-ancestors governs; DENY would forbid the allowed desk too
    with pytest.raises(ValueError, match="不是来源"):
        create_app(f"sqlite:///{tmp_path / 'headers.db'}", worker=False,
                   frame_ancestors=["https://desk.example.com; script-src *"])


def test_serve_passes_the_frame_ancestors(tmp_path, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from guifan.cli import app as cli

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda application, **options: started.update(app=application))
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["serve", "--db", db, "--frame-ancestors", "https://desk.example.com"]).exit_code == 0
    policy = TestClient(started["app"]).get("/login").headers["content-security-policy"]
    assert policy.endswith("frame-ancestors https://desk.example.com")
    bad = runner.invoke(cli, ["serve", "--db", db, "--frame-ancestors", "javascript:alert(1)"])
    assert bad.exit_code == 2 and "不是来源" in bad.output


def test_trying_a_draft_rulebook_refuses_a_catastrophic_pattern_quickly(app):
    add_user(app, "super", "supervisor")
    supervisor = Actor(app, "super")
    started = time.monotonic()
    response = supervisor.post("/api/v1/rulebook/try", json={
        "override_yaml": "company:\n  agent_id_pattern: '(a|aa)+$'\n",
        "transcript": "客户: 你工号多少\n客服: " + "a" * 40 + "!",
    })
    assert response.status_code == 400 and "超时" in response.json()["detail"]
    assert time.monotonic() - started < 5
    too_long = supervisor.post("/api/v1/rulebook/try", json={"transcript": "客户: 在吗\n" + "客服: 在\n" * 5000})
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["type"] == "string_too_long"


def test_api_token_use_is_written_at_most_once_a_minute(tmp_path):
    """A read with a token does not write: it succeeds while another connection (an import) holds
    SQLite's write lock, where writing last_used_at on every request failed with "database is locked"."""
    path = tmp_path / "tokens.db"
    app = create_app(f"sqlite:///{path}", secret="s", worker=False)
    workspace = app.state.workspace
    with workspace.sessions() as session:
        user = workspace.add_user(session, "rev", PASSWORD, "reviewer")
        bearer = {"Authorization": f"Bearer {workspace.create_token(session, user, 'crm')}"}
        session.commit()

    def last_used():
        with workspace.sessions() as session:
            return session.scalar(select(ApiToken.last_used_at))

    client = TestClient(app)
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    first = last_used()
    assert first is not None
    writer = sqlite3.connect(path, timeout=0)
    writer.execute("BEGIN IMMEDIATE")  # as an import transaction does
    try:
        started = time.monotonic()
        assert client.get("/api/v1/me", headers=bearer).status_code == 200
        assert time.monotonic() - started < 5
    finally:
        writer.rollback()
        writer.close()
    assert last_used() == first
    with workspace.sessions() as session:
        session.scalar(select(ApiToken)).last_used_at = utcnow() - timedelta(minutes=2)
        session.commit()
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    assert last_used() > first  # a minute on, the use is recorded again


def test_a_request_over_its_limit_is_refused_whole_and_nothing_is_kept(db_url, tmp_path):
    from guifan.web.app import BODY_LIMIT, create_app

    uploads = tmp_path / "uploads"
    small = create_app(db_url, secret="s", max_upload_mb=1, max_request_mb=1, upload_dir=uploads, worker=False)
    with TestClient(small):
        rev = signed_in(small)
        workspace = small.state.workspace
        # Each file is within the per-file limit; together they pass the request's.
        two = [("files", (f"{i}.jsonl", b"x" * 700_000, "application/json")) for i in range(2)]
        response = rev.post("/api/v1/imports", files=two)
        assert response.status_code == 413 and response.json()["detail"] == "请求过大 (上限 1 MB)"
        assert response.headers["x-content-type-options"] == "nosniff"

        def chunks():  # no Content-Length: counted as it arrives
            yield (b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.jsonl"\r\n'
                   b"Content-Type: application/json\r\n\r\n")
            for _ in range(20):
                yield b"x" * 100_000

        response = rev.post("/api/v1/imports", content=chunks(),
                            headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert response.status_code == 413
        response = rev.post("/api/v1/conversations", content=b"[" + b" " * BODY_LIMIT + b"]",
                            headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        assert not uploads.exists() or not any(uploads.rglob("*.jsonl"))

        # Within the limits: the upload is streamed to the upload folder, not kept in the database.
        job = rev.post("/api/v1/imports", files=[("files", ("ok.jsonl", jsonl(conversation("c1", None)),
                                                             "application/json"))]).json()
        from guifan.web.models import ImportJob

        with workspace.sessions() as session:
            (stored,) = session.get(ImportJob, job["id"]).files
            assert stored.content is None and stored.size > 0
            assert Path(stored.path).read_bytes() == jsonl(conversation("c1", None))
        workspace.run_import(job["id"])
        assert not Path(stored.path).exists()  # deleted once its conversations are stored


def test_ids_metadata_and_what_people_type_are_masked_too(app, people):
    rev, agent = people["rev"], people["agent1"]
    item = conversation("13812345678-0301", "1024", agent_text="你好", metadata={"caller": "13912345678", "n": [15012345678]})
    wait_for_job(rev, rev.post("/api/v1/conversations", json={"conversations": [item]}).json()["id"])
    (row,) = rev.get("/api/v1/conversations").json()["items"]
    assert row["external_id"] == "138****5678-0301"
    detail = rev.get(f"/api/v1/conversations/{row['id']}").json()
    assert detail["meta"] == {"caller": "139****5678", "n": ["150****5678"]}
    finding = detail["findings"][0]
    rev.post(f"/api/v1/conversations/{row['id']}/comments", json={"text": "客户电话 13712345678"})
    rev.post(f"/api/v1/findings/{finding['id']}/verdict", json={"confirmed": True, "comment": "回拨 13612345678"})
    rev.post(f"/api/v1/conversations/{row['id']}/review")
    agent.post(f"/api/v1/findings/{finding['id']}/appeal", json={"reason": "我打的是 13512345678"})
    detail = rev.get(f"/api/v1/conversations/{row['id']}").json()
    shown = json.dumps(detail, ensure_ascii=False) + rev.get(f"/conversations/{row['id']}").text
    for number in ("13812345678", "13912345678", "15012345678", "13712345678", "13612345678", "13512345678"):
        assert number not in shown
    # A re-import with the same (unmasked) id finds the same conversation.
    wait_for_job(rev, rev.post("/api/v1/conversations", json={"conversations": [item]}).json()["id"])
    assert rev.get("/api/v1/conversations").json()["total"] == 1
