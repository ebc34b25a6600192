"""Re-importing never loses review work: verdicts of unchanged findings carry over, the rest waits
for re-review, earlier versions stay viewable (API and page), and the import says what it did."""

from __future__ import annotations

from tests.web.conftest import conversation, jsonl
from tests.web.test_api import import_file

CUSTOMER_FIRST = "我的快递三天了还没到,太慢了"


def reviewed_and_appealed(people) -> tuple[int, dict, dict, dict]:
    """c1 of agent 1024: one finding confirmed, one rejected, the review done, an appeal pending."""
    rev, agent = people["rev"], people["agent1"]
    import_file(rev, "one.jsonl", jsonl(conversation("c1", "1024", agent_text="你好,有什么事")))
    cid = rev.get("/api/v1/conversations").json()["items"][0]["id"]
    findings = rev.get(f"/api/v1/conversations/{cid}").json()["findings"]
    ni = next(f for f in findings if f["rule"] == "FBD010")
    other = next(f for f in findings if f["rule"] != "FBD010")
    rev.post(f"/api/v1/findings/{other['id']}/verdict", json={"confirmed": False, "comment": "误报"})
    assert rev.post(f"/api/v1/conversations/{cid}/review").status_code == 200
    appeal = agent.post(f"/api/v1/findings/{ni['id']}/appeal", json={"reason": "客户先用的你"}).json()
    return cid, ni, other, appeal


def test_reimporting_the_same_conversation_keeps_the_review_as_it_is(people):
    rev, boss = people["rev"], people["super"]
    cid, ni, other, appeal = reviewed_and_appealed(people)
    before = rev.get(f"/api/v1/conversations/{cid}").json()

    job = import_file(rev, "same.jsonl", jsonl(conversation("c1", "1024", agent_text="你好,有什么事")))
    assert job["outcomes"] == [{"conversation_id": cid, "external_id": "c1", "version": 1, "outcome": "unchanged",
                                "carried": len(before["findings"]), "new": 0, "removed": 0, "appeals_withdrawn": 0}]
    after = rev.get(f"/api/v1/conversations/{cid}").json()
    for key in ("review_status", "final_score", "findings", "appeals", "version"):
        assert after[key] == before[key]
    assert after["versions"] == []
    assert [a["id"] for a in boss.get("/api/v1/appeals").json()] == [appeal["id"]]


def test_a_changed_reimport_carries_verdicts_marks_the_rest_and_keeps_the_earlier_version(people):
    rev, boss, agent = people["rev"], people["super"], people["agent1"]
    cid, ni, other, appeal = reviewed_and_appealed(people)
    changed = conversation("c1", "1024", agent_text="你好,有什么事")
    changed["turns"][3]["text"] = "他们仓库的事,你自己去问问吧"  # a new offence in the last turn

    job = import_file(rev, "corrected.jsonl", jsonl(changed))
    (outcome,) = job["outcomes"]
    assert outcome["outcome"] == "rereview" and outcome["version"] == 2
    assert outcome["carried"] >= 1 and outcome["new"] >= 1

    now = agent.get(f"/api/v1/conversations/{cid}").json()
    assert now["version"] == 2 and now["review_status"] == "pending"
    by_id = {f["id"]: f for f in now["findings"]}
    assert by_id[ni["id"]]["status"] == "confirmed"  # the confirmed 你 finding, with its appeal, carried over
    if other["id"] in by_id:
        assert by_id[other["id"]]["status"] == "rejected"
    fresh = [f for f in now["findings"] if f["turn"] == 3]
    assert fresh and all(f["status"] == "open" for f in fresh)
    assert [a["id"] for a in now["appeals"]] == [appeal["id"]]  # still pending, still decidable
    assert boss.post(f"/api/v1/appeals/{appeal['id']}/decision", json={"accept": False}).status_code == 200

    (earlier,) = now["versions"]
    assert earlier["version"] == 1 and earlier["review_status"] == "appealed"
    assert earlier["turns"][3]["text"] == "我查一下"
    old = {f["id"]: f for f in earlier["findings"]}
    assert old[other["id"]]["status"] == "rejected"
    assert old[other["id"]]["verdicts"] == [{"reviewer": "rev", "confirmed": False, "at": old[other["id"]]["verdicts"][0]["at"]}]
    assert earlier["appeals"][0]["reason"] == "客户先用的你" and earlier["appeals"][0]["status"] == "pending"

    page = rev.get(f"/conversations/{cid}").text
    assert "历史版本" in page and "客户先用的你" in page and "我查一下" in page


def test_a_removed_finding_withdraws_its_appeal_and_says_so(people):
    rev = people["rev"]
    cid, ni, other, appeal = reviewed_and_appealed(people)
    polite = conversation("c1", "1024")  # the corrected transcript has no 你: the appealed finding is gone

    job = import_file(rev, "fixed.jsonl", jsonl(polite))
    (outcome,) = job["outcomes"]
    assert outcome["outcome"] == "rereview" and outcome["removed"] >= 1 and outcome["appeals_withdrawn"] == 1
    now = rev.get(f"/api/v1/conversations/{cid}").json()
    assert ni["id"] not in {f["id"] for f in now["findings"]} and now["appeals"] == []
    assert now["versions"][0]["appeals"][0]["id"] == appeal["id"]  # kept with the version it belonged to
    page = rev.get("/imports").text
    assert "需复核" in page or "重新复核" in page
