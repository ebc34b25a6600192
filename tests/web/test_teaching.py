"""Reviewers teach the rulebook: rejected findings of meaning-stage rules propose near misses,
manual findings propose examples; supervisors approve them into a new rulebook version (API and
page 语义样例) or decline them; calibration compares false alarms before and after."""

from __future__ import annotations

import re

import pytest
import yaml

from guifan.engine import get_rule
from tests.web.conftest import made, stored

ACTS = get_rule("FBD006").acts  # forbidden shirking (S-F6): a rule the meaning stage finds


@pytest.fixture(autouse=True)
def _the_rule_learns():
    assert ACTS, "FBD006 has meaning-stage acts"


def shirking(quote: str = "我查一下", turn: int = 3):
    return made("FBD006", turn, quote, confidence=0.6, evidence="meaning")


def finding_of(actor, cid: int, rule: str) -> int:
    return next(f["id"] for f in actor.get(f"/api/v1/conversations/{cid}").json()["findings"] if f["rule"] == rule)


def reject(actor, finding_id: int) -> None:
    assert actor.post(f"/api/v1/findings/{finding_id}/verdict", json={"confirmed": False}).status_code == 200


def pending(actor) -> list[tuple[str, str, str]]:
    return [(p["act"], p["side"], p["text"]) for p in actor.get("/api/v1/exemplars").json()]


def test_rejected_and_manual_findings_propose_exemplars_once(app, people):
    rev, boss = people["rev"], people["super"]
    c1 = stored(app, "c1", [made("FBD010", 1, "您好"), shirking()])
    c2 = stored(app, "c2", [shirking()])
    reject(rev, finding_of(rev, c1, "FBD006"))
    reject(rev, finding_of(rev, c2, "FBD006"))  # the same words again: proposed once
    reject(rev, finding_of(rev, c1, "FBD010"))  # a rule without acts teaches nothing
    assert pending(boss) == [(act, "negative", "我查一下") for act in ACTS]
    (first, *_) = boss.get("/api/v1/exemplars").json()
    assert (first["finding_id"], first["conversation_id"], first["proposed_by"], first["status"]) == \
        (finding_of(rev, c1, "FBD006"), c1, rev.user["id"], "pending")

    def manual(**body):
        return rev.post(f"/api/v1/conversations/{c1}/findings", json={"rule": "FBD006", **body})

    assert manual(turn=1, quote="请问有什么可以帮您").status_code == 200
    assert manual(turn=3).status_code == 200  # no quote: the whole turn, now as an example of the act
    assert manual(turn=0).status_code == 200  # the customer's turn: nothing to learn
    assert manual(turn=None).status_code == 200
    assert rev.post(f"/api/v1/conversations/{c1}/findings", json={"rule": "CRT001", "turn": 1}).status_code == 200
    wrong = manual(turn=1, quote="不在这一轮")
    assert wrong.status_code == 400 and "原话" in wrong.json()["detail"]
    positives = [(act, "positive", text) for text in ("请问有什么可以帮您", "我查一下") for act in ACTS]
    assert pending(boss) == [(act, "negative", "我查一下") for act in ACTS] + positives

    pii = stored(app, "pii", [shirking("你自己打13812345678问问")])
    reject(rev, finding_of(rev, pii, "FBD006"))
    assert pending(boss)[-1][2] == "你自己打138****5678问问"  # masked, like the quote it came from
    proposed = boss.get("/api/v1/audit", params={"entity": "exemplar_proposal"}).json()
    assert sorted(e["action"] for e in proposed) == ["exemplar.propose"] * len(pending(boss))
    assert proposed[0]["user_id"] == rev.user["id"]


def test_approving_publishes_a_new_rulebook_version_with_the_exemplars(app, people):
    rev, boss = people["rev"], people["super"]
    company = "review:\n  confidence_below: 0.7\n"
    assert boss.post("/api/v1/rulebook", json={"override_yaml": company}).json()["version"] == 2
    c1 = stored(app, "c1", [shirking(), shirking("他们的事你去问他们", turn=1)])
    reject(rev, finding_of(rev, c1, "FBD006"))
    rev.post(f"/api/v1/conversations/{c1}/findings", json={"rule": "FBD006", "turn": 1, "quote": "请问"})
    other = next(f["id"] for f in rev.get(f"/api/v1/conversations/{c1}").json()["findings"]
                 if f["quote"] == "他们的事你去问他们")
    reject(rev, other)
    ids = {p["text"]: p["id"] for p in boss.get("/api/v1/exemplars").json() if p["act"] == ACTS[0]}
    assert set(ids) == {"我查一下", "请问", "他们的事你去问他们"}

    approved = boss.post("/api/v1/exemplars/approve", json={"ids": [ids["我查一下"]]})
    assert approved.status_code == 200 and approved.json()["version"] == 3
    assert approved.json()["approved"][0]["status"] == "approved"
    rulebook = boss.get("/api/v1/rulebook").json()
    assert rulebook["active"] == 3
    assert yaml.safe_load(rulebook["override_yaml"]) == {
        "review": {"confidence_below": 0.7}, "add_exemplars": {ACTS[0]: {"negative": ["我查一下"]}}}
    workspace = app.state.workspace
    with workspace.sessions() as session:
        banks = workspace.checker(workspace.active_rulebook(session)).engine.rulebook.semantic.banks
    assert "我查一下" in banks[ACTS[0]].negative

    again = boss.post("/api/v1/exemplars/approve", json={"ids": [ids["我查一下"]]})
    assert again.status_code == 400 and "已处理" in again.json()["detail"]
    declined = boss.post("/api/v1/exemplars/decline", json={"ids": [ids["请问"]]})
    assert declined.status_code == 200 and declined.json()["declined"][0]["status"] == "declined"
    everything = boss.post("/api/v1/exemplars/approve", json={})  # no ids: every pending proposal
    assert everything.json()["version"] == 4
    assert {p["text"] for p in everything.json()["approved"]} == {"他们的事你去问他们"}
    taught = yaml.safe_load(boss.get("/api/v1/rulebook").json()["override_yaml"])["add_exemplars"][ACTS[0]]
    assert taught == {"negative": ["我查一下", "他们的事你去问他们"]}  # the declined example is not there
    nothing = boss.post("/api/v1/exemplars/approve", json={})
    assert nothing.status_code == 400 and "没有待审核" in nothing.json()["detail"]

    decided = {p["text"]: p for p in boss.get("/api/v1/exemplars", params={"status": "approved"}).json()}
    assert decided["我查一下"]["rulebook_version"] == 3 and decided["他们的事你去问他们"]["rulebook_version"] == 4
    assert decided["我查一下"]["decided_by"] == boss.user["id"]
    # A declined sentence is not proposed again.
    c2 = stored(app, "c2", [])
    rev.post(f"/api/v1/conversations/{c2}/findings", json={"rule": "FBD006", "turn": 1, "quote": "请问"})
    assert [p["text"] for p in boss.get("/api/v1/exemplars", params={"status": "declined"}).json()] == ["请问"]
    assert boss.get("/api/v1/exemplars").json() == []
    actions = [e["action"] for e in boss.get("/api/v1/audit", params={"entity": "exemplar_proposal"}).json()]
    assert actions.count("exemplar.approve") == 2 and actions.count("exemplar.decline") == 1


def test_the_page_approves_the_ticked_proposals_or_all(app, people):
    rev, boss = people["rev"], people["super"]
    c1 = stored(app, "c1", [shirking(), shirking("你去问别人", turn=1), shirking("不归我管", turn=1)])
    for finding in rev.get(f"/api/v1/conversations/{c1}").json()["findings"]:
        reject(rev, finding["id"])
    ids = {p["text"]: p["id"] for p in boss.get("/api/v1/exemplars").json() if p["act"] == ACTS[0]}
    page = boss.get("/exemplars").text
    assert "语义样例" in page and all(text in page for text in ids)
    assert f'name="ids" value="{ids["你去问别人"]}"' in page

    def decide(**form):
        response = boss.client.post("/exemplars/decision", data={"csrf": boss.csrf, **form}, follow_redirects=False)
        assert response.status_code == 303
        return response.headers["location"]

    assert decide(ids=[ids["你去问别人"]], approve="true") == "/exemplars"
    assert decide(ids=[ids["不归我管"]], approve="false") == "/exemplars"
    assert "请先勾选样例" in boss.get(decide(approve="true")).text
    assert decide(everything="true", approve="true") == "/exemplars"
    statuses = {p["text"]: (p["status"], p["rulebook_version"])
                for status in ("approved", "declined")
                for p in boss.get("/api/v1/exemplars", params={"status": status}).json() if p["act"] == ACTS[0]}
    assert statuses == {"你去问别人": ("approved", 2), "不归我管": ("declined", None), "我查一下": ("approved", 3)}
    page = boss.get("/exemplars").text
    assert "没有待审核的样例" in page and "已采纳" in page and "v3" in page
    assert rev.get("/exemplars").status_code == 403


def test_calibration_compares_false_alarms_before_and_after_the_taught_version(app, people):
    rev, boss = people["rev"], people["super"]
    assert boss.get("/api/v1/calibration").json()["teaching"] == {"version": None, "rules": []}
    assert "还没有采纳过" in boss.get("/calibration").text
    b1 = stored(app, "b1", [shirking(), made("FBD010", 1, "您好")])
    b2 = stored(app, "b2", [shirking()])
    reject(rev, finding_of(rev, b1, "FBD006"))
    rev.post(f"/api/v1/findings/{finding_of(rev, b1, 'FBD010')}/verdict", json={"confirmed": True})
    rev.post(f"/api/v1/findings/{finding_of(rev, b2, 'FBD006')}/verdict", json={"confirmed": True})
    assert boss.post("/api/v1/exemplars/approve", json={}).json()["version"] == 2

    for cid in ("a1", "a2"):
        after = stored(app, cid, [shirking()])
        rev.post(f"/api/v1/findings/{finding_of(rev, after, 'FBD006')}/verdict", json={"confirmed": True})
    stored(app, "a3", [shirking()])  # not reviewed: not counted
    teaching = boss.get("/api/v1/calibration").json()["teaching"]
    assert teaching == {"version": 2, "rules": [
        {"rule": "FBD006", "acts": list(ACTS), "before": {"reviewed": 2, "rejected": 1, "false_alarm_rate": 0.5},
         "after": {"reviewed": 2, "rejected": 0, "false_alarm_rate": 0.0}},
        {"rule": "FBD010", "acts": [], "before": {"reviewed": 1, "rejected": 0, "false_alarm_rate": 0.0},
         "after": {"reviewed": 0, "rejected": 0, "false_alarm_rate": None}},
    ]}
    page = boss.get("/calibration").text.split("语义样例的效果")[1]
    row = re.search(r"<tr><td>FBD006</td>.*?</tr>", page, re.S)[0]
    assert "50% (1/2)" in row and "0% (0/2)" in row and "v2" in page
