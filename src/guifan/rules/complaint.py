"""投诉处理: how the agent handles a complaint (S-D1 … S-D8).

Which customer turns complain is decided once per conversation (``ctx.complaint_turns``, see
``engine/complaints.py``). Most clauses ask for something the agent must say *after* the complaint
(an apology, a record notice, a time frame…): those share ``AfterComplaintRule`` and report a
missing element at the last agent turn, like the gold labels. The agent's quotes of the customer
never count as the agent's own words.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, ClassVar, Iterator, Mapping

from guifan import text as textnorm
from guifan.engine.context import CheckContext, TurnView
from guifan.engine.hints import Hint, HintKind, Step, next_step, warning
from guifan.engine.matcher import Hit
from guifan.engine.registry import Rule, register
from guifan.model import Finding, Severity
from guifan.engine.complaints import formal_complaint_turns

QUOTE_CHARS = 30


def said(view: TurnView) -> str:
    """A customer turn, shortened for a message."""
    text = " ".join(view.text.split())
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "…"


def _own_hits(ctx: CheckContext, index: int, categories: tuple[str, ...]) -> Iterator[tuple[TurnView, Hit]]:
    for view in ctx.agent:
        if view.index > index:
            for category in categories:
                for hit in view.find(category):
                    if not ctx.is_quoted(view, hit):
                        yield view, hit


def agent_hits_after(ctx: CheckContext, index: int, *categories: str) -> list[tuple[TurnView, Hit]]:
    """The agent's own hits (not quoting the customer) of ``categories`` after turn ``index``, by turn."""
    return sorted(_own_hits(ctx, index, categories), key=lambda vh: (vh[0].index, vh[1].start))


def agent_says_after(ctx: CheckContext, index: int, *categories: str) -> bool:
    """The agent's own words after turn ``index`` hold a phrase of ``categories``, or (only
    then) the same wording misheard or paraphrased."""
    if next(_own_hits(ctx, index, categories), None) is not None:
        return True
    return any(v.recognizes(*categories) for v in ctx.agent if v.index > index)


def last_agent_after(ctx: CheckContext, index: int) -> TurnView | None:
    last = ctx.last_agent
    return last if last is not None and last.index > index else None


class AfterComplaintRule(Rule):
    """Base: once the customer complains (``trigger``), the agent must say each ``required`` element.

    ``required`` pairs a label (Chinese, what is missing) with the phrase categories that satisfy
    it; the agent may say it in any later turn. One finding lists everything missing, at the last
    agent turn; without an agent turn after the complaint there is nothing to judge.
    """

    category = "complaint"
    required: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]]
    situation: ClassVar[str]  # 客户投诉 / 客户表达不满 …

    def trigger(self, ctx: CheckContext) -> TurnView | None:
        turns = ctx.complaint_turns
        return turns[0] if turns else None

    def satisfied(self, ctx: CheckContext, start: TurnView, categories: tuple[str, ...]) -> bool:
        return agent_says_after(ctx, start.index, *categories)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        start = self.trigger(ctx)
        if start is None:
            return
        last = last_agent_after(ctx, start.index)
        if last is None:
            return
        missing = [(label, cats) for label, cats in self.required if not self.satisfied(ctx, start, cats)]
        if missing:
            after = [v for v in ctx.agent if v.index > start.index]
            confidence = min(self.absence_confidence(after, *cats) for _, cats in missing)
            yield self.finding(last, f"{self.situation}(「{said(start)}」)后,客服始终没有{'、'.join(l for l, _ in missing)}",
                               confidence=confidence)


@register
class NoApologyOnComplaint(AfterComplaintRule):
    code = "CMP001"
    name = "no-apology-on-complaint"
    clauses = ("S-D1",)
    situation = "客户表达不满"
    required = (("致歉或表示理解", ("apology", "empathy")),)
    what = (
        "客户投诉或表达不满(没收到、太慢、损坏、发错、问题反复、语气不满)后,客服在之后的对话中"
        "始终没有致歉或表示理解(抱歉、对不起、不好意思、给您带来不便、理解您的心情、让您久等了…)。"
    )
    why = "先致歉、表示理解,才能平复客户情绪;直接讲流程会让客户觉得问题没有被重视。"
    bad = (
        "客户: 我的快递怎么还没到,都三天了\n客服: 请提供一下订单号。\n客户: 123456\n"
        "客服: 已经在派送了,请耐心等待。",
        "客户: 东西怎么这么慢\n客服: 这个订单是北京发过来的,明天可以到达的哦。\n客户: 好吧\n"
        "客服: 请问还有其他可以帮到您的吗?",
    )
    good = (
        "客户: 我的快递怎么还没到,都三天了\n客服: 非常抱歉让您久等了,我马上帮您查询。",
        "客户: 东西怎么这么慢\n客服: 我非常理解您的心情,这边帮您催促一下站点。",
        "客户: 收到的杯子碎了\n客服: 已为您申请换新。妹子怠慢的地方,您多多包涵哦。",
        "客户: 我没有不满意,就是问问发票什么时候开\n客服: 发票会在订单完成后开具。",
        "客户: 不着急,帮我看看什么时候发货\n客服: 预计明天发货。",
        "客户: 订单123456到哪了\n客服: 显示已完成,是没有收到吗?\n客户: 没\n"
        "客服: 很抱歉给您带来不便,我帮您联系站点。\n客户: 都三天了,怎么还没送到\n客服: 站点回复今天送达。",
    )
    hints = (next_step("S-D1", "客户表达了不满:先致歉并表示理解,再解释或处理", when="客户投诉或表达不满后",
                       clears="客服致歉或表示理解后消失", triggers=("customer",)),)

    def satisfied(self, ctx: CheckContext, start: TurnView, categories: tuple[str, ...]) -> bool:
        # Dissatisfaction often shows before it is spelled out ("没" … "都三天了,怎么还没送到"): an
        # apology in the agent turn just before the explicit complaint answers the same problem.
        before = ctx.agent_before(start.index)
        since = before[-1].index - 1 if before else start.index
        return agent_says_after(ctx, since, *categories)


class FormalComplaintRule(AfterComplaintRule):
    """Base: the trigger is a formal complaint (投诉/举报, or a threat of regulators or media)."""

    situation = "客户正式投诉"

    def trigger(self, ctx: CheckContext) -> TurnView | None:
        turns = formal_complaint_turns(ctx)
        return turns[0] if turns else None


@register
class ComplaintNotRecorded(FormalComplaintRule):
    code = "CMP002"
    name = "complaint-not-recorded"
    clauses = ("S-D2",)
    required = (("告知已记录其投诉内容", ("record_notice",)),)
    what = "客户明确投诉(投诉、举报或扬言找监管、媒体)后,客服没有告诉客户已经记录其反映的内容。"
    why = "告知「已做好详细记录」让客户确认投诉被受理,避免客户反复进线或升级投诉。"
    bad = (
        "客户: 我要投诉你们的快递员,东西直接扔门口\n客服: 非常抱歉给您带来不好的体验。",
    )
    good = (
        "客户: 我要投诉你们的快递员,东西直接扔门口\n"
        "客服: 非常抱歉给您带来不好的体验,您的投诉内容我们已做好了详细记录。",
        "客户: 我不是要投诉,就是问问快递员电话\n客服: 快递员电话是123456。",
    )
    hints = (next_step("S-D2", "告诉客户:投诉内容已做好详细记录", when="客户正式投诉后(致歉之后提示)",
                       clears="客服告知已记录后消失", triggers=("customer_formal_complaint", "customer_strong_complaint"),
                       after=("S-D1",)),)


@register
class NoTimeFrameOrContact(FormalComplaintRule):
    code = "CMP003"
    name = "complaint-without-time-frame-or-contact"
    clauses = ("S-D3",)
    required = (("承诺处理时限", ("time_frame",)), ("留取联系方式", ("contact_request",)))
    what = (
        "客户明确投诉后,客服没有承诺具体的处理时限(如「24小时内」「3个工作日内」,或公司设置的"
        "承诺时限),或没有留取、确认客户的联系方式。"
    )
    why = "有时限、有联系方式的承诺才可兑现、可追踪;「尽快处理」让客户无从期待。"
    bad = (
        "客户: 我要投诉,退款一直不到账\n客服: 非常抱歉,您的投诉我们已记录,会尽快处理。",
        "客户: 我要投诉,退款一直不到账\n客服: 非常抱歉,已记录,我们会在24小时内给您答复。",
    )
    good = (
        "客户: 我要投诉,退款一直不到账\n"
        "客服: 非常抱歉,已记录,我们会在24小时内核实处理并给您答复,请您保持电话畅通。",
    )
    hints = (next_step("S-D3", "承诺处理时限,并留下客户的联系方式", when="客户正式投诉后(致歉之后提示)",
                       clears="客服承诺时限并留取联系方式后消失", triggers=("customer_formal_complaint", "customer_strong_complaint"),
                       after=("S-D1",), wording=("S-D3",)),)

    def satisfied(self, ctx: CheckContext, start: TurnView, categories: tuple[str, ...]) -> bool:
        if super().satisfied(ctx, start, categories):
            return True
        if "time_frame" not in categories:
            return False
        # The company's own promise ("[承诺时限]", e.g. 24小时) counts as a time frame too.
        promise = textnorm.basic(self.rulebook.company.promised_response)
        return bool(promise) and any(promise in v.basic for v in ctx.agent_after(start.index))


@register
class AttitudeComplaintMishandled(AfterComplaintRule):
    code = "CMP004"
    name = "attitude-complaint-mishandled"
    clauses = ("S-D4",)
    situation = "客户投诉客服态度"
    required = (
        ("代表团队致歉", ("team_apology",)),
        ("感谢客户的监督或意见", ("oversight_thanks",)),
        ("承诺改进", ("improvement",)),
    )
    acts = ("colleague_blame",)
    what = (
        "客户投诉客服人员的态度或业务能力后,客服没有代表团队致歉、感谢客户监督、承诺改进,"
        "或者把责任推给同事、为同事辩护、质疑客户(「那是他的问题」「是之前的客服说错了」「我们同事不会这么说的」)。"
    )
    why = "对同事的问题也要以「我们」的身份承担;与客户争辩或指责同事只会激化投诉。"
    bad = (
        "客户: 刚才那个客服态度太差了\n客服: 那是他的问题,跟我没关系。",
        "客户: 你们客服什么态度,爱答不理的\n客服: 非常抱歉,请问您要办理什么业务?",
    )
    good = (
        "客户: 刚才那个客服态度太差了\n"
        "客服: 对于同事给您带来的不便,我们深感抱歉,非常欢迎您监督我们的服务,"
        "我们会在以后的工作中注意改进。",
    )
    hints = (next_step("S-D4", "客户投诉服务态度:代表团队致歉、感谢监督、承诺改进,不要为同事辩解",
                       when="客户投诉客服人员的态度或能力后", clears="客服致歉、感谢监督并承诺改进后消失",
                       triggers=("customer_attitude_complaint",), wording=("S-D4",)),)

    def trigger(self, ctx: CheckContext) -> TurnView | None:
        return next((v for v in ctx.customer if v.has("customer_attitude_complaint")), None)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        yield from super().check(ctx)
        start = self.trigger(ctx)
        if start is None:
            return
        reported: set[int] = set()
        for view, hit in agent_hits_after(ctx, start.index, "colleague_blame"):
            if view.index not in reported:
                reported.add(view.index)
                yield self.finding(view, f"客服把责任推给同事:「{view.quote(hit)}」", hit)
        for view, act in ctx.meant("colleague_blame"):
            if view.index > start.index and view.index not in reported:
                reported.add(view.index)
                yield self.meant_finding(view, act, "为同事辩护或质疑客户")


def ticket_state(metadata: Mapping[str, Any]) -> tuple[bool, bool | None]:
    """(open, overdue) from metadata ``ticket``: a mapping {status, overdue} or a short text.

    Without a ticket: (True, None), the caller then judges overdue from the customer's words.
    """
    ticket = metadata.get("ticket")
    if ticket is None:
        return True, None
    if isinstance(ticket, Mapping):
        status = str(ticket.get("status", "")).lower()
        overdue = ticket.get("overdue")
        overdue = None if overdue is None else str(overdue).lower() in ("true", "yes", "1", "是", "超时", "已超时")
    else:
        status = str(ticket).lower()
        overdue = any(w in status for w in ("overdue", "超时", "逾期"))
    closed = any(w in status for w in ("closed", "resolved", "done", "关闭", "已解决", "已完成", "结单"))
    return not closed, overdue


@register
class RepeatComplaintMishandled(Rule):
    code = "CMP005"
    name = "repeat-complaint-mishandled"
    clauses = ("S-D5",)
    category = "complaint"
    what = (
        "客户就未办结的问题再次投诉时,客服没有先核实订单号/工单号就作出承诺;或未超时却没有"
        "承诺加急;或已超时却没有致歉并升级处理。工单状态可由元数据 ticket: {status, overdue} 给出,"
        "否则根据客户的话(「说好的」「早就过了」)判断是否超时。"
    )
    why = "先核实单号才能准确跟进;未超时要加急,超时要致歉并升级,否则客户会第三次、第四次进线。"
    bad = (
        "客户: 我上次反映的退款问题还没处理,到底怎么回事\n客服: 好的,马上为您加急处理。",
        "客户: 之前反映过的问题,说好的三天内回复,早就过了\n"
        "客服: 请您提供一下订单号。\n客户: 123456\n客服: 好的,我帮您催促一下。",
    )
    good = (
        "客户: 我上次反映的退款问题还没处理,到底怎么回事\n客服: 请您再次提供一下订单号好吗?\n"
        "客户: 123456\n客服: 对于您反映的问题,我们马上为您加急处理。",
        "客户: 之前反映过的问题,说好的三天内回复,早就过了\n客服: 请您提供一下订单号。\n"
        "客户: 123456\n客服: 非常抱歉,已经超过了承诺时间,我马上把您的问题升级给值班长处理。",
    )
    hints = (Hint(HintKind.NEXT_STEP, "S-D5", (
        Step("客户重复投诉:先核实订单号或工单号", ("S-D5#0",)),
        Step("单号已核实:未超时请承诺加急处理;已超时请致歉并升级", ("S-D5#1", "S-D6")),
    ), when="客户就未办结的问题再次投诉后", clears="客服核实单号并承诺加急(或致歉升级)后消失", triggers=("customer", "agent")),)

    def hint_step(self, hint: Hint, ctx: CheckContext, found: list[Finding]) -> int | None:
        if not found:
            return None
        return 1 if any(v.has("verify_order") for v in ctx.agent) else 0

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        is_open, overdue = ticket_state(ctx.conversation.metadata)
        if not is_open:
            return
        has_ticket = "ticket" in ctx.conversation.metadata
        start = next((v for v in ctx.complaint_turns if has_ticket or v.has("customer_repeat_contact")), None)
        if start is None:
            return
        last = last_agent_after(ctx, start.index)
        if last is None:
            return
        if overdue is None:
            overdue = any(v.has("customer_overdue") for v in ctx.customer if v.index >= start.index)

        def first(*categories: str) -> tuple[TurnView, Hit] | None:
            found = agent_hits_after(ctx, start.index, *categories)
            if not found:
                return None
            # Positions of basic and loose hits differ: compare within the turn in the original text.
            view = found[0][0]
            return min((vh for vh in found if vh[0] is view), key=lambda vh: view.span(vh[1])[0])

        def order(vh: tuple[TurnView, Hit] | None) -> tuple[int, int]:
            return (vh[0].index, vh[0].span(vh[1])[0]) if vh else (1 << 30, 0)

        verify = first("verify_order")
        promise = first("expedite", "escalate")
        if promise is not None and order(promise) < order(verify):
            view, hit = promise
            yield self.finding(view, f"重复投诉时未先核实订单号/工单号就承诺处理:「{view.quote(hit)}」", hit)
        elif verify is None:
            yield self.finding(last, "客户重复投诉,客服没有先核实订单号/工单号")
        if overdue:
            missing = [label for label, cat in (("致歉", "apology"), ("升级处理", "escalate")) if first(cat) is None]
            if missing:
                yield self.finding(last, f"客户的问题已超过承诺时限(「{said(start)}」),客服没有{'、'.join(missing)}")
        elif promise is None:
            yield self.finding(last, f"客户重复投诉(「{said(start)}」),客服没有承诺加急处理")


@register
class EscalationChainSkipped(Rule):
    code = "CMP006"
    name = "escalation-chain-skipped"
    clauses = ("S-D6",)
    category = "complaint"
    what = (
        "客户强烈投诉或扬言向监管部门、媒体反映(12315、消协、曝光、起诉…)时,客服没有升级处理,"
        "或者没有按公司设置的升级路径(company.escalation_chain)从第一级开始,而是直接跳到更高一级。"
    )
    why = "按升级路径逐级处理(值班长 → 区域投诉热线 → 省级 → 全国监督热线)才能在最低一级解决问题。"
    bad = (
        "客户: 再不解决我就打12315投诉你们\n客服: 您可以拨打省级投诉热线反映。",
        "客户: 再不解决我就去媒体曝光\n客服: 请问您的订单号是多少?",
    )
    good = (
        "客户: 再不解决我就打12315投诉你们\n"
        "客服: 非常抱歉,您反映的问题我马上提交给值班长处理,请您保持电话畅通。",
        "客户: 再不解决我就去媒体曝光\n客服: 非常抱歉,我马上为您升级处理。",
    )
    hints = (next_step("S-D6", "客户扬言向监管部门或媒体反映:按升级路径从第一级开始升级处理",
                       when="客户强烈投诉或扬言找监管部门、媒体后", clears="客服升级处理后消失",
                       triggers=("customer_strong_complaint",)),)

    def __init__(self, rulebook) -> None:
        super().__init__(rulebook)
        self._chain = [(level, textnorm.basic(level)) for level in rulebook.company.escalation_chain]

    def _levels(self, view: TurnView) -> list[tuple[int, int, str]]:
        """(position in the basic form, level number, level name) of each chain level the turn mentions."""
        found = []
        for number, (level, key) in enumerate(self._chain):
            pos = view.basic.find(key) if key else -1
            if pos >= 0:
                found.append((pos, number, level))
        return sorted(found)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        start = next((v for v in ctx.customer if v.has("customer_strong_complaint")), None)
        if start is None:
            return
        generic = {v.index for v, _ in agent_hits_after(ctx, start.index, "escalate")}
        for view in ctx.agent_after(start.index):
            levels = self._levels(view)
            if levels:
                pos, number, level = levels[0]
                if number > 0:
                    span = view.original("basic", pos, pos + len(self._chain[number][1]))
                    yield self.finding(
                        view,
                        f"强烈投诉未按升级路径处理:跳过「{self._chain[0][0]}」直接提到「{level}」",
                        span=span,
                    )
                return
            if view.index in generic:
                return
        last = last_agent_after(ctx, start.index)
        if last is not None:
            yield self.finding(last, f"客户强烈投诉(「{said(start)}」),客服没有升级处理")


# Clauses of an agent turn: split at punctuation and spaces.
_CLAUSE = re.compile(r"[^\s,，。.!！?？;；:：~～、…]+")


@register
class RepeatedSoothing(Rule):
    code = "CMP007"
    name = "repeated-soothing-phrase"
    clauses = ("S-D7",)
    severity = Severity.MINOR
    category = "complaint"
    what = (
        "同一句安抚语(含「不要着急」「请放心」「非常抱歉」等,至少4个字)在一次对话中被重复达到"
        "settings.soothing_repeat_limit 次(默认3次)。"
    )
    why = "机械重复同一句安抚语显得敷衍,反而加重客户的不满;应换用不同的表达并给出实际进展。"
    bad = (
        "客户: 怎么还没到\n客服: 请您不要着急,我帮您查一下。\n客户: 快点\n客服: 请您不要着急。\n"
        "客户: 到底什么时候到\n客服: 请您不要着急,正在派送中。",
    )
    good = (
        "客户: 怎么还没到\n客服: 请您不要着急,我帮您查一下。\n客户: 快点\n"
        "客服: 理解您的心情,我已经联系站点了。\n客户: 到底什么时候到\n"
        "客服: 站点回复今天下午送达,我会继续跟进。",
    )
    hints = (warning("S-D7", when="草稿或刚说的话把同一句安抚语重复到第 settings.soothing_repeat_limit 次时", replace=None,
                     triggers=("soothing",)),)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        seen: dict[str, list[tuple[TurnView, tuple[int, int]]]] = defaultdict(list)
        for view in ctx.agent:
            if view.has("soothing"):
                for clause, span in view.memo(self.code, lambda: self._soothing(ctx, view)):
                    seen[clause].append((view, span))
        limit = self.rulebook.settings.soothing_repeat_limit
        for places in seen.values():
            if len(places) >= limit:
                view, span = places[-1]
                quote = view.text[span[0]:span[1]]
                yield self.finding(view, f"安抚语「{quote}」在本次对话中重复了{len(places)}次", span=span)

    @staticmethod
    def _soothing(ctx: CheckContext, view: TurnView) -> list[tuple[str, tuple[int, int]]]:
        """The turn's clauses (loose form, span) that hold a soothing phrase of the agent's own."""
        keys = {h.phrase.key for h in view.find("soothing") if not ctx.is_quoted(view, h)}
        found = []
        for match in _CLAUSE.finditer(view.text) if keys else ():
            clause = textnorm.loose(match.group(0))
            if len(clause) >= 4 and any(k in clause for k in keys):
                found.append((clause, match.span()))
        return found


@register
class GoodsProblemMishandled(Rule):
    code = "CMP008"
    name = "goods-problem-mishandled"
    clauses = ("S-D8",)
    category = "complaint"
    what = (
        "客户反映物流、错发或商品破损问题时:物流、错发问题客服没有先查询订单、物流或出库记录就下结论;"
        "错发、破损时没有提供补救(补发、重新发货、退款、换货、售后…);承认是我方失误却没有致歉。"
    )
    why = "先查记录才能判断责任;确属我方问题时,致歉并立即补发或全额退款是标准处理。"
    bad = (
        "客户: 我收到的衣服颜色发错了\n客服: 仓库一般不会发错的,您再看看。",
        "客户: 杯子收到就碎了\n客服: 请稍等,我查看一下订单记录。\n客户: 好\n客服: 查到了,确实是我们发货时包装不当。",
        "客户: 我的快递怎么还没到\n客服: 快递都是这样的,明天肯定到了。",
    )
    good = (
        "客户: 我收到的衣服颜色发错了\n客服: 请稍等,我查看下您的订单和发货出库记录。\n客户: 好\n"
        "客服: 的确是我们发错了,非常抱歉,我们会立即给您重新发货,如果您不想要了,我们愿意全额退款。",
        "客户: 我的快递怎么还没到\n客服: 请稍等,我帮您查询一下物流信息。",
    )

    TOPICS = ("customer_logistics", "customer_wrong_item", "customer_damaged")
    GOODS = ("customer_wrong_item", "customer_damaged")
    RECORDED = ("customer_logistics", "customer_wrong_item")

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        topical = [v for v in ctx.complaint_turns if v.has(*self.TOPICS)]
        if not topical:
            return
        start = topical[0]
        last = last_agent_after(ctx, start.index)
        if last is None:
            return
        received = any(v.has("customer_goods", "customer_wrong_item") for v in ctx.customer)
        goods = next((v for v in topical if v.has(*self.GOODS)), None) if received else None
        remedies = agent_hits_after(ctx, goods.index, "remedy") if goods is not None else []
        if any(v.has(*self.RECORDED) for v in topical):
            # Check first: the record must be looked at (even before the complaint) no later than
            # the remedy offered, or at all when there is none. Damage alone needs no record.
            concluded = remedies[0][0] if remedies else last
            checked = agent_hits_after(ctx, -1, "check_record", "lookup_report", "verify_order")
            if not checked or checked[0][0].index > concluded.index:
                yield self.finding(concluded, f"客户反映「{said(start)}」,客服未先查询订单、物流或出库记录就下结论")
        if goods is not None and not remedies:
            yield self.finding(last, f"客户反映错发或破损(「{said(goods)}」),客服没有提供补发、退款、换货等补救方案")
        fault = agent_hits_after(ctx, start.index, "own_fault")
        if fault and not agent_says_after(ctx, start.index, "apology"):
            view, hit = fault[0]
            yield self.finding(view, f"客服承认是我方失误(「{view.quote(hit)}」)却没有致歉", hit)
