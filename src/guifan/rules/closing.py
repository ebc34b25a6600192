"""结束语: the closing in order (S-A9) and the summary before it (S-A10)."""

from __future__ import annotations

from typing import Iterator

from guifan.engine.context import CheckContext
from guifan.engine.hints import Hint, HintKind, Probe, Step
from guifan.engine.registry import Rule, register
from guifan.model import Channel, Finding, Severity
from guifan.rules.opening import CLOSING_OFFER, FAREWELL, absence_of, lacking_message, missing_parts
from guifan.rules.silence import is_silent_call


@register
class IncompleteClosing(Rule):
    code = "CLS001"
    name = "incomplete-closing"
    clauses = ("S-A9",)
    category = "closing"
    what = (
        "对话以客服结束时,客服最后 settings.closing_window 句话里须既有征询(「请问还有其他可以帮您的吗?」)"
        "又有致谢或道别(感谢您的支持/来电、祝您生活愉快、再见)。邀请评价本身不算道别。"
        "道别之后客户又提出问题、客服答完以一句不带任何致谢的征询结束,视为顺序颠倒(最后一句道别早于最后一句征询)。"
    )
    why = "结束语「征询 → 致谢 → 道别」让客户确认问题已解决,并留下良好的最后印象。"
    bad = (
        "客户: 好的谢谢\n客服: 您客气了,都是我们应该的。请问还有其他还可以帮到您的吗?",
        "客户: 好的\n客服: 请问还有其他的问题需要帮助的么?如果没有其他疑问,还请您稍后对妹纸的服务做出评价喔。",
        "客户: 没有了\n客服: 感谢您对京东的支持,祝您生活愉快,再见!",
        "客服: 请问还有其他可以帮您的吗?\n客户: 没有了\n客服: 感谢您的支持,再见!\n客户: 等一下,发票呢\n"
        "客服: 发票随货寄出。请问还有其他可以帮您的吗?",
    )
    good = (
        "客服: 请问还有其他还可以帮到您的吗?\n客户: 没有了\n客服: 感谢您对京东的支持,祝您生活愉快,再见!",
        "客户: 好的\n客服: 请问还有其他可以帮您的吗?感谢您的来电,再见!",
        "客服: 请问还有其他可以帮您的吗?\n客户: 没有了,你们服务真差",
    )
    hints = (Hint(HintKind.REMINDER, "S-A9", (Step("结束语清单:征询是否还有其他需要 → 致谢 → 道别({message})", ("S-A9",)),),
                  when="对话将要结束时(客户致谢或道别,或客服开始征询、道别)", clears="客服说完征询、致谢和道别后消失",
                  probe=Probe.CLOSE, only=("customer_thanks", "farewell", "closing_offer", "closing_thanks")),)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if not ctx.ends_with_agent or _closed_by_another_protocol(ctx):
            return
        window = ctx.agent[-ctx.settings.closing_window:]
        last = window[-1]
        missing = missing_parts(window, (CLOSING_OFFER, FAREWELL))
        if missing:
            yield self.finding(last, lacking_message("结束语", missing),
                               confidence=absence_of(self, window, (CLOSING_OFFER, FAREWELL)))
            return
        offers = [v.index for v in window if v.says(*CLOSING_OFFER.categories)]
        farewells = [v.index for v in window if v.says(*FAREWELL.categories)]
        # Said goodbye, then the conversation went on and ended on a bare "anything else?" with no
        # thanks at all. (The gold labels only ask for both parts; a final 谢谢 is accepted.)
        if farewells[-1] < offers[-1] and "谢" not in last.basic:
            yield self.finding(last, "结束语顺序颠倒:道别之后又征询,最后没有再致谢道别")


def _closed_by_another_protocol(ctx: CheckContext) -> bool:
    """Calls whose ending the standard scripts differently: a silent call (S-C1), ending after abuse
    (S-C8), a wrong number (S-C6) or a sales call (S-C11) are not asked "还有其他可以帮您的吗"."""
    if is_silent_call(ctx) or ctx.agent[-1].has("silent_call_close", "end_call_notice"):
        return True
    return any(v.has("customer_wrong_number", "customer_sales") for v in ctx.customer)


@register
class NoSummaryBeforeClosing(Rule):
    code = "CLS002"
    name = "no-summary-before-closing"
    clauses = ("S-A10",)
    severity = Severity.MINOR
    category = "closing"
    channels = frozenset({Channel.PHONE})
    what = "电话结束前,客服在征询「还有其他可以帮您的吗」的这一句或前一句里没有总结处理结果(「以上就是您问题的处理情况」「已经为您……」)。"
    why = "结束前总结处理结果,让客户清楚问题处理到哪一步,减少重复来电。"
    bad = (
        "# channel: phone\n客服: 您好,请问有什么可以帮您?\n客户: 我要退货\n客服: 好的,请稍等\n客户: 嗯\n"
        "客服: 请问还有其他可以帮您的吗?",
    )
    good = (
        "# channel: phone\n客服: 您好,请问有什么可以帮您?\n客户: 我要退货\n客服: 好的,请稍等\n客户: 嗯\n"
        "客服: 已经为您提交了退货申请。请问还有其他可以帮您的吗?",
        "# channel: phone\n客服: 您好,请问有什么可以帮您?\n客户: 我要退货\n客服: 以上就是您问题的处理情况\n客户: 嗯\n"
        "客服: 请问您还有其他疑问吗?",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        offers = [i for i, v in enumerate(ctx.agent) if v.has(*CLOSING_OFFER.categories)]
        if not offers or offers[-1] == 0:
            return  # no closing, or nothing handled before it
        at = offers[-1]
        if ctx.agent[-1].has("transfer"):
            return  # handed over: whoever takes the call summarizes it
        if not any(v.has("summary") for v in ctx.agent[at - 1: at + 1]):
            yield self.finding(ctx.agent[at], "结束前未总结处理结果", suggestion=self.rulebook.wording("S-A10")[0])
