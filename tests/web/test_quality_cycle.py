"""Calibration (false alarms, misses, two-reviewer kappa), sampling plans and dashboards."""

from __future__ import annotations

import pytest

from guifan.web.services import cohen_kappa
from tests.web.conftest import conversation, wait_for_job


def timed(cid: str, agent: str, day: str, agent_text: str = "您好,请问有什么可以帮您?") -> dict:
    item = conversation(cid, agent, agent_text=agent_text, started_at=f"{day}T10:00:00+08:00")
    for i, turn in enumerate(item["turns"]):
        turn["start"], turn["end"] = i * 6.0, i * 6.0 + 4.0
    item["turns"][3]["start"], item["turns"][3]["end"] = 50.0, 54.0  # a 34 s silence before it
    return item


def load(actor, *items):
    wait_for_job(actor, actor.post("/api/v1/conversations", json={"conversations": list(items)}).json()["id"])
    return {i["external_id"]: i["id"] for i in actor.get("/api/v1/conversations", params={"per_page": 200}).json()["items"]}


@pytest.mark.parametrize(
    ("pairs", "kappa"),
    [([], None), ([(True, True)] * 4, 1.0), ([(True, True), (False, False), (True, False), (True, True)], 0.5),
     ([(True, False), (False, True)], -1.0)],
)
def test_cohen_kappa(pairs, kappa):
    assert cohen_kappa(pairs) == kappa


def test_calibration_counts_false_alarms_misses_and_agreement(people):
    rev, rev2, boss = people["rev"], people["rev2"], people["super"]
    ids = load(rev, timed("c1", "1024", "2026-11-02", "你好"), timed("c2", "1024", "2026-11-03", "你好"))
    findings = {cid: [f for f in rev.get(f"/api/v1/conversations/{i}").json()["findings"] if f["rule"] == "FBD010"]
                for cid, i in ids.items()}
    first, second = findings["c1"][0]["id"], findings["c2"][0]["id"]
    rev.post(f"/api/v1/findings/{first}/verdict", json={"confirmed": True})
    rev.post(f"/api/v1/findings/{second}/verdict", json={"confirmed": False})
    rev2.post(f"/api/v1/findings/{first}/verdict", json={"confirmed": True})  # agrees
    rev2.post(f"/api/v1/findings/{second}/verdict", json={"confirmed": True})  # disagrees: status stays rejected
    rev.post(f"/api/v1/conversations/{ids['c1']}/findings", json={"rule": "CRT001", "turn": 1})
    cal = boss.get("/api/v1/calibration").json()
    ni = next(r for r in cal["rules"] if r["rule"] == "FBD010")
    assert (ni["automatic"], ni["reviewed"], ni["rejected"], ni["false_alarm_rate"]) == (2, 2, 1, 0.5)
    manual = next(r for r in cal["rules"] if r["rule"] == "CRT001")
    assert manual["manual"] == 1 and manual["missed_share"] == 1.0
    assert cal["double_reviewed"] == 2 and cal["kappa"] == cohen_kappa([(True, True), (False, True)])
    detail = rev.get(f"/api/v1/conversations/{ids['c2']}").json()
    assert next(f for f in detail["findings"] if f["id"] == second)["status"] == "rejected"
    assert "一致性" in boss.get("/calibration").text


def test_sampling_plan_assigns_per_agent_per_week_to_reviewers(people):
    rev, boss = people["rev"], people["super"]
    items = [timed(f"a{i}", "1024", "2026-11-02") for i in range(5)]
    items += [timed(f"b{i}", "2048", "2026-11-04") for i in range(2)]
    items += [timed("other-week", "1024", "2026-11-10")]
    load(rev, *items)
    plan = boss.post("/api/v1/sampling", json={"per_agent": 3, "week": "2026-W45", "seed": 1}).json()["assigned"]
    assert len(plan) == 3 + 2  # agent 1024: 3 of 5; agent 2048: both of 2; the other week not at all
    assert {a["reviewer_id"] for a in plan} == {people["rev"].user["id"], people["rev2"].user["id"]}
    again = boss.post("/api/v1/sampling", json={"per_agent": 3, "week": "2026-W45", "seed": 1}).json()["assigned"]
    assert len(again) == 2  # only the two conversations of agent 1024 not yet assigned
    mine = rev.get("/api/v1/assignments").json()
    assert mine and not any(a["done"] for a in mine)
    assert f"我的复核队列:{len(mine)} 通待复核" in rev.get("/").text
    queue = rev.get("/api/v1/conversations", params={"queue": "mine", "per_page": 2}).json()
    assert queue["total"] == len(mine) and len(queue["items"]) == 2  # a paged list like any other
    assert {c["id"] for c in rev.get("/api/v1/conversations", params={"queue": "mine"}).json()["items"]} == {
        a["conversation_id"] for a in mine}
    rev.post(f"/api/v1/conversations/{mine[0]['conversation_id']}/review")
    assert rev.get("/api/v1/assignments").json()[0]["done"] is True
    page = rev.get("/", params={"queue": "mine"}).text
    assert "我的复核队列" in page and f"共 {len(mine) - 1} 通" in page  # reviewed: out of the queue
    assert boss.get("/api/v1/conversations", params={"queue": "mine"}).json()["total"] == 0  # nothing assigned to them
    assert people["rev"].post("/api/v1/sampling", json={"per_agent": 1, "week": "2026-W45"}).status_code == 403


def test_dashboard_trend_clauses_and_kpis_within_scope(people):
    rev = people["rev"]
    load(rev, timed("w1", "1024", "2026-11-02", "你好"), timed("w2", "1024", "2026-11-10"),
         timed("x", "2048", "2026-11-02", "你好"))
    weeks = {"date_from": "2026-11-02", "date_to": "2026-11-15"}
    board = people["lead1"].get("/api/v1/dashboard", params=weeks).json()
    assert board["conversations"] == 2  # team 一组 only
    assert [t["week"] for t in board["weeks"]] == ["2026-W45", "2026-W46"]
    assert board["weeks"][0]["score"] < board["weeks"][1]["score"]  # the week with 你好 scores lower
    assert "S-F10" in [c["clause"] for c in board["clauses"]]
    assert board["kpis"]["handle_seconds"] == 54.0 and board["kpis"]["hold_count"] == 1.0
    assert board["kpis"]["hold_seconds"] == 34.0
    assert rev.get("/api/v1/dashboard", params={**weeks, "agent": "2048"}).json()["conversations"] == 1
    page = people["agent1"].get("/dashboard", params=weeks).text
    assert "<svg" in page and "<polyline" in page and "cdn" not in page.lower()


def test_rulebook_override_is_validated_versioned_recorded_and_tried(people):
    boss, rev = people["super"], people["rev"]
    info = rev.get("/api/v1/rulebook").json()
    assert info["active"] == 1 and len(info["rules"]) >= 60 and sum(c["weight"] for c in info["scorecard"].values()) == 100
    bad = boss.post("/api/v1/rulebook", json={"override_yaml": "rules:\n  NOPE: [1, 2\n"})
    assert bad.status_code == 400 and "company.yaml" in bad.json()["detail"]
    assert rev.get("/api/v1/rulebook").json()["active"] == 1  # nothing published
    override = "add_forbidden:\n  S-F6: [这事别找我]\n"
    sample = {"override_yaml": override, "rules": ["FBD006"], "transcript": "客户: 快递呢\n客服: 这事别找我"}
    tried = boss.post("/api/v1/rulebook/try", json=sample).json()
    assert [f["rule"] for f in tried["findings"]] == ["FBD006"]
    assert rev.post("/api/v1/rulebook/try", json=sample).status_code == 403  # a draft runs only for who may publish
    assert rev.post("/api/v1/rulebook", json={"override_yaml": override}).status_code == 403
    published = boss.post("/api/v1/rulebook", json={"override_yaml": override})
    assert published.status_code == 200 and published.json()["version"] == 2
    ids = load(rev, conversation("v2", "1024", agent_text="这事别找我"))
    detail = rev.get(f"/api/v1/conversations/{ids['v2']}").json()
    assert detail["rulebook_version"] == 2 and any(f["rule"] == "FBD006" for f in detail["findings"])
    page = rev.get("/rulebook").text
    assert "v2" in page and "试用规则" not in page
    assert "试用规则" in boss.get("/rulebook").text
    trail = boss.get("/api/v1/audit", params={"entity": "rulebook"}).json()
    assert trail[0]["before"] == {"version": 1} and trail[0]["after"] == {"version": 2}
