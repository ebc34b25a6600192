"""服务忌语: forbidden language (S-F1 … S-F11) and profanity.

The phrase lists live in the rulebook (``forbidden`` and ``profanity``); these rules look them up
in agent turns only, skip the agent's quotes of the customer, and report each offending turn once
per category.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import ClassVar, Iterator

from guifan import text as textnorm
from guifan.engine.context import CheckContext
from guifan.engine.hints import warning
from guifan.engine.registry import Rule, register
from guifan.model import Finding, Severity


class ForbiddenPhraseRule(Rule):
    """Base: any phrase of ``phrase_category`` in an agent turn is a finding."""

    category = "forbidden"
    phrase_category: ClassVar[str]
    label: ClassVar[str]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.acts = (cls.phrase_category,)  # the act is the category: S-F6 by phrase or by meaning
        if "hints" not in cls.__dict__:  # the words said or typed are a warning; the wording replaces them
            cls.hints = (warning(cls.clauses[0], when=f"客服(草稿、语音识别中的半句或刚说的话)使用{cls.label}时",
                                 triggers=(cls.phrase_category,)),)

    def required_categories(self) -> frozenset[str]:
        # By meaning the act may be said in any words: the rule runs on every conversation.
        return frozenset() if self.rulebook.semantic.backend != "off" else frozenset((self.phrase_category,))

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        reported: set[int] = set()
        for view, hit in ctx.agent_hits(self.phrase_category):
            if view.index in reported:
                continue
            reported.add(view.index)
            yield self.finding(view, f"客服使用了{self.label}:「{view.quote(hit)}」", hit)
        for view, act in ctx.meant(self.phrase_category):
            if view.index in reported:
                continue
            reported.add(view.index)
            yield self.meant_finding(view, act, self.label)


@register
class Sarcasm(ForbiddenPhraseRule):
    code = "FBD001"
    name = "sarcasm"
    clauses = ("S-F1",)
    phrase_category = "S-F1"
    label = "讽刺语"
    what = "客服话语中出现讽刺客户的语句(规则手册 forbidden.S-F1)。"
    why = "讽刺语直接伤害客户感受,是服务忌语的第一类。"
    bad = ("客户: 这个套餐太贵了\n客服: 你有钱你找贵的充啊!",)
    good = ("客户: 这个套餐太贵了\n客服: 理解您的想法,我帮您看看有没有更合适的套餐。",)


@register
class Ordering(ForbiddenPhraseRule):
    code = "FBD002"
    name = "ordering-customer"
    clauses = ("S-F2",)
    phrase_category = "S-F2"
    label = "命令语"
    what = "客服用命令口吻要求客户(「声音大点」「你先听我说」「快一点」等)。"
    why = "命令语让客户感到被呵斥;请求应使用「请」「好吗」等礼貌形式。"
    bad = (
        "客户: 喂?\n客服: 声音大点,我听不到。",
        "客户: 你们这个到底怎么回事\n客服: 你先听我说。",
    )
    good = (
        "客户: 喂?\n客服: 对不起,请您大声一点,好吗?",
        "客户: 你们这个到底怎么回事\n客服: 请您先听我说明一下具体情况。",
    )


@register
class Blaming(ForbiddenPhraseRule):
    code = "FBD003"
    name = "blaming-customer"
    clauses = ("S-F3",)
    phrase_category = "S-F3"
    label = "责备语"
    what = "客服责备客户(「你是不是搞错了」「你怎么还不明白」等)。"
    why = "责备客户会激化矛盾;应主动澄清、耐心解释。"
    bad = ("客户: 我订单上显示的不是这个\n客服: 你是不是搞错了?",)
    good = ("客户: 我订单上显示的不是这个\n客服: 请问还有什么问题吗?我帮您再核对一下订单。",)


@register
class Grumbling(ForbiddenPhraseRule):
    code = "FBD004"
    name = "grumbling"
    clauses = ("S-F4",)
    phrase_category = "S-F4"
    label = "埋怨语"
    what = "客服埋怨客户(「我不是已经说了吗」「刚才不是讲过了吗」等)。"
    why = "埋怨语把沟通问题推给客户;应换一种说法再解释一次。"
    bad = ("客户: 那退款什么时候到?\n客服: 刚才不是讲过了吗?三到五个工作日。",)
    good = ("客户: 那退款什么时候到?\n客服: 不好意思,可能我刚才没说清楚,退款会在三到五个工作日内到账。",)


@register
class Lecturing(ForbiddenPhraseRule):
    code = "FBD005"
    name = "lecturing"
    clauses = ("S-F5",)
    phrase_category = "S-F5"
    label = "教训语"
    what = "客服教训客户(「急什么?」「你会不会讲话」等)。"
    why = "教训语居高临下,损害客户体验。"
    bad = ("客户: 快点帮我查一下\n客服: 急什么?系统正在查。",)
    good = ("客户: 快点帮我查一下\n客服: 请您不要着急,我正在为您查询。",)


@register
class Shirking(ForbiddenPhraseRule):
    code = "FBD006"
    name = "shirking-responsibility"
    clauses = ("S-F6",)
    phrase_category = "S-F6"
    label = "推卸语"
    what = "客服推卸责任(「我不知道。」「那不是我的工作」「你自己去问问吧」等)。"
    why = "推卸语让客户求助无门;应承诺核实或转交并说明原因。"
    bad = (
        "客户: 这个什么时候能修好?\n客服: 我不知道。",
        "客户: 发票怎么开?\n客服: 这是其它部门的问题,不关我的事。",
    )
    good = (
        "客户: 这个什么时候能修好?\n客服: 我不知道您是否方便留个电话,核实后我第一时间回复您。",
        "客户: 发票怎么开?\n客服: 很抱歉,请您稍等一下,我帮您核实。",
        "客户: 他说「我不知道」就挂了\n客服: 非常抱歉,同事说“我不知道”给您带来了不好的体验,我来帮您处理。",
    )


@register
class Impatience(ForbiddenPhraseRule):
    code = "FBD007"
    name = "impatience"
    clauses = ("S-F7",)
    phrase_category = "S-F7"
    label = "烦躁语"
    what = "客服表现出不耐烦(「知道了,知道了」「你催什么」「有能耐你告去」等)。"
    why = "烦躁语让客户感到被敷衍甚至被挑衅,容易引发投诉。"
    bad = ("客户: 你们到底什么时候处理?\n客服: 你催什么,我都不急,你急什么?",)
    good = ("客户: 你们到底什么时候处理?\n客服: 理解您着急的心情,我马上为您加急处理。",)


@register
class AgreeingProductIsBad(ForbiddenPhraseRule):
    code = "FBD008"
    name = "agreeing-company-is-bad"
    clauses = ("S-F8",)
    phrase_category = "S-F8"
    label = "随意附和语"
    what = "客服附和客户对公司或产品的负面评价(「没错,我们公司确实很差」等)。"
    why = "随意附和损害公司形象,也不解决问题;应致歉并反馈改进。"
    bad = ("客户: 你们公司太差了\n客服: 没错,我们公司确实很差。",)
    good = ("客户: 你们公司太差了\n客服: 非常抱歉给您带来了不好的体验,您的意见我们会反馈给相关部门改进。",)


@register
class RudeOpener(ForbiddenPhraseRule):
    code = "FBD009"
    name = "rude-opener-or-threat"
    clauses = ("S-F9",)
    phrase_category = "S-F9"
    label = "无礼开场或威胁"
    what = "客服以「喂,说话呀!」「喂,说吧!」开场,或威胁挂机(「再不说话我就挂了」)。"
    why = "来电无声或听不清时应按无声电话流程礼貌处理,不得催促或威胁客户。"
    bad = ("客户: ……\n客服: 喂,说话呀!再不说话我就挂了啊!",)
    good = ("客户: ……\n客服: 您好!请问有什么可以帮助您?",)


@register
class AgentProfanity(ForbiddenPhraseRule):
    code = "FBD020"
    name = "agent-profanity"
    clauses = ("S-C8", "S-F7")
    severity = Severity.FATAL
    phrase_category = "profanity"
    label = "不文明用语"
    what = (
        "客服使用脏话或辱骂性语言(规则手册 profanity)。客户先有不文明言语时,这是以牙还牙回骂客户(S-C8,"
        "应礼貌提醒);否则记为客服的不文明用语(S-F7)。"
    )
    why = "辱骂客户是致命错误,本通评分直接为零;客户不文明时应按 S-C8 礼貌提醒,不得回骂。"
    bad = (
        "客户: 你们这帮废物\n客服: 你骂谁废物呢?",
        "客户: 我的快递到哪了\n客服: 你有病吧,自己不会查?",
    )
    good = ("客户: 你们就是一群骗子\n客服: 为了和您保持良好的沟通,希望您使用文明用语。",)
    hints = (
        warning("S-F7", when="客服(草稿、半句或刚说的话)使用脏话或辱骂性语言时", replace=None, triggers=("profanity",)),
        warning("S-C8", when="客户不文明之后,客服(草稿、半句或刚说的话)回骂客户时", replace=None, triggers=("profanity",)),
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for finding in super().check(ctx):
            provoked = any(v.index < finding.turn and v.has("customer_abuse") for v in ctx.customer)
            if provoked:
                yield replace(finding, clauses=("S-C8",), message=finding.message.replace("客服使用了", "客服回骂客户,使用了"))
            else:
                yield replace(finding, clauses=("S-F7",), suggestion="请使用文明、礼貌的服务用语")

    def suggestion(self, clause: str | None = None) -> str:
        return self.rulebook.wording("S-C8")[0]


_CLAUSE_BREAK = ",，。!！?？;；"


@register
class SendingOff(Rule):
    code = "FBD013"
    name = "sending-customer-off"
    clauses = ("S-F6",)
    category = "forbidden"
    what = (
        "客服让客户自己去联系别人问(「您联系商家客服问问」「建议您再次联系下安装人员问下」),"
        "而没有自己负责跟进(同一句里「如果处理不了可以联系我们」或承诺核实则不算)。"
    )
    why = "把客户打发给别人是推卸语的一种;应由客服核实或转交,并告诉客户结果。"
    bad = (
        "客户: 这个能换货吗\n客服: 您现在联系商家客服 问问可以申请换货吗",
        "客户: 热水器怎么装\n客服: 建议您再次联系下安装人员问下具体如何操作呢",
    )
    good = (
        "客户: 这个能换货吗\n客服: 第三方商品建议您先联系一下商家处理~如果处理不了可以联系我们客服帮您处理的哦~",
        "客户: 这个能换货吗\n客服: 我帮您联系商家问一下,稍后回复您。",
        "客户: 热水器怎么装\n客服: 您可以联系安装师傅,我帮您查询一下师傅的电话。",
    )
    hints = (warning("S-F6", when="客服(草稿或刚说的话)让客户自己去联系别人时", triggers=("deflect_ask",)),)
    requires = ("deflect_ask",)

    def __init__(self, rulebook) -> None:
        super().__init__(rulebook)
        party = "|".join(re.escape(e.text) for e in rulebook.phrase_list("deflect_party"))
        ask = "|".join(re.escape(e.text) for e in rulebook.phrase_list("deflect_ask"))
        gap = f"[^{_CLAUSE_BREAK}]"
        self._pattern = re.compile(f"[您你]{gap}{{0,6}}?联系{gap}{{0,12}}?(?:{party})[\\s~～]{{0,2}}(?:{ask})")

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for view in ctx.agent:
            if not view.has("deflect_ask") or view.has("deflect_fallback", "offer_check"):
                continue
            match = self._pattern.search(view.text)
            if match:
                yield self.finding(
                    view, f"客服让客户自己去问别人:「{match.group(0)}」", span=match.span()
                )


# 你 addressing the customer: not inside words such as 迷你, and not 你们 in "你们好" greetings to groups
# (still counted by the gold labels, so kept). 妳 is the traditional female form.
_NI = re.compile(r"(?<!迷)[你妳]")
_THEY_COMPANY = re.compile(r"他们(?:公司|部门|同事|领导|客服|售后|财务|仓库|技术|那边的同事|主管)")


@register
class AddressWithNi(Rule):
    code = "FBD010"
    name = "addressing-customer-as-ni"
    clauses = ("S-F10",)
    severity = Severity.MINOR
    category = "courtesy"
    what = "客服称呼客户用「你」而不是「您」(含「你好」「你的」「你们」)。"
    why = "服务用语要求称呼客户为「您」;「你」显得随意、不尊重。"
    bad = ("客户: 在吗\n客服: 你好,请问有什么可以帮你?",)
    good = ("客户: 在吗\n客服: 您好,请问有什么可以帮您?", "客户: 我要买迷你音箱\n客服: 好的,迷你音箱有货的哦,亲。")
    hints = (warning("S-F10", when="客服(草稿、半句或刚说的话)称呼客户用「你」时", replace="suggestion"),)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for view in ctx.agent:
            match = view.memo(self.code, lambda: _NI.search(textnorm.blank_emoticons(view.text)))
            if match is None or self._quoted(view.text, match.start()):
                continue
            yield self.finding(view, "称呼客户应使用「您」,不要使用「你」", span=match.span(), suggestion="您")

    @staticmethod
    def _quoted(text: str, pos: int) -> bool:
        before = text[:pos]
        return any(before.count(o) > before.count(c) for o, c in zip("“「『", "”」』"))


@register
class CompanyAsThey(Rule):
    code = "FBD011"
    name = "company-as-they"
    clauses = ("S-F10",)
    severity = Severity.MINOR
    category = "courtesy"
    what = "客服把自己的公司或同事称为「他们」(「他们公司」「他们售后」)而不是「我们」。"
    why = "说「我们」体现责任担当(「不说他们只说我们」);说「他们」等于把问题推出去。"
    bad = ("客户: 退款怎么还没到\n客服: 这个要等他们财务审核。",)
    good = ("客户: 退款怎么还没到\n客服: 这个需要我们财务审核,我帮您催促一下。",)
    hints = (warning("S-F10", when="客服(草稿、半句或刚说的话)把本公司或同事称为「他们」时", replace="suggestion"),)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for view in ctx.agent:
            match = view.memo(self.code, lambda: _THEY_COMPANY.search(view.text))
            if match:
                yield self.finding(
                    view,
                    "提到本公司或同事时应说「我们」,不要说「他们」",
                    span=match.span(),
                    suggestion=match.group(0).replace("他们", "我们"),
                )


@register
class UnexplainedJargon(Rule):
    code = "FBD012"
    name = "unexplained-jargon"
    clauses = ("S-F11",)
    severity = Severity.MINOR
    category = "courtesy"
    what = "客服使用内部术语或缩写(公司设置 company.jargon)而没有随即解释。"
    why = "客户听不懂内部简称,会误解或反复追问。"
    bad = ("客户: 我的东西到哪了\n客服: 您这个是POP订单,已经派单了。",)
    good = ("客户: 我的东西到哪了\n客服: 您这个是POP订单,也就是第三方商家发货的订单,已经安排配送了。",)
    hints = (warning("S-F11", when="客服(草稿或刚说的话)使用内部术语而没有解释时", replace=None, triggers=("jargon",)),)

    requires = ("jargon",)

    def __init__(self, rulebook) -> None:
        super().__init__(rulebook)
        self._explain = tuple(e.text for e in rulebook.phrase_list("explain_jargon"))

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        reported: set[int] = set()
        for view, hit in ctx.agent_hits("jargon"):
            start, end = view.span(hit)
            if view.index in reported or any(e in view.text[end: end + 12] for e in self._explain):
                continue
            reported.add(view.index)
            term = view.text[start:end]
            yield self.finding(
                view,
                f"使用了内部术语「{term}」且未解释",
                hit,
                suggestion=f"{term},也就是……(用客户听得懂的话解释)",
            )
