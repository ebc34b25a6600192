"""Live assist, the engine's client (guifan.assist): hints from the rules, timers, the draft check,
partials, dismissals, FunASR messages, and a context that grows one turn at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from guifan import text as textnorm
from guifan.assist import AssistError, FunAsrError, FunAsrStream, LiveSession
from guifan.engine import Engine, all_rules
from guifan.engine.hints import HintKind, Probe
from guifan.model import Channel, Conversation, Role
from guifan.readers import read_path
from guifan.readers.textlog import parse_example
from guifan.rulebook import default_rulebook

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def engine():
    return Engine()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def live(engine, channel="chat", clock=None, **conversation) -> LiveSession:
    return LiveSession(engine, Conversation("t", (), Channel(channel), **conversation), clock=clock or Clock())


def ids(hints, clause=None) -> list[str]:
    return [h["id"] for h in hints if clause is None or clause in h["clauses"]]


def clauses(hints) -> set[str]:
    return {c for h in hints for c in h["clauses"]}


def say(session: LiveSession, *lines: str, final: bool = True):
    """Turns written as in the rule examples: '客服: …' / '客户: …'; the last update."""
    update = None
    for line in lines:
        who, text = line.split(": ", 1)
        update = session.add({"客服": "agent", "客户": "customer", "系统": "system"}[who], text, final=final)
    return update


# -- declarations -------------------------------------------------------------------------------


ISSUE_CLAUSES = {  # the hints the issue asks for, by clause
    "S-A1", "S-A2", "S-A5", "S-A6", "S-A7", "S-A9", "S-A11", "S-A13", "S-A14", "S-B2", "S-B3", "S-B4", "S-C1",
    "S-C8", "S-C9", "S-D1", "S-D2", "S-D3", "S-D4", "S-D5", "S-D6",
    *(f"S-F{n}" for n in range(1, 11)),
}


def test_rules_declare_the_hints_the_standard_calls_for():
    declared = {h.clause for cls in all_rules().values() for h in cls.hints}
    assert ISSUE_CLAUSES <= declared
    rulebook = default_rulebook()
    for cls in all_rules().values():
        for hint in cls.hints:
            assert hint.when and hint.clears and hint.steps
            if hint.probe is Probe.WAIT:
                assert hint.kind is HintKind.TIMER and hasattr(rulebook.settings, hint.wait)
            for step in hint.steps:
                for ref in step.wording:
                    clause, _, number = ref.partition("#")
                    wording = rulebook.wording(clause)
                    assert wording and (not number or int(number) < len(wording)), (cls.code, ref)


def test_the_rule_reference_shows_each_rules_hints(engine):
    from guifan.docs import rule_markdown

    text = rule_markdown(all_rules()["CMP001"], engine.rulebook, engine)
    assert "实时提示 Live hints" in text and "先致歉并表示理解" in text and "客服致歉或表示理解后消失" in text


# -- next steps ---------------------------------------------------------------------------------


def test_greeting_is_due_at_the_start_and_goes_with_the_greeting(engine):
    session = live(engine)
    assert ids(session.hints()) == ["OPN001:S-A1:s"]
    update = say(session, "客服: 您好,很高兴为您服务,请问有什么可以帮您?")
    assert update.hints == [] and update.cleared == ["OPN001:S-A1:s"]


def test_apology_hint_after_a_complaint_clears_when_the_agent_apologizes(engine):
    session = live(engine)
    say(session, "客服: 您好,请问有什么可以帮您?")
    hint = next(h for h in say(session, "客户: 我的快递怎么还没到,都三天了").hints if h["rule"] == "CMP001")
    assert hint["kind"] == "next_step" and hint["clauses"] == ["S-D1"] and hint["turn"] == 1
    assert hint["wording"][0] == "非常抱歉给您带来了不好的体验,我非常理解您现在的心情。"
    assert hint["expires"]["when"] == "客服致歉或表示理解后消失"
    update = say(session, "客服: 非常抱歉让您久等了,我马上帮您查询。")
    assert hint["id"] in update.cleared and "S-D1" not in clauses(update.hints)


def test_record_and_time_frame_come_after_the_apology(engine):
    session = live(engine)
    say(session, "客服: 您好,请问有什么可以帮您?")
    assert clauses(say(session, "客户: 我要投诉你们的快递员,东西直接扔门口").hints) >= {"S-D1"}
    assert not clauses(session.hints()) & {"S-D2", "S-D3"}  # due, waiting for the apology
    shown = clauses(say(session, "客服: 非常抱歉给您带来不好的体验。").hints)
    assert {"S-D2", "S-D3"} <= shown and "S-D1" not in shown
    shown = clauses(say(session, "客服: 您的投诉内容我们已做好了详细记录。").hints)
    assert "S-D2" not in shown and "S-D3" in shown
    assert "S-D3" not in clauses(say(session, "客服: 我们会在24小时内核实处理并给您答复,请您保持电话畅通。").hints)


@pytest.mark.parametrize("channel, lines, clause, satisfied", [
    ("chat", ["客户: 我姓王,我的快递没到"], "S-A5", "客服: 好的王先生,请稍等。"),
    ("phone", ["客服: 您好,请问有什么可以帮您?", "客户: 我上周买的冰箱", "客服: 嗯", "客户: 一直没送到", "客服: 好的",
               "客户: 物流也不动", "客服: 我帮您看看", "客户: 好"], "S-A6", "客服: 您的意思是冰箱一直没有配送,对吗?"),
    ("phone", ["客户: 我的手机号是13812345678"], "S-A7", "客服: 我帮您重复一下:您的手机号是13812345678,对吗?"),
    ("chat", ["客户: 刚才那个客服态度太差了"], "S-D4",
     "客服: 对于同事给您带来的不便,我们深感抱歉,非常欢迎您监督我们的服务,我们会在以后的工作中注意改进。"),
    ("chat", ["客户: 好的谢谢,明天急着用"], "S-A11", "客服: 不客气,这是我应该做的。"),
    ("chat", ["客户: 不好意思,刚才看错了"], "S-A13", "客服: 没关系,请不必介怀。"),
    ("chat", ["客户: 我建议你们把商家的资质审核做严一点"], "S-A14", "客服: 您的建议很重要,我们会及时转达到相关部门,谢谢您的支持!"),
    ("chat", ["客户: 再不解决我就打12315投诉你们"], "S-D6", "客服: 非常抱歉,您反映的问题我马上提交给值班长处理,请您保持电话畅通。"),
])
def test_next_step_hints_name_their_clause_and_clear_when_said(engine, channel, lines, clause, satisfied):
    session = live(engine, channel)
    update = say(session, *lines)
    hint = next(h for h in update.hints if clause in h["clauses"])
    assert hint["kind"] == "next_step" and hint["message"] and hint["wording"]
    assert hint["title"] == engine.rulebook.clause_title(clause)
    assert hint["id"] in say(session, satisfied).cleared


def test_surname_hint_offers_the_surname(engine):
    hint = next(h for h in say(live(engine), "客户: 我姓王,我的快递没到").hints if h["rule"] == "OPN004")
    assert hint["wording"] == ["王先生/女士,请问有什么可以帮助您?"]


def steps(session: LiveSession, clause: str) -> list[int]:
    return [h["step"] for h in session.hints() if clause in h["clauses"]]


def test_abusive_customer_protocol_two_warnings_then_the_notice(engine):
    session = live(engine)
    say(session, "客户: 你们这帮废物")
    assert steps(session, "S-C8") == [0]
    assert next(h for h in session.hints() if h["rule"] == "SPC008")["wording"] == ["为了和您保持良好的沟通,希望您使用文明用语。"]
    say(session, "客服: 为了和您保持良好的沟通,希望您使用文明用语。")
    assert steps(session, "S-C8") == []
    say(session, "客户: 废物!")
    assert steps(session, "S-C8") == [1]
    say(session, "客服: 为了和您保持良好的沟通,希望您使用文明用语。", "客户: 废物!")
    hint = next(h for h in session.hints() if h["rule"] == "SPC008")
    assert hint["step"] == 2 and hint["wording"] == ["如您再次使用不文明语言,将结束本次通话!"]
    say(session, "客服: 如您再次使用不文明语言,将结束本次通话!")
    assert steps(session, "S-C8") == []


def test_supervisor_request_two_retentions_then_the_transfer(engine):
    session = live(engine)
    say(session, "客户: 我要找你们领导")
    assert steps(session, "S-C9") == [0]
    say(session, "客服: 首先对给您造成的不便表示歉意,请问一下您具体遇到了什么问题呢?", "客户: 跟你说没用,叫你们领导来")
    assert steps(session, "S-C9") == [1]
    say(session, "客服: 很抱歉,您需要反映的是什么问题,由我来为您处理好吗?", "客户: 不行")
    hint = next(h for h in session.hints() if h["rule"] == "SPC009")
    assert hint["step"] == 2 and any("转接" in w for w in hint["wording"])
    say(session, "客服: 我会把您的要求记录下来提交给我们领导的,您是否可以留下您的联系方式,稍后给您回电")
    assert steps(session, "S-C9") == []


def test_a_customer_who_lets_the_agent_help_ends_the_retention_hint(engine):
    session = live(engine)
    say(session, "客户: 我要找你们领导", "客服: 请问您具体遇到了什么问题呢?", "客户: 退款一直没到")
    assert steps(session, "S-C9") == []


def test_repeat_complaint_verify_the_number_first(engine):
    session = live(engine)
    say(session, "客户: 我上次反映的退款问题还没处理,到底怎么回事")
    assert steps(session, "S-D5") == [0]
    say(session, "客服: 非常抱歉,请您再次提供一下订单号好吗?")
    assert steps(session, "S-D5") == [1]
    say(session, "客户: 123456", "客服: 对于您反映的问题,我们马上为您加急处理。")
    assert steps(session, "S-D5") == []


def test_closing_checklist_when_the_conversation_ends(engine):
    session = live(engine)
    say(session, "客服: 您好,请问有什么可以帮您?", "客户: 查下快递", "客服: 已经到站点了,今天送达。")
    assert "S-A9" not in clauses(session.hints())
    hint = next(h for h in say(session, "客户: 好的谢谢").hints if h["rule"] == "CLS001")
    assert hint["kind"] == "reminder" and "征询" in hint["message"]
    say(session, "客服: 不客气,请问还有其他可以帮您的吗?", "客户: 没有了")
    hint = next(h for h in session.hints() if h["rule"] == "CLS001")
    assert "致谢道别" in hint["message"] and "征询(" not in hint["message"]
    assert "S-A9" not in clauses(say(session, "客服: 感谢您的支持,祝您生活愉快,再见!").hints)


def test_holiday_wording_at_the_opening_and_in_the_closing(engine):
    spring = datetime(2026, 2, 17, 10, tzinfo=timezone.utc)
    session = live(engine, started_at=spring)
    hint = next(h for h in session.hints() if h["rule"] == "OPN002")
    assert hint["clauses"] == ["S-A2"] and hint["wording"][0].startswith("新年好")
    say(session, "客服: 新年好,很高兴为您服务,请问有什么可以帮您?", "客户: 好的谢谢")
    wish = next(h for h in session.hints() if h["rule"] == "OPN002")
    assert wish["kind"] == "reminder" and wish["wording"] == ["祝您新年愉快"]
    ordinary = live(engine, started_at=datetime(2026, 3, 10, 10, tzinfo=timezone.utc))
    assert "S-A2" not in clauses(ordinary.hints())


def test_dismissed_hints_never_come_back_and_are_recorded(engine):
    session = live(engine)
    hint = next(h for h in say(session, "客户: 我的快递怎么还没到,都三天了").hints if h["rule"] == "CMP001")
    update = session.dismiss(hint["id"])
    assert hint["id"] not in ids(update.hints) and hint["id"] in update.cleared
    assert update.events[0]["kind"] == "dismissed" and update.events[0]["hint_id"] == hint["id"]
    say(session, "客服: 我帮您查一下。", "客户: 快点,怎么还没到")
    assert "S-D1" not in clauses(session.hints())
    with pytest.raises(AssistError) as refused:
        session.dismiss("CMP001:S-D1:99")
    assert refused.value.status == 404


# -- timers -------------------------------------------------------------------------------------


def test_hold_reassurance_at_sixty_seconds_and_thanks_after_the_hold(engine):
    clock = Clock()
    session = live(engine, "phone", clock)
    say(session, "客服: 您好,请问有什么可以帮您?", "客户: 我的快递到哪了?", "客服: 好的,请您稍等,正在为您查询。")
    assert session.tick() is None
    clock.now += 5.5
    update = session.tick()
    assert "S-B2" in clauses(update.hints) and next(h for h in update.hints if h["rule"] == "HLD002")["kind"] == "timer"
    assert session.next_timer() == pytest.approx(clock.now + 60.01 - 5.5, abs=0.01)
    clock.now += 55
    update = session.tick()
    assert "S-B3" in clauses(update.hints)
    assert [a["kind"] for a in update.alerts] == ["long_hold"]
    update = say(session, "客服: 感谢您的耐心等待,您的快递已经到站点了。")
    assert not clauses(update.hints) & {"S-B2", "S-B3"}


def test_silent_phone_caller_greet_again_at_five_seconds_close_at_ten(engine):
    clock = Clock()
    session = live(engine, "phone", clock)
    say(session, "客服: 您好!请问有什么可以帮助您?")
    clock.now += 4.9
    assert session.tick() is None
    clock.now += 0.2
    hint = next(h for h in session.tick().hints if h["rule"] == "SPC001")
    assert hint["step"] == 0 and hint["wording"] == ["您好!请问有什么可以帮助您?"]
    say(session, "客服: 您好,请问有什么可以帮助您?")
    clock.now += 5.1
    hint = next(h for h in session.tick().hints if h["rule"] == "SPC001")
    assert hint["step"] == 1 and "没有声音" in hint["wording"][0]
    assert "S-C1" not in clauses(say(session, "客户: 喂?").hints)


def test_chat_customer_waiting_past_the_promised_response_time(engine):
    clock = Clock()
    session = live(engine, "chat", clock)
    say(session, "客服: 您好,请问有什么可以帮您?", "客户: 我的订单怎么还没发货")
    clock.now += engine.rulebook.settings.chat_response_seconds - 1
    assert session.tick() is None
    clock.now += 2
    hint = next(h for h in session.tick().hints if h["rule"] == "HLD004")
    assert hint["kind"] == "timer" and hint["clauses"] == ["S-B4"]
    assert "S-B4" not in clauses(say(session, "客服: 非常抱歉让您久等了,马上为您查询。").hints)


def test_times_given_by_the_client_are_the_sessions_clock(engine):
    clock = Clock()
    session = live(engine, "phone", clock)
    session.add("agent", "您好,请问有什么可以帮您?", 100.0, 103.0)
    clock.now += 2
    assert session.now() == pytest.approx(105.0)
    assert session.conversation.turns[0].start == 100.0


# -- drafts and warnings -------------------------------------------------------------------------


def said_rules() -> list[str]:
    """The rules warning about words (a draft has no voice and no timing to speak over anyone)."""
    return [code for code, cls in all_rules().items()
            if cls.needs_text and any(h.probe is Probe.SAID for h in cls.hints)]


def test_an_agent_speaking_over_the_customer_is_warned_from_timed_partials(engine):
    clock = Clock()
    session = live(engine, "phone", clock)
    session.add("customer", "我上周买的洗衣机到现在还没送到", 0.0, 3.0, final=False)
    update = session.add("agent", "嗯,好的", 2.0, 2.6, final=False)  # the customer still speaks
    assert "VOC004" not in [h["rule"] for h in update.hints]  # an acknowledgement is listening
    session.add("customer", "我上周买的洗衣机到现在还没送到,打了好几次电话", 0.0, 4.0, final=False)
    update = session.add("agent", "您提供一下订单号,我帮您查一下", 2.0, 3.4, final=False)
    warning = next(h for h in update.hints if h["rule"] == "VOC004")
    assert warning["kind"] == "warning" and warning["clauses"] == ["S-H4"] and not update.final
    draft = session.draft("您提供一下订单号,我帮您查一下")
    assert "VOC004" not in [f["rule"] for f in draft["findings"]]  # typed words never speak over anyone


@pytest.mark.parametrize("code", said_rules())
def test_a_rules_bad_example_typed_as_a_draft_gets_its_warning(engine, code):
    """Live agrees with QA: each agent turn a rule faults in its bad examples, typed as a draft
    after the turns before it, gets the rule's finding at the same words."""
    cls = all_rules()[code]
    checked = 0
    for example in cls.bad:
        conversation = parse_example(example)
        for finding in (f for f in engine.check(conversation) if f.rule == code):
            turn = conversation.turns[finding.turn]
            if turn.role is not Role.AGENT:
                continue
            session = LiveSession(engine, replace(conversation, turns=conversation.turns[:finding.turn]),
                                  stamp_times=False, clock=Clock())
            draft = session.draft(turn.text)
            found = [f for f in draft["findings"] if f["rule"] == code]
            assert found and not draft["ok"], (example, draft)
            if finding.span is not None:
                assert [list(finding.span)] == [f["span"] for f in found][:1], (example, draft)
            checked += 1
    assert checked


@pytest.mark.parametrize("code", [f"FBD00{n}" for n in range(1, 10)])
def test_forbidden_phrase_rules_good_examples_draft_clean(engine, code):
    for example in all_rules()[code].good:
        conversation = parse_example(example)
        for n, turn in enumerate(conversation.turns):
            if turn.role is Role.AGENT:
                session = LiveSession(engine, replace(conversation, turns=conversation.turns[:n]),
                                      stamp_times=False, clock=Clock())
                assert not [f for f in session.draft(turn.text)["findings"] if f["rule"] == code], example


def test_draft_replacements_for_ni_and_they(engine):
    session = live(engine)
    draft = session.draft("你好,这个要等他们财务审核。")
    found = {f["rule"]: f for f in draft["findings"]}
    assert found["FBD010"]["span"] == [0, 1] and found["FBD010"]["replacement"] == "您好,这个要等他们财务审核。"
    assert found["FBD011"]["quote"] == "他们财务" and found["FBD011"]["replacement"] == "你好,这个要等我们财务审核。"
    assert found["FBD010"]["clauses"] == ["S-F10"] and found["FBD010"]["suggestion"] == "您"
    fixed = found["FBD011"]["replacement"].replace("你", "您")
    assert session.draft(fixed)["ok"]


def test_draft_replacement_puts_the_standard_wording_in_place(engine):
    session = live(engine)
    say(session, "客户: 那退款什么时候到?")
    found = next(f for f in session.draft("刚才不是讲过了吗?三到五个工作日。")["findings"] if f["rule"] == "FBD004")
    assert found["quote"] == "刚才不是讲过了吗" and found["suggestion"].startswith("不好意思")
    assert found["replacement"] == "不好意思,可能是我刚才没有解释清楚,我再为您说明一下。三到五个工作日。"


def test_profanity_and_sarcasm_have_no_replacement(engine):
    session = live(engine)
    say(session, "客户: 我的快递到哪了")
    found = {f["rule"]: f for f in session.draft("您有病吧,自己不会查?")["findings"]}
    assert found["FBD020"]["replacement"] is None and found["FBD020"]["severity"] == "fatal"
    found = {f["rule"]: f for f in live(engine).draft("您有钱您找贵的充啊!")["findings"]}
    assert found["FBD001"]["replacement"] is None


def test_the_customers_words_quoted_back_are_not_the_agents(engine):
    session = live(engine)
    say(session, "客户: 他说「我不知道」就挂了")
    draft = session.draft("非常抱歉,同事说“我不知道”给您带来了不好的体验,我来帮您处理。")
    assert not [f for f in draft["findings"] if f["clauses"] == ["S-F6"]]


def test_a_draft_after_thanks_is_checked_as_the_reply(engine):
    session = live(engine)
    hint = next(h for h in say(session, "客户: 好的谢谢").hints if h["rule"] == "CRT001")
    assert [f["rule"] for f in session.draft("还请您稍加耐心等待一下哦。")["findings"]] == ["CRT001"]
    reply = session.draft("不客气,这是我应该做的。")
    assert reply["ok"] and hint["id"] in reply["satisfies"]


def test_a_forbidden_phrase_in_a_partial_warns_at_once_and_the_final_replaces_it(engine):
    session = live(engine, "phone")
    say(session, "客户: 我订单上显示的不是这个")
    update = session.add("agent", "你是不是搞错", final=False)
    assert update.final is False and update.turn == 1 and "FBD003" not in [h["rule"] for h in update.hints]
    update = session.add("agent", "你是不是搞错了", final=False)
    warning = next(h for h in update.hints if h["rule"] == "FBD003")
    assert warning["kind"] == "warning" and warning["turn"] == 1 and "你是不是搞错了" in warning["message"]
    assert len(session.conversation.turns) == 1  # a partial is not part of the conversation
    update = session.add("agent", "很抱歉,我帮您再核对一下订单。")
    assert warning["id"] in update.cleared and len(session.conversation.turns) == 2


def test_a_partial_is_warned_about_forbidden_language_only(engine):
    session = live(engine, "phone")
    say(session, "客户: 好的谢谢")
    assert "CRT001" not in [h["rule"] for h in session.add("agent", "好的", final=False).hints if h["kind"] == "warning"]
    assert "CRT001" in [h["rule"] for h in session.add("agent", "好的").hints if h["kind"] == "warning"]


def test_words_sent_after_a_warning_are_recorded_and_alerted(engine):
    session = live(engine)
    say(session, "客户: 我订单上显示的不是这个")
    assert not session.draft("您是不是搞错了?")["ok"]
    update = say(session, "客服: 您是不是搞错了?")
    alert = next(a for a in update.alerts if a["rule"] == "FBD003")
    assert alert["kind"] == "forbidden_sent" and alert["sent_after_warning"] is True
    assert {e["kind"] for e in update.events} == {"alert", "sent_after_warning"}
    other = live(engine)
    update = say(other, "客户: 你们公司太差了", "客服: 没错,我们公司确实很差。")
    assert next(a for a in update.alerts if a["rule"] == "FBD008")["sent_after_warning"] is False


def test_abuse_and_threat_alerts(engine):
    session = live(engine)
    assert [a["kind"] for a in say(session, "客户: 你们这帮废物").alerts] == ["abuse"]
    assert "threat" in [a["kind"] for a in say(session, "客户: 再不解决我就去媒体曝光").alerts]


def test_bad_input_is_refused_in_chinese(engine):
    session = live(engine)
    for call, status in ((lambda: session.add("robot", "x"), 422), (lambda: session.add("agent", "x" * 10_001), 422),
                         (lambda: session.add("agent", "x", 5.0, 4.0), 422), (lambda: session.draft("x" * 10_001), 422),
                         (lambda: session.funasr("system", {"mode": "2pass-online", "text": "x"}), 422),
                         (lambda: session.funasr("agent", {"mode": "stream", "text": "x"}), 422)):
        with pytest.raises(AssistError) as refused:
            call()
        assert refused.value.status == status and any("\u4e00" <= ch <= "\u9fff" for ch in refused.value.message)
    assert say(session, "客服: 您好,请问有什么可以帮您?").hints == []


# -- FunASR --------------------------------------------------------------------------------------


def test_funasr_online_increments_then_the_offline_sentence():
    stream = FunAsrStream()
    first = stream.read({"mode": "2pass-online", "wav_name": "a", "text": "我要投", "is_final": False})
    assert (first.text, first.final) == ("我要投", False)
    assert stream.read({"mode": "2pass-online", "text": "诉你们", "is_final": False}).text == "我要投诉你们"
    final = stream.read({"mode": "2pass-offline", "text": "我要投诉你们的快递员。", "is_final": False,
                         "timestamp": "[[12400,12640],[12640,15000]]"})
    assert (final.text, final.final, final.start, final.end) == ("我要投诉你们的快递员。", True, 12.4, 15.0)
    assert stream.partial == ""
    sentences = stream.read({"mode": "2pass-offline", "text": "好的", "stamp_sents": [{"start": 16000, "end": 16800}]})
    assert (sentences.start, sentences.end) == (16.0, 16.8)
    stream.read({"mode": "2pass-online", "text": "还有"})
    ended = stream.read({"mode": "2pass-online", "text": "", "is_final": True})
    assert (ended.text, ended.final) == ("还有", True)
    assert stream.read({"mode": "2pass-online", "text": "", "is_final": True}) is None


@pytest.mark.parametrize("message", [[], {"mode": "2pass"}, {"mode": "2pass-online", "text": 3},
                                     {"mode": "offline", "text": "x", "is_final": "yes"},
                                     {"mode": "offline", "text": "x", "timestamp": "[[5,"},
                                     {"mode": "offline", "text": "x", "timestamp": "[[500,100]]"}])
def test_funasr_messages_that_are_not_funasrs(message):
    with pytest.raises(FunAsrError):
        FunAsrStream().read(message)


def test_funasr_through_the_session_warns_on_the_partial(engine):
    session = live(engine, "phone")
    session.funasr("customer", {"mode": "2pass-offline", "text": "我订单上显示的不是这个", "timestamp": "[[1000,3000]]"})
    update = session.funasr("agent", {"mode": "2pass-online", "text": "你是不是搞错了"})
    assert update.final is False and "FBD003" in [h["rule"] for h in update.hints]
    session.funasr("agent", {"mode": "2pass-offline", "text": "很抱歉,我再核对一下。", "timestamp": "[[4000,6000]]"})
    turns = session.conversation.turns
    assert [(t.role.value, t.text, t.start, t.end) for t in turns] == [
        ("customer", "我订单上显示的不是这个", 1.0, 3.0), ("agent", "很抱歉,我再核对一下。", 4.0, 6.0)]


# -- incremental ---------------------------------------------------------------------------------


def example_conversations() -> list[Conversation]:
    found = []
    for name in ("phone_calls.jsonl", "chat_sessions.jsonl", "chat_log.txt"):
        found += [c for c in read_path(EXAMPLES / name) if isinstance(c, Conversation) and c.audio is None]
    return found


def test_a_context_grown_turn_by_turn_gives_the_batch_findings(engine):
    for conversation in example_conversations():
        ctx = engine.context(replace(conversation, turns=()))
        for turn in conversation.turns:
            ctx.extend([turn])
            ctx.settle()
            size = len(ctx.turns)
            ctx.extend([turn, turn])  # a probe, taken back
            ctx.truncate(size)
        assert ctx.conversation == conversation
        assert engine.run(ctx) == engine.check(conversation), conversation.id


def test_each_turn_is_read_once_however_long_the_conversation(engine, monkeypatch):
    """A new turn's text is normalized and scanned once; the turns before it never again (probes
    add a few neutral words of their own). The matcher's cache of texts seen before is emptied
    before each turn, so that the new turn's text has to be scanned."""
    conversation = next(c for c in example_conversations() if c.channel is Channel.PHONE)
    session = LiveSession(engine, replace(conversation, turns=()), clock=Clock())
    scanned: list[str] = []
    original = engine.matcher.scan_many

    def counting(basics, looses):
        scanned.extend(basics)
        return original(basics, looses)

    monkeypatch.setattr(engine.matcher, "scan_many", counting)
    def basic(text: str) -> str:
        return textnorm.basic(textnorm.blank_emoticons(text))

    probes = {basic(w) for w in ("嗯。", *engine.rulebook.wording("S-A1"), *engine.rulebook.wording("S-A9"))}
    for n, turn in enumerate(list(conversation.turns) * 10):
        scanned.clear()
        engine.matcher.prepared.clear()
        session.add(turn.role.value, turn.text)
        assert [b for b in scanned if b not in probes] == [basic(turn.text)], n


def test_with_the_meaning_stage_a_draft_is_warned_about_forbidden_language_in_other_words(engine):
    """guifan serve --assist-meaning: drafts also see what the phrase lists lack."""
    drafts = {"系统的事我们也没辙,您等等看吧": "S-F6", "这么便宜的东西您还指望用十年啊": "S-F1"}
    for meaning in (False, True):
        session = LiveSession(engine, Conversation("t", (), Channel.CHAT), meaning=meaning, clock=Clock())
        session.add("customer", "我的快递三天了还没到,到底怎么回事")
        for text, clause in drafts.items():
            found = {c for f in session.draft(text)["findings"] for c in f["clauses"]}
            assert (clause in found) is meaning, (meaning, text, found)
