"""特殊情况处理: supervisor requests, transfers, sales calls and out-of-scope questions (S-C9 … S-C12).

Built on the helpers of ``situations``: S-C10 and S-C12 are ``PromptRule``s whose required elements
may sit in a neighbouring agent turn, S-C11 answers a customer trigger, and S-C9 is checked as a
sequence (two retention attempts, then the transfer or call-back, with the contact details).
"""

from __future__ import annotations

from typing import Iterator

from guifan.engine.context import CheckContext, TurnView
from guifan.engine.hints import Hint, HintKind, Step, warning
from guifan.engine.matcher import Hit
from guifan.engine.registry import Rule, register
from guifan.model import Finding, Severity
from guifan.rules.opening import Part
from guifan.rules.situations import (
    APOLOGY, POLITE_REQUEST, Prompt, PromptRule, SituationReply, unquoted_hit, wording_with,
)

RETENTIONS_BEFORE_ESCALATION = 2  # S-C9: 须做两次挽留
REFUSAL_REACH = 4  # characters between a refusal and 转接 that still make "没办法为您转接" a refusal


def transfer_hit(ctx: CheckContext, view: TurnView) -> Hit | None:
    """The agent's own transfer in a turn; none when it is refused ("没办法为您转接过去")."""
    hit = unquoted_hit(ctx, view, "transfer")
    if hit is None or not view.has("refusal"):
        return hit
    start = view.span(hit)[0]
    for refusal in view.find("refusal"):
        end = view.span(refusal)[1]
        if end <= start and start - end <= REFUSAL_REACH:
            return None
    return hit


@register
class SupervisorRequestWithoutRetention(Rule):
    code = "SPC009"
    name = "supervisor-request-without-retention"
    clauses = ("S-C9",)
    severity = Severity.MAJOR
    category = "situations"
    what = (
        "客户要求找主管、领导或指定客服后,客服没有先做两次挽留(「请问您具体遇到了什么问题」"
        "「由我来为您处理好吗」)就转接或记录提交领导;或承诺领导回电却没有请客户留下联系方式。"
    )
    why = "多数问题一线客服就能解决:先挽留两次,挽留无效再记录要求、留下联系方式转交领导回电。"
    bad = (
        "客户: 我要找你们领导\n客服: 好的,正在为您转接。",
        "客户: 我要找你们领导\n客服: 首先对给您造成的不便表示歉意,请问一下您具体遇到了什么问题呢?\n"
        "客户: 跟你说没用,叫你们领导来\n客服: 好的,我会把您的要求记录下来提交给我们领导的,稍后给您回电。",
        "客户: 我要找你们领导\n客服: 请问一下您具体遇到了什么问题呢?\n客户: 不说,找领导\n"
        "客服: 很抱歉,您需要反映的是什么问题,由我来为您处理好吗?\n客户: 不行\n"
        "客服: 好的,我会把您的要求记录下来提交给我们领导的,稍后给您回电。",
    )
    good = (
        "客户: 我要找你们领导\n客服: 首先对给您造成的不便表示歉意,请问一下您具体遇到了什么问题呢?\n"
        "客户: 找领导\n客服: 很抱歉,您需要反映的是什么问题,由我来为您处理好吗?\n客户: 不行\n"
        "客服: 我会把您的要求记录下来提交给我们领导的,您是否可以留下您的联系方式,稍后给您回电,您看可以吗?",
        "客户: 我要找你们领导\n客服: 请问您具体遇到了什么问题呢?\n客户: 退款一直没到\n客服: 我帮您查一下,退款已经原路退回了。",
    )
    hints = (Hint(HintKind.NEXT_STEP, "S-C9", (
        Step("客户要求找主管:先挽留(第一次):致歉并问清具体问题", ("S-C9#0",)),
        Step("再挽留一次(第二次):由我来为您处理好吗", ("S-C9#1",)),
        Step("两次挽留无效:说明原因、征得同意后转接,或记录要求并留下联系方式", ("S-C9#2", "S-C10#0")),
    ), when="客户要求找主管、领导或指定客服后", clears="客服转接或记录提交领导后消失",
        triggers=("customer_asks_supervisor", "agent")),)

    def hint_step(self, hint: Hint, ctx: CheckContext, found: list[Finding]) -> int | None:
        request = next((v for v in ctx.customer if v.has("customer_asks_supervisor")), None)
        if request is None:
            return None
        retained = 0
        for view in ctx.agent_after(request.index):
            if transfer_hit(ctx, view) or unquoted_hit(ctx, view, "callback"):
                return None  # escalated: the rule judges how (check)
            retained += view.says("retention")
        if retained < RETENTIONS_BEFORE_ESCALATION and not ctx.customer[-1].has("customer_asks_supervisor"):
            return None  # the customer let the agent help
        return min(retained, RETENTIONS_BEFORE_ESCALATION)

    def __init__(self, rulebook) -> None:
        super().__init__(rulebook)
        self._contact_wording = wording_with(rulebook, "S-C9", ("contact_details",))

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        request = next((v for v in ctx.customer if v.has("customer_asks_supervisor")), None)
        if request is None:
            return
        after = list(ctx.agent_after(request.index))
        retained = 0
        for n, view in enumerate(after):
            hit = transfer_hit(ctx, view) or unquoted_hit(ctx, view, "callback")
            if hit is None:
                retained += view.says("retention")
                continue
            action = "转接" if hit.category == "transfer" else "记录提交领导"
            if retained < RETENTIONS_BEFORE_ESCALATION:
                yield self.finding(
                    view, f"客户要求找主管或指定人员后,客服只挽留了{retained}次就{action}(应先挽留两次)", hit
                )
            if hit.category == "callback" and not any(v.has("contact_details") for v in after[: n + 2]):
                yield self.finding(
                    view, "承诺领导回电,但没有请客户留下联系方式", hit, suggestion=self._contact_wording
                )
            return


@register
class TransferWithoutExplanation(PromptRule):
    code = "SPC010"
    name = "transfer-without-explanation"
    clauses = ("S-C10",)
    severity = Severity.MINOR
    triggers = ("transfer",)
    requires = ("transfer",)
    needs = (
        Part("说明转接原因", ("transfer_reason",)),
        Part("征得客户同意(可以吗)", ("consent",)),
        Part("对带来的不便致歉", ("inconvenience",)),
    )
    act = "转接"
    what = "客服转接时(本句或上一句)没有说明原因、征得客户同意并对带来的不便致歉;提示中列出缺少的部分。"
    why = "未经说明和同意的转接让客户觉得被推来推去;应说明原因、征得同意并致歉。"
    bad = (
        "客户: 我要开增值税发票\n客服: 我给您转接一下。",
        "客户: 我要开增值税发票\n客服: 为了更好地解决您的问题,我帮您转接相关部门的同事,可以吗?",
    )
    good = (
        "客户: 我要开增值税发票\n客服: 为了更好地解决您的问题,我会帮您转接给相关部门的同事,"
        "请他们为您提供更专业的帮助,可以吗?给您带来不便请谅解。",
        "客户: 我要开增值税发票\n客服: 很抱歉,发票需要财务部门的同事为您开具,我帮您转接过去,可以吗?\n"
        "客户: 好\n客服: 正在为您转接,请稍候。",
        "客户: 能转接吗\n客服: 不好意思,这个问题无法转接,我来为您处理。",
        "客户: 能帮我转给别人吗\n客服: 亲,小妹没办法为您转接过去呢,很抱歉,这个问题我来帮您处理。",
        "客户: 有苹果的转接头吗\n客服: 转接头有货的哦,Lightning转接线也有。",
    )
    hints = (warning("S-C10", when="客服(草稿或刚说的话)转接却没有说明原因、征得同意并致歉时", replace=None,
                     triggers=("transfer",)),)

    def prompts(self, ctx: CheckContext) -> list[Prompt]:
        """The first turn of each run of consecutive transferring agent turns: one transfer, one check."""
        prompts = [(v, h) for v in ctx.agent if v.has("transfer") and (h := transfer_hit(ctx, v)) is not None]
        transferring = {view.index for view, _ in prompts}
        return [(v, h) for v, h in prompts if self._previous(ctx, v) not in transferring]

    def window(self, ctx: CheckContext, view: TurnView) -> list[TurnView]:
        """The agent turn before the transfer, and the run of transferring turns it starts."""
        before = ctx.agent_before(view.index)
        run = [view]
        for later in ctx.agent_after(view.index):
            if transfer_hit(ctx, later) is None:
                break
            run.append(later)
        return before[-1:] + run

    @staticmethod
    def _previous(ctx: CheckContext, view: TurnView) -> int | None:
        before = ctx.agent_before(view.index)
        return before[-1].index if before else None


@register
class SalesCallNotRedirected(SituationReply):
    code = "SPC011"
    name = "sales-call-not-redirected"
    clauses = ("S-C11",)
    severity = Severity.MINOR
    trigger = "customer_sales"
    reach = 2
    needs = (
        Part("引导对方联系其他部门(这是客服热线)", ("sales_redirect",)),
        Part("礼貌用语(对不起/请/谢谢)", APOLOGY.categories + POLITE_REQUEST.categories),
    )
    situation = "推销或洽谈业务合作"
    what = "推销或业务合作来电(「我们公司是做……的,想跟你们合作」)后,客服接下来两句没有礼貌地引导对方联系公司其他部门。"
    why = "客服热线是为客户服务的,推销来电应礼貌说明并引导到其他部门,既不占用热线也不失礼。"
    bad = (
        "客户: 您好,我们公司是做网络推广的,想跟你们合作一下\n客服: 不需要。\n客户: 可以先了解一下\n客服: 不用了。",
    )
    good = (
        "客户: 您好,我们公司是做网络推广的,想跟你们合作一下\n"
        "客服: 对不起,这是我们客服热线,如果想推销或介绍业务,请联系公司其他部门,谢谢合作!",
        "客户: 能推荐一款手机吗,我们的产品都是用你们家的\n客服: 好的,请问您的预算是多少呢?",
    )


@register
class OutOfScopeWithoutReferral(PromptRule):
    code = "SPC012"
    name = "out-of-scope-without-referral"
    clauses = ("S-C12",)
    severity = Severity.MAJOR
    triggers = ("out_of_scope",)
    needs = (Part("告知客户该找哪里(建议您联系……)", ("referral",)),)
    act = "说明问题不属于服务范围"
    what = "客服说明问题不属于本热线服务范围时,本句和下一句都没有告诉客户该去哪里咨询。"
    why = "只说「不归我们管」等于把客户拒之门外;应说明本热线负责什么,并告知客户可以联系的部门或渠道。"
    bad = ("客户: 我的社保怎么查\n客服: 这个不属于我们的服务范围。",)
    good = (
        "客户: 我的社保怎么查\n客服: 我们主要是负责网站相关问题咨询,您咨询的问题不属于我们范围内,建议您联系当地社保中心。",
        "客户: 我的社保怎么查\n客服: 很抱歉,这个不在我们的服务范围。\n客户: 那怎么办\n客服: 您可以拨打12333社保热线咨询。",
        "客户: 快递丢了谁负责\n客服: 这个不属于我们的责任,不过我会帮您联系快递公司处理。",
    )

    def window(self, ctx: CheckContext, view: TurnView) -> list[TurnView]:
        return [view, *list(ctx.agent_after(view.index))[:1]]
