"""特殊情况: the silent-call protocol (S-C1), checked as an ordered sequence.

Phone (seed 001): greet, wait 5 s, greet again, wait 5 s, the closing line, wait 5 s, hang up.
Online (seed 004): greet, wait 3 s, repeat once, then close. The order is checked on any
transcript; the waits (``settings.silent_call_wait_seconds`` per channel) only when the steps carry
times. Hanging up is not in a transcript and is not checked. Rude prompts ("喂,说话呀!") are
FBD009's, not repeated here.
"""

from __future__ import annotations

import re
from typing import Iterator

from guifan import text as textnorm
from guifan.engine.context import CheckContext, TurnView
from guifan.engine.hints import Hint, HintKind, Probe, Step
from guifan.engine.registry import Rule, register
from guifan.model import Channel, Finding
from guifan.rules._timing import is_backchannel, seconds_text

# Transcriber notes such as "(静音)" or "[无声]" are not speech.
_ANNOTATION = re.compile(r"[\((\[【][^\))\]】]*[\))\]】]")
_PROTOCOL = ("greeting", "offer_help", "cannot_hear", "silent_call_close", "call_again", "farewell", "S-F9")
# A prompt to the silent customer: a greeting, "听不到您的声音" (what a quiet caller hears), or a
# rude "喂,说话呀!": its wording is FBD009's finding, the sequence still counts it as an attempt.
_PROMPT = ("greeting", "offer_help", "cannot_hear", "S-F9")
_CHAT_CLOSE = "我无法看到您咨询的问题,请您稍后再次联系我们,谢谢配合!再见!"  # seed 004


def _spoke(view: TurnView) -> bool:
    return bool(view.basic) and bool(textnorm.basic(_ANNOTATION.sub("", view.text)))


def _closes(view: TurnView) -> bool:
    """The silent-call closing, or its S-C2/S-C3 form "听不清…请您换一部电话再次打来": a caller too
    quiet to be transcribed looks exactly like a silent one."""
    return view.has("silent_call_close") or (view.has("cannot_hear") and view.has("call_again"))


def is_silent_call(ctx: CheckContext) -> bool:
    """The customer never says anything while the agent does.

    A transcript with no customer turns at all counts only when every agent turn is part of the
    protocol (greetings, "听不到", the closing) or a short prompt: an agent answering questions
    is a one-sided transcript, not a silent call.
    """
    if not ctx.agent or any(_spoke(v) for v in ctx.customer):
        return False
    if ctx.customer:
        return True
    return all(v.has(*_PROTOCOL) or is_backchannel(v, ctx) for v in ctx.agent)


@register
class SilentCallProtocol(Rule):
    code = "SPC001"
    name = "silent-call-protocol-skipped"
    clauses = ("S-C1",)
    category = "situations"
    what = (
        "无声电话或无内容的在线咨询(客户始终没有说话)须按顺序处理:问候 → 等待 → 再次问候 → 等待 → 无声电话结束语"
        "(电话:「对不起,您的电话没有声音,请您换一部电话再次打来,好吗?再见!」;在线:「我无法看到您咨询的问题……」)。"
        "检查未再次问候就结束、没有结束语就结束,以及(有时间戳时)两步之间等待不足 settings.silent_call_wait_seconds"
        "(电话5秒、在线3秒)。「听不到您的声音」也算一次问候;「听不清…请您换一部电话再次打来」也算结束语"
        "(声音太小而没有被转写出来的客户,看起来和无声电话一样)。"
    )
    why = (
        "客户可能只是暂时没有出声,按流程问候两次并说明原因再结束,既给客户机会,也避免被认为无故挂机。"
        "顺序不需要时间戳即可检查;等待时长需要时间戳;挂机动作不在转写中,不检查。"
        "「喂,说话呀!」等无礼催促由 FBD009 检查。"
    )
    bad = (
        "# channel: phone\n[00:00-00:03] 客服: 您好!请问有什么可以帮助您?\n"
        "[00:09-00:15] 客服: 对不起,您的电话没有声音,请您换一部电话再次打来,好吗?再见!",
        "# channel: phone\n[00:00-00:03] 客服: 您好!请问有什么可以帮助您?\n"
        "[00:04-00:06] 客服: 您好,请问有什么可以帮助您?\n"
        "[00:12-00:18] 客服: 对不起,您的电话没有声音,请您换一部电话再次打来,好吗?再见!",
        "客户: ……\n客服: 您好,请问有什么可以帮您?\n客服: 您好,请问有什么可以帮您?",
    )
    good = (
        "# channel: phone\n[00:00-00:03] 客服: 您好!请问有什么可以帮助您?\n"
        "[00:08-00:11] 客服: 您好,请问有什么可以帮助您?\n"
        "[00:16-00:22] 客服: 对不起,您的电话没有声音,请您换一部电话再次打来,好吗?再见!",
        "客户: ……\n客服: 您好,请问有什么可以帮您?\n客服: 您好,请问有什么可以帮您?\n"
        "客服: 我无法看到您咨询的问题,请您稍后再次联系我们,谢谢配合!再见!",
        "# channel: phone\n客服: 您好!请问有什么可以帮助您?\n客户: 喂?\n客服: 您好,请讲。",
        "# channel: phone\n客服: 您好,请问有什么可以帮您?\n客服: 好的,您的订单已经发货了,明天就能送到。",
    )
    hints = (Hint(HintKind.TIMER, "S-C1", (
        Step("客户没有声音:请再次问候", ("S-C1#0",)),
        Step("客户仍没有声音:请说无声电话结束语", ("S-C1#1",)),
    ), when="电话中客户始终没有出声,客服问候后等待 settings.silent_call_wait_seconds 秒(电话5秒)时",
        clears="客户出声或客服说出下一步后消失", probe=Probe.WAIT, wait="silent_call_wait_seconds"),)

    def hint_step(self, hint: Hint, ctx: CheckContext, found: list[Finding]) -> int | None:
        # The probe (the agent speaking again now) is the last turn; the protocol so far is before it.
        if ctx.conversation.channel is not Channel.PHONE or not is_silent_call(ctx):
            return None
        if any(_closes(v) for v in ctx.agent):
            return None
        probe, said = ctx.agent[-1], ctx.agent[:-1]
        prompts = sum(1 for v in said if v.has(*_PROMPT))
        if prompts == 0 or not (probe.turn.timed and said[-1].turn.timed):
            return None
        wait = ctx.settings.silent_call_wait_seconds.get(ctx.conversation.channel, 0.0)
        if probe.turn.start - said[-1].turn.end < wait:
            return None
        return min(prompts - 1, 1)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if not is_silent_call(ctx):
            return
        chat = ctx.conversation.channel is Channel.CHAT
        kind = "无内容在线咨询" if chat else "无声电话"
        close = next((v for v in ctx.agent if _closes(v)), None)
        end = close.index if close is not None else len(ctx.turns)
        prompts = [v for v in ctx.agent if v.index < end and v.has(*_PROMPT)]
        greeting = self.rulebook.wording("S-C1")[0]
        closing = _CHAT_CLOSE if chat else self.rulebook.wording("S-C1")[-1]
        wait = ctx.settings.silent_call_wait_seconds.get(ctx.conversation.channel, 0.0)
        if len(prompts) >= 2:
            yield from self._check_wait(prompts[0], prompts[1], wait, f"{kind}:客服再次问候前", greeting)
        if close is None:
            again = "" if len(prompts) >= 2 else ",也未再次问候"
            message = f"{kind}:客服没有说结束语(说明原因、请客户再次联系)就结束了对话{again}"
            yield self.finding(ctx.agent[-1], message, suggestion=closing)
        elif len(prompts) < 2:
            step = "再次问候" if prompts else "问候"
            yield self.finding(close, f"{kind}:客服未{step}就说了结束语", suggestion=greeting)
        else:
            yield from self._check_wait(prompts[-1], close, wait, f"{kind}:客服说结束语前", closing)

    def _check_wait(
        self, before: TurnView, after: TurnView, wait: float, what: str, suggestion: str
    ) -> Iterator[Finding]:
        if not (before.turn.timed and after.turn.timed):
            return
        waited = after.turn.start - before.turn.end
        if waited < wait:
            yield self.finding(
                after, f"{what}只等待了{seconds_text(max(waited, 0.0))},应等待{wait:g}秒", suggestion=suggestion
            )
