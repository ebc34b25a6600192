"""Confidence and 待复核: findings keep their confidence and evidence, uncertain ones count in the
score only as the rulebook says until a reviewer confirms them, and reviewers see them first (the
list's count, sort and filter; the conversation page's order and tags)."""

from __future__ import annotations

from guifan.web.models import User
from tests.web.conftest import made, stored

# conversation()'s turns: 1 and 3 are the agent's ("您好,请问有什么可以帮您?", "我查一下").
CERTAIN = made("FBD010", 1, "您好")
SHIRKING = made("FBD006", 3, "我查一下", confidence=0.6, evidence="meaning")


def deduction(app, finding) -> float:
    workspace = app.state.workspace
    with workspace.sessions() as session:
        return workspace.checker(workspace.active_rulebook(session)).scorer.deduction_of(finding)


def findings_by_rule(actor, cid: int) -> dict[str, dict]:
    return {f["rule"]: f for f in actor.get(f"/api/v1/conversations/{cid}").json()["findings"]}


def test_an_uncertain_finding_counts_once_a_reviewer_confirms_it(app, people):
    rev = people["rev"]
    cid = stored(app, "c1", [CERTAIN, SHIRKING])
    lost_certain, lost_shirking = deduction(app, CERTAIN), deduction(app, SHIRKING)
    detail = rev.get(f"/api/v1/conversations/{cid}").json()
    assert detail["auto_score"] == 100 - lost_certain and detail["uncertain"] == 1
    found = findings_by_rule(rev, cid)
    assert {k: found["FBD006"][k] for k in ("confidence", "evidence", "needs_review")} == \
        {"confidence": 0.6, "evidence": "meaning", "needs_review": True}
    assert {k: found["FBD010"][k] for k in ("confidence", "evidence", "needs_review")} == \
        {"confidence": 1.0, "evidence": "phrase", "needs_review": False}

    def verdict(rule: str, confirmed: bool) -> dict:
        assert rev.post(f"/api/v1/findings/{found[rule]['id']}/verdict", json={"confirmed": confirmed}).status_code == 200
        return rev.get(f"/api/v1/conversations/{cid}").json()

    after = verdict("FBD010", True)
    assert (after["final_score"], after["uncertain"]) == (100 - lost_certain, 1)  # the open uncertain one does not count
    after = verdict("FBD006", True)
    assert (after["final_score"], after["uncertain"]) == (100 - lost_certain - lost_shirking, 0)
    after = verdict("FBD006", False)
    assert (after["final_score"], after["uncertain"]) == (100 - lost_certain, 0)
    after = verdict("FBD010", False)
    assert after["final_score"] == 100 and after["auto_score"] == 100 - lost_certain


def test_the_rulebook_decides_what_needs_review_and_whether_it_counts_unreviewed(app, people):
    rev = people["rev"]
    workspace = app.state.workspace
    with workspace.sessions() as session:
        supervisor = session.get(User, people["super"].user["id"])
        workspace.publish_rulebook(session, supervisor, "review:\n  confidence_below: 0.7\n  count_in_score: true\n")
        session.commit()
    fairly_sure = made("FBD001", 1, "您好", confidence=0.75, evidence="sound")
    cid = stored(app, "c1", [CERTAIN, SHIRKING, fairly_sure])
    lost = sum(deduction(app, f) for f in (CERTAIN, SHIRKING, fairly_sure))
    detail = rev.get(f"/api/v1/conversations/{cid}").json()
    assert detail["auto_score"] == 100 - lost and detail["uncertain"] == 1
    found = findings_by_rule(rev, cid)
    assert (found["FBD006"]["needs_review"], found["FBD001"]["needs_review"]) == (True, False)
    rev.post(f"/api/v1/findings/{found['FBD010']['id']}/verdict", json={"confirmed": True})
    assert rev.get(f"/api/v1/conversations/{cid}").json()["final_score"] == 100 - lost  # open, and counted


def test_reviewers_see_uncertain_conversations_first(app, people):
    rev = people["rev"]
    doubtful = made("FBD006", 1, "您好", confidence=0.5, evidence="model")
    ids = {"calm": stored(app, "calm", [CERTAIN]), "one": stored(app, "one", [CERTAIN, SHIRKING]),
           "two": stored(app, "two", [SHIRKING, doubtful])}

    def listing(**params) -> list[tuple[str, int]]:
        items = rev.get("/api/v1/conversations", params=params).json()["items"]
        return [(i["external_id"], i["uncertain"]) for i in items]

    assert listing(sort="uncertain") == [("two", 2), ("one", 1), ("calm", 0)]
    assert listing(sort="uncertain", uncertain=True) == [("two", 2), ("one", 1)]
    assert listing(uncertain=False) == [("calm", 0)]
    page = rev.get("/", params={"sort": "uncertain"}).text
    assert '<span class="uncertain">待复核 2</span>' in page and '<span class="uncertain">待复核 1</span>' in page
    assert page.index(">two<") < page.index(">one<") < page.index(">calm<")
    assert ">calm<" not in rev.get("/", params={"uncertain": "true"}).text

    two = rev.get(f"/api/v1/conversations/{ids['two']}").json()["findings"]
    rev.post(f"/api/v1/findings/{two[0]['id']}/verdict", json={"confirmed": True})
    assert rev.post(f"/api/v1/conversations/{ids['one']}/review").status_code == 200
    assert listing(sort="uncertain") == [("two", 1), ("one", 0), ("calm", 0)]  # ties by id in the sort's direction

    # Re-imports: unchanged, the count stays; a new uncertain finding joins the open one.
    stored(app, "two", [SHIRKING, doubtful])
    assert listing(uncertain=True) == [("two", 1)]
    stored(app, "two", [SHIRKING, doubtful, made("FBD003", 3, "我查一下", confidence=0.4, evidence="meaning")])
    assert listing(uncertain=True) == [("two", 2)]


def test_the_page_shows_evidence_and_confidence_and_puts_uncertain_findings_first(app, people):
    """Beside each turn, the findings awaiting review come first."""
    rev = people["rev"]
    cid = stored(app, "c1", [CERTAIN, made("FBD006", 1, "您好", confidence=0.72, evidence="meaning")])
    found = findings_by_rule(rev, cid)
    certain, uncertain = found["FBD010"]["id"], found["FBD006"]["id"]
    assert certain < uncertain
    page = rev.get(f"/conversations/{cid}").text
    assert '<span class="evidence">语义 72%</span>' in page and '<span class="evidence">原话 100%</span>' in page
    assert page.count('<span class="uncertain">待复核</span>') == 1
    assert page.index(f'id="finding-{uncertain}"') < page.index(f'id="finding-{certain}"')
    rev.post(f"/api/v1/findings/{uncertain}/verdict", json={"confirmed": True})
    page = rev.get(f"/conversations/{cid}").text
    assert '<span class="uncertain">' not in page
    assert page.index(f'id="finding-{certain}"') < page.index(f'id="finding-{uncertain}"')

