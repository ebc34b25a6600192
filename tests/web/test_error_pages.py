"""Error pages: a browser's page request gets a Chinese HTML page with a way back (403, 404, 422,
500; 401 goes to the login page), the API keeps its JSON; the favicon."""

from __future__ import annotations

from fastapi.testclient import TestClient

from guifan.web.app import create_app
from tests.web.conftest import stored

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_missing_page_is_a_chinese_page_and_the_api_stays_json(app, people):
    rev, agent = people["rev"], people["agent2"]
    cid = stored(app, "e1", [])
    page = rev.get("/no-such-page", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "页面不存在" in page.text and 'href="/">回到首页' in page.text and "Not Found" not in page.text
    assert 'lang="zh-CN"' in page.text
    # Out of scope: the same 404 page, with the way back to the page the agent came from.
    scoped = agent.get(f"/conversations/{cid}", headers={**HTML, "Referer": "http://testserver/?page=2"})
    assert scoped.status_code == 404 and "页面不存在" in scoped.text and 'href="/?page=2">返回上一页' in scoped.text
    # Another site's referrer is no way back.
    elsewhere = agent.get(f"/conversations/{cid}", headers={**HTML, "Referer": "https://evil.example/x"})
    assert "evil" not in elsewhere.text and "返回上一页" not in elsewhere.text
    api = agent.get(f"/api/v1/conversations/{cid}", headers=HTML)
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"
    assert set(api.json()) == {"detail"}
    assert agent.get("/api/v1/nothing-here").json() == {"detail": "Not Found"}


def test_forbidden_and_invalid_pages_say_why_in_chinese(people):
    agent = people["agent1"]
    forbidden = agent.get("/audit", headers=HTML)
    assert forbidden.status_code == 403 and "没有权限" in forbidden.text and "回到首页" in forbidden.text
    assert agent.get("/api/v1/audit").json() == {"detail": "没有权限"}
    invalid = agent.get("/conversations/abc", headers=HTML)
    assert invalid.status_code == 422 and "请求参数有误" in invalid.text and "conversation_id" in invalid.text
    assert agent.get("/api/v1/conversations/abc").json()["detail"][0]["loc"] == ["path", "conversation_id"]


def test_without_a_session_a_browser_goes_to_the_login_page(client):
    response = client.get("/audit", headers=HTML, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    posted = client.post("/conversations/assign", headers=HTML, data={"reviewer_id": "1"})
    assert posted.status_code == 401 and "请先登录" in posted.text and 'href="/login"' in posted.text
    assert client.get("/api/v1/audit").json() == {"detail": "请先登录"}


def test_a_failing_page_shows_the_chinese_500_page_without_a_traceback(tmp_path):
    app = create_app(f"sqlite:///{tmp_path / 'errors.db'}", secret="s", worker=False)

    def broken():
        raise RuntimeError("internal detail /srv/guifan/secret.py")

    app.add_api_route("/broken", broken)
    app.add_api_route("/api/v1/broken", broken)
    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/broken", headers=HTML)
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "服务器内部错误" in page.text and "回到首页" in page.text
    assert "secret" not in page.text and "Traceback" not in page.text and "RuntimeError" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/api/v1/broken", headers=HTML).json() == {"detail": "服务器内部错误"}


def test_the_favicon_is_served_and_linked(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml" and b"<svg" in icon.content
    assert client.get("/static/favicon.svg").status_code == 200
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/login").text
