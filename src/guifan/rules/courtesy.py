"""礼貌与回应: answering the customer's thanks, apology, suggestion and request for the agent id
(S-A11 … S-A14), and the polite vocabulary of the whole conversation (S-G1).

Most of these are "the customer says X, the agent's next turn must answer with Y" checks; they
share ``ReplyRule``, which the needs family uses too.
"""

from __future__ import annotations

from itertools import islice
from typing import ClassVar, Iterator

import regex

from guifan.engine.context import CheckContext, TurnView
from guifan.engine.hints import next_step, warning
from guifan.engine.registry import Rule, register
from guifan.model import Finding, Severity

# The company's agent-id pattern is its author's regex, validated by the rulebook (guifan.rulebook
# bounded_pattern); a search that still runs out of time counts as no agent id given: a slow
# pattern costs a finding's accuracy, never a stuck import.
ID_SEARCH_SECONDS = 0.05


class ReplyRule(Rule):
    """Base: a customer turn that triggers the rule must be answered in the next ``reach`` agent turns.

    ``trigger`` names the customer phrase category; subclasses with another notion of a trigger
    override ``triggered``. ``problem`` says what the replies lack (None when they are fine). The
    finding sits at the first reply; one agent turn answering several triggers is reported once.
    """

    trigger: ClassVar[str]
    reach: ClassVar[int] = 1  # how many of the next agent turns may answer
    # Only those the agent sends before the customer speaks again (a chat agent's second message in a
    # row still answers; after the customer's next words it is too late).
    until_customer_speaks: ClassVar[bool] = False
    # The must-say acts whose absence in the replies ``problem`` reports (its findings are as
    # sure as the replies are far from saying them).
    expects: ClassVar[tuple[str, ...]] = ()

    def required_categories(self) -> frozenset[str]:
        # Only when the trigger is the plain phrase category; overridden triggers may not need it.
        return frozenset((self.trigger,)) if type(self).triggered is ReplyRule.triggered else frozenset(self.requires)

    def triggered(self, ctx: CheckContext, view: TurnView) -> str | None:
        """The customer's words that call for an answer, or None."""
        hit = view.first(self.trigger)
        return view.quote(hit) if hit is not None else None

    def problem(self, ctx: CheckContext, said: str, replies: list[TurnView]) -> str | None:
        raise NotImplementedError

    def confidence(self, replies: list[TurnView]) -> float:
        """How sure the finding about these replies is (see ``expects``)."""
        return self.absence_confidence(replies, *self.expects) if self.expects else 1.0

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        reported: set[int] = set()
        for view in ctx.customer:
            # A trigger is decided by the turn and those before it: once per turn as a conversation grows.
            said = view.memo((self.code, "trigger"), lambda: self.triggered(ctx, view))
            if said is None:
                continue
            replies = list(islice(ctx.agent_after(view.index), self.reach))
            if self.until_customer_speaks:
                spoke = next((c.index for c in ctx.customer if c.index > view.index), None)
                replies = [r for r in replies if spoke is None or r.index < spoke] or replies[:1]
            if not replies or replies[0].index in reported:
                continue
            message = self.problem(ctx, said, replies)
            if message is not None:
                reported.add(replies[0].index)
                yield self.finding(replies[0], message, confidence=self.confidence(replies))


@register
class IgnoredThanks(ReplyRule):
    code = "CRT001"
    name = "ignored-thanks"
    clauses = ("S-A11",)
    severity = Severity.MINOR
    category = "courtesy"
    trigger = "customer_thanks"
    reach = 2  # the agent's next messages before the customer speaks again: a reply in the second counts
    until_customer_speaks = True
    expects = ("reply_to_thanks",)
    what = (
        "客户致谢或表扬(谢谢、辛苦了、你真好…)后,客服的下一句(客户再次说话前连发的第二句也算)既没有回应"
        "(不客气、应该的、客气了…)也没有回谢。"
    )
    why = "客户致谢时应及时回应「不客气」「这是我应该做的」,否则显得冷淡、不尊重客户。"
    bad = (
        "客户: 好的谢谢,明天急着用\n客服: 还请您稍加耐心等待一下哦。",
        "客户: 辛苦了\n客服: 请问还有其他可以帮您的吗?",
    )
    good = (
        "客户: 好的谢谢\n客服: 不客气,这是我应该做的。请问还有其他可以帮您的吗?",
        "客户: 能不能退款谢谢\n客服: 您客气了,可以退款的,我帮您申请。",
        "客户: 嗯嗯 谢谢\n客服: 也感谢您的支持,祝您生活愉快!",
        "客户: 这个太麻烦了\n客服: 我帮您处理。",
    )
    hints = (
        next_step("S-A11", "客户致谢或表扬:请回应", when="客户致谢或表扬后", clears="客服回应后消失",
                  triggers=("customer_thanks",)),
        warning("S-A11", when="回复客户感谢的草稿或话语没有回应感谢时", replace=None, key="S-A11-reply"),
    )

    def problem(self, ctx: CheckContext, said: str, replies: list[TurnView]) -> str | None:
        if any(reply.says(*self.expects) for reply in replies):
            return None
        return f"客户表示感谢(「{said}」),客服未回应(如「不客气」「这是我应该做的」)"


@register
class AgentIdWithheld(ReplyRule):
    code = "CRT002"
    name = "agent-id-withheld"
    clauses = ("S-A12",)
    category = "courtesy"
    trigger = "customer_asks_agent_id"
    what = "客户询问客服工号或姓名时,客服没有告知工号,或只报了个人姓名。"
    why = "标准要求被问及时报工号(不报个人姓名):「我是**号,如服务不周请您谅解。」"
    bad = (
        "客户: 你工号多少?\n客服: 这个问题我们先处理订单吧。",
        "客户: 你叫什么名字?\n客服: 我叫小丽。",
    )
    good = (
        "客户: 你工号多少?\n客服: 我是1024号,如服务不周请您谅解。",
        "客户: 你叫什么名字?\n客服: 我的工号是3308,很高兴为您服务。",
    )
    hints = (next_step("S-A12", "客户询问工号:请告知工号(不报个人姓名)", when="客户询问客服的工号或姓名后",
                       clears="客服告知工号后消失", triggers=("customer_asks_agent_id",)),)

    def __init__(self, rulebook) -> None:
        super().__init__(rulebook)
        self._id_pattern = regex.compile(rulebook.company.agent_id_pattern)

    def _says_id(self, text: str) -> bool:
        try:
            return self._id_pattern.search(text, timeout=ID_SEARCH_SECONDS) is not None
        except TimeoutError:
            return False

    def problem(self, ctx: CheckContext, said: str, replies: list[TurnView]) -> str | None:
        reply = replies[0]
        agent_id = ctx.conversation.agent_id
        if reply.has("give_agent_id") or self._says_id(reply.text) or (agent_id and agent_id in reply.text):
            return None
        if reply.has("agent_personal_name"):
            return f"客户询问工号(「{said}」),客服报了个人姓名而不是工号"
        return f"客户询问工号(「{said}」),客服未告知工号"


@register
class ApologyNotReassured(ReplyRule):
    code = "CRT003"
    name = "customer-apology-not-reassured"
    clauses = ("S-A13",)
    severity = Severity.MINOR
    category = "courtesy"
    trigger = "customer_apology"
    what = "客户向客服致歉(不好意思、对不起、打扰了…)后,客服没有安慰(没关系、不必介怀…)。"
    why = "客户致歉时应回以「没关系,请不必介怀」,让客户放下顾虑。"
    bad = ("客户: 不好意思,刚才看错了\n客服: 好的亲。",)
    good = (
        "客户: 不好意思,刚才看错了\n客服: 没关系,请不必介怀。",
        "客户: 对不起啊,打扰你了\n客服: 不客气,您还有其他问题可以随时找我。",
        "客户: 你们太对不起消费者了\n客服: 非常抱歉给您带来了不好的体验。",
    )
    hints = (
        next_step("S-A13", "客户向您致歉:请安慰客户", when="客户致歉(不好意思、对不起、打扰了)后", clears="客服安慰客户后消失",
                  triggers=("customer_apology",)),
        warning("S-A13", when="回复客户致歉的草稿或话语没有安慰时", replace=None, key="S-A13-reply"),
    )

    def problem(self, ctx: CheckContext, said: str, replies: list[TurnView]) -> str | None:
        if replies[0].has("reassure"):
            return None
        return f"客户致歉(「{said}」),客服未安慰(如「没关系,请不必介怀」)"


@register
class SuggestionNotAcknowledged(ReplyRule):
    code = "CRT004"
    name = "suggestion-not-acknowledged"
    clauses = ("S-A14",)
    severity = Severity.MINOR
    category = "courtesy"
    trigger = "customer_suggestion"
    reach = 2
    what = "客户提出建议后,客服在随后两句内没有感谢建议,或没有承诺转达相关部门。"
    why = "对客户建议应「感谢 + 承诺转达」:「您的建议很重要,我们会及时转达到相关部门,谢谢您的支持!」"
    bad = (
        "客户: 我建议你们把商家的资质审核做严一点\n客服: 我们都是有审核的呢。",
        "客户: 建议你们快递加个夜间配送\n客服: 感谢您的建议!\n客户: 嗯\n客服: 请问还有其他可以帮您的吗?",
    )
    good = (
        "客户: 我建议你们把商家的资质审核做严一点\n客服: 您的建议很重要,我们会及时转达到相关部门,谢谢您的支持!",
        "客户: 建议你们快递加个夜间配送\n客服: 感谢您的宝贵意见!\n客户: 嗯\n客服: 我已经帮您记录并反馈给相关部门了。",
    )
    hints = (next_step("S-A14", "客户提出建议:请感谢并承诺转达相关部门", when="客户提出建议后",
                       clears="客服感谢建议并承诺转达后消失", triggers=("customer_suggestion",)),)

    def problem(self, ctx: CheckContext, said: str, replies: list[TurnView]) -> str | None:
        lacking = [
            label
            for label, category in (("感谢建议", "suggestion_thanks"), ("承诺转达相关部门", "pass_on"))
            if not any(r.has(category) for r in replies)
        ]
        if not lacking:
            return None
        return f"客户提出建议(「{said}」),客服未{'、未'.join(lacking)}"


@register
class NoPoliteVocabulary(Rule):
    code = "CRT005"
    name = "no-polite-vocabulary"
    clauses = ("S-G1",)
    category = "courtesy"
    what = "整个对话中客服从未使用服务词汇:您、请、谢谢/感谢、抱歉/对不起/不好意思。"
    why = "服务词汇是服务礼仪的底线;一通对话里一次「您」「请」「谢谢」都没有,本身就是问题。"
    bad = ("客户: 我的快递到哪了\n客服: 在路上了,明天到。\n客户: 好\n客服: 还有别的问题吗?",)
    good = (
        "客户: 我的快递到哪了\n客服: 在路上了,明天到。\n客户: 好\n客服: 还有其他可以帮您的吗?",
        "客户: 我的快递到哪了\n客服: 请稍等,在路上了,明天到。",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        last = ctx.last_agent
        if last is None:
            return
        # 您 is checked in the original text: normalization folds 您 into 你.
        if any("您" in v.text or v.has("polite_vocabulary") for v in ctx.agent):
            return
        yield self.finding(last, "整个对话中客服从未使用「您」「请」「谢谢」「抱歉」等服务词汇")
