"""The lists on SQLite and PostgreSQL: page links with total and size, sorting by every column,
filters kept in links, saved filters per user, bulk assignment and bulk confirmation."""

from __future__ import annotations

import re

from tests.web.conftest import made, stored


def seed(app, count: int = 25) -> dict[str, int]:
    """``count`` chat conversations c00… of agents 1024/2048, an hour apart; every third has a finding."""
    ids = {}
    for n in range(count):
        findings = [made("FBD010", 1, "您")] if n % 3 == 0 else []
        ids[f"c{n:02d}"] = stored(app, f"c{n:02d}", findings, agent="1024" if n % 2 else "2048",
                                  started_at=f"2026-11-02T{n % 24:02d}:00:00+00:00")
    return ids


def listing(actor, **params) -> list[str]:
    response = actor.get("/api/v1/conversations", params=params)
    assert response.status_code == 200, response.text
    return [i["external_id"] for i in response.json()["items"]]


def test_pages_sorts_and_bounds(app, people):
    seed(app)
    rev = people["rev"]
    assert listing(rev, sort="external_id", descending=False, per_page=10, page=3) == [f"c{n}" for n in range(20, 25)]
    assert listing(rev, sort="external_id", per_page=3) == ["c24", "c23", "c22"]
    # Ties by arrival in the sort's direction (newest first when descending): the nine with a finding first.
    assert listing(rev, sort="findings", per_page=9) == [f"c{n:02d}" for n in range(24, -1, -3)]
    assert listing(rev, sort="findings", descending=False, per_page=3) == ["c01", "c02", "c04"]
    for key in ("channel", "agent", "started_at", "score", "final_score", "status", "uncertain"):
        assert len(listing(rev, sort=key, per_page=200)) == 25
    assert listing(rev, sort="agent", descending=False, per_page=1) == ["c01"]  # agent 1024 before 2048
    assert rev.get("/api/v1/conversations", params={"per_page": 201}).status_code == 422
    assert rev.get("/api/v1/conversations", params={"agent": "9" * 65}).status_code == 422
    # The team lead of 一组 sees agent 1024's twelve only, in pages too.
    assert people["lead1"].get("/api/v1/conversations").json()["total"] == 12

    page = rev.get("/", params={"per_page": 10, "page": 2, "sort": "external_id", "descending": "false",
                                "channel": "chat"}).text
    assert "共 25 条,第 11–20 条" in page
    assert '<b aria-current="page">2</b>' in page
    # Page links keep the filters and the sort; sort links keep the filters and go to page 1.
    assert 'href="?per_page=10&amp;sort=external_id&amp;descending=false&amp;channel=chat&amp;page=3"' in page
    assert re.search(r'aria-sort="ascending"><a href="\?per_page=10&amp;channel=chat&amp;sort=external_id&amp;'
                     r'descending=true">会话 ▲', page)
    rows = re.findall(r'<a href="/conversations/\d+">(c\d\d)</a>', page)
    assert rows == [f"c{n}" for n in range(10, 20)]
    assert "2026-11-02 18:00" in page  # 10:00 UTC in Beijing time and "在线" in page


def test_saved_filters_are_each_users_own(app, people):
    seed(app, 4)
    rev, rev2 = people["rev"], people["rev2"]
    saved = rev.post("/api/v1/saved-filters", json={"page": "conversations", "name": "一组待复核",
                                                     "query": "agent=1024&status=pending&page=4"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["query"] == "agent=1024&status=pending"  # the page number is not kept
    again = rev.post("/api/v1/saved-filters", json={"page": "conversations", "name": "一组待复核",
                                                    "query": "agent=1024"}).json()
    assert again["id"] == saved.json()["id"] and again["query"] == "agent=1024"  # same name: replaced
    assert [f["name"] for f in rev.get("/api/v1/saved-filters").json()] == ["一组待复核"]
    assert rev2.get("/api/v1/saved-filters").json() == []
    assert "一组待复核" not in rev2.get("/").text
    page = rev.get("/").text
    assert '<a href="?agent=1024">一组待复核</a>' in page
    assert rev2.client.delete(f"/api/v1/saved-filters/{again['id']}",
                              headers={"X-CSRF-Token": rev2.csrf}).status_code == 404
    assert rev.post("/api/v1/saved-filters", json={"page": "conversations", "name": "x" * 101}).status_code == 422
    assert rev.post("/api/v1/saved-filters", json={"page": "users", "name": "x"}).status_code == 422
    # The page's form saves the current query and goes to it.
    form = rev.post("/saved-filters", data={"csrf": rev.csrf, "page": "conversations", "name": "二组",
                                            "query": "agent=2048"}, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/?agent=2048"
    assert len(rev.get("/api/v1/saved-filters").json()) == 2
    assert rev.client.delete(f"/api/v1/saved-filters/{again['id']}",
                             headers={"X-CSRF-Token": rev.csrf}).status_code == 200
    assert [f["name"] for f in rev.get("/api/v1/saved-filters").json()] == ["二组"]


def test_bulk_assign_to_a_reviewer(app, people):
    ids = seed(app, 4)
    boss, rev = people["super"], people["rev"]
    reviewer = rev.user["id"]
    chosen = [ids["c01"], ids["c02"]]
    response = boss.post("/api/v1/conversations/assign", json={"ids": chosen, "reviewer_id": reviewer})
    assert response.status_code == 200, response.text
    assert sorted(response.json()["assigned"]) == sorted(chosen)
    # Again: nothing new (kept as they are).
    assert boss.post("/api/v1/conversations/assign", json={"ids": chosen, "reviewer_id": reviewer}).json() == \
        {"assigned": []}
    mine = rev.get("/api/v1/assignments").json()
    assert sorted(a["conversation_id"] for a in mine) == sorted(chosen)
    # Only who decides may assign; a team lead or a reviewer cannot; an agent is no reviewer.
    for who in ("rev", "lead1", "agent1"):
        assert people[who].post("/api/v1/conversations/assign",
                                json={"ids": chosen, "reviewer_id": reviewer}).status_code == 403
    assert boss.post("/api/v1/conversations/assign",
                     json={"ids": chosen, "reviewer_id": people["agent1"].user["id"]}).status_code == 400
    assert boss.post("/api/v1/conversations/assign", json={"ids": [], "reviewer_id": reviewer}).status_code == 422
    # The list's form: the chosen rows, back to the same list with the count.
    form = boss.post("/conversations/assign", data={"csrf": boss.csrf, "reviewer_id": people["rev2"].user["id"],
                                                    "ids": [ids["c03"]], "next": "/?agent=1024"},
                     follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/?agent=1024&assigned=1"
    assert [a["conversation_id"] for a in people["rev2"].get("/api/v1/assignments").json()] == [ids["c03"]]
    assert "已分配 1 通会话" in boss.get(form.headers["location"]).text
    assert 'form="bulk"' in boss.get("/").text and 'form="bulk"' not in rev.get("/").text


def test_bulk_confirm_findings(app, people):
    cid = stored(app, "many", [made("FBD010", 1, "您"), made("FBD003", 3, "我查一下")])
    other = stored(app, "other", [made("FBD010", 1, "您")], agent="2048")
    rev = people["rev"]
    findings = [f["id"] for f in rev.get(f"/api/v1/conversations/{cid}").json()["findings"]]
    assert people["agent1"].post("/api/v1/findings/confirm", json={"ids": findings}).status_code == 403
    response = rev.post("/api/v1/findings/confirm", json={"ids": findings})
    assert response.status_code == 200 and sorted(response.json()["confirmed"]) == sorted(findings)
    assert {f["status"] for f in rev.get(f"/api/v1/conversations/{cid}").json()["findings"]} == {"confirmed"}
    audit = people["super"].get("/api/v1/audit", params={"entity": "finding"}).json()
    assert {e["entity_id"] for e in audit if e["action"] == "finding.verdict"} == set(findings)
    # The page's form (checkboxes beside each finding), back to the conversation.
    mine = [f["id"] for f in rev.get(f"/api/v1/conversations/{other}").json()["findings"]]
    form = rev.post("/findings/confirm", data={"csrf": rev.csrf, "conversation_id": other, "ids": mine},
                    follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == f"/conversations/{other}"
    assert rev.get(f"/api/v1/conversations/{other}").json()["findings"][0]["status"] == "confirmed"


def test_appeals_and_audit_lists_page_sort_and_save(app, people):
    ids = seed(app, 7)
    rev, agent, boss = people["rev"], people["agent2"], people["super"]
    for cid in (ids["c00"], ids["c06"]):  # agent 2048's, each with one finding
        assert rev.post(f"/api/v1/conversations/{cid}/review").status_code == 200
        finding = rev.get(f"/api/v1/conversations/{cid}").json()["findings"][0]["id"]
        assert agent.post(f"/api/v1/findings/{finding}/appeal", json={"reason": f"理由{cid}"}).status_code == 200
    page = boss.get("/appeals", params={"per_page": 1, "sort": "conversation", "descending": "false"}).text
    assert "共 2 条,第 1–1 条" in page and "会话 c00" in page and "会话 c06" not in page
    page = boss.get("/appeals", params={"per_page": 1, "sort": "conversation", "page": 2}).text
    assert "会话 c00" in page  # descending: c06 first, c00 on page 2
    assert "没有申诉" in boss.get("/appeals", params={"status": "accepted"}).text
    assert boss.get("/appeals", params={"per_page": 201}).status_code == 422
    assert rev.get("/appeals").status_code == 403

    audit = boss.get("/audit", params={"entity": "appeal", "per_page": 1}).text
    assert "共 2 条,第 1–1 条" in audit and "申诉" in audit
    assert boss.get("/audit", params={"action": "x" * 51}).status_code == 422
    saved = boss.post("/saved-filters", data={"csrf": boss.csrf, "page": "audit", "name": "申诉",
                                              "query": "entity=appeal"}, follow_redirects=False)
    assert saved.headers["location"] == "/audit?entity=appeal"
    assert '<a href="?entity=appeal">申诉</a>' in boss.get("/audit").text
