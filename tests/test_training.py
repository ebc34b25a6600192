"""Training (陪练, guifan.training): every bundled scenario played by a good and a bad scripted
trainee, determinism, the scenario schema's errors, answers, the attempt's state, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from guifan.cli import app
from guifan.engine import Engine
from guifan.scoring import Checker
from guifan.training import (
    AnswerError,
    Outcome,
    ScenarioError,
    TrainingSession,
    Wait,
    behaves,
    grade,
    load_scenarios,
    parse_answers,
    play_examples,
    read_scenario,
)
from guifan.training.answers import MAX_TEXT
from guifan.training.scenario import bundled_folder
from guifan.training.session import pick

SCENARIOS = load_scenarios()


@pytest.fixture(scope="module")
def checker() -> Checker:
    return Checker(Engine())


def started(checker: Checker, scenario_id: str, answers, seed: int = 0, **options) -> TrainingSession:
    """A session of the scenario after ``answers`` (those after the customer is done are left out)."""
    session = TrainingSession(SCENARIOS[scenario_id], checker.engine, seed=seed, **options)
    for answer in answers:
        if session.finished:
            break
        session.answer(answer)
    return session


def play(checker: Checker, scenario_id: str, answers, seed: int = 0, **options):
    session = started(checker, scenario_id, answers, seed, **options)
    return session, grade(session, checker)


def explain(card) -> str:
    lines = [f"{card.scenario.id}: passed={card.passed} score={card.score} outcome={card.outcome} faulted={card.faulted}"]
    lines += [f"  {t.role.value}: {t.text}" for t in card.result.conversation.turns]
    lines += [f"  {'✓' if i.done else '✗'} {i.step} {i.turn} {i.problem or ''}" for i in card.checklist]
    lines += [f"  {f.rule} {f.clauses} turn {f.turn}: {f.message}" for f in card.result.findings]
    return "\n".join(lines)


# -- every bundled scenario ------------------------------------------------------------------------


@pytest.mark.parametrize("scenario_id", sorted(SCENARIOS))
def test_a_good_trainee_passes_every_scenario(checker, scenario_id):
    scenario = SCENARIOS[scenario_id]
    _, card = play(checker, scenario_id, scenario.examples.good)
    assert card.passed, explain(card)
    assert card.outcome in scenario.goal and all(item.done for item in card.checklist)


@pytest.mark.parametrize("scenario_id", sorted(SCENARIOS))
def test_a_bad_trainee_fails_every_scenario_on_its_target_clauses(checker, scenario_id):
    _, card = play(checker, scenario_id, SCENARIOS[scenario_id].examples.bad)
    assert not card.passed, explain(card)
    assert card.faulted, explain(card)  # a finding on a clause the scenario trains
    assert set(card.faulted) <= set(card.scenario.clauses)
    missed = [item for item in card.checklist if not item.done]
    assert all(item.wording for item in missed)


# Each group of situations the issue names, as the clause its scenarios must train.
GROUPS = {
    "opening and closing": "S-A1", "holiday": "S-A2", "confirming the need": "S-A6", "verifying numbers": "S-A7",
    "hold past 60 s": "S-B3", "silent call": "S-C1", "quiet or noisy line": "S-C2", "dialect": "S-C4",
    "wrong number": "S-C6", "abusive customer": "S-C8", "supervisor request": "S-C9", "transfer": "S-C10",
    "sales call": "S-C11", "out-of-scope question": "S-C12", "complaint": "S-D1", "attitude complaint": "S-D4",
    "repeat complaint": "S-D5", "regulator threat": "S-D6", "damaged or wrong goods": "S-D8",
    "unknown answer": "S-E1", "refusal with alternative": "S-E2", "suggestion": "S-A14", "follow-up call": "S-I1",
}


def test_the_bundled_scenarios_cover_the_issue():
    assert len(SCENARIOS) >= 24
    trained = {c for s in SCENARIOS.values() for c in s.clauses}
    assert {group: clause for group, clause in GROUPS.items() if clause not in trained} == {}
    assert {s.channel.value for s in SCENARIOS.values()} == {"phone", "chat"}
    assert {s.difficulty for s in SCENARIOS.values()} == {"入门", "进阶", "考核"}
    assert any(s.date is not None for s in SCENARIOS.values() if "S-A2" in s.clauses)
    repeat = [s for s in SCENARIOS.values() if "S-D5" in s.clauses]
    assert {bool(s.metadata.get("ticket", {}).get("overdue")) for s in repeat} == {True, False}
    assert any(s.metadata.get("direction") == "outbound" for s in SCENARIOS.values() if "S-I1" in s.clauses)
    assert any(t.seconds for s in SCENARIOS.values() for state in s.states.values() for t in state.wait)


# -- determinism -----------------------------------------------------------------------------------


def test_the_same_scenario_seed_and_answers_give_the_same_report(checker):
    scenario = SCENARIOS["complaint-late-delivery"]
    first = play(checker, scenario.id, scenario.examples.good, seed=7)[1].to_dict(checker)
    again = play(checker, scenario.id, scenario.examples.good, seed=7)[1].to_dict(checker)
    assert json.dumps(first, ensure_ascii=False) == json.dumps(again, ensure_ascii=False)
    assert first["transcript"][1]["start"] == again["transcript"][1]["start"] > 0


def test_the_seed_chooses_the_customers_words():
    variants = ("甲", "乙", "丙")
    assert pick(variants, 1, "s", "state", 0) == pick(variants, 1, "s", "state", 0)
    assert len({pick(variants, seed, "s", "state", 0) for seed in range(30)}) == 3


def test_another_seed_can_give_another_conversation_with_the_same_verdict(checker):
    scenario = SCENARIOS["complaint-late-delivery"]
    cards = [play(checker, scenario.id, scenario.examples.good, seed=seed)[1] for seed in range(6)]
    complaints = {card.result.conversation.turns[1].text for card in cards}
    assert len(complaints) == 2 and all(card.passed for card in cards)


# -- the customer reacts to what the engine recognizes ---------------------------------------------


def test_forbidden_language_makes_the_customer_hang_up(checker):
    session, card = play(checker, "complaint-late-delivery", ["您好,请问有什么可以帮您?", "你急什么?我也没办法。"])
    assert card.outcome is Outcome.HUNG_UP and session.state == "hangs_up"
    assert any(f.rule == "FBD005" for f in card.result.findings)


def test_a_misheard_apology_still_counts(checker):
    """请稍登 for 请稍等 and the like: the rulebook's homophones, as QA hears them."""
    session, _ = play(checker, "complaint-late-delivery", ["您好,请问有什么可以帮您?", "非常报歉给您带来不便。"])
    assert session.path[:3] == ["ringing", "complains", "explains"]


def test_waiting_lets_the_customer_grow_impatient_then_hang_up(checker):
    scenario = SCENARIOS["hold-long-lookup"]
    greet, read_back, hold = scenario.examples.good[:3]
    session = started(checker, scenario.id, [greet, read_back, hold])
    assert session.state == "holding"
    last = session.conversation.turns[-1].end
    progress = session.answer("[等待 40]")
    assert progress.customer == [] and session.state == "holding"
    progress = session.answer("[等待 10]")  # 45 s of silence: 「喂?还在吗?」
    assert session.state == "impatient" and len(progress.customer) == 1
    spoken = session.conversation.turns[-1]
    assert spoken.start == pytest.approx(last + 45)
    progress = session.answer("[等待 60]")  # 30 s more: the customer hangs up
    assert session.outcome is Outcome.HUNG_UP and progress.finished
    assert session.conversation.turns[-1].start == pytest.approx(spoken.end + 30)
    assert session.clock.now == pytest.approx(last + 110)


def clauses_of(hints) -> set[str]:
    return {c for hint in hints for c in hint["clauses"]}


def test_waits_bring_live_assists_timer_hints_on_the_sessions_clock(checker):
    silent = started(checker, "silent-call", ["您好!请问有什么可以帮助您?"])
    assert "S-C1" not in clauses_of(silent.hints())
    assert "S-C1" in clauses_of(silent.answer("[等待 6]").hints)  # greet again after 5 s
    hold = started(checker, "hold-long-lookup", SCENARIOS["hold-long-lookup"].examples.good[:3])
    assert "S-B3" not in clauses_of(hold.answer("[等待 44]").hints)
    assert "S-B3" in clauses_of(hold.answer("[等待 20]").hints)  # reassure before 60 s


def test_hints_come_from_live_assist_when_on(checker):
    scenario = SCENARIOS["complaint-late-delivery"]
    on = TrainingSession(scenario, checker.engine, hints=True)
    assert "S-D1" in clauses_of(on.answer("您好,请问有什么可以帮您?").hints)
    off = TrainingSession(scenario, checker.engine, hints=False)
    assert off.answer("您好,请问有什么可以帮您?").hints == []


def test_a_customer_voice_rewords_lines_but_decides_nothing(checker):
    class Shouting:
        def reword(self, line, *, scenario, state):
            return line + "!!"

    scenario = SCENARIOS["complaint-late-delivery"]
    plain, plain_card = play(checker, scenario.id, scenario.examples.good)
    loud, loud_card = play(checker, scenario.id, scenario.examples.good, voice=Shouting())
    assert loud.path == plain.path and loud_card.passed == plain_card.passed
    assert loud_card.score == plain_card.score and loud_card.result.findings == plain_card.result.findings
    # The trainee heard the rewording; the conversation graded holds the scenario's own lines.
    assert loud.heard and all(line.endswith("!!") for line in loud.heard.values())
    assert loud.conversation.turns == plain.conversation.turns


def test_a_rewording_that_drops_a_fact_is_not_used():
    from guifan.training.voice import keeps_facts

    assert keeps_facts("我姓王,订单号是12345", "我姓王,单号12345") is True
    assert keeps_facts("王先生您好,订单12345", "您好,订单12345") is False  # the surname is gone
    assert keeps_facts("订单12345还没到", "单号12346还没到") is False  # the number changed
    assert keeps_facts("订单12345还没到", "我那个12345的订单怎么还没到啊") is True
    assert keeps_facts("快点", "你们能不能快一点") is True
    assert keeps_facts("快点", "你们能不能快一点\n(改写说明)") is False
    assert keeps_facts("快点", "快" * 30) is False  # runs on


def test_a_rewording_endpoint_that_is_down_leaves_the_lines_as_written(checker):
    from guifan.engine.judge import ChatEndpoint
    from guifan.training.voice import ModelVoice

    scenario = SCENARIOS["complaint-late-delivery"]
    voice = ModelVoice(ChatEndpoint("http://127.0.0.1:9/v1", timeout=2))
    session, card = play(checker, scenario.id, scenario.examples.good, voice=voice)
    plain, plain_card = play(checker, scenario.id, scenario.examples.good)
    assert "不可用" in voice.failure and "按场景原文" in voice.failure
    assert session.heard == plain.heard and card.score == plain_card.score and card.passed


# -- the attempt's state -----------------------------------------------------------------------------


def test_an_attempt_is_json_and_restores_to_the_same_conversation(checker):
    scenario = SCENARIOS["complaint-late-delivery"]
    session = started(checker, scenario.id, scenario.examples.good[:3])
    state = json.loads(json.dumps(session.to_dict(), ensure_ascii=False))
    again = TrainingSession.restore(state, SCENARIOS, checker.engine)
    assert again.conversation.turns == session.conversation.turns and again.path == session.path
    assert again.to_dict() == state


def test_an_attempt_stopped_halfway_is_abandoned_not_lost(checker):
    scenario = SCENARIOS["complaint-late-delivery"]
    session, card = play(checker, scenario.id, scenario.examples.good[:2])
    assert card.outcome is Outcome.ABANDONED and not card.passed
    assert len(card.result.conversation.turns) == 4 and card.checklist[1].done
    state = session.to_dict()
    assert state["outcome"] == "abandoned"
    assert TrainingSession.restore(state, SCENARIOS, checker.engine).outcome is Outcome.ABANDONED


def test_no_answer_after_the_end(checker):
    scenario = SCENARIOS["complaint-late-delivery"]
    session, _ = play(checker, scenario.id, scenario.examples.good)
    assert session.finished
    with pytest.raises(AnswerError, match="已经结束"):
        session.answer("您好")


# -- answers ----------------------------------------------------------------------------------------


def test_answer_scripts_name_each_bad_line():
    with pytest.raises(AnswerError) as caught:
        parse_answers("您好\n\n[等待 abc]\n[等待 0]\n" + "好" * (MAX_TEXT + 1), "a.txt")
    message = str(caught.value)
    assert "a.txt:2: 回答为空" in message and "a.txt:3: 等待的写法" in message
    assert "a.txt:4: 等待时间" in message and f"a.txt:5: 回答过长 ({MAX_TEXT + 1} 个字符" in message
    assert parse_answers("您好\n[等待 65]\n[等待65秒]\n", "a.txt")[1:] == [Wait(65), Wait(65)]


# -- scenario files ---------------------------------------------------------------------------------


def scenario_text(**changes) -> str:
    data = yaml.safe_load((bundled_folder() / "complaint-late-delivery.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_broken_scenario_names_file_line_and_key(tmp_path):
    text = scenario_text(difficulty="中级", persona_note="x")
    text = text.replace("goto: explains", "goto: explain", 1).replace("says: [record_notice]", "says: [record_notise]", 1)
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        read_scenario(path, Engine().rulebook)
    message = str(caught.value)
    assert f"{path}:{line_of(text, 'difficulty:')} difficulty:" in message
    assert f"{path}:{line_of(text, 'persona_note')} persona_note: 未知的键;是否要写 persona?" in message
    # schema first: the references are checked once the schema holds
    path.write_text(scenario_text().replace("goto: explains", "goto: explain", 1)
                    .replace("- record_notice", "- record_notise", 1), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        read_scenario(path, Engine().rulebook)
    message = str(caught.value)
    assert f"{path}:{line_of(text, 'goto: explain')} states.complains.next.0.goto: 没有状态 'explain'" in message
    assert f"{path}:{line_of(text, 'record_notise')} " in message and "没有短语类别 'record_notise'" in message


@pytest.mark.parametrize("content, expected", [
    ("id: [\n", ":2: YAML 格式错误"),
    ("- a\n- b\n", "顶层应为映射"),
])
def test_unreadable_scenario_files(tmp_path, content, expected):
    path = tmp_path / "s.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScenarioError, match=expected):
        read_scenario(path, Engine().rulebook)


def test_a_company_directory_replaces_and_adds_scenarios(tmp_path):
    (tmp_path / "late.yaml").write_text(scenario_text(title="本公司的送货投诉"), encoding="utf-8")
    (tmp_path / "new.yaml").write_text(scenario_text(id="company-own"), encoding="utf-8")
    loaded = load_scenarios([tmp_path])
    assert loaded["complaint-late-delivery"].title == "本公司的送货投诉"
    assert loaded["company-own"].source == str(tmp_path / "new.yaml")
    assert len(loaded) == len(SCENARIOS) + 1
    (tmp_path / "again.yaml").write_text(scenario_text(id="company-own"), encoding="utf-8")
    with pytest.raises(ScenarioError, match="重复"):
        load_scenarios([tmp_path])


# -- the command line ---------------------------------------------------------------------------------


runner = CliRunner()


def answers_file(tmp_path: Path, lines) -> Path:
    path = tmp_path / "answers.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_train_json_report_card(tmp_path):
    scenario = SCENARIOS["complaint-late-delivery"]
    result = runner.invoke(app, ["train", scenario.id, "--answers", str(answers_file(tmp_path, scenario.examples.good)),
                                 "--format", "json", "--seed", "3"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    assert {"scenario", "passed", "score", "checklist", "findings", "transcript"} <= set(card)
    assert card["scenario"] == scenario.id and card["passed"] is True and card["score"] == 100
    assert set(card["checklist"][0]) >= {"step", "clauses", "done", "turn", "wording"}
    assert card["checklist"][0]["turn"] == 0 and card["transcript"][0]["role"] == "agent"
    bad = runner.invoke(app, ["train", scenario.id, "--answers", str(answers_file(tmp_path, scenario.examples.bad)),
                              "--format", "json"])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["passed"] is False
    assert json.loads(bad.stdout)["findings"][0]["clauses"]


def test_train_text_report_card(tmp_path):
    scenario = SCENARIOS["complaint-late-delivery"]
    result = runner.invoke(app, ["train", scenario.id, "--answers", str(answers_file(tmp_path, scenario.examples.bad))])
    assert result.exit_code == 1
    assert "未通过" in result.stdout and "✗ 先致歉并表示理解" in result.stdout
    assert "应说: 非常抱歉给您带来了不好的体验" in result.stdout and "CMP001" in result.stdout


def test_train_list():
    result = runner.invoke(app, ["train", "--list", "--format", "json"])
    assert result.exit_code == 0
    assert {row["id"] for row in json.loads(result.stdout)} == set(SCENARIOS)


@pytest.mark.parametrize("lines, expected", [
    (["您好", ""], "answers.txt:2: 回答为空"),
    (["好" * (1 << 20)], f"answers.txt:1: 回答过长 ({1 << 20} 个字符,最多 {MAX_TEXT} 个)"),
])
def test_train_refuses_bad_answers(tmp_path, lines, expected):
    result = runner.invoke(app, ["train", "complaint-late-delivery", "--answers", str(answers_file(tmp_path, lines))])
    assert result.exit_code == 2 and expected in result.output


def test_train_unknown_scenario_and_broken_scenario_directory(tmp_path):
    result = runner.invoke(app, ["train", "complaint-late-delivry"])
    assert result.exit_code == 2 and "没有场景 complaint-late-delivry;是否要写 complaint-late-delivery?" in result.output
    (tmp_path / "bad.yaml").write_text(scenario_text(start="nowhere"), encoding="utf-8")
    result = runner.invoke(app, ["train", "--list", "--scenarios", str(tmp_path)])
    assert result.exit_code == 2 and "bad.yaml:" in result.output and "start: 没有状态 'nowhere'" in result.output


def test_interactive_practice_reads_replies_until_the_customer_is_done():
    scenario = SCENARIOS["complaint-late-delivery"]
    typed = "\n".join(["", *scenario.examples.good]) + "\n"  # an empty reply is refused, then asked again
    result = runner.invoke(app, ["train", scenario.id, "--no-hints"], input=typed)
    assert result.exit_code == 0, result.output
    assert "回答为空" in result.output and "对话结束:客户满意" in result.output and "通过" in result.output


def test_interactive_practice_stopped_is_abandoned():
    result = runner.invoke(app, ["train", "complaint-late-delivery"], input="您好,请问有什么可以帮您?\n/退出\n")
    assert result.exit_code == 1 and "中途放弃" in result.output and "提示" in result.output


def test_scenario_validate(tmp_path):
    good = bundled_folder() / "complaint-late-delivery.yaml"
    result = runner.invoke(app, ["scenario", "validate", str(good)])
    assert result.exit_code == 0 and "场景有效" in result.output and "好的示例: 通过" in result.output
    wrong = tmp_path / "wrong.yaml"
    data = yaml.safe_load(good.read_text(encoding="utf-8"))
    data["examples"]["good"] = data["examples"]["bad"]
    wrong.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(app, ["scenario", "validate", str(wrong)])
    assert result.exit_code == 1 and "好的示例: 未通过" in result.output and "(应通过)" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(scenario_text(channel="fax"), encoding="utf-8")
    result = runner.invoke(app, ["scenario", "validate", str(broken)])
    assert result.exit_code == 2 and f"{broken}:" in result.output and "channel:" in result.output


def test_play_examples_grades_both_scripted_trainees(checker):
    """The hook the CLI's validate and the workspace's scenario page share."""
    scenario = SCENARIOS["complaint-late-delivery"]
    cards = play_examples(scenario, checker)
    assert [side for side, _ in cards] == ["good", "bad"]
    (_, good), (_, bad) = cards
    assert good.passed and behaves("good", good)
    assert not bad.passed and bad.faulted and behaves("bad", bad)
    assert good.score == play(checker, scenario.id, scenario.examples.good)[1].score
    assert not behaves("good", bad) and not behaves("bad", good)
    assert play_examples(scenario.model_copy(update={"examples": None}), checker) == []
