"""Users and teams in the web (admins): the API and the page, over the workspace calls that
``guifan user`` uses; on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from .conftest import PASSWORD


def patch(actor, url: str, body: dict):
    return actor.client.patch(url, json=body, headers={"X-CSRF-Token": actor.csrf})


def signs_in(app, username: str, password: str) -> bool:
    response = TestClient(app).post("/api/v1/auth/login", json={"username": username, "password": password})
    return response.status_code == 200


def test_admins_manage_users_and_teams_through_the_api(app, people):
    admin = people["admin"]
    created = admin.post("/api/v1/users", json={"username": "newbie", "password": PASSWORD, "role": "trainee",
                                                "team": "新人一组", "display_name": "小新"}).json()
    assert created["team"] == "新人一组" and created["active"] is True and created["role"] == "trainee"
    changed = patch(admin, f"/api/v1/users/{created['id']}", {"role": "agent", "agent_code": "7777"}).json()
    assert changed["role"] == "agent" and changed["agent_code"] == "7777" and changed["changed"] == ["agent_code", "role"]
    assert patch(admin, f"/api/v1/users/{created['id']}", {"team": ""}).json()["team"] is None
    # Disabled: cannot sign in; enabled again: can; a new password replaces the old one.
    assert admin.post(f"/api/v1/users/{created['id']}/disable").json()["active"] is False
    assert not signs_in(app, "newbie", PASSWORD)
    admin.post(f"/api/v1/users/{created['id']}/enable")
    assert signs_in(app, "newbie", PASSWORD)
    assert admin.post(f"/api/v1/users/{created['id']}/password", json={"password": "another-pass-123"}).status_code == 200
    assert not signs_in(app, "newbie", PASSWORD) and signs_in(app, "newbie", "another-pass-123")
    actions = {e["action"] for e in admin.get(f"/api/v1/audit?entity=user&entity_id={created['id']}").json()}
    assert {"user.create", "user.update", "user.disable", "user.enable", "user.password"} <= actions


def test_the_last_admin_stays_and_bad_input_is_refused_in_chinese(app, people):
    admin = people["admin"]
    me = next(u for u in admin.get("/api/v1/users").json() if u["username"] == "admin")
    refused = admin.post(f"/api/v1/users/{me['id']}/disable")
    assert refused.status_code in (400, 409) and "唯一" in refused.json()["detail"]
    assert patch(admin, f"/api/v1/users/{me['id']}", {"role": "agent"}).status_code in (400, 409)
    assert patch(admin, "/api/v1/users/999999", {"role": "agent"}).status_code == 404
    short = admin.post(f"/api/v1/users/{me['id']}/password", json={"password": "short"})
    assert short.status_code == 422 and "至少" in str(short.json()["detail"])
    assert patch(admin, f"/api/v1/users/{me['id']}", {"role": "boss"}).status_code == 422


def test_only_admins_see_or_change_users(app, people):
    for name in ("super", "agent1", "lead1"):
        actor = people[name]
        assert actor.get("/api/v1/users").status_code == 403
        assert actor.post("/api/v1/users/1/disable").status_code == 403
        assert actor.get("/users").status_code in (403, 404)


def test_the_users_page_creates_edits_and_disables(app, people):
    admin = people["admin"]
    page = admin.get("/users")
    assert page.status_code == 200 and "用户与团队" in page.text and "新建用户" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    made = admin.client.post("/users/new", data={"csrf": csrf, "username": "page-user", "password": PASSWORD,
                                                 "role": "agent", "team": "二组", "agent_code": "8888"},
                             follow_redirects=False)
    assert made.status_code == 303 and "done=" in made.headers["location"]
    target = next(u for u in admin.get("/api/v1/users").json() if u["username"] == "page-user")
    assert target["team"] == "二组" and target["agent_code"] == "8888"
    admin.client.post(f"/users/{target['id']}/edit", data={"csrf": csrf, "role": "team_lead", "team": "二组",
                                                           "agent_code": "", "display_name": "二组组长"})
    admin.client.post(f"/users/{target['id']}/active", data={"csrf": csrf, "active": "false"})
    after = next(u for u in admin.get("/api/v1/users").json() if u["username"] == "page-user")
    assert after["role"] == "team_lead" and after["agent_code"] is None and after["active"] is False
    again = admin.client.post("/users/new", data={"csrf": csrf, "username": "page-user", "password": PASSWORD,
                                                  "role": "agent"}, follow_redirects=True)
    assert "已存在" in again.text  # the page says why, in Chinese
    shown = admin.get("/users").text
    assert "二组组长" in shown and "已停用" in shown and "组长" in shown
    assert re.search(r"<td>二组</td><td>3</td>", shown)  # the team and its members (lead2, agent2, page-user)
