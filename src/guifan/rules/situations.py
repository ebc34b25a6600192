"""特殊情况处理: hearing problems, dialect, repeat requests, wrong numbers and abusive customers
(S-C2 … S-C8).

Most of these clauses are "when the agent says X, the same turn (or a nearby one) must also say
Y": ``PromptRule`` checks that, with the required elements as ``Part``s shared with the opening
family. S-C2 … S-C4 also forbid hanging up directly (``NeverHangUp``); S-C5 and S-C6 answer a
customer trigger (``SituationReply``, on the courtesy family's ``ReplyRule``). The supervisor,
transfer, sales-call and out-of-scope clauses (S-C9 … S-C12) are in ``escalation_requests`` and
reuse the helpers here.
"""

from __future__ import annotations

from typing import ClassVar, Iterator

from guifan import text as textnorm
from guifan.engine.context import CheckContext, TurnView
from guifan.engine.hints import Hint, HintKind, Step, next_step, warning
from guifan.engine.matcher import Hit
from guifan.engine.registry import Rule, register
from guifan.model import Finding, Role, Severity
from guifan.rules.courtesy import ReplyRule
from guifan.rules.opening import Part, absence_of, lacking_message, missing_parts
from guifan.rules.silence import is_silent_call

APOLOGY = Part("致歉(对不起/抱歉)", ("apology",))
POLITE_REQUEST = Part("礼貌请求(请……好吗)", ("polite_request_marker",))
# The agent closing the conversation, and the customer taking leave of it.
CLOSING = ("farewell", "closing_thanks", "end_call_notice")
TAKING_LEAVE = ("farewell", "customer_thanks")

Prompt = tuple[TurnView, Hit | None]


def unquoted_hit(ctx: CheckContext, view: TurnView, *categories: str) -> Hit | None:
    """The first hit of any of ``categories`` in ``view`` that is not the agent quoting the customer."""
    for category in categories:
        for hit in sorted(view.find(category), key=lambda h: h.start):
            if not ctx.is_quoted(view, hit):
                return hit
    return None


def agent_prompts(ctx: CheckContext, *categories: str) -> list[Prompt]:
    """Agent turns saying any of ``categories`` in their own words, each with its first such hit
    (None where the words are not the rulebook's: the act recognized by meaning)."""
    found = []
    for view in ctx.agent:
        if view.has(*categories):
            hit = unquoted_hit(ctx, view, *categories)
            if hit is not None:
                found.append((view, hit))
        elif view.by_meaning(*categories):
            found.append((view, None))
    return found


def wording_with(rulebook, clause: str, categories: tuple[str, ...]) -> str | None:
    """The clause's standard wording that says a phrase of ``categories``: the fitting suggestion."""
    keys = [textnorm.loose(p.text) for c in categories for p in rulebook.phrase_list(c)]
    return next((w for w in rulebook.wording(clause) if any(k in textnorm.loose(w) for k in keys)), None)


def ended_right_after(ctx: CheckContext, view: TurnView, remedy: tuple[str, ...], since: int) -> TurnView | None:
    """The agent turn that ended the conversation right after ``view`` without any ``remedy`` said.

    "Right after": the customer said nothing more, or replied once without taking leave and the
    agent's only answer closed the conversation. None when the talk went on, when an agent turn from
    ``since`` on says a remedy, or when who hung up is unknown: the customer had the last word, or
    the agent's last turn politely asked them to do something and did not close.
    """
    tail = [v for v in ctx.turns[view.index:] if v.role is not Role.SYSTEM]
    if tail[-1].is_customer:
        return None
    if any(v.is_agent and v.has(*remedy) for v in ctx.turns[since:]):
        return None
    replies = [v for v in tail if v.is_customer]
    if not replies:
        last = tail[-1]
        return last if last.has(*CLOSING) or not last.has("polite_request_marker") else None
    if len(replies) > 1 or replies[0].has(*TAKING_LEAVE):
        return None
    answer = tail[-1]
    return answer if tail[-2] is replies[0] and answer.has(*CLOSING) else None


class PromptRule(Rule):
    """Base: an agent turn saying one of ``triggers`` must say each of ``needs`` within its ``window``.

    ``act`` names what the agent is doing, for messages ("请客户重复"). The finding quotes the trigger.
    """

    category = "situations"
    triggers: ClassVar[tuple[str, ...]]
    needs: ClassVar[tuple[Part, ...]]
    act: ClassVar[str]

    def prompts(self, ctx: CheckContext) -> list[Prompt]:
        return agent_prompts(ctx, *self.triggers)

    def required_categories(self) -> frozenset[str]:
        # A subclass finding prompts its own way (bare "什么?") may need none of the triggers.
        return frozenset(self.triggers) if type(self).prompts is PromptRule.prompts else frozenset(self.requires)

    def owns(self, view: TurnView) -> bool:
        """Whether a prompt belongs to this rule (two clauses can share triggers)."""
        return True

    def window(self, ctx: CheckContext, view: TurnView) -> list[TurnView]:
        return [view]

    def unmet(self, ctx: CheckContext, prompts: list[Prompt]) -> Iterator[Finding]:
        for view, hit in prompts:
            if not self.owns(view):
                continue
            window = self.window(ctx, view)
            lacking = missing_parts(window, self.needs)
            if lacking:
                yield self.finding(view, lacking_message(f"客服{self.act}时", lacking), hit,
                                   confidence=absence_of(self, window, self.needs))

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        yield from self.unmet(ctx, self.prompts(ctx))


class NeverHangUp(PromptRule):
    """Base: the prompt must be polite, and the conversation must not end right after the last
    prompt unless some agent turn of the episode said the ``remedy`` (不可以直接挂机)."""

    remedy: ClassVar[Part]

    def __init__(self, rulebook) -> None:
        super().__init__(rulebook)
        self._remedy_wording = wording_with(rulebook, self.clauses[0], self.remedy.categories)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        prompts = self.prompts(ctx)
        yield from self.unmet(ctx, prompts)
        if not prompts or not self.owns(prompts[-1][0]):
            return
        end = ended_right_after(ctx, prompts[-1][0], self.remedy.categories, since=prompts[0][0].index)
        if end is not None:
            message = f"客服{self.act}后,未{self.remedy.label}就直接结束了通话(不可以直接挂机)"
            yield self.finding(end, message, suggestion=self._remedy_wording)


class CustomerInaudible(NeverHangUp):
    """S-C2 and S-C3 share one protocol; a turn that mentions noise or the signal is S-C3."""

    severity = Severity.MAJOR
    triggers = ("cannot_hear", "line_noise")
    needs = (APOLOGY, POLITE_REQUEST)
    remedy = Part("请客户换一部电话或稍后再次来电", ("call_again",))
    noisy: ClassVar[bool]

    def owns(self, view: TurnView) -> bool:
        return view.has("line_noise", "noise_hint") == self.noisy

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        # A customer who never speaks is a silent call: S-C1 (SPC001) has its own protocol.
        if not is_silent_call(ctx):
            yield from super().check(ctx)


@register
class QuietCustomerMishandled(CustomerInaudible):
    code = "SPC002"
    name = "quiet-customer-mishandled"
    clauses = ("S-C2",)
    noisy = False
    act = "表示听不清客户(声音太小)"
    what = (
        "客服表示听不清客户、请客户大声一点时,没有致歉并礼貌请求(「对不起,请您大声一点,好吗?」);"
        "或者说完听不清后,没有请客户换一部电话再次打来就直接结束通话。"
    )
    why = "客户声音小是常见情况,应礼貌请客户提高音量或拿起话筒;仍听不清时请客户换电话再打来,不可以直接挂机。"
    bad = (
        "客户: 喂……我想问一下……\n客服: 听不清,大声点。",
        "客户: 喂……\n客服: 对不起,请您大声一点,好吗?\n客户: ……\n客服: 还是听不清,再见。",
        "客户: 我那个……订单……\n客服: 对不起,您的声音太小了。",
    )
    good = (
        "客户: 喂……我想问一下……\n客服: 对不起,您的声音太小,请您拿起话筒说话好吗?\n客户: 好的,我想查一下订单。\n客服: 好的,请您提供一下订单号。",
        "客户: 喂……\n客服: 对不起!请您大声一点,好吗?\n客户: ……\n客服: 对不起!您的电话声音太小,请您换一部电话再次打来,好吗?再见!",
        "客户: 你大声点,我听不清你说话\n客服: 对不起,我大声一点。请问有什么可以帮助您?",
        "客户: 快递员打电话我没接到\n客服: 配送员骑车时可能听不到电话,我帮您联系他再送一次。",
        "客户: 电视没有声音,音箱声音也小\n客服: 电视没有声音、音箱声音小的话,可以申请售后检测。",
        "客户: 耳机打电话对方听不清\n客服: 很抱歉,耳机通话时对方听不清,可以申请售后检测。",
    )


@register
class BadLineMishandled(CustomerInaudible):
    code = "SPC003"
    name = "bad-line-mishandled"
    clauses = ("S-C3",)
    noisy = True
    act = "表示线路杂音或声音时续时断"
    what = (
        "客服说明电话杂音大、声音时续时断或信号不好时,没有致歉并礼貌请求(请客户重复或换电话再打来);"
        "或者说完后没有请客户再次来电就直接结束通话。"
    )
    why = "线路问题不是客户的错:应致歉并请客户重复或换一部电话再打来,不可以直接挂机。"
    bad = (
        "客户: 我的快递……那个……\n客服: 你那边杂音太大了,听不清。",
        "客户: 喂?喂?\n客服: 很抱歉,您的声音时续时断,请您再重复一下。\n客户: 我……查……\n客服: 可能电话信号不是很好,我听不清,再见。",
    )
    good = (
        "客户: 我的快递……那个……\n客服: 很抱歉,您的声音时续时断,请您再重复一下。\n客户: 我的快递到哪了?\n客服: 请您提供一下订单号。",
        "客户: 喂?喂?\n客服: 对不起,您的电话杂音太大,听不清,请您换一部电话再次打来好吗?再见!",
        "客户: 耳机有杂音怎么办\n客服: 很抱歉给您带来不便,耳机有杂音可以申请售后检测。",
    )


@register
class DialectMishandled(NeverHangUp):
    code = "SPC004"
    name = "dialect-mishandled"
    clauses = ("S-C4",)
    severity = Severity.MAJOR
    triggers = ("mandarin_request",)
    needs = (Part("对不起/请", ("apology", "please")), Part("好吗/谢谢", ("request_tag",)))
    remedy = Part("请客户找一位会讲普通话的人来", ("mandarin_speaker",))
    act = "请客户讲普通话"
    what = (
        "客服请客户讲普通话时不礼貌(缺少「对不起/请」和「好吗/谢谢」);或者客户仍讲方言时,"
        "客服没有请客户找一位会讲普通话的人,就直接结束通话。"
    )
    why = "听不懂方言时应先礼貌请客户讲普通话,再请客户找会讲普通话的人来,不可以直接挂机。"
    bad = (
        "客户: 我嘅快递去咗边度啊?\n客服: 讲普通话。",
        "客户: 我嘅快递去咗边度啊?\n客服: 对不起,请您讲普通话,好吗?谢谢!\n客户: 唔该你帮我睇下啦\n客服: 再见。",
    )
    good = (
        "客户: 我嘅快递去咗边度啊?\n客服: 对不起,请您讲普通话,好吗?谢谢!\n客户: 唔该你帮我睇下啦\n"
        "客服: 对不起,请您找一个可以讲普通话的人来,好吗?谢谢!",
        "客户: 我嘅快递去咗边度啊?\n客服: 对不起,请您讲普通话,好吗?谢谢!\n客户: 好的,我想问下退款的事。\n客服: 好的,请您提供一下订单号。",
        "客户: 你会讲普通话吗?\n客服: 您好,我可以讲普通话的,请问有什么可以帮助您?",
    )


class SituationReply(ReplyRule):
    """Base: after a customer turn with ``trigger``, the agent's next ``reach`` turns say each of ``needs``."""

    category = "situations"
    needs: ClassVar[tuple[Part, ...]]
    situation: ClassVar[str]  # what the customer did, for messages

    def problem(self, ctx: CheckContext, said: str, replies: list[TurnView]) -> str | None:
        lacking = missing_parts(replies, self.needs)
        return lacking_message(f"客户{self.situation}(「{said}」)后,客服的回应", lacking) if lacking else None

    def confidence(self, replies: list[TurnView]) -> float:
        return absence_of(self, replies, self.needs)


@register
class AgentInaudibleNoApology(SituationReply):
    code = "SPC005"
    name = "no-apology-when-agent-inaudible"
    clauses = ("S-C5",)
    severity = Severity.MINOR
    trigger = "customer_cannot_hear_agent"
    needs = (Part("致歉(对不起/抱歉/不好意思)", ("apology",)),)
    situation = "反映听不清客服"
    what = "客户反映听不清客服说话(「你大声点」「听不清你说什么」)后,客服的下一句没有致歉。"
    why = "客户听不清是客服音量的问题:应先说「对不起」,稍微提高音量再继续服务。"
    bad = ("客户: 你说什么?我听不清你说话\n客服: 我说,您的订单已经发货了。",)
    good = ("客户: 你说什么?我听不清你说话\n客服: 对不起,请问有什么可以帮助您?您的订单已经发货了。",)
    hints = (next_step("S-C5", "客户听不清您:先说「对不起」,再稍微提高音量", when="客户反映听不清客服后",
                       clears="客服致歉后消失", triggers=("customer_cannot_hear_agent",)),)


@register
class WrongNumberImpolite(SituationReply):
    code = "SPC006"
    name = "wrong-number-not-answered-politely"
    clauses = ("S-C6",)
    severity = Severity.MINOR
    trigger = "customer_wrong_number"
    needs = (Part("礼貌回应(没关系/感谢您的来电/再见)", ("reassure", "closing_thanks", "farewell", "apology")),)
    situation = "表示打错电话"
    what = "客户表示打错电话后,客服的下一句没有礼貌回应(没关系、感谢您的来电、再见)。"
    why = "打错电话的客户也是潜在客户,应礼貌回应并道别。"
    bad = ("客户: 啊,不好意思,我打错电话了\n客服: 那你看清楚再打。",)
    good = (
        "客户: 啊,不好意思,我打错电话了\n客服: 没关系,感谢您的来电,再见。",
        "客户: 我地址打错了,能改吗\n客服: 可以的,请您提供一下新地址。",
    )
    hints = (next_step("S-C6", "客户打错电话:礼貌回应并道别", when="客户表示打错电话后",
                       clears="客服礼貌回应后消失", triggers=("customer_wrong_number",)),)


@register
class ImpoliteRepeatRequest(PromptRule):
    code = "SPC007"
    name = "impolite-repeat-request"
    clauses = ("S-C7",)
    severity = Severity.MINOR
    triggers = ("repeat_request",)
    needs = (APOLOGY, POLITE_REQUEST)
    act = "请客户重复"
    what = "客服请客户重复时没有致歉和礼貌请求,例如只说「什么?」「再说一遍」。"
    why = "请客户重复是客服没听清或没听懂,应说「很抱歉,请您重复一遍,好吗?」。"
    bad = (
        "客户: 我要退那个蓝色的\n客服: 什么?",
        "客户: 我要退那个蓝色的\n客服: 再说一遍。",
        "客户: 我要退那个蓝色的\n客服: 请您再说一遍。",
    )
    good = (
        "客户: 我要退那个蓝色的\n客服: 很抱歉,请您重复一遍,好吗?",
        "客户: 我要退那个蓝色的\n客服: 很抱歉,我不太明白您的意思,请您再重复一遍,好吗?",
        "客户: 我的订单号是12345\n客服: 好的,我帮您重复一下:您的订单号是12345,对吗?",
        "客户: 没听懂\n客服: 不好意思,我再说一遍:退款三到五个工作日到账。",
        "客户: 我要买个东西\n客服: 请问您想买什么?",
    )
    hints = (warning("S-C7", when="客服(草稿或刚说的话)请客户重复却没有致歉和礼貌请求时"),)

    def __init__(self, rulebook) -> None:
        super().__init__(rulebook)
        self._bare = frozenset(textnorm.loose(e.text) for e in rulebook.phrase_list("bare_repeat"))

    def prompts(self, ctx: CheckContext) -> list[Prompt]:
        said = super().prompts(ctx)
        seen = {view.index for view, _ in said}
        bare = [(v, None) for v in ctx.agent if v.index not in seen and v.loose in self._bare]
        return sorted(said + bare, key=lambda p: p[0].index)


@register
class AbusiveCustomerCutOff(Rule):
    code = "SPC008"
    name = "abusive-customer-cut-off-without-warnings"
    clauses = ("S-C8",)
    severity = Severity.MAJOR
    category = "situations"
    what = (
        "客户使用不文明用语后,客服没有先礼貌提醒两次(「希望您使用文明用语」)就宣布结束通话,"
        "或在客户辱骂后直接道别结束。在线渠道第三步(结束会话)还需值班长同意,本规则不检查。"
        "客服以牙还牙回骂由 FBD020 检查。"
    )
    why = "客户情绪激动时应先礼貌提醒两次;提醒无效再告知将结束通话,以免激化矛盾、引发投诉。"
    bad = (
        "客户: 你们这群废物\n客服: 如您再次使用不文明语言,将结束本次通话!",
        "客户: 你们这群废物\n客服: 为了和您保持良好的沟通,希望您使用文明用语。\n客户: 废物!\n客服: 再见。",
    )
    good = (
        "客户: 你们这群废物\n客服: 为了和您保持良好的沟通,希望您使用文明用语。\n客户: 废物!\n"
        "客服: 为了和您保持良好的沟通,希望您使用文明用语。\n客户: 废物!\n"
        "客服: 如您再次使用不文明语言,将结束本次通话!",
        "客户: 妈的,又没到\n客服: 非常抱歉给您带来不好的体验,我马上帮您催促。\n客户: 好吧\n客服: 感谢您的理解,再见。",
        "客户: 这是我妈的手机号\n客服: 好的,请不要挂机,稍后对我的服务进行评价,谢谢,再见!",
    )
    hints = (Hint(HintKind.NEXT_STEP, "S-C8", (
        Step("客户使用不文明用语:请礼貌提醒(第一次)", ("S-C8#0",)),
        Step("客户再次使用不文明用语:请礼貌提醒(第二次)", ("S-C8#0",)),
        Step("两次提醒无效:请告知将结束本次通话", ("S-C8#1",)),
    ), when="客户使用不文明用语后(每次提醒之后客户再犯,进入下一步)", clears="客服提醒或告知结束通话后消失",
        triggers=("customer_abuse", "agent")),)

    def hint_step(self, hint: Hint, ctx: CheckContext, found: list[Finding]) -> int | None:
        abuse = [v for v in ctx.customer if v.has("customer_abuse")]
        if not abuse:
            return None
        warned = [v.index for v, _ in agent_prompts(ctx, "civility_warning") if v.index > abuse[0].index]
        if any(v.index > abuse[0].index for v, _ in agent_prompts(ctx, "end_call_notice")):
            return None  # the call is being ended
        if warned and warned[-1] > abuse[-1].index:
            return None  # warned since the customer's last abuse
        return min(len(warned), 2)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        abuse = [v for v in ctx.customer if v.has("customer_abuse")]
        if not abuse:
            return
        first = abuse[0].index
        warnings = [v.index for v, _ in agent_prompts(ctx, "civility_warning") if v.index > first]
        notice = next(((v, h) for v, h in agent_prompts(ctx, "end_call_notice") if v.index > first), None)
        if notice is not None:
            view, hit = notice
            count = sum(1 for w in warnings if w < view.index)
            if count < 2:
                yield self.finding(view, f"客户使用不文明用语后,客服只提醒了{count}次就告知结束通话(应先礼貌提醒两次)", hit)
            return
        # No announcement: the agent said goodbye right after the customer's last, abusive, turn.
        last = ctx.customer[-1]
        closing = list(ctx.agent_after(last.index))
        if last.has("customer_abuse") and closing and any(v.has(*CLOSING) for v in closing) and len(warnings) < 2:
            yield self.finding(
                closing[-1], f"客户使用不文明用语后,客服只提醒了{len(warnings)}次就直接结束了通话(应先礼貌提醒两次)"
            )
