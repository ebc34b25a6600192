"""需求确认与信息核实: confirming the need (S-A6), reading back numbers (S-A7), asking politely for
information (S-A8) and clarifying vague customer statements (S-C13)."""

from __future__ import annotations

import re
from typing import Iterator

from guifan import text as textnorm
from guifan.engine.context import CheckContext, TurnView
from guifan.engine.hints import next_step, warning
from guifan.engine.registry import Rule, register
from guifan.model import Channel, Finding, Severity
from guifan.rules.courtesy import ReplyRule
from guifan.rules.opening import CLOSING_OFFER, is_outbound


@register
class NeedNotConfirmed(Rule):
    code = "NED001"
    name = "need-not-confirmed"
    clauses = ("S-A6",)
    severity = Severity.MINOR
    category = "needs"
    channels = frozenset({Channel.PHONE})  # chats rarely restate: the customer's words stay on screen
    what = (
        "客户说了至少 settings.min_turns_for_confirmation 句话的通话中,客服在结束语之前从未复述并确认客户的需求"
        "(「您的意思是……对吗?」)。只检查电话渠道。"
    )
    why = "先澄清、确认需求再处理,避免答非所问、重复来电。"
    bad = (
        "# channel: phone\n客服: 您好,请问有什么可以帮您?\n客户: 我上周买的冰箱\n客服: 嗯\n"
        "客户: 一直没送到\n客服: 好的\n客户: 物流也不动\n客服: 我帮您催一下\n客户: 好\n"
        "客服: 请问还有其他可以帮您的吗?",
    )
    good = (
        "# channel: phone\n客服: 您好,请问有什么可以帮您?\n客户: 我上周买的冰箱\n客服: 嗯\n"
        "客户: 一直没送到\n客服: 您的意思是冰箱一直没有配送,对吗?\n客户: 对,物流也不动\n客服: 我帮您催一下\n"
        "客户: 好\n客服: 请问还有其他可以帮您的吗?",
        "# channel: phone\n客服: 您好,请问有什么可以帮您?\n客户: 查下快递\n客服: 已经到站点了。请问还有其他可以帮您的吗?",
    )
    hints = (next_step("S-A6", "处理前先复述并确认客户的需求", when="电话中客户已说了几句(settings.min_turns_for_confirmation)而客服还没有确认需求时",
                       clears="客服复述并确认需求后消失", triggers=("customer",)),)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if len(ctx.customer) < ctx.settings.min_turns_for_confirmation or is_outbound(ctx.conversation.metadata):
            return  # short calls need no restatement; outbound calls have no inbound need to restate
        before = _before_closing(ctx)
        if before and not any(v.says("confirm_need") for v in before):
            yield self.finding(before[-1], "客服在处理前未复述并确认客户的需求",
                               confidence=self.absence_confidence(before, "confirm_need"))


def _before_closing(ctx: CheckContext) -> list[TurnView]:
    """Agent turns before the closing (the first offer of further help in the closing window)."""
    window = ctx.agent[-ctx.settings.closing_window:]
    start = next((v.index for v in window if v.has(*CLOSING_OFFER.categories)), None)
    return [v for v in ctx.agent if start is None or v.index < start]


# A number the customer gives: 5+ digits (spaces or dashes inside allowed), Chinese digits read one
# by one, or a masked order / phone / account entity. A masked [数字x] can be any number (a
# quantity, a price), so it counts only where the turn names what it identifies (订单号, 手机号…).
_DIGITS = re.compile(r"\d(?:[\s-]?\d){4,}|[零〇一二三四五六七八九幺]{5,}")
_MASK = re.compile(r"\[(?:订单|电话|手机|账号|卡号|身份证)[^\]]{0,6}\]")
_NUMBER_MASK = re.compile(r"\[数字[^\]]{0,6}\]")
_CN_DIGITS = str.maketrans("零〇一幺二三四五六七八九", "001123456789")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text.translate(_CN_DIGITS))


@register
class KeyInfoNotReadBack(ReplyRule):
    code = "NED002"
    name = "key-info-not-read-back"
    clauses = ("S-A7",)
    category = "needs"
    channels = frozenset({Channel.PHONE})
    reach = 2
    what = (
        "客户报了号码或编码(5 位以上数字,或脱敏的[订单x]/[电话x],或提到订单号、手机号等时的[数字x])后,客服在接下来两句内既没有复述号码,"
        "也没有请客户确认(「我帮您重复一下」「…,对吗?」)。只检查电话渠道。"
    )
    why = "电话里的号码最容易听错;复述核对能避免查错订单、打错电话。"
    bad = ("# channel: phone\n客户: 我的手机号是13812345678\n客服: 好的。\n客户: 嗯\n客服: 已经帮您登记了。",)
    good = (
        "# channel: phone\n客户: 我的手机号是13812345678\n客服: 我帮您重复一下:您的手机号是13812345678,对吗?",
        "# channel: phone\n客户: 订单号 2023 0415 8899\n客服: 好的\n客户: 嗯\n客服: 尾号8899的订单已经发货了",
        "# channel: phone\n客户: 我买了3个\n客服: 好的,我帮您查一下。",
    )
    hints = (next_step("S-A7", "客户报了号码:请复述核对", when="电话中客户报出订单号、手机号等号码后",
                       clears="客服复述号码或请客户确认后消失", triggers=("customer",)),)

    def triggered(self, ctx: CheckContext, view: TurnView) -> str | None:
        # A hotline the customer threatens to call (12315) is not the customer's own number.
        hotlines = {view.quote(h) for h in view.find("customer_strong_complaint")}
        match = next((m for m in _DIGITS.finditer(view.text) if m.group(0) not in hotlines), None)
        match = match or _MASK.search(view.text)
        if match is None and view.has("info_item"):
            match = _NUMBER_MASK.search(view.text)
        return match.group(0) if match else None

    def problem(self, ctx: CheckContext, said: str, replies: list[TurnView]) -> str | None:
        digits = _digits(said)
        for reply in replies:
            if reply.has("read_back") or said in reply.text:
                return None
            # Reading back the tail (尾号…) is enough.
            if len(digits) >= 4 and digits[-4:] in _digits(reply.text):
                return None
        return f"客户提供了号码「{said}」,客服未复述核对"


@register
class ImpoliteInfoRequest(Rule):
    code = "NED003"
    name = "impolite-info-request"
    clauses = ("S-A8",)
    severity = Severity.MINOR
    category = "needs"
    what = "客服向客户索要信息(提供/告诉/发/报 + 订单号、手机号、地址、姓名…)时没有任何礼貌用语(请、麻烦、可以吗、谢谢…)。"
    why = "索要信息要用请求的口吻:「为了更快地帮您处理,请您提供一下您的……,可以吗?」"
    bad = ("客户: 我的快递没到\n客服: 订单号发一下。", "客户: 我要改地址\n客服: 提供下新地址和手机号")
    good = (
        "客户: 我的快递没到\n客服: 麻烦您提供一下订单号,谢谢。",
        "客户: 我的快递没到\n客服: 请您提供一下订单号,可以吗?",
        "客户: 发票开了吗\n客服: 已经为您提供了电子发票,发到您的邮箱了。",
    )
    hints = (warning("S-A8", when="客服(草稿或刚说的话)索要信息却没有礼貌用语时", replace=None, triggers=("info_request",)),)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for view in ctx.agent:
            if not (view.has("info_request") and view.has("info_item")) or view.has("info_request_polite"):
                continue
            yield self.finding(view, "索要客户信息时未使用礼貌用语(请、麻烦您、可以吗…)", view.first("info_request"))


def _asks(text: str) -> bool:
    return "?" in text or "\uff1f" in text


@register
class VagueStatementNotClarified(ReplyRule):
    code = "NED004"
    name = "vague-statement-not-clarified"
    clauses = ("S-C13",)
    severity = Severity.MINOR
    category = "needs"
    trigger = "customer_vague"
    what = "客户只说了含糊的话(「这个」「那个」「怎么回事」「然后呢」或只有问号)时,客服的下一句没有主动询问或澄清。"
    why = "客户表达不清时应主动询问:「您好,请问您的意思是?」,而不是自顾自地回答。"
    bad = ("客户: 那个\n客服: 已经发货了。", "客户: ??\n客服: 好的亲。")
    good = (
        "客户: 那个\n客服: 您好,请问您的意思是?",
        "客户: ??\n客服: 请问是哪里不清楚呢?",
        "客户: 那个订单什么时候到\n客服: 明天送达。",
    )

    def triggered(self, ctx: CheckContext, view: TurnView) -> str | None:
        # The whole turn is a vague phrase (fillers aside), or nothing but question marks.
        whole = any(textnorm.loosen(h.phrase.key) == view.loose for h in view.find(self.trigger))
        if whole or (not view.loose and _asks(view.text)):
            return view.text.strip()
        return None

    def problem(self, ctx: CheckContext, said: str, replies: list[TurnView]) -> str | None:
        reply = replies[0]
        if reply.has("clarify") or _asks(reply.text):
            return None
        return f"客户表达不清(「{said}」),客服未主动询问"
