"""语音与节奏: what turn times show of the agent's delivery: interrupting (S-H4), active listening
(S-H5) and dead air (S-H6).

Phone only: chat messages have send times, not durations, so they neither overlap nor fall silent
in the sense of a call. Speech rate (S-H1), volume (S-H2) and intonation (S-H3) need the audio
itself and are not checked from transcripts (see docs: not checkable).
"""

from __future__ import annotations

from typing import Iterator

from guifan.engine.context import CheckContext, TurnView
from guifan.engine.registry import Rule, register
from guifan.model import Channel, Finding, Severity
from guifan.rules._timing import is_backchannel, overlaps, pauses, seconds_text

_AUDIO_NOTE = (
    "本规则只需要带时间戳的转写(每轮的开始、结束时间),没有时间时不检查;"
    "语速(S-H1)、音量(S-H2)、语调(S-H3)需要通话录音,不在转写规则中检查。"
)


class DeliveryRule(Rule):
    category = "delivery"
    channels = frozenset({Channel.PHONE})
    needs_timing = True


@register
class Interrupting(DeliveryRule):
    code = "VOC004"
    name = "interrupting-customer"
    clauses = ("S-H4",)
    what = (
        "客户还在说话时客服开始讲话:客服这一轮的开始时间晚于客户这一轮的开始、"
        "又早于客户这一轮结束前 settings.interruption_tolerance_seconds 秒(默认0.5秒)。"
        "「嗯」「好的」「是的」「我明白了」这类不超过 settings.backchannel_max_chars 个字(不计标点)的简短回应不算打断。"
    )
    why = "打断客户让客户感到不被尊重,也容易漏听信息;应等客户说完再回应。" + _AUDIO_NOTE
    bad = (
        "# channel: phone\n[00:00-00:10] 客户: 我上周买的洗衣机到现在还没送到,打了好几次电话都说在路上\n"
        "[00:06-00:10] 客服: 您提供一下订单号,我帮您查。",
    )
    good = (
        "# channel: phone\n[00:00-00:10] 客户: 我上周买的洗衣机到现在还没送到,打了好几次电话都说在路上\n"
        "[00:05-00:06] 客服: 嗯,我明白了。\n[00:11-00:15] 客服: 您提供一下订单号,我帮您查。",
        "# channel: phone\n[00:00-00:10] 客户: 我上周买的洗衣机到现在还没送到,打了好几次电话都说在路上\n"
        "[00:09.7-00:14] 客服: 非常抱歉,您提供一下订单号,我帮您查。",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        tolerance = ctx.settings.interruption_tolerance_seconds
        speaking = [c for c in ctx.customer if c.turn.timed and c.basic]
        for agent in ctx.agent:
            if not agent.turn.timed or not agent.basic or is_backchannel(agent, ctx):
                continue
            start = agent.turn.start
            cut = next((c for c in speaking if c.turn.start < start < c.turn.end - tolerance), None)
            if cut is not None:
                yield self.finding(
                    agent, f"客户还在说话时客服开始讲话(客户这句话还有{seconds_text(cut.turn.end - start)}才说完)"
                )


def _customer_runs(ctx: CheckContext) -> Iterator[tuple[list[TurnView], TurnView | None]]:
    """Customer turns not separated by an agent taking the floor (backchannels don't), with the
    agent turn that ends the run (None at the end of the conversation)."""
    run: list[TurnView] = []
    for view in ctx.turns:
        if view.is_customer and view.turn.timed and view.basic:
            run.append(view)
        elif view.is_agent and view.basic and not is_backchannel(view, ctx):
            if run:
                yield run, view
            run = []
    if run:
        yield run, None


@register
class NoActiveListening(DeliveryRule):
    code = "VOC005"
    name = "no-active-listening"
    clauses = ("S-H5",)
    severity = Severity.MINOR
    what = (
        "客户连续讲话超过 settings.long_customer_turn_seconds 秒(默认20秒),期间客服没有任何简短回应"
        "(「嗯」「是的」「我明白了」,与客户讲话重叠或在客户的停顿中)。"
        "只在转写带时间戳、并且转写中出现过客服的简短回应时检查:很多转写会丢掉简短回应,否则每通长电话都会误报。"
    )
    why = "适时的「嗯」「是的」「我明白了」让客户知道客服在认真听。" + _AUDIO_NOTE
    bad = (
        "# channel: phone\n[00:00-00:02] 客服: 您好,请问有什么可以帮您?\n"
        "[00:03-00:30] 客户: 我上周买的洗衣机一直没送到,打了三次电话,每次都说在路上,今天又说地址不对,我地址根本没改过\n"
        "[00:31-00:33] 客服: 好的。\n[00:33-00:38] 客服: 非常抱歉,我马上帮您查一下物流。",
    )
    good = (
        "# channel: phone\n[00:00-00:02] 客服: 您好,请问有什么可以帮您?\n"
        "[00:03-00:30] 客户: 我上周买的洗衣机一直没送到,打了三次电话,每次都说在路上,今天又说地址不对,我地址根本没改过\n"
        "[00:12-00:13] 客服: 嗯,是的。\n[00:31-00:36] 客服: 非常抱歉,我马上帮您查一下物流。",
        "# channel: phone\n[00:00-00:02] 客服: 您好,请问有什么可以帮您?\n"
        "[00:03-00:30] 客户: 我上周买的洗衣机一直没送到,打了三次电话,每次都说在路上,今天又说地址不对,我地址根本没改过\n"
        "[00:31-00:36] 客服: 非常抱歉,我马上帮您查一下物流。",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        acks = [v for v in ctx.agent if v.turn.timed and is_backchannel(v, ctx)]
        if not acks:
            return  # this transcript does not keep backchannels: silence here proves nothing
        limit = ctx.settings.long_customer_turn_seconds
        for run, reply in _customer_runs(ctx):
            start, end = run[0].turn.start, max(v.turn.end for v in run)
            if end - start > limit and not any(overlaps(a, start, end) for a in acks):
                yield self.finding(
                    reply,
                    f"客户连续讲了{seconds_text(end - start)},其间客服没有任何回应(嗯/是的/我明白了)",
                )


@register
class DeadAir(DeliveryRule):
    code = "VOC006"
    name = "dead-air"
    clauses = ("S-H6",)
    what = (
        "轮到客服说话时出现不少于 settings.dead_air_seconds 秒(默认10秒)的沉默,而此前客服没有请客户稍候、"
        "也不像是在查询(没有预告查询,之后也没有报告查询结果)。报告在沉默后客服说的第一句。"
        "预告过或像查询的沉默是等待,归 HLD001–HLD003;客户自己请客服稍等后的沉默不算。"
    )
    why = "长时间冷场让客户以为断线或被冷落;需要停顿时应先说明:「请您稍等,正在为您查询。」" + _AUDIO_NOTE
    bad = (
        "# channel: phone\n[00:00-00:04] 客户: 你们的会员怎么取消?\n[00:04-00:06] 客服: 好的。\n"
        "[00:18-00:24] 客服: 会员可以在我的页面里取消。",
    )
    good = (
        "# channel: phone\n[00:00-00:04] 客户: 你们的会员怎么取消?\n[00:04-00:06] 客服: 好的。\n"
        "[00:09-00:15] 客服: 会员可以在我的页面里取消。",
        "# channel: phone\n[00:00-00:04] 客户: 你们的会员怎么取消?\n[00:04-00:07] 客服: 请您稍等,我帮您查询。\n"
        "[00:20-00:26] 客服: 感谢您的耐心等待,会员可以在我的页面里取消。",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for pause in pauses(ctx):
            if pause.is_dead_air(ctx):
                yield self.finding(
                    pause.resume,
                    f"客服沉默{seconds_text(pause.silence)}(冷场),此前既没有请客户稍候,也没有说明在做什么",
                )
