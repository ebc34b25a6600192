"""拒绝与答复: "I don't know", refusals, services not offered, over-promising (S-E1 … S-E4).

An agent turn that does not know or declines must be followed up: in the same turn or the next
agent turn the agent offers to check (S-E1), gives a reason or an alternative (S-E2), or regrets
and passes the request on (S-E3). Near-misses are kept out by the rulebook's guards (polite
questions, conditions such as "不行的话", the customer not knowing) and here: the agent's
questions ("您那边没办法登录吗?") and echoes of the customer's own words ("不能用") are no refusals.
"""

from __future__ import annotations

from typing import ClassVar, Iterator

from guifan import text as textnorm
from guifan.engine.context import CheckContext, TurnView
from guifan.engine.hints import warning
from guifan.engine.matcher import Hit
from guifan.engine.registry import Rule, register
from guifan.model import Finding

_CLAUSE_END = set(",，。.!！;；~～、\n") | {" ", "\u3000"}
_QUESTION_MARKS = set("?？")
_QUESTION_PARTICLES = ("吗", "么", "嘛", "不")
_INTERROGATIVES = ("什么", "哪", "怎么", "为何", "多少", "几")
# A next turn that says goodbye has left the matter ("后期有问题可以随时反馈我们哦…再见!").
CLOSING = ("farewell",)


def is_question(view: TurnView, hit: Hit) -> bool:
    """The rest of the clause holding the hit asks something: it ends with ? or 吗/么/嘛, or holds
    an interrogative ("无法绑定有什么提示呢")."""
    text = view.text
    end = view.span(hit)[1]
    tail = []
    for ch in text[end:]:
        if ch in _QUESTION_MARKS:
            return True
        if ch in _CLAUSE_END:
            break
        tail.append(ch)
    clause = "".join(tail).rstrip("".join(textnorm.FILLERS))
    return clause.endswith(_QUESTION_PARTICLES) or any(w in clause for w in _INTERROGATIVES)


def echoes_customer(ctx: CheckContext, view: TurnView, hit: Hit) -> bool:
    """The hit and the character after it repeat the customer's earlier words ("不能用", "没办法登录")."""
    form = view.basic if hit.phrase.form == "basic" else view.loose
    if hit.end >= len(form):
        return False
    said = form[hit.start: hit.end + 1]
    return any(
        said in (c.basic if hit.phrase.form == "basic" else c.loose) for c in ctx.customer if c.index < view.index
    )


class FollowUpRule(Rule):
    """Base: each agent turn with a ``trigger`` phrase must, in that turn or the next agent turn,
    also say something of every group in ``follow_up`` (label, categories).

    One finding per turn.
    """

    category = "refusal"
    trigger: ClassVar[str]
    follow_up: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]]

    def relevant(self, ctx: CheckContext, view: TurnView, hit: Hit) -> bool:
        return self.relevant_turn(ctx, view)

    def relevant_turn(self, ctx: CheckContext, view: TurnView) -> bool:
        """Whether the trigger in this turn is this rule's business (found by phrase or meaning)."""
        return True

    def message(self, quote: str, missing: list[str]) -> str:
        raise NotImplementedError

    def replies(self, ctx: CheckContext, view: TurnView) -> list[TurnView]:
        """The turn itself and the next agent turn, unless that one is already the closing."""
        after = ctx.next_agent(view.index)
        if after is None or after.has(*CLOSING):
            return [view]
        return [view, after]

    def required_categories(self) -> frozenset[str]:
        # By meaning the trigger may be said in any words: the rule runs on every conversation.
        return frozenset() if self.rulebook.semantic.backend != "off" else frozenset((self.trigger,))

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        reported: set[int] = set()
        for view, hit in ctx.agent_hits(self.trigger):
            if view.index in reported or not self.relevant(ctx, view, hit):
                continue
            replies = self.replies(ctx, view)
            missing = self._missing(ctx, replies)
            if missing:
                reported.add(view.index)
                yield self.finding(view, self.message(view.quote(hit), [label for label, _ in missing]), hit,
                                   confidence=self._sure(replies, missing))
        for view, act in ctx.meant(self.trigger):  # the same act in the agent's own words
            if view.index in reported or not self.relevant_turn(ctx, view):
                continue
            replies = self.replies(ctx, view)
            missing = self._missing(ctx, replies)
            if missing:
                reported.add(view.index)
                quote = view.text[act.span[0]:act.span[1]]
                yield self.finding(view, self.message(quote, [label for label, _ in missing]), span=act.span,
                                   confidence=min(act.confidence, self._sure(replies, missing)), evidence=act.evidence)

    def _missing(self, ctx: CheckContext, replies: list[TurnView]) -> list[tuple[str, tuple[str, ...]]]:
        return [(label, cats) for label, cats in self.follow_up
                if not any(self._says(ctx, r, cats) or r.by_meaning(*cats) for r in replies)]

    def _sure(self, replies: list[TurnView], missing: list[tuple[str, tuple[str, ...]]]) -> float:
        return min(self.absence_confidence(replies, *cats) for _, cats in missing)

    def _says(self, ctx: CheckContext, view: TurnView, categories: tuple[str, ...]) -> bool:
        """The turn says something of ``categories`` of its own: not inside the trigger phrase ("可以" in
        "不可以") nor inside the closing offer ("还有什么可以帮您"), and not quoting the customer."""
        excluded: list[tuple[int, int]] | None = None
        for category in categories:
            for h in view.find(category):
                if ctx.is_quoted(view, h):
                    continue
                if excluded is None:
                    excluded = [view.span(x) for c in (self.trigger, "closing_offer") for x in view.find(c)]
                start, end = view.span(h)
                if not any(s < end and start < e for s, e in excluded):
                    return True
        return False


@register
class DontKnow(FollowUpRule):
    code = "REF001"
    name = "dont-know-without-follow-up"
    clauses = ("S-E1",)
    trigger = "dont_know"
    acts = ("dont_know",)
    follow_up = (("承诺核实、查询或跟进", ("offer_check",)),)
    what = (
        "客服说自己不知道、不清楚、不确定(不知道/不清楚/不确定/不了解/无法确定…),而在同一句或"
        "下一句中没有承诺核实、查询或跟进回复。"
    )
    why = "「我不知道」等于把客户推开;应说「我帮您核实」,或留下联系方式,核实后回复客户。"
    bad = (
        "客户: 这个月底还会降价吗\n客服: 这个小妹也不知道呢。\n客户: 好吧\n客服: 请问还有其他可以帮到您的吗?",
        "客户: 到底哪天能送到\n客服: 具体时间我们也无法确定。",
    )
    good = (
        "客户: 这个月底还会降价吗\n客服: 这个我不太清楚,请您稍等,我帮您核实一下。",
        "客户: 这个月底还会降价吗\n客服: 我不确定呢。\n客户: 哦\n客服: 我帮您问一下采购同事,稍后回复您。",
        "客户: 我想改地址\n客服: 我不知道您是否方便提供一下新地址?",
        "客户: 怎么申请售后\n客服: 在我的订单里点申请售后,不清楚的地方可以随时问我。",
        "客户: 我不知道订单号\n客服: 您不知道订单号的话,提供下单手机号也可以。",
        "客户: 上个客服说「我不知道」\n客服: 非常抱歉,同事说“我不知道”给您带来了不好的体验,我来帮您处理。",
    )
    hints = (warning("S-E1", when="客服(草稿或刚说的话)说「我不知道」却没有承诺核实或回复时", triggers=("dont_know",)),)

    def message(self, quote: str, missing: list[str]) -> str:
        return f"客服说「{quote}」,却没有{'、'.join(missing)}"


@register
class BareRefusal(FollowUpRule):
    code = "REF002"
    name = "refusal-without-reason-or-alternative"
    clauses = ("S-E2",)
    trigger = "refusal"
    follow_up = (("说明原因或提供替代方案", ("refusal_reason", "alternative")),)
    what = (
        "客服拒绝客户的要求(不能/不可以/无法/没办法/不支持/不行),而拒绝的这一句和客服的下一句"
        "都没有说明原因,也没有提供替代方案或下一步。不算拒绝:客服的提问(「能不能…」「没办法登录吗」)、"
        "条件句(「不行的话…」)和复述客户的话。"
    )
    why = "只说「不行」让客户碰壁;说明原因并给出替代方案(「虽然不能…,但我们可以…」)才是解决问题。"
    bad = (
        "客户: 能不能把价格调回来\n客服: 我这边是没办法修改价格的哦。\n客户: 那算了\n"
        "客服: 请问还有什么问题可以帮您呢?",
        "客户: 可以不要赠品吗\n客服: 不可以的哦亲。",
    )
    good = (
        "客户: 能不能把价格调回来\n客服: 价格是系统统一设置的,我这边没办法修改,但可以帮您申请价保,您看可以吗?",
        "客户: 我的手机不能用了\n客服: 您的手机不能用是吗?请问是开不了机吗?",
        "客户: 能改地址吗\n客服: 能不能麻烦您提供一下订单号?",
        "客户: 能改地址吗\n客服: 您那边没办法修改吗?\n客户: 是的\n客服: 我帮您修改。",
        "客户: 能改地址吗\n客服: 如果不行的话,您可以联系配送员。",
        "客户: 能送到楼上吗\n客服: 不行。\n客户: 为什么\n客服: 因为大件商品配送员只负责送到楼下,可以为您预约上楼服务。",
    )

    def relevant(self, ctx: CheckContext, view: TurnView, hit: Hit) -> bool:
        return not (is_question(view, hit) or echoes_customer(ctx, view, hit)) and self.relevant_turn(ctx, view)

    def relevant_turn(self, ctx: CheckContext, view: TurnView) -> bool:
        if view.has("service_not_offered"):
            return False  # S-E3's business
        # "A面灯能关掉吗" - "不可以的": an answer about the product, not a declined request.
        asked = next((c for c in reversed(ctx.customer) if c.index < view.index), None)
        return asked is None or not asked.has("customer_capability_question")

    def message(self, quote: str, missing: list[str]) -> str:
        return f"客服拒绝了客户的要求(「{quote}」),没有{'、'.join(missing)}"


@register
class ServiceNotOffered(FollowUpRule):
    code = "REF003"
    name = "service-not-offered-without-regret"
    clauses = ("S-E3",)
    trigger = "service_not_offered"
    follow_up = (("表示歉意", ("apology",)), ("承诺将需求转交相关部门", ("pass_on",)))
    what = "客服告诉客户暂无此项服务时,没有表示歉意,或没有承诺把客户的需求转交、反馈给相关部门。"
    why = "客户的需求本身是改进服务的依据;致歉并转达,客户才会觉得被重视。"
    bad = ("客户: 你们能上门回收旧手机吗\n客服: 我们没有这项服务。",)
    good = (
        "客户: 你们能上门回收旧手机吗\n"
        "客服: 很抱歉,我们暂时没有此项服务,我们会将您所提出的要求转交相关部门。",
    )

    def message(self, quote: str, missing: list[str]) -> str:
        return f"客服告知「{quote}」,但没有{'、'.join(missing)}"


@register
class OverpromiseOrBlameShift(Rule):
    code = "REF004"
    name = "overpromise-or-blame-shift"
    clauses = ("S-E4",)
    category = "refusal"
    what = (
        "客服作出无法保证兑现的承诺(「我保证」「百分之百」「明天一定能到」),或把责任推给快递、"
        "厂家、系统或客户自己(「是快递的问题」「不是我们的责任」)。"
    )
    why = "无法兑现的承诺会引发二次投诉;推卸责任让客户觉得无人负责。应说「我会尽力为您跟进处理」。"
    bad = (
        "客户: 明天能到吗\n客服: 我保证明天一定能到!",
        "客户: 怎么还没到\n客服: 这是快递的问题,不是我们的责任。",
    )
    good = (
        "客户: 明天能到吗\n客服: 预计明天送达,我会尽力为您跟进,有变化第一时间通知您。",
        "客户: 我的信息安全吗\n客服: 请放心,您的信息我们绝对不会泄露。",
    )

    LABELS: ClassVar[dict[str, str]] = {"overpromise": "无法保证兑现的承诺", "blame_shift": "推卸责任"}
    acts = tuple(LABELS)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for category, label in self.LABELS.items():
            reported: set[int] = set()
            for view, hit in ctx.agent_hits(category):
                if view.index not in reported:
                    reported.add(view.index)
                    yield self.finding(view, f"客服作出{label}:「{view.quote(hit)}」", hit)
            for view, act in ctx.meant(category):
                if view.index not in reported:
                    reported.add(view.index)
                    yield self.meant_finding(view, act, label)
