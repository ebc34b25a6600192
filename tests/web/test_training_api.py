"""Training's API (陪练, docs/training.md) on SQLite and PostgreSQL: a whole attempt played through
the API grades exactly as `guifan train --answers` does (the scenario's good answers pass, its bad
ones fail), attempts left halfway are stored as abandoned (放弃, another started, idle, a 考核's time
up), who sees which attempts, readiness, proposals from QA findings and assignments, scenario
drafts validated, played and published, and bad input refused in Chinese."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from guifan.cli import app as cli
from guifan.training import load_scenarios
from guifan.web.models import utcnow
from guifan.web.training.models import TrainingAttempt
from guifan.web.training.service import BURST, RATE

from .conftest import PASSWORD, Actor, made, stored
from .test_assist_api import chinese, detail, stopped_clock  # noqa: F401 (a fixture)

API = "/api/v1/training"
SCENARIOS = load_scenarios()
SHORT = "customer-suggestion"  # a short 入门 chat scenario
EXAMS = [sid for sid, s in SCENARIOS.items() if s.difficulty == "考核"]


def enrol(app, username: str, role: str = "trainee", team: str | None = "一组", **extra) -> Actor:
    """A new user of ``role`` in ``team`` on a running app, signed in."""
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, username, PASSWORD, role, team=team, **extra)
        session.commit()
    return Actor(app, username)


@pytest.fixture
def trainees(app, people):
    """The workspace's people and two trainees: one in each team."""
    return {**people, "trainee1": enrol(app, "trainee1", team="一组"), "trainee2": enrol(app, "trainee2", team="二组")}


def start(actor: Actor, scenario: str = SHORT, **body) -> dict:
    response = actor.post(f"{API}/attempts", json={"scenario": scenario, "seed": 0, **body})
    assert response.status_code == 200, response.text
    return response.json()


def play(actor: Actor, answers, scenario: str = SHORT, **body) -> dict:
    """An attempt answered line by line until the customer is done (放弃 when the answers run out
    first, as `guifan train --answers` grades a script the customer did not finish); its final state."""
    attempt = start(actor, scenario, **body)
    for line in answers:
        response = actor.post(f"{API}/attempts/{attempt['id']}/answers", json={"text": line})
        assert response.status_code == 200, response.text
        if response.json()["finished"]:
            return response.json()["attempt"]
    return actor.post(f"{API}/attempts/{attempt['id']}/abandon").json()


def cli_card(tmp_path, scenario: str, answers) -> dict:
    path = tmp_path / f"{scenario}.txt"
    path.write_text("\n".join(answers) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["train", scenario, "--answers", str(path), "--format", "json"])
    return json.loads(result.stdout)


# -- an attempt ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", [SHORT, "hold-long-lookup"])
def test_good_answers_pass_and_bad_ones_fail_as_guifan_train_says(trainees, tmp_path, scenario):
    trainee = trainees["trainee1"]
    examples = SCENARIOS[scenario].examples
    attempt = start(trainee, scenario)
    assert attempt["status"] == "in_progress" and attempt["mode"] == "practice" and attempt["mode_label"] == "练习"
    assert attempt["target_clauses"] == list(SCENARIOS[scenario].clauses) and attempt["score"] is None
    good = play(trainee, examples.good, scenario)
    expected = cli_card(tmp_path, scenario, examples.good)
    assert good["status"] == "finished" and good["passed"] is True and expected["passed"] is True
    assert good["score"] == expected["score"] and good["outcome"] == expected["outcome"]
    assert good["checklist"] == expected["checklist"] and good["findings"] == expected["findings"]
    assert [t["text"] for t in good["transcript"]] == [t["text"] for t in expected["transcript"]]
    assert all(item["done"] and item["turn"] is not None for item in good["checklist"])

    bad = play(trainee, examples.bad, scenario)
    expected = cli_card(tmp_path, scenario, examples.bad)
    assert bad["passed"] is False and bad["score"] == expected["score"] and bad["faulted_clauses"]
    assert set(bad["faulted_clauses"]) <= set(SCENARIOS[scenario].clauses)
    missed = [item for item in bad["checklist"] if not item["done"]]
    assert all(item["wording"] and chinese(item["problem"]) for item in missed)
    assert all(f["quote"] is not None and chinese(f["message"]) for f in bad["findings"])
    listed = trainee.get(f"{API}/attempts").json()
    assert [a["id"] for a in listed] == [bad["id"], good["id"], attempt["id"]] and listed[1]["passed"] is True
    assert listed[2]["status"] == "abandoned"  # left when the good attempt started


def test_practice_shows_hints_and_the_exam_does_not(trainees):
    trainee = trainees["trainee1"]
    practice = start(trainee, "complaint-late-delivery")
    assert practice["hints"] and all(chinese(h["message"]) for h in practice["hints"])
    after = trainee.post(f"{API}/attempts/{practice['id']}/answers", json={"text": "您好,请问有什么可以帮您?"}).json()
    assert after["customer"] and after["hints"] and any("S-D1" in h["clauses"] for h in after["hints"])
    exam = start(trainee, "complaint-late-delivery", mode="exam")
    assert exam["mode_label"] == "考核" and exam["hints"] == [] and 0 < exam["seconds_left"] <= 15 * 60
    after = trainee.post(f"{API}/attempts/{exam['id']}/answers", json={"text": "您好,请问有什么可以帮您?"}).json()
    assert after["customer"] and after["hints"] == []


# -- abandoned attempts --------------------------------------------------------------------------


def test_attempts_left_halfway_are_stored_as_abandoned(app, trainees):
    trainee = trainees["trainee1"]
    first = start(trainee, "hold-long-lookup")
    trainee.post(f"{API}/attempts/{first['id']}/answers", json={"text": "您好,很高兴为您服务,请问有什么可以帮到您?"})
    second = start(trainee)  # starting another leaves the first abandoned, graded, not lost
    kept = trainee.get(f"{API}/attempts/{first['id']}").json()
    assert kept["status"] == "abandoned" and kept["ended_label"] == "开始了新的练习" and kept["passed"] is False
    assert kept["outcome_label"] == "中途放弃" and kept["answers"] == 1 and len(kept["transcript"]) >= 2
    assert kept["score"] is not None and kept["checklist"]

    given_up = trainee.post(f"{API}/attempts/{second['id']}/abandon").json()
    assert given_up["status"] == "abandoned" and given_up["ended_label"] == "主动放弃"
    late = trainee.post(f"{API}/attempts/{second['id']}/answers", json={"text": "您好"})
    assert late.status_code == 409 and "已结束" in detail(late)

    idle = start(trainee)
    with app.state.workspace.sessions() as db:
        db.execute(update(TrainingAttempt).where(TrainingAttempt.id == idle["id"])
                   .values(active_at=utcnow() - timedelta(hours=2)))
        db.commit()
    listed = {a["id"]: a for a in trainee.get(f"{API}/attempts").json()}
    assert listed[idle["id"]]["status"] == "abandoned"
    assert trainee.get(f"{API}/attempts/{idle['id']}").json()["ended_label"] == "长时间未作答"

    exam = start(trainee, mode="exam")
    with app.state.workspace.sessions() as db:
        db.execute(update(TrainingAttempt).where(TrainingAttempt.id == exam["id"])
                   .values(deadline=utcnow() - timedelta(seconds=1)))
        db.commit()
    timed_out = trainee.post(f"{API}/attempts/{exam['id']}/answers", json={"text": "您好"})
    assert timed_out.status_code == 409 and "考核时间已到" in detail(timed_out)


# -- who sees what -------------------------------------------------------------------------------


def test_scope_of_attempts(trainees):
    attempt = start(trainees["trainee1"])
    path = f"{API}/attempts/{attempt['id']}"
    for outsider in ("trainee2", "agent1", "lead2"):
        response = trainees[outsider].get(path)
        assert response.status_code == 404 and detail(response) == "没有这次练习"
        assert attempt["id"] not in [a["id"] for a in trainees[outsider].get(f"{API}/attempts").json()]
    for trainer in ("super", "admin", "lead1"):
        assert trainees[trainer].get(path).json()["username"] == "trainee1"
        assert attempt["id"] in [a["id"] for a in trainees[trainer].get(f"{API}/attempts").json()]
    # Only the trainee answers; a trainer who may look is refused, an outsider does not see it.
    assert trainees["super"].post(f"{path}/answers", json={"text": "您好"}).status_code == 403
    assert trainees["agent1"].post(f"{path}/abandon").status_code == 404
    assert trainees["rev"].get(f"{API}/attempts").status_code == 403  # reviewers do not train
    assert trainees["rev"].post(f"{API}/attempts", json={"scenario": SHORT}).status_code == 403
    assert trainees["trainee1"].get(f"{API}/readiness").status_code == 403
    assert trainees["agent1"].get(f"{API}/attempts?user_id={attempt['user_id']}").status_code == 404
    # A trainee sees no one's conversations (their scope is their own, as an agent's).
    assert trainees["trainee1"].get("/api/v1/conversations").json()["total"] == 0


def test_readiness_and_clauses_over_time(app, trainees):
    trainee, lead1 = trainees["trainee1"], trainees["lead1"]
    for scenario in EXAMS:
        assert play(trainee, SCENARIOS[scenario].examples.good, scenario, mode="exam")["passed"] is True
    play(trainees["trainee2"], SCENARIOS[EXAMS[0]].examples.good, EXAMS[0], mode="exam")
    ready = {p["username"]: p for p in trainees["super"].get(f"{API}/readiness").json()["people"]}
    assert ready["trainee1"]["ready"] is True and ready["trainee1"]["missing"] == []
    assert ready["trainee2"]["ready"] is False and ready["trainee2"]["passed"] == [EXAMS[0]]
    assert ready["agent1"]["ready"] is False and len(ready["agent1"]["missing"]) == len(EXAMS)
    assert set(ready) >= {"trainee1", "trainee2", "agent1", "agent2"}
    team = {p["username"] for p in lead1.get(f"{API}/readiness").json()["people"]}
    assert team == {"trainee1", "agent1"}
    # A higher threshold than some exam scores: no longer ready.
    assert trainees["super"].post(f"{API}/readiness/threshold", json={"score": 100}).status_code == 200
    scores = [a["score"] for a in trainee.get(f"{API}/attempts").json()]
    now = {p["username"]: p for p in trainees["super"].get(f"{API}/readiness").json()["people"]}
    assert now["trainee1"]["ready"] is all(score >= 100 for score in scores)
    clauses = trainees["super"].get(f"{API}/clauses?user_id={trainee.user['id']}").json()
    assert {c["clause"] for c in clauses} == {c for s in EXAMS for c in SCENARIOS[s].clauses}
    assert all(c["handled"] == c["attempts"] and c["week"].startswith("20") for c in clauses)
    assert trainees["lead2"].get(f"{API}/clauses?user_id={trainee.user['id']}").status_code == 404


# -- from QA to practice -------------------------------------------------------------------------


def test_proposals_from_qa_findings_and_assignments(app, trainees):
    recent = (utcnow() - timedelta(days=2)).isoformat()
    for n in range(3):
        stored(app, f"qa-{n}", [made("CMP001", 1, "我查一下")], agent="1024", started_at=recent)
    stored(app, "qa-x", [made("FBD010", 1, "你")], agent="1024", started_at=recent)
    stored(app, "qa-old", [made("FBD006", 1, "你")], agent="1024", started_at=(utcnow() - timedelta(days=40)).isoformat())
    lead1 = trainees["lead1"]
    board = {p["username"]: p for p in lead1.get(f"{API}/proposals").json()}
    assert set(board) == {"agent1"}  # the team's agents
    proposed = board["agent1"]["proposals"]
    assert board["agent1"]["broken"]["S-D1"] == 3 and board["agent1"]["broken"]["S-F10"] == 1
    assert "S-F6" not in board["agent1"]["broken"]
    assert proposed[0]["clauses"][0] == "S-D1" and proposed[0]["scenario"] in ("complaint-late-delivery", "damaged-goods")
    agent_id = trainees["agent1"].user["id"]
    assigned = lead1.post(f"{API}/assignments", json={"user_id": agent_id, "scenario": proposed[0]["scenario"]}).json()
    assert assigned["username"] == "agent1" and "S-D1" in assigned["clauses"] and assigned["done_at"] is None
    again = lead1.post(f"{API}/assignments", json={"user_id": agent_id, "scenario": proposed[0]["scenario"]}).json()
    assert again["id"] == assigned["id"]
    mine = trainees["agent1"].get(f"{API}/assignments").json()
    assert [a["scenario"] for a in mine] == [proposed[0]["scenario"]]
    assert trainees["agent2"].get(f"{API}/assignments").json() == []
    outside = lead1.post(f"{API}/assignments", json={"user_id": trainees["agent2"].user["id"], "scenario": SHORT})
    assert outside.status_code == 404
    assert trainees["agent1"].post(f"{API}/assignments", json={"user_id": agent_id, "scenario": SHORT}).status_code == 403
    # Practising it until it passes marks the assignment done.
    play(trainees["agent1"], SCENARIOS[proposed[0]["scenario"]].examples.good, proposed[0]["scenario"])
    assert trainees["agent1"].get(f"{API}/assignments").json()[0]["done_at"] is not None


# -- authoring -----------------------------------------------------------------------------------


def company_yaml(title: str = "公司版:顾客提建议") -> str:
    source = (SCENARIOS[SHORT].source)
    text = open(source, encoding="utf-8").read()
    return text.replace(SCENARIOS[SHORT].title, title)


def test_drafts_are_validated_played_and_published(trainees):
    author = trainees["super"]
    checked = author.post(f"{API}/scenarios/validate", json={"yaml": company_yaml()}).json()
    assert checked["valid"] and checked["id"] == SHORT
    assert [(e["side"], e["behaves"], e["passed"]) for e in checked["examples"]] == [("good", True, True),
                                                                                        ("bad", True, False)]
    broken = company_yaml().replace("difficulty: 入门", "difficulty: 很难").replace("persona:", "persona_note:")
    refused = author.post(f"{API}/scenarios/validate", json={"yaml": broken})
    message = detail(refused)
    assert refused.status_code == 422 and "场景校验失败" in message
    assert "草稿:" in message and "difficulty" in message and "persona_note: 未知的键" in message
    assert author.post(f"{API}/scenarios/validate", json={"yaml": "id: [unclosed"}).status_code == 422

    draft = author.post(f"{API}/scenarios", json={"yaml": company_yaml()}).json()
    assert draft == {"scenario": SHORT, "version": 1, "title": "公司版:顾客提建议", "published": False}
    # The author plays the draft before publishing; trainees neither see nor play it.
    trial = play(author, SCENARIOS[SHORT].examples.good, version=1)
    assert trial["passed"] is True and trial["trial"] is True and trial["title"] == "公司版:顾客提建议"
    assert trainees["trainee1"].post(f"{API}/attempts", json={"scenario": SHORT, "version": 1}).status_code == 404
    titles = {s["id"]: s for s in trainees["trainee1"].get(f"{API}/scenarios").json()}
    assert titles[SHORT]["title"] == SCENARIOS[SHORT].title and titles[SHORT]["version"] == 0
    published = author.post(f"{API}/scenarios/{SHORT}/versions/1/publish").json()
    assert published["published"] is True
    titles = {s["id"]: s for s in trainees["trainee1"].get(f"{API}/scenarios").json()}
    assert titles[SHORT]["title"] == "公司版:顾客提建议" and titles[SHORT]["version"] == 1 and titles[SHORT]["company"]
    assert len(titles) == len(SCENARIOS)
    attempt = start(trainees["trainee1"])
    assert attempt["scenario_version"] == 1 and attempt["title"] == "公司版:顾客提建议" and not attempt["trial"]
    versions = author.get(f"{API}/scenarios/versions").json()
    assert [(v["scenario"], v["version"], v["published"]) for v in versions] == [(SHORT, 1, True)]
    assert trainees["lead1"].post(f"{API}/scenarios", json={"yaml": company_yaml()}).status_code == 403
    assert author.post(f"{API}/scenarios/{SHORT}/versions/9/publish").status_code == 404


# -- bad input -----------------------------------------------------------------------------------


def test_bad_input_is_refused_in_chinese(trainees):
    trainee = trainees["trainee1"]
    unknown = trainee.post(f"{API}/attempts", json={"scenario": "complaint-late-delivry"})
    assert unknown.status_code == 404 and detail(unknown) == "没有场景 complaint-late-delivry;是否要写 complaint-late-delivery?"
    attempt = start(trainee)
    path = f"{API}/attempts/{attempt['id']}/answers"
    for text in ("", "   "):
        empty = trainee.post(path, json={"text": text})
        assert empty.status_code == 422 and chinese(detail(empty)), text
    huge = trainee.post(path, json={"text": "您" * (1 << 20)})
    assert huge.status_code == 422 and detail(huge) == "字段 text: 最多 10000 个字符"
    wait = trainee.post(path, json={"text": "[等待 abc]"})
    assert wait.status_code == 422 and "等待" in detail(wait)
    bad_mode = trainee.post(f"{API}/attempts", json={"scenario": SHORT, "mode": "quiz"})
    assert bad_mode.status_code == 422 and chinese(detail(bad_mode))
    assert trainee.get(f"{API}/attempts/{2**31}").status_code == 422
    assert trainee.get(f"{API}/attempts/999999").status_code == 404
    # Nothing of this was played: the attempt is where it was.
    assert trainee.get(f"{API}/attempts/{attempt['id']}").json()["answers"] == 0
    # Without the CSRF token, a cookie session cannot answer.
    assert trainee.client.post(path, json={"text": "您好"}).status_code == 403


def test_answers_are_rate_limited(trainees, stopped_clock):
    trainee = trainees["trainee1"]
    attempt = start(trainee)
    path = f"{API}/attempts/{attempt['id']}/answers"
    # Starting the attempt took one of the 30 a burst allows; refilled at 5 a second.
    codes = [trainee.post(path, json={"text": "[等待 1]"}).status_code for _ in range(32)]
    assert codes == [200] * (BURST - 1) + [429] * 3
    refused = trainee.post(path, json={"text": "[等待 1]"})
    assert refused.status_code == 429 and detail(refused) == "请求过于频繁,请稍后再试"
    stopped_clock.now += 1.0
    assert [trainee.post(path, json={"text": "[等待 1]"}).status_code for _ in range(6)] == [200] * int(RATE) + [429]
