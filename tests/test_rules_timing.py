"""Edge cases of the timing families: holds (HLD), the silent-call protocol (SPC001) and delivery
(VOC004–VOC006): no times, boundary values, overlapping turns, and the hold / dead-air split."""

from functools import lru_cache

import pytest

from guifan.engine import Engine
from guifan.model import Severity
from guifan.readers.textlog import parse_example
from guifan.rulebook import default_rulebook

TIMING_CODES = ("HLD001", "HLD002", "HLD003", "VOC004", "VOC005", "VOC006")


@lru_cache(maxsize=None)
def _engine(**overrides) -> Engine:
    rulebook = default_rulebook()
    if overrides:
        settings = rulebook.settings.model_copy(update=overrides)
        rulebook = rulebook.model_copy(update={"settings": settings})
    return Engine(rulebook)


def findings(text: str, code: str | None = None, **overrides):
    found = _engine(**overrides).check(parse_example(text))
    return [f for f in found if code is None or f.rule == code]


def codes(text: str, **overrides) -> set[str]:
    return {f.rule for f in findings(text, **overrides)}


def strip_times(text: str) -> str:
    import re

    return re.sub(r"^\[[^\]]*\]\s*", "", text, flags=re.MULTILINE)


def phone(*lines: str) -> str:
    return "# channel: phone\n" + "\n".join(lines)


# -- times absent ---------------------------------------------------------------------------------

UNANNOUNCED_LOOKUP = phone(
    "[00:00-00:03] 客户: 我的快递到哪了?",
    "[00:03-00:05] 客服: 好的。",
    "[01:15-01:20] 客服: 查到了,您的快递已经到站点了。",
)
INTERRUPTION = phone(
    "[00:00-00:10] 客户: 我上周买的洗衣机到现在还没送到,打了好几次电话都说在路上",
    "[00:04-00:08] 客服: 您提供一下订单号,我帮您查。",
    "[00:30-00:31] 客服: 好的。",
    "[00:31-00:59] 客户: 我的订单号我找不到了,短信也删了,你们能不能用手机号查一下,我的手机号是一三八零零零零零零零零",
    "[01:15-01:20] 客服: 会员可以在我的页面里取消。",
)


@pytest.mark.parametrize("text", [UNANNOUNCED_LOOKUP, INTERRUPTION], ids=["hold", "delivery"])
def test_timing_rules_fire_with_times_and_stay_silent_without(text):
    assert codes(text) & set(TIMING_CODES)
    assert not codes(strip_times(text)) & set(TIMING_CODES)


def test_one_untimed_turn_makes_the_transcript_untimed():
    text = UNANNOUNCED_LOOKUP.replace("[00:03-00:05] 客服", "客服")
    assert not codes(text) & set(TIMING_CODES)


# -- hold vs dead air: every silence is reported once, under one clause ----------------------------


def _silence(opener: str, resume: str, seconds: float, customer: str = "我的会员怎么取消?") -> str:
    start = 5 + seconds
    return phone(
        f"[00:00-00:04] 客户: {customer}",
        f"[00:04-00:05] 客服: {opener}",
        f"[{start:.1f}-{start + 4:.1f}] 客服: {resume}",
    )


@pytest.mark.parametrize(
    ("opener", "resume", "seconds", "expected"),
    [
        # unannounced lookup: HLD001 from hold_min_seconds on, never VOC006
        ("好的。", "查到了,会员可以在我的页面里取消。", 5.0, {"HLD001"}),
        ("好的。", "查到了,会员可以在我的页面里取消。", 4.9, set()),
        ("好的。", "查到了,会员可以在我的页面里取消。", 30, {"HLD001"}),
        ("我帮您查一下。", "会员可以在我的页面里取消。", 12, {"HLD001"}),
        ("好的。", "感谢您的耐心等待,会员可以在我的页面里取消。", 12, {"HLD001"}),
        # no hold, no announcement: dead air from dead_air_seconds on, never HLD001
        ("好的。", "会员可以在我的页面里取消。", 10.0, {"VOC006"}),
        ("好的。", "会员可以在我的页面里取消。", 9.9, set()),
        ("好的。", "会员可以在我的页面里取消。", 7, set()),
        # announced hold with a reason: neither
        ("请您稍等,我帮您查询。", "感谢您的耐心等待,会员可以在我的页面里取消。", 30, set()),
    ],
)
def test_a_silence_is_either_an_unannounced_hold_or_dead_air(opener, resume, seconds, expected):
    assert codes(_silence(opener, resume, seconds)) & {"HLD001", "VOC006"} == expected


def test_bare_hold_request_is_a_minor_hld001_and_unannounced_hold_is_major():
    bare = findings(_silence("稍等。", "感谢您的耐心等待,会员可以在我的页面里取消。", 20), "HLD001")
    assert [(f.severity, f.turn, f.quote) for f in bare] == [(Severity.MINOR, 1, "稍等")]
    unannounced = findings(_silence("好的。", "查到了,会员可以在我的页面里取消。", 20), "HLD001")
    assert [(f.severity, f.turn) for f in unannounced] == [(Severity.MAJOR, 1)]
    assert "20秒" in unannounced[0].message


def test_reason_given_in_the_agent_turn_before_the_hold_request():
    text = phone(
        "[00:00-00:04] 客户: 我的会员怎么取消?",
        "[00:04-00:06] 客服: 我需要帮您核实一下账户。",
        "[00:06-00:07] 客户: 好",
        "[00:07-00:08] 客服: 请稍等。",
        "[00:30-00:34] 客服: 感谢您的耐心等待,会员可以在我的页面里取消。",
    )
    assert not findings(text, "HLD001")


NOT_THE_AGENTS_SILENCE = {
    # the customer asked the agent to wait
    "customer-asked": phone(
        "[00:00-00:04] 客户: 我的会员怎么取消?",
        "[00:04-00:06] 客服: 请问您的会员账号是?",
        "[00:06-00:08] 客户: 你等一下,我找找",
        "[00:40-00:44] 客服: 您好,找到了吗?",
    ),
    # the customer thinking after the agent's question
    "customer-thinking": phone(
        "[00:00-00:04] 客服: 请问您的会员账号是多少?",
        "[00:30-00:34] 客户: 我想想,是一三八零零零零",
        "[00:35-00:38] 客服: 好的,我记下了。",
    ),
    # overlapping turns: the backchannel ends at 00:11 inside the customer's turn (till 00:30), so
    # the silence before the answer is 1 s (from the latest end), not 20 s
    "overlap": phone(
        "[00:00-00:30] 客户: 我上周买的洗衣机一直没送到,打了三次电话",
        "[00:10-00:11] 客服: 嗯。",
        "[00:31-00:35] 客服: 查到了,会员可以在我的页面里取消。",
    ),
}


@pytest.mark.parametrize("text", NOT_THE_AGENTS_SILENCE.values(), ids=NOT_THE_AGENTS_SILENCE.keys())
def test_silences_that_are_not_the_agents(text):
    assert not codes(text) & {"HLD001", "HLD003", "VOC006"}


def test_rating_invitation_is_not_a_hold_request():
    text = phone(
        "[00:00-00:04] 客户: 好的没有了",
        "[00:04-00:09] 客服: 请不要挂机,稍后对我的服务进行评价,谢谢。",
        "[00:20-00:22] 客服: 感谢您的来电,再见!",
    )
    assert "HLD002" not in codes(text)


def test_thanks_does_not_count_as_a_new_hold_request():
    # "感谢您的耐心等待" contains 耐心等待; it must not announce another hold.
    text = phone(
        "[00:00-00:04] 客户: 我的快递到哪了?",
        "[00:04-00:06] 客服: 请您稍等,正在为您查询。",
        "[00:20-00:25] 客服: 感谢您的耐心等待,您的快递明天送到。",
        "[00:25-00:27] 客户: 好的",
        "[00:34-00:37] 客服: 请问还有其他可以帮您的吗?",
    )
    assert not codes(text) & {"HLD001", "HLD002"}


# -- HLD002 / HLD003 -------------------------------------------------------------------------------

REQUEST = ("[00:00-00:03] 客户: 我的快递到哪了?", "[00:03-00:05] 客服: 请您稍等,正在为您查询。")


@pytest.mark.parametrize(("resume_at", "fires"), [(10.0, True), (9.9, False)])
def test_thanks_needed_from_hold_min_seconds(resume_at, fires):
    text = phone(*REQUEST, f"[{resume_at}-{resume_at + 3}] 客服: 您的快递已经到站点了。")
    assert bool(findings(text, "HLD002")) is fires


def test_thanks_after_a_reassurance_closes_the_hold():
    text = phone(
        *REQUEST,
        "[00:50-00:55] 客服: 不好意思,还需要一点时间,请您再稍等一下,我正在为您查询。",
        "[01:30-01:35] 客服: 感谢您的耐心等待,您的快递已经到站点了。",
    )
    assert not codes(text) & {"HLD001", "HLD002", "HLD003"}


@pytest.mark.parametrize(("resume_at", "fires"), [(65.0, False), (65.5, True)])
def test_reassurance_needed_after_more_than_hold_reassure_seconds(resume_at, fires):
    text = phone(*REQUEST, f"[{resume_at}-{resume_at + 3}] 客服: 感谢您的耐心等待,快递已经到站点了。")
    found = findings(text, "HLD003")
    assert bool(found) is fires
    if fires:
        assert found[0].turn == 2 and "60秒" in found[0].message


def test_customer_check_in_does_not_end_an_announced_hold():
    # 34 s + 29 s of silence around the customer's "还在吗": one hold of 63 s.
    text = phone(
        *REQUEST,
        "[00:39-00:40] 客户: 还在吗?",
        "[01:09-01:12] 客服: 感谢您的耐心等待,快递已经到站点了。",
    )
    assert [f.turn for f in findings(text, "HLD003")] == [3]


def test_customer_speech_does_not_count_as_hold_time_when_unannounced():
    text = phone(
        "[00:00-00:02] 客服: 您好,请问有什么可以帮您?",
        "[00:03-01:10] 客户: 我上周买的洗衣机一直没送到,打了三次电话,每次都说在路上",
        "[01:16-01:20] 客服: 查到了,洗衣机明天送到。",
    )
    found = findings(text, "HLD001")
    assert len(found) == 1 and "6秒" in found[0].message
    assert "HLD003" not in codes(text)


def test_settings_move_the_boundaries():
    text = _silence("好的。", "会员可以在我的页面里取消。", 8)
    assert "VOC006" not in codes(text)
    assert "VOC006" in codes(text, dead_air_seconds=8)
    lookup = _silence("好的。", "查到了,会员可以在我的页面里取消。", 4)
    assert "HLD001" in codes(lookup, hold_min_seconds=3)


# -- chat: time stamps are send times ---------------------------------------------------------------


def _chat_hold(seconds: int) -> str:
    return (
        "2026-03-10 10:00:00 客户: 我的快递到哪了?\n"
        "2026-03-10 10:00:05 客服: 亲,请您稍等,正在为您查询。\n"
        f"2026-03-10 10:{(5 + seconds) // 60:02d}:{(5 + seconds) % 60:02d} 客服: 您的快递已经到站点了。"
    )


@pytest.mark.parametrize(("seconds", "fires"), [(24, False), (25, True)])
def test_chat_typing_time_is_not_waiting(seconds, fires):
    conversation = parse_example(_chat_hold(seconds))
    assert conversation.timed and conversation.channel.value == "chat"
    assert bool(findings(_chat_hold(seconds), "HLD002")) is fires


def test_delivery_rules_are_phone_only():
    chat = INTERRUPTION.replace("# channel: phone", "# channel: chat")
    assert not codes(chat) & {"VOC004", "VOC005", "VOC006"}


# -- VOC004 interruption -----------------------------------------------------------------------------


def _overlap(agent_start: float, agent_text: str = "您提供一下订单号,我帮您查。") -> str:
    return phone(
        "[00:00-00:10] 客户: 我上周买的洗衣机到现在还没送到,打了好几次电话都说在路上",
        f"[{agent_start}-{agent_start + 4}] 客服: {agent_text}",
    )


@pytest.mark.parametrize(
    ("start", "text", "fires"),
    [
        (9.4, "您提供一下订单号,我帮您查。", True),
        (9.5, "您提供一下订单号,我帮您查。", False),  # within the tolerance of the customer's end
        (0.0, "您提供一下订单号,我帮您查。", False),  # both start together: not cutting in
        (0.1, "您提供一下订单号,我帮您查。", True),
        (5.0, "嗯,我明白了。", False),  # backchannel, 5 characters
        (5.0, "嗯嗯,好的,明白", False),  # 6 characters: still a backchannel
        (5.0, "嗯嗯,好的,明白了", True),  # 7 characters: taking the floor
        (5.0, "……", False),  # no speech
    ],
)
def test_interruption_boundaries(start, text, fires):
    assert bool(findings(_overlap(start, text), "VOC004")) is fires


def test_customer_interrupting_the_agent_is_not_the_agents_interruption():
    text = phone(
        "[00:00-00:08] 客服: 您好,欢迎致电,请问有什么可以帮您?",
        "[00:03-00:06] 客户: 我要查快递",
        "[00:08-00:10] 客服: 好的,请您提供订单号。",
    )
    assert "VOC004" not in codes(text)


def test_one_finding_per_interrupting_turn():
    text = phone(
        "[00:00-00:10] 客户: 我上周买的洗衣机到现在还没送到",
        "[00:02-00:09] 客户: 打了好几次电话都说在路上",
        "[00:04-00:12] 客服: 您提供一下订单号,我帮您查。",
    )
    assert [f.turn for f in findings(text, "VOC004")] == [2]


# -- VOC005 active listening -------------------------------------------------------------------------

LONG = "我上周买的洗衣机一直没送到,打了三次电话,每次都说在路上,今天又说地址不对"


def _monologue(end: float, *agent: str) -> str:
    return phone(
        "[00:00-00:02] 客服: 您好,请问有什么可以帮您?",
        f"[00:03-{end}] 客户: {LONG}",
        *agent,
        f"[{end + 1}-{end + 5}] 客服: 非常抱歉,我马上帮您查一下物流。",
        f"[{end + 6}-{end + 7}] 客服: 好的。",
    )


@pytest.mark.parametrize(("end", "fires"), [(23.0, False), (23.5, True)])
def test_long_customer_turn_boundary(end, fires):
    assert bool(findings(_monologue(end), "VOC005")) is fires


def test_backchannel_overlapping_or_between_customer_turns_counts():
    overlapping = _monologue(40.0, "[00:15-00:16] 客服: 嗯。")
    assert not findings(overlapping, "VOC005")
    split = phone(
        "[00:00-00:02] 客服: 您好,请问有什么可以帮您?",
        "[00:03-00:18] 客户: 我上周买的洗衣机一直没送到",
        "[00:18.5-00:19] 客服: 嗯,是的。",
        "[00:19-00:35] 客户: 打了三次电话,每次都说在路上",
        "[00:36-00:40] 客服: 非常抱歉,我马上帮您查一下物流。",
    )
    assert not findings(split, "VOC005")


def test_finding_sits_at_the_agent_reply_after_the_monologue():
    found = findings(_monologue(40.0), "VOC005")
    assert [(f.turn, f.severity) for f in found] == [(2, Severity.MINOR)]
    assert "37秒" in found[0].message


def test_no_backchannels_anywhere_means_the_transcript_drops_them():
    text = phone(
        "[00:00-00:02] 客服: 您好,请问有什么可以帮您?",
        f"[00:03-01:00] 客户: {LONG}",
        "[01:01-01:05] 客服: 非常抱歉,我马上帮您查一下物流。",
    )
    assert not findings(text, "VOC005")


# -- HLD004 / HLD005 -----------------------------------------------------------------------------------


def test_queue_complaint_needs_an_apology_in_the_next_agent_turn():
    base = "# channel: phone\n客户: 终于接通了,打了好几次都打不通\n客服: {}"
    assert findings(base.format("请问有什么可以帮您?"), "HLD004")
    assert not findings(base.format("很抱歉,电话很多,让您久等了!"), "HLD004")
    assert not findings("客户: 谢谢\n客服: 不客气", "HLD004")


def _off_hours(clock: str, reply: str = "亲,请问有什么可以帮您?", channel: str = "chat") -> str:
    return f"# channel: {channel}\n# started_at: 2026-03-10T{clock}:00+08:00\n客户: 在吗\n客服: {reply}"


@pytest.mark.parametrize(
    ("clock", "fires"),
    [("07:59", True), ("08:00", False), ("11:59", False), ("12:00", True), ("13:59", True), ("14:00", False),
     ("18:00", True), ("23:30", True)],
)
def test_service_hours_boundaries(clock, fires):
    assert bool(findings(_off_hours(clock), "HLD005")) is fires


def test_off_hours_reply_stating_a_time_or_hours_is_fine():
    assert not findings(_off_hours("12:30", "亲,客服14:00上班,请您稍后咨询"), "HLD005")
    assert not findings(_off_hours("21:00", "您好,现在是非工作时间,请明天再咨询"), "HLD005")
    # a reply that comes later does not excuse the first one
    late = _off_hours("12:30") + "\n客户: 人呢\n客服: 我们的服务时间是08:00-12:00、14:00-18:00"
    assert findings(late, "HLD005")


def test_off_hours_check_needs_started_at_and_chat():
    assert not findings("客户: 在吗\n客服: 亲,请问有什么可以帮您?", "HLD005")
    assert not findings(_off_hours("12:30", channel="phone"), "HLD005")


def test_off_hours_suggestion_names_the_next_opening_time():
    found = findings(_off_hours("12:30"), "HLD005")
    assert "14:00后" in found[0].suggestion
    found = findings(_off_hours("20:00"), "HLD005")
    assert "08:00后" in found[0].suggestion


# -- SPC001 silent call ---------------------------------------------------------------------------------

GREET = "您好!请问有什么可以帮助您?"
CLOSE = "对不起,您的电话没有声音,请您换一部电话再次打来,好吗?再见!"


def _silent(*steps: tuple[float, str], channel: str = "phone") -> str:
    lines = [f"# channel: {channel}", "客户: ……"]
    lines += [f"[{t}-{t + 2}] 客服: {text}" for t, text in steps]
    return "\n".join(lines).replace("客户: ……", "[00:00-00:00] 客户: ……")


@pytest.mark.parametrize(
    ("second", "close", "n"),
    [(7.0, 14.0, 0), (6.9, 14.0, 1), (7.0, 13.9, 1), (6.0, 12.0, 2)],
)
def test_silent_call_waits_phone(second, close, n):
    # 5 s between the end of one step and the start of the next.
    text = _silent((0.0, GREET), (second, GREET), (close, CLOSE))
    assert len(findings(text, "SPC001")) == n


def test_silent_call_waits_chat_are_shorter():
    assert not findings(_silent((0.0, GREET), (5.0, GREET), (10.0, CLOSE), channel="chat"), "SPC001")
    assert findings(_silent((0.0, GREET), (4.9, GREET), (10.0, CLOSE), channel="chat"), "SPC001")


def test_silent_call_order_is_checked_without_times():
    no_repeat = f"客户: ……\n客服: {GREET}\n客服: {CLOSE}"
    assert [f.turn for f in findings(no_repeat, "SPC001")] == [2]
    no_close = f"客户: ……\n客服: {GREET}\n客服: {GREET}"
    found = findings(no_close, "SPC001")
    assert [f.turn for f in found] == [2] and "结束语" in found[0].message
    complete = f"客户: ……\n客服: {GREET}\n客服: {GREET}\n客服: {CLOSE}"
    assert not findings(complete, "SPC001")


def test_silent_call_accepts_other_standard_closings():
    for close in ("我无法听到您的声音,请您稍后再次联系我们,谢谢配合!再见!", "很抱歉,我听不清您的声音,请您换一部电话再次打来,好吗?再见!"):
        assert not findings(f"客户: ……\n客服: {GREET}\n客服: 喂,您好,请问能听到吗?\n客服: {close}", "SPC001")


def test_silent_call_needs_a_silent_customer():
    assert not findings(f"客户: 喂?\n客服: {GREET}\n客服: {CLOSE}", "SPC001")
    # transcriber notes are not speech
    assert findings(f"客户: (静音)\n客服: {GREET}\n客服: {CLOSE}", "SPC001")
    # an agent-only transcript of a real conversation is not a silent call
    assert not findings(f"客服: {GREET}\n客服: 好的,您的订单已经发货了,明天就能送到。", "SPC001")
    # without any customer turn, the protocol alone is recognised
    assert findings(f"客服: {GREET}\n客服: {CLOSE}", "SPC001")


def test_silent_call_does_not_repeat_fbd009():
    text = "客户: ……\n客服: 喂,说话呀!\n客服: 您好,请问有什么可以帮您?\n客服: " + CLOSE
    found = _engine().check(parse_example(text))
    assert [f.turn for f in found if f.rule == "FBD009"] == [1]
    assert not [f for f in found if f.rule == "SPC001"]  # the rude prompt still counts as an attempt
