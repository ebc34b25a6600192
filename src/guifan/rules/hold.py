"""等待与静音: asking before a hold (S-B1), thanking after it (S-B2), reassuring during a long one
(S-B3), apologizing for the queue (S-B4) and the online off-hours auto-reply (S-B5).

HLD001–HLD003 read turn times: what counts as a hold, and how it differs from dead air (VOC006),
is defined once in ``rules/_timing.py``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import time
from typing import Iterator

from guifan.engine.context import CheckContext, TurnView
from guifan.engine.hints import Hint, next_step, timer
from guifan.engine.registry import Rule, register
from guifan.model import Channel, Evidence, Finding, Role, Severity
from guifan.rules._timing import is_backchannel, pauses, seconds_text
from guifan.rules.courtesy import ReplyRule

_TIMING_NOTE = "本规则需要带时间戳的转写(每轮的开始、结束时间),没有时间时不检查。"


def _gives_reason(ctx: CheckContext, opener: TurnView) -> bool:
    """The hold request, or the agent turn just before it, says why (查询、核实…)."""
    earlier = ctx.agent_before(opener.index)
    return any(v.has("lookup_announce") or v.says("hold_reason") for v in (opener, *earlier[-1:]))


@register
class HoldWithoutAsking(Rule):
    code = "HLD001"
    name = "hold-without-asking"
    clauses = ("S-B1",)
    category = "hold"
    needs_timing = True
    what = (
        "客服让客户等待(沉默不少于 settings.hold_min_seconds 秒,默认5秒)前,须在等待前的最后一句请客户稍候。"
        "等待的认定:客服随后报告查询结果或感谢等待,或等待前客服说了要去查询、核实;"
        "请客户稍候却不说明原因(只说「稍等」)为轻微问题。"
    )
    why = (
        "客户在无声中等待会以为断线或被冷落;等待前应说「请您稍等,正在为您查询」。"
        "5秒以内的停顿不需要等待用语。既不是等待也没有预告的沉默按冷场(VOC006)处理,同一段沉默只报一次。"
        + _TIMING_NOTE
    )
    bad = (
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:05] 客服: 好的。\n"
        "[00:25-00:30] 客服: 查到了,您的快递已经到站点了。",
        "# channel: phone\n[00:00-00:03] 客户: 帮我看看订单\n[00:03-00:06] 客服: 我帮您查一下订单。\n"
        "[00:16-00:20] 客服: 您的订单今天发货。",
        "# channel: phone\n[00:00-00:03] 客户: 帮我看看订单\n[00:03-00:05] 客服: 稍等。\n"
        "[00:20-00:24] 客服: 感谢您的耐心等待,您的订单今天发货。",
    )
    good = (
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:06] 客服: 请您稍等,正在为您查询。\n"
        "[00:25-00:30] 客服: 感谢您的耐心等待,您的快递已经到站点了。",
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:05] 客服: 好的。\n"
        "[00:08-00:12] 客服: 查到了,您的快递已经到站点了。",
        "客户: 我的快递到哪了?\n客服: 好的。\n客服: 查到了,您的快递已经到站点了。",
        "# channel: phone\n[00:00-00:04] 客户: 等一下,我找找订单号\n[00:04-00:05] 客服: 好的。\n"
        "[00:05-00:08] 客户: 稍等啊\n[00:30-00:33] 客服: 查到了吗?",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pause in pauses(ctx):
            if not pause.is_hold(ctx):
                continue
            opener = pause.opener
            if not pause.announced:
                yield self.finding(
                    opener, f"此句之后客服沉默{seconds_text(pause.silence)}进行查询或处理,等待前未请客户稍候",
                    confidence=self.absence_confidence([opener], "hold_request"),
                )
            elif not _gives_reason(ctx, opener):
                finding = self.finding(
                    opener,
                    f"请客户稍候时未说明原因(如「正在为您查询」),随后等待{seconds_text(pause.silence)}",
                    opener.first("hold_request"),
                )
                yield replace(finding, severity=Severity.MINOR)


def _keeps_waiting(view: TurnView) -> bool:
    """A mid-hold reassurance ("还需要一点时间,请您再稍等"): the hold goes on after this turn."""
    return view.has("hold_request") and not view.has("lookup_report")


def _thanks_for_waiting(ctx: CheckContext, view: TurnView) -> bool:
    """The resuming turn thanks for waiting; after a bare "您好"/"在的" the agent's next turn may."""
    if view.says("hold_thanks"):
        return True
    following = ctx.next_agent(view.index) if is_backchannel(view, ctx) else None
    return following is not None and following.says("hold_thanks")


@register
class HoldWithoutThanks(Rule):
    code = "HLD002"
    name = "hold-without-thanks"
    clauses = ("S-B2",)
    severity = Severity.MINOR
    category = "hold"
    needs_timing = True
    what = (
        "客服请客户稍候并让客户等待(不少于 settings.hold_min_seconds 秒)后,回来说的第一句须感谢客户等待"
        "(「感谢您的耐心等待」「让您久等了」)。等待中途的安抚(「请您再稍等」)不算结束等待;"
        "回来先说「您好」「在的」这类短句时,看它的下一句。"
    )
    why = "等待后致谢让客户感到等待被重视:「感谢您的耐心等待」「非常抱歉让您久等了」。" + _TIMING_NOTE
    bad = (
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:06] 客服: 请您稍等,正在为您查询。\n"
        "[00:25-00:30] 客服: 您的快递已经到站点了。",
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:06] 客服: 请您稍等,正在为您查询。\n"
        "[00:50-00:55] 客服: 不好意思,还需要一点时间,请您再稍等一下。\n[01:20-01:25] 客服: 查到了,快递已经到站点了。",
    )
    good = (
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:06] 客服: 请您稍等,正在为您查询。\n"
        "[00:25-00:30] 客服: 感谢您的耐心等待,您的快递已经到站点了。",
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:06] 客服: 请您稍等,正在为您查询。\n"
        "[00:25-00:26] 客服: 您好。\n[00:26-00:30] 客服: 让您久等了,您的快递已经到站点了。",
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:06] 客服: 请您稍等,正在为您查询。\n"
        "[00:08-00:12] 客服: 您的快递已经到站点了。",
    )
    hints = (timer("S-B2", "回来时请先感谢客户的耐心等待", when="等待达到 settings.hold_min_seconds 秒(在线渠道另加打字时间)时",
                   clears="客服回来说话后消失", wait="hold_min_seconds"),)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        waiting = False  # inside a hold, possibly spanning reassurances
        thanked = False
        waited = 0.0
        for pause in pauses(ctx):
            if not waiting:
                if not (pause.announced and pause.is_hold(ctx)):
                    continue
                waiting, thanked, waited = True, False, 0.0
            waited += pause.silence
            thanked = thanked or _thanks_for_waiting(ctx, pause.resume)
            if _keeps_waiting(pause.resume):
                continue
            waiting = False
            if not thanked:
                resumed = [v for v in (pause.resume, ctx.next_agent(pause.resume.index)) if v is not None]
                yield self.finding(pause.resume, f"客户等待{seconds_text(waited)}后,客服未感谢客户的耐心等待",
                                   confidence=self.absence_confidence(resumed, "hold_thanks"))


@register
class LongHoldWithoutReassurance(Rule):
    code = "HLD003"
    name = "long-hold-without-reassurance"
    clauses = ("S-B3",)
    category = "hold"
    needs_timing = True
    needs_text = False
    evidence = Evidence.TIMING
    what = (
        "一次等待超过 settings.hold_reassure_seconds 秒(默认60秒)而客服中途没有说过任何话安抚客户。"
        "报告在等待结束后客服说的第一句。"
    )
    why = (
        "等待超过1分钟须在通话中再次提醒客户,避免客户因等待过久而挂机或不满:"
        "「不好意思,还需要一点时间,请您再稍等一下,我正在为您查询。」" + _TIMING_NOTE
    )
    bad = (
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:06] 客服: 请您稍等,正在为您查询。\n"
        "[01:10-01:15] 客服: 感谢您的耐心等待,您的快递已经到站点了。",
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:06] 客服: 请您稍等,正在为您查询。\n"
        "[00:40-00:41] 客户: 还在吗?\n[01:10-01:15] 客服: 感谢您的耐心等待,您的快递已经到站点了。",
    )
    good = (
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:06] 客服: 请您稍等,正在为您查询。\n"
        "[00:50-00:55] 客服: 不好意思,还需要一点时间,请您再稍等一下,我正在为您查询。\n"
        "[01:30-01:35] 客服: 感谢您的耐心等待,您的快递已经到站点了。",
        "# channel: phone\n[00:00-00:03] 客户: 我的快递到哪了?\n[00:03-00:06] 客服: 请您稍等,正在为您查询。\n"
        "[01:00-01:05] 客服: 感谢您的耐心等待,您的快递已经到站点了。",
    )
    hints = (timer("S-B3", "客户已等待超过60秒:请中途安抚客户", when="等待达到 settings.hold_reassure_seconds 秒时",
                   clears="客服开口安抚或结束等待后消失", wait="hold_reassure_seconds"),)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        limit = ctx.settings.hold_reassure_seconds
        for pause in pauses(ctx):
            if pause.is_hold(ctx) and pause.seconds > limit:
                yield self.finding(
                    pause.resume,
                    f"客户等待{seconds_text(pause.silence)},超过{limit:g}秒,期间客服未中途安抚客户",
                )


@register
class QueueComplaintWithoutApology(ReplyRule):
    code = "HLD004"
    name = "queue-complaint-without-apology"
    clauses = ("S-B4",)
    category = "hold"
    trigger = "customer_queue_complaint"
    what = "客户抱怨电话难打通、排队或等待太久(「等了半天」「一直占线」「终于接通了」),客服的下一句没有为等待致歉。"
    why = "线路繁忙让客户久等时,应先致歉再服务:「很抱歉,电话很多,让您久等了!请问有什么可以帮您?」"
    bad = (
        "# channel: phone\n客服: 您好,请问有什么可以帮您?\n客户: 你们电话怎么这么难打,等了半天。\n客服: 请问您要办理什么业务?",
        "客户: 排队排了十分钟才轮到我\n客服: 请问有什么可以帮您?",
    )
    good = (
        "# channel: phone\n客服: 您好,请问有什么可以帮您?\n客户: 你们电话怎么这么难打,等了半天。\n"
        "客服: 很抱歉,电话很多,让您久等了!请问有什么可以帮您?",
        "客户: 好不容易买到的,想问下什么时候发货\n客服: 您的订单今天发货。",
    )
    hints = (
        next_step("S-B4", "客户抱怨难以接通或等待太久:先为等待致歉", when="客户抱怨排队、占线或久等后",
                  clears="客服为等待致歉后消失", triggers=("customer_queue_complaint",)),
        timer("S-B4", "客户的消息等待回复已超过承诺的响应时间:请尽快回复并为久等致歉",
              when="在线渠道客户的消息 settings.chat_response_seconds 秒仍未得到回复时", clears="客服回复后消失",
              wait="chat_response_seconds", wording=("S-B4#0", "S-B2#1"), key="S-B4-wait"),
    )

    def hint_step(self, hint: Hint, ctx: CheckContext, found: list[Finding]) -> int | None:
        if hint.name != "S-B4-wait":
            return super().hint_step(hint, ctx, found)
        # Chat: the agent's probe turn (now) answers a customer message that waited past the promise.
        if ctx.conversation.channel is not Channel.CHAT or len(ctx.turns) < 2:
            return None
        now, before = ctx.turns[-1], ctx.turns[-2]
        if not (before.is_customer and before.turn.timed and now.turn.timed):
            return None
        return 0 if now.turn.start - before.turn.end >= ctx.settings.chat_response_seconds else None

    def problem(self, ctx: CheckContext, said: str, replies: list[TurnView]) -> str | None:
        if replies[0].has("busy_apology"):
            return None
        return f"客户抱怨难以接通或等待太久(「{said}」),客服未为等待致歉"


_CLOCK = re.compile(r"\d{1,2}[::]\d{2}")


def _parse_hours(ranges: tuple[str, ...]) -> list[tuple[time, time]]:
    def clock(s: str) -> time:
        h, m = s.split(":")
        return time(23, 59, 59) if int(h) >= 24 else time(int(h), int(m))

    return [(clock(a), clock(b)) for a, b in (r.split("-") for r in ranges)]


@register
class OffHoursWithoutServiceHours(Rule):
    code = "HLD005"
    name = "off-hours-reply-without-service-hours"
    clauses = ("S-B5",)
    category = "hold"
    channels = frozenset({Channel.CHAT})
    what = (
        "在线咨询在服务时间(公司设置 company.service_hours)之外接入时(按 started_at 的当地时间),"
        "客服对客户的第一次回复之前(含这一句)的系统消息或客服消息须告知服务时间"
        "(「服务时间」「午间休息」等字样,或 HH:MM 形式的时间)。没有 started_at 时不检查。"
    )
    why = (
        "客服不在位置时客户需要知道何时能得到服务:"
        "「您好,客服午间休息时间为12:00-14:00点,请您在14:00点后进行咨询,谢谢!」"
    )
    bad = (
        "# started_at: 2026-03-10T12:30:00+08:00\n客户: 在吗?我的订单怎么还没发货\n客服: 亲,请问有什么可以帮您?",
        "# started_at: 2026-03-10T21:00:00+08:00\n客户: 在吗\n系统: 您好,欢迎光临!",
    )
    good = (
        "# started_at: 2026-03-10T12:30:00+08:00\n客户: 在吗?我的订单怎么还没发货\n"
        "系统: 您好,客服午间休息时间为12:00-14:00点,请您在14:00点后进行咨询,谢谢!\n"
        "客服: 亲,让您久等了,请问有什么可以帮您?",
        "# started_at: 2026-03-10T10:30:00+08:00\n客户: 在吗?我的订单怎么还没发货\n客服: 亲,请问有什么可以帮您?",
        "客户: 在吗?我的订单怎么还没发货\n客服: 亲,请问有什么可以帮您?",
    )

    def __init__(self, rulebook) -> None:
        super().__init__(rulebook)
        self._hours = _parse_hours(rulebook.company.service_hours)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        started = ctx.conversation.started_at
        if started is None or not self._hours:
            return
        now = started.time()  # wall-clock time as written, time zone ignored
        if any(a <= now < b for a, b in self._hours):
            return
        window: list[TurnView] = []
        customer_spoke = False
        for view in ctx.turns:
            if view.is_customer:
                customer_spoke = True
            elif view.role in (Role.SYSTEM, Role.AGENT):
                window.append(view)
                if view.is_agent and customer_spoke:
                    break  # the first reply to the customer
        if any(v.has("service_hours_reply") or _CLOCK.search(v.text) for v in window):
            return
        agents = [v for v in window if v.is_agent]
        hours = "、".join(self.rulebook.company.service_hours)
        yield self.finding(
            agents[-1] if agents else None,
            f"非服务时间({now:%H:%M})接入的在线咨询,首次回复前未告知服务时间({hours})",
            suggestion=self._suggestion(now),
        )

    def _suggestion(self, now: time) -> str:
        hours = "、".join(self.rulebook.company.service_hours)
        starts = sorted(a for a, _ in self._hours)
        reopen = next((a for a in starts if a > now), starts[0])
        return f"您好,客服服务时间为{hours},请您在{reopen:%H:%M}后进行咨询,谢谢!"
