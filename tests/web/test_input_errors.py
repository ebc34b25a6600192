"""Wrong input is the client's error, told in Chinese: numbers past what the databases hold, weeks
that do not exist, NUL characters PostgreSQL refuses, pydantic's validation errors; and whatever
still fails inside is a bare 500 that tells the client nothing."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from guifan.web.app import create_app
from tests.web.conftest import PASSWORD

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def admin(app, client):
    """The test client signed in as an admin with an API token (no CSRF), and a reviewer to sample for."""
    workspace = app.state.workspace
    with workspace.sessions() as session:
        user = workspace.add_user(session, "admin", PASSWORD, "admin")
        workspace.add_user(session, "rev", PASSWORD, "reviewer")
        client.headers["Authorization"] = f"Bearer {workspace.create_token(session, user, 'tests')}"
        session.commit()
    return client


def assert_chinese_422(response, field: str) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(d["loc"][-1] == field and d["msg"].startswith(f"字段 {field}: ") and CHINESE.search(d["msg"])
               for d in detail), detail


# Past PostgreSQL's INTEGER (2^31 - 1), and past SQLite's and any driver's 64 bits.
@pytest.mark.parametrize("number", [2**31, 10**20])
@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/api/v1/conversations/{n}", "conversation_id"),
        ("GET", "/api/v1/imports/{n}", "job_id"),
        ("GET", "/api/v1/conversations?team={n}", "team"),
        ("GET", "/api/v1/conversations?page={n}", "page"),
        ("GET", "/api/v1/conversations?per_page={n}", "per_page"),
        ("GET", "/api/v1/conversations.csv?team={n}", "team"),
        ("GET", "/api/v1/dashboard?team={n}", "team"),
        ("GET", "/api/v1/audit?entity_id={n}", "entity_id"),
        ("POST", "/api/v1/findings/{n}/verdict", "finding_id"),
        ("POST", "/api/v1/findings/{n}/appeal", "finding_id"),
        ("POST", "/api/v1/appeals/{n}/decision", "appeal_id"),
        ("POST", "/api/v1/conversations/{n}/findings", "conversation_id"),
        ("POST", "/api/v1/conversations/{n}/comments", "conversation_id"),
        ("POST", "/api/v1/conversations/{n}/review", "conversation_id"),
        ("POST", "/api/v1/conversations/{n}/acknowledge", "conversation_id"),
        # the pages
        ("GET", "/conversations/{n}", "conversation_id"),
        ("GET", "/?team={n}", "team"),
        ("GET", "/?page={n}", "page"),
        ("GET", "/dashboard?team={n}", "team"),
        ("POST", "/findings/{n}/verdict", "finding_id"),
        ("POST", "/conversations/{n}/comments", "conversation_id"),
        ("POST", "/appeals/{n}/decision", "appeal_id"),
    ],
)
def test_numbers_too_big_for_the_database_are_refused_in_chinese(admin, method, url, field, number):
    assert_chinese_422(admin.request(method, url.format(n=number)), field)


@pytest.mark.parametrize("week", ["2026-W00", "2026-W99", "2027-W53", "0000-W01", "9999-W52", "2026-W4", "2026W45"])
def test_sampling_weeks_must_be_real_iso_weeks(admin, week):
    assert_chinese_422(admin.post("/api/v1/sampling", json={"per_agent": 1, "week": week}), "week")
    page = admin.post("/sampling", data={"per_agent": "1", "week": week}, follow_redirects=False)
    assert page.status_code == 303
    [error] = parse_qs(urlsplit(page.headers["location"]).query)["error"]
    assert error.startswith("字段 week: ") and CHINESE.search(error)


def test_a_53rd_week_exists_in_long_years(admin):
    assert admin.post("/api/v1/sampling", json={"per_agent": 1, "week": "2026-W53"}).json() == {"assigned": []}


def test_validation_errors_are_chinese_and_name_the_field(admin):
    response = admin.get("/api/v1/conversations", params={"page": "一", "per_page": 0, "channel": "fax",
                                                         "descending": "maybe", "date_from": "昨天"})
    assert response.status_code == 422
    by_field = {d["loc"][-1]: d for d in response.json()["detail"]}
    assert by_field["page"] == {"loc": ["query", "page"], "type": "int_parsing", "msg": "字段 page: 应为整数"}
    assert by_field["per_page"]["msg"] == "字段 per_page: 不能小于 1"
    assert by_field["channel"]["msg"] == "字段 channel: 应为 'phone'、'chat' 之一"
    assert by_field["descending"]["msg"] == "字段 descending: 应为 true 或 false"
    assert by_field["date_from"]["msg"] == "字段 date_from: 应为日期 (YYYY-MM-DD)"
    assert all("input" not in d for d in response.json()["detail"])  # what was sent is not echoed

    comments = "/api/v1/conversations/1/comments"
    assert admin.post(comments, json={}).json()["detail"][0]["msg"] == "字段 text: 必填"
    assert admin.post(comments, json={"text": "长" * 5001}).json()["detail"][0]["msg"] == "字段 text: 最多 5000 个字符"
    assert admin.post(comments, json={"text": ""}).json()["detail"][0]["msg"] == "字段 text: 至少 1 个字符"
    broken = admin.post(comments, content=b'{"text": ', headers={"Content-Type": "application/json"})
    assert broken.status_code == 422 and broken.json()["detail"][0]["msg"].startswith("请求体: 不是有效的 JSON")
    role = admin.post("/api/v1/users", json={"username": "x", "password": PASSWORD, "role": "boss"})
    assert role.json()["detail"][0]["msg"].startswith("字段 role: 应为 'admin'")
    appeals = admin.get("/api/v1/appeals", params={"status": "maybe"}).json()["detail"][0]
    assert appeals["type"] == "enum" and appeals["msg"].startswith("字段 status: 应为 ")
    token = admin.post("/api/v1/tokens", json={"name": 7}).json()["detail"][0]
    assert token["msg"] == "字段 name: 应为文本"


def test_nul_characters_are_refused_before_they_reach_the_database(admin):
    """PostgreSQL can neither store nor compare text holding NUL: a 500 before, a 422 now."""
    assert_chinese_422(admin.get("/api/v1/conversations", params={"agent": "10\x0024"}), "agent")
    assert_chinese_422(admin.get("/api/v1/audit", params={"entity": "user\x00"}), "entity")
    assert_chinese_422(admin.post("/api/v1/users", json={"username": "a\x00", "password": PASSWORD, "role": "agent"}),
                       "username")


def test_an_agent_code_already_taken_is_refused(admin):
    agent = {"password": PASSWORD, "role": "agent", "agent_code": "1024"}
    assert admin.post("/api/v1/users", json={"username": "a1", **agent}).status_code == 200
    taken = admin.post("/api/v1/users", json={"username": "a2", **agent})
    assert taken.status_code == 400 and taken.json()["detail"] == "坐席工号 1024 已属于另一个用户"


def test_settings_stay_within_what_the_workflow_can_compute(admin):
    too_long = admin.put("/api/v1/settings/appeal_window_days", json={"value": 10**9})
    assert too_long.status_code == 400 and "3650" in too_long.json()["detail"]
    assert admin.put("/api/v1/settings/appeal_window_days", json={"value": 3650}).status_code == 200


def test_an_unhandled_error_is_a_bare_500(tmp_path):
    app = create_app(f"sqlite:///{tmp_path / 'errors.db'}", secret="s", worker=False)

    def broken():
        raise RuntimeError("internal detail /srv/guifan/secret.py")

    app.add_api_route("/api/v1/broken", broken)
    app.add_api_route("/broken", broken)
    client = TestClient(app, raise_server_exceptions=False)
    api = client.get("/api/v1/broken")
    assert (api.status_code, api.json()) == (500, {"detail": "服务器内部错误"})
    page = client.get("/broken")
    assert page.status_code == 500 and "服务器内部错误" in page.text
    assert "secret" not in page.text and "Traceback" not in page.text


def test_guifan_user_add_refuses_a_taken_agent_code_with_a_message(tmp_path):
    from typer.testing import CliRunner

    from guifan.cli import app as cli

    db = f"sqlite:///{tmp_path / 'users.db'}"
    runner = CliRunner()
    first = runner.invoke(cli, ["user", "add", "a1", "--role", "agent", "--agent-code", "1024", "--db", db,
                                "--password", "correct-horse-9"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, ["user", "add", "a2", "--role", "agent", "--agent-code", "1024", "--db", db,
                                 "--password", "correct-horse-9"])
    assert second.exit_code == 2 and "坐席工号 1024 已属于另一个用户" in second.stderr
