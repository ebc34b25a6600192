"""开场: greeting and offer of help (S-A1, S-A3), holiday wording (S-A2), answering within three
rings (S-A4) and addressing the customer by surname (S-A5).

Also holds what the closing and outbound families share with the opening: ``Part`` /
``missing_parts`` (the "these turns must say each of …" check), the opening and closing parts, and
``is_outbound``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from guifan import text as textnorm
from guifan.engine.context import CheckContext, TurnView
from guifan.engine.hints import Hint, HintKind, Probe, Step, next_step
from guifan.engine.registry import Rule, register
from guifan.holidays import holiday_kind
from guifan.model import Channel, Evidence, Finding, Severity


@dataclass(frozen=True)
class Part:
    """A required element of a phase (opening, closing …): a label for messages and its phrase categories."""

    label: str
    categories: tuple[str, ...]

    def said_in(self, views: Iterable[TurnView]) -> bool:
        return any(v.says(*self.categories) for v in views)


def missing_parts(views: list[TurnView], parts: Iterable[Part]) -> list[str]:
    """Labels of the parts none of ``views`` says."""
    return [p.label for p in parts if not p.said_in(views)]


def absence_of(rule: Rule, views: list[TurnView], parts: Iterable[Part]) -> float:
    """How sure a finding about the ``parts`` none of ``views`` says is (the least sure part)."""
    missing = [p for p in parts if not p.said_in(views)]
    return min((rule.absence_confidence(views, *p.categories) for p in missing), default=1.0)


def lacking_message(what: str, missing: list[str]) -> str:
    return f"{what}缺少" + "、".join(f"「{m}」" for m in missing)


GREETING = Part("问候语(您好)", ("greeting",))
OFFER_HELP = Part("提供帮助(请问有什么可以帮您)", ("offer_help",))
CLOSING_OFFER = Part("征询(请问还有其他可以帮您的吗)", ("closing_offer",))
# Thanks for the support or the call, a wish (祝您生活愉快) or 再见. A rating invitation alone is not a farewell.
FAREWELL = Part("致谢道别(感谢您的支持,祝您生活愉快,再见)", ("closing_thanks", "farewell"))


_OUTBOUND = {"outbound", "out", "呼出", "外呼", "回访", "callback", "follow-up", "follow_up"}


def is_outbound(metadata) -> bool:
    """Metadata ``direction: outbound`` or ``type: 回访`` (case-insensitive, a few synonyms)."""
    return any(str(metadata.get(key, "")).strip().lower() in _OUTBOUND for key in ("direction", "type"))


def opening_interrupted(ctx: CheckContext, first: TurnView) -> bool:
    """S-A3: the customer spoke before the agent's first turn, or over it (timed transcripts)."""
    if any(v.is_customer for v in ctx.turns[: first.index]):
        return True
    turn = first.turn
    if not turn.timed:
        return False
    return any(
        c.turn.timed and c.turn.start < turn.end and c.turn.end > turn.start for c in ctx.customer
    )


@register
class OpeningGreeting(Rule):
    code = "OPN001"
    name = "missing-opening-greeting"
    clauses = ("S-A1", "S-A3")
    category = "opening"
    what = (
        "客服的第一句话须问候并表示愿意提供帮助;电话渠道设置了公司名称(company.name)时还须报公司名称。"
        "客户抢先讲话或打断开场白时(S-A3),只要有问候或提供帮助之一即可;在线渠道同样二者有一即可。"
    )
    why = "开场白是客户对服务的第一印象:「您好,[公司],很高兴为您服务,请问有什么可以帮到您?」"
    bad = (
        "# channel: phone\n客服: 喂,什么事?\n客户: 我的快递没到",
        "# channel: phone\n客服: 您好。\n客户: 你好,我想查一下快递",
        "客户: 在吗\n客服: 订单号发一下",
    )
    good = (
        "# channel: phone\n客服: 您好,很高兴为您服务,请问有什么可以帮到您?\n客户: 我的快递没到",
        "# channel: phone\n客户: 喂?喂?\n客服: 您好,请讲。\n客户: 我的快递没到",
        "# channel: phone\n[00:00-00:04] 客服: 您好,欢迎致电\n[00:02-00:05] 客户: 我要查快递\n[00:06-00:08] 客服: 好的,请您提供订单号",
        "客户: 在吗\n客服: 有什么问题我可以帮您处理或解决呢?",
    )
    hints = (next_step("S-A1", "先问候客户并表示愿意提供帮助(电话渠道报公司名称)", when="对话开始、客服还没有说话时",
                       clears="客服说出开场白后消失"),)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        first = ctx.agent[0] if ctx.agent else None
        if first is None or is_outbound(ctx.conversation.metadata):
            return  # an outbound call opens with identity and purpose instead (S-I1, OUT001)
        phone = ctx.conversation.channel is Channel.PHONE
        if not phone or opening_interrupted(ctx, first):
            if first.has(*GREETING.categories, *OFFER_HELP.categories):
                return
            missing = [f"{GREETING.label}或{OFFER_HELP.label}"]
        else:
            missing = missing_parts([first], (GREETING, OFFER_HELP))
            company = self.rulebook.company.name
            if company and textnorm.basic(company) not in first.basic:
                missing.append(f"公司名称({company})")
        if missing:
            yield self.finding(first, lacking_message("开场白", missing), clause="S-A1",
                               confidence=absence_of(self, [first], (GREETING, OFFER_HELP)))


_KIND_WORDING = {
    # kind: (greeting category, wish category, greeting wording, wish wording)
    "new_year": ("holiday_greeting_new_year", "holiday_wish_new_year", "新年好", "祝您新年愉快"),
    "festival": ("holiday_greeting_festival", "holiday_wish_festival", "节日好", "祝您节日愉快"),
}


@register
class HolidayWording(Rule):
    code = "OPN002"
    name = "ordinary-wording-on-holiday"
    clauses = ("S-A2",)
    severity = Severity.MINOR
    category = "opening"
    what = (
        "节假日(按通话日期 started_at,含农历节日和公司节假日表 company.holidays):元旦、春节开场应说「新年好」、"
        "结束时说「祝您新年愉快」;五一、端午、中秋、国庆说「节日好」「祝您节日愉快」。"
        "只检查客服已问候或已道别、却用了平日说法的情况(缺少问候或道别由 OPN001/CLS001 报告)。"
    )
    why = "节日问候让客户感到亲切,也是服务规范对节假日的统一要求。"
    bad = (
        "# started_at: 2026-02-17T10:00:00+08:00\n客服: 您好,很高兴为您服务,请问有什么可以帮您?\n"
        "客户: 查快递\n客服: 已经到站了。请问还有其他可以帮您的吗?\n客户: 没了\n客服: 感谢您的支持,祝您生活愉快,再见!",
        "# started_at: 2026-10-01T09:30:00+08:00\n客服: 节日好,很高兴为您服务,请问有什么可以帮您?\n"
        "客户: 没事了\n客服: 好的,祝您生活愉快,再见!",
    )
    good = (
        "# started_at: 2026-02-17T10:00:00+08:00\n客服: 新年好,很高兴为您服务,请问有什么可以帮您?\n"
        "客户: 查快递\n客服: 已经到站了。请问还有其他可以帮您的吗?\n客户: 没了\n客服: 感谢您的支持,祝您新年愉快,再见!",
        "# started_at: 2026-03-10T10:00:00+08:00\n客服: 您好,很高兴为您服务,请问有什么可以帮您?\n"
        "客户: 没事了\n客服: 好的,祝您生活愉快,再见!",
        "# started_at: 2026-09-25T10:00:00+08:00\n客服: 节日好,请问有什么可以帮您?\n"
        "客户: 没事了\n客服: 好的,中秋快乐,祝您节日愉快,再见!",
    )
    hints = (
        next_step("S-A2", "今天是节假日:开场请用节日问候", when="节假日的对话开始、客服还没有说话时(问它:客服用平日开场白会怎样)",
                  clears="客服说出开场白后消失", say="S-A1#0"),
        Hint(HintKind.REMINDER, "S-A2", (Step("今天是节假日:道别时请说节日祝福"),), when="节假日的对话将要结束时(问它:客服用平日结束语会怎样)",
             clears="客服说出节日祝福后消失", probe=Probe.CLOSE, say="S-A9#1",
             only=("customer_thanks", "farewell", "closing_offer", "closing_thanks"), key="S-A2-wish"),
    )

    def hint_step(self, hint: Hint, ctx: CheckContext, found: list[Finding]) -> int | None:
        # The opening is the agent's first turn, the wish the last: the probe is one or the other.
        at = ctx.agent[-1] if hint.probe is Probe.CLOSE else ctx.agent[0]
        return 0 if any(f.turn == at.index for f in found) else None

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        started = ctx.conversation.started_at
        if started is None or not ctx.agent:
            return
        kind = holiday_kind(started.date(), self.rulebook.company.holidays)
        if kind is None:
            return
        greeting_cat, wish_cat, greeting, wish = _KIND_WORDING[kind]
        first = ctx.agent[0]
        if first.has("greeting") and not first.has(greeting_cat) and not opening_interrupted(ctx, first):
            yield self.finding(
                first,
                f"节假日开场应使用「{greeting}」问候",
                suggestion=self.rulebook.fill(f"{greeting},[公司],很高兴为您服务!"),
            )
        if not ctx.ends_with_agent:
            return
        closing = ctx.agent[-ctx.settings.closing_window:]
        if FAREWELL.said_in(closing) and not any(v.has(wish_cat) for v in closing):
            yield self.finding(closing[-1], f"节假日结束语应说「{wish}」", suggestion=wish)


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


@register
class SlowAnswer(Rule):
    code = "OPN003"
    name = "slow-answer"
    clauses = ("S-A4",)
    category = "opening"
    channels = frozenset({Channel.PHONE})
    needs_text = False
    evidence = Evidence.TIMING
    what = (
        "电话接听超过三声:通话元数据 ring_seconds / queue_seconds(秒,对照 settings.max_ring_seconds)"
        "或 rings(响铃次数,对照 max_ring_seconds / seconds_per_ring);没有这些元数据时,"
        "录音里的回铃音(450 Hz,响1秒停4秒)从第一声到客服开口的时间。都没有时不检查。"
    )
    why = "「电话铃响三声内接听」:让客户久等会在开口前就降低满意度。"
    bad = (
        "# channel: phone\n# ring_seconds: 22\n客服: 您好,很高兴为您服务,请问有什么可以帮到您?",
        "# channel: phone\n# rings: 5\n客服: 您好,很高兴为您服务,请问有什么可以帮到您?",
    )
    good = (
        "# channel: phone\n# ring_seconds: 8\n客服: 您好,很高兴为您服务,请问有什么可以帮到您?",
        "# channel: phone\n客服: 您好,很高兴为您服务,请问有什么可以帮到您?",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        meta = ctx.conversation.metadata
        limit = ctx.settings.max_ring_seconds
        max_rings = limit / ctx.settings.seconds_per_ring
        at = ctx.agent[0] if ctx.agent else None
        seconds = next((n for k in ("ring_seconds", "queue_seconds") if (n := _number(meta.get(k))) is not None), None)
        rings = _number(meta.get("rings"))
        audio = ctx.conversation.audio
        if seconds is None and rings is None and audio is not None and audio.rings and at is not None and at.turn.timed:
            seconds = round(at.turn.start - audio.rings[0].start, 1)
        if seconds is not None and seconds > limit:
            yield self.finding(at, f"等待 {seconds:g} 秒才接听,超过三声({limit:g} 秒)")
        elif rings is not None and rings > max_rings:
            yield self.finding(at, f"电话铃响 {rings:g} 声才接听,应在三声({max_rings:g} 声)内接听")


# Two-character surnames; any other surname is one character.
_COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 慕容 令狐 夏侯 尉迟 公孙 长孙 宇文 司徒 端木 独孤 南宫 西门 轩辕 呼延".split()
)
_SURNAME = r"\[姓名[^\]]*\]|[\u4e00-\u9fff]{1,2}"
_TITLE = "先生|女士|小姐"
# 我姓王 / 免贵姓王 / 我是王先生 / 叫我王女士 — not 我姓名…
_GIVES_SURNAME = re.compile(rf"(?:我|免贵|本人)姓(?P<a>{_SURNAME})|(?:我是|叫我)(?P<b>{_SURNAME})(?:{_TITLE})")
# The reply to 您贵姓: 王 / 姓王 / 王先生 / 王小明.
_ANSWER = re.compile(rf"^\W*(?:我|免贵)?姓?(?P<a>{_SURNAME})(?:{_TITLE})?[\u4e00-\u9fff]{{0,2}}\W*$")
_NOT_SURNAME = set("名你我他她它的是个这那了啊呢吧嗯哦就都也还在有不没算")
# A bare reply to 您贵姓 ("好的", "干嘛") is taken as a surname only if it starts with a common one.
_COMMON_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温"
    "康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂"
    "成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫"
    "费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝"
)


def _surname(raw: str) -> str | None:
    if raw.startswith("["):
        return raw  # a masked name stands for the surname
    if raw in _COMPOUND_SURNAMES:
        return raw
    if len(raw) == 2 and raw[0] in "小老":
        raw = raw[1:]  # 小王 / 老王: the surname is 王
    return None if raw[0] in _NOT_SURNAME else raw[0]


@register
class SurnameIgnored(Rule):
    code = "OPN004"
    name = "surname-ignored"
    clauses = ("S-A5",)
    severity = Severity.MINOR
    category = "opening"
    what = (
        "客户告知姓氏后(我姓王、免贵姓王、我是王先生,或回答「您贵姓」),客服在之后的对话中从未用「姓+先生/女士(小姐)」称呼客户。"
        "之后客服至少还说了两句话才检查。"
    )
    why = "以姓氏称呼客户体现尊重与重视:「某先生/女士,请问有什么可以帮助您?」"
    bad = (
        "客户: 我姓王,我的快递没到\n客服: 好的,请稍等。\n客户: 嗯\n客服: 已经到站点了,今天送达。",
        "客服: 请问您贵姓?\n客户: 免贵姓李\n客服: 好的,请稍等。\n客户: 嗯\n客服: 已经帮您提交了。",
    )
    good = (
        "客户: 我姓王,我的快递没到\n客服: 好的王先生,请稍等。\n客户: 嗯\n客服: 已经到站点了,今天送达。",
        "客服: 请问您贵姓?\n客户: 李\n客服: 好的李女士,请稍等。\n客户: 嗯\n客服: 已经帮您提交了。",
        "客户: 我姓王\n客服: 好的。",
        "客户: 我姓名填错了\n客服: 请稍等。\n客户: 嗯\n客服: 已经帮您修改了。",
    )
    hints = (next_step("S-A5", "客户已告知姓氏:请以「姓+先生/女士」称呼客户", when="客户说出姓氏后(我姓王、免贵姓李,或回答「您贵姓」)",
                       clears="客服以「姓+先生/女士」称呼客户后消失", triggers=("customer",)),)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for view in ctx.customer:
            surname = self._given(ctx, view)
            if surname is None:
                continue
            later = list(ctx.agent_after(view.index))
            if len(later) < 2:
                return
            addressed = re.compile(re.escape(surname) + r"\s*(?:先生|女士|小姐|总|经理|老师)")
            if not any(addressed.search(v.text) for v in later):
                yield self.finding(
                    later[-1],
                    f"客户已告知姓氏「{surname}」,客服未以「{surname}先生/女士」称呼客户",
                    suggestion=f"{surname}先生/女士,请问有什么可以帮助您?",
                )
            return

    @staticmethod
    def _given(ctx: CheckContext, view: TurnView) -> str | None:
        match = _GIVES_SURNAME.search(view.text)
        if match is None:
            asked = ctx.prev_agent(view.index)
            if asked is None or not asked.has("ask_surname"):
                return None
            match = _ANSWER.match(view.text.strip())
            surname = _surname(match.group("a")) if match else None
            return surname if surname and (surname.startswith("[") or surname[0] in _COMMON_SURNAMES) else None
        return _surname(match.group("a") or match.group("b"))
