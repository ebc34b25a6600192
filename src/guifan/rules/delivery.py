"""语音与节奏: the agent's delivery. From call audio (``guifan.audio`` measures each turn's
``Voice``): speech rate (S-H1), volume (S-H2) and sentence-final pitch (S-H3). From turn times, in
recordings and timed transcripts alike: interrupting (S-H4), active listening (S-H5), dead air (S-H6).

Phone only: chat messages have send times, not durations, so they neither overlap nor fall silent
in the sense of a call. None of these rules needs the words, so all of them run on recordings
checked without speech recognition.
"""

from __future__ import annotations

import statistics
from typing import Iterator

from guifan.engine import is_text_free
from guifan.engine.context import CheckContext, TurnView
from guifan.engine.hints import WINDOW_SECONDS, Hint, HintKind, Probe, Step, warning
from guifan.engine.voice import spoken_characters
from guifan.engine.registry import Rule, register
from guifan.model import Channel, Evidence, Finding, Severity, Voice
from guifan.rules._timing import is_backchannel, overlaps, pauses, seconds_text

_AUDIO_NOTE = (
    "本规则只需要带时间戳的转写(每轮的开始、结束时间)或通话录音,没有时间时不检查;"
    "不需要文字,没有语音识别的录音也检查。"
)
_VOICE_NOTE = (
    "本规则需要通话录音(guifan check call.wav):音频前端测出每轮的说话时长、音量、音节数和音高;"
    "纯文本转写没有这些测量,不检查。阈值在规则手册 voice 一节。"
)


class DeliveryRule(Rule):
    category = "delivery"
    channels = frozenset({Channel.PHONE})
    needs_timing = True
    needs_text = False
    evidence = Evidence.VOICE


def _voiced_agent(ctx: CheckContext) -> list[tuple[TurnView, Voice]]:
    return [(v, v.turn.voice) for v in ctx.agent if v.turn.voice is not None]


@register
class SpeechRate(DeliveryRule):
    code = "VOC001"
    name = "speech-rate-off"
    clauses = ("S-H1",)
    severity = Severity.MINOR
    needs_timing = False
    what = (
        "客服语速过快或过慢:每分钟说话字数(汉字与数字;没有语音识别时用音频中的音节数,汉语一字一音节),"
        "按语音活动检测得到的说话时长(不含停顿)计算。不少于 voice.rate_min_seconds 秒(默认2秒)的一轮"
        "超出 voice.speech_rate_turn(默认120–300字/分钟)即报告;各轮都在范围内、但整通通话的语速"
        "超出 voice.speech_rate_call(默认150–260字/分钟)时报告整通对话。"
    )
    why = "语速适中、吐字清晰客户才听得清;太快客户跟不上,太慢显得拖沓。重要信息应放慢并重复。" + _VOICE_NOTE
    bad = (
        "# channel: phone\n[00:00-00:04]{语音=3.0} 客服: 您好很高兴为您服务请问有什么可以帮您",
        "# channel: phone\n[00:00-00:12]{语音=11} 客服: 您好很高兴为您服务请问有什么可以帮您",
        "# channel: phone\n[00:00-00:04]{语音=3.8 音节=20} 客服:",
    )
    good = (
        "# channel: phone\n[00:00-00:05]{语音=4.5} 客服: 您好很高兴为您服务请问有什么可以帮您",
        "# channel: phone\n[00:00-00:05]{语音=4.5 音节=17} 客服:",
        "# channel: phone\n[00:00-00:04] 客服: 您好很高兴为您服务请问有什么可以帮您",
    )

    hints = (Hint(HintKind.WARNING, "S-H1", (Step("{message};请调整语速,重要信息放慢并重复"),),
                  when="实时语音:客服最近 voice.rate_window_seconds 秒(默认30秒)内说话满三分之一的时间、语速超出范围时",
                  clears="语速回到范围内后消失", probe=Probe.WINDOW),)

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        limits = ctx.rulebook.voice
        # Live assist asks about the agent's latest speech as one turn (Probe.WINDOW): name it so.
        window = ctx.conversation.metadata.get(WINDOW_SECONDS)
        places = (f"最近{window:g}秒的说话",) * 2 if window else ("这一轮", "整通通话")
        total_chars = total_seconds = 0.0
        reported = False
        for view, voice in _voiced_agent(ctx):
            chars = spoken_characters(view.turn)
            if chars is None or voice.speech_seconds <= 0:
                continue
            total_chars += chars
            total_seconds += voice.speech_seconds
            rate = chars / voice.speech_seconds * 60
            if voice.speech_seconds >= limits.rate_min_seconds and not limits.speech_rate_turn.min <= rate <= limits.speech_rate_turn.max:
                reported = True
                yield self.finding(view, self._message(rate, limits.speech_rate_turn, places[0]))
        if total_seconds and not reported:
            rate = total_chars / total_seconds * 60
            bounds = limits.speech_rate_call
            if not bounds.min <= rate <= bounds.max:
                yield self.finding(None, self._message(rate, bounds, places[1]))

    @staticmethod
    def _message(rate: float, bounds, where: str) -> str:
        judgement = "过快" if rate > bounds.max else "过慢"
        return f"{where}语速{judgement}:约每分钟{rate:.0f}字,应在{bounds.min:g}–{bounds.max:g}字之间"


@register
class VolumeOff(DeliveryRule):
    code = "VOC002"
    name = "volume-off"
    clauses = ("S-H2",)
    severity = Severity.MINOR
    needs_timing = False
    what = (
        "客服音量不适中或不平稳(每轮说话部分的均方根电平,dBFS):低于或高于 voice.level_dbfs(默认 -35 到 -8 dBFS);"
        "偏离客服本通通话的常用音量(各轮中位数)超过 voice.level_swing_db(默认10 dB,忽大忽小);"
        "客户说话很轻(低于 voice.quiet_customer_dbfs,默认 -35 dBFS)时,客服接下来的一轮比常用音量低"
        " voice.level_follow_db(默认6 dB)以上(跟着客户压低了声音)。每轮只报告一项。"
    )
    why = (
        "音量以对方能听清且感觉舒适为宜;客户声音小时,客服要保持自己的音量不变(「对不起!请您大声一点,好吗?」),"
        "而不是跟着压低。" + _VOICE_NOTE
    )
    bad = (
        "# channel: phone\n[00:00-00:04]{语音=3.5 音量=-42} 客服: 您好,很高兴为您服务,请问有什么可以帮您?",
        "# channel: phone\n[00:00-00:04]{语音=3.5 音量=-5} 客服: 您好,很高兴为您服务,请问有什么可以帮您?",
        "# channel: phone\n[00:00-00:04]{语音=3.5 音量=-18} 客服: 您好,很高兴为您服务,请问有什么可以帮您?\n"
        "[00:05-00:08]{语音=3 音量=-20} 客户: 我的快递到哪了?\n"
        "[00:09-00:12]{语音=3 音量=-31} 客服: 请您稍等,正在为您查询。\n"
        "[00:20-00:24]{语音=3.5 音量=-19} 客服: 感谢您的耐心等待,快递已经到站点了。",
        "# channel: phone\n[00:00-00:04]{语音=3.5 音量=-18} 客服: 您好,很高兴为您服务,请问有什么可以帮您?\n"
        "[00:05-00:08]{语音=3 音量=-40} 客户: 我的快递到哪了?\n"
        "[00:09-00:12]{语音=3 音量=-26} 客服: 请您稍等,正在为您查询。\n"
        "[00:20-00:24]{语音=3.5 音量=-19} 客服: 感谢您的耐心等待,快递已经到站点了。",
    )
    good = (
        "# channel: phone\n[00:00-00:04]{语音=3.5 音量=-18} 客服: 您好,很高兴为您服务,请问有什么可以帮您?\n"
        "[00:05-00:08]{语音=3 音量=-40} 客户: 我的快递到哪了?\n"
        "[00:09-00:12]{语音=3 音量=-19} 客服: 对不起!请您大声一点,好吗?\n"
        "[00:20-00:24]{语音=3.5 音量=-21} 客服: 感谢您的耐心等待,快递已经到站点了。",
        "# channel: phone\n[00:00-00:04] 客服: 您好,很高兴为您服务,请问有什么可以帮您?",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        limits = ctx.rulebook.voice
        levels = [(v, voice.level_dbfs) for v, voice in _voiced_agent(ctx) if voice.level_dbfs is not None]
        usual = statistics.median(level for _, level in levels) if levels else 0.0
        wording = self.rulebook.wording("S-H2")

        def advice(case: int) -> str:  # the clause's wording for this case: level, quiet customer, steadiness
            return wording[min(case, len(wording) - 1)] if wording else ""

        for view, level in levels:
            if level < limits.level_dbfs.min:
                yield self.finding(view, f"客服音量过低(约{level:.0f} dBFS,应不低于{limits.level_dbfs.min:g}),客户可能听不清",
                                   suggestion=advice(0))
            elif level > limits.level_dbfs.max:
                yield self.finding(view, f"客服音量过高(约{level:.0f} dBFS,应不高于{limits.level_dbfs.max:g}),会让客户感到刺耳",
                                   suggestion=advice(0))
            elif (quiet := self._quiet_customer_before(ctx, view)) is not None and level < usual - limits.level_follow_db:
                yield self.finding(
                    view,
                    f"客户声音小(约{quiet:.0f} dBFS)时客服也压低了音量(比本通常用音量低{usual - level:.0f} dB),应保持自己的音量",
                    suggestion=advice(1),
                )
            elif len(levels) >= 3 and abs(level - usual) > limits.level_swing_db:
                direction = "高" if level > usual else "低"
                yield self.finding(view, f"客服音量忽大忽小:这一轮比本通常用音量{direction}{abs(level - usual):.0f} dB",
                                   suggestion=advice(2))

    @staticmethod
    def _quiet_customer_before(ctx: CheckContext, view: TurnView) -> float | None:
        """The level of the customer turn this agent turn answers, when that customer was quiet."""
        before = ctx.turns[view.index - 1] if view.index else None
        voice = before.turn.voice if before is not None and before.is_customer else None
        if voice is None or voice.level_dbfs is None or voice.level_dbfs >= ctx.rulebook.voice.quiet_customer_dbfs:
            return None
        return voice.level_dbfs


@register
class FallingEnding(DeliveryRule):
    code = "VOC003"
    name = "falling-sentence-ending"
    clauses = ("S-H3",)
    severity = Severity.MINOR
    needs_timing = False
    what = (
        "客服句尾音调下沉:一轮(不短于 voice.pitch_min_seconds 秒,默认1.5秒)最后约半秒有声部分的基频中位数,"
        "比这一轮基频中位数低 voice.final_drop_semitones 个半音(默认3个)以上。基频由 WORLD 声码器的 DIO 算法测得。"
    )
    why = "「语调轻快,有活力,句尾不得下沉」:句尾下沉听起来冷淡、疲惫或不耐烦。" + _VOICE_NOTE
    bad = ("# channel: phone\n[00:00-00:04]{语音=3.5 音高=210→160} 客服: 您好,很高兴为您服务,请问有什么可以帮您?",)
    good = (
        "# channel: phone\n[00:00-00:04]{语音=3.5 音高=210→230} 客服: 您好,很高兴为您服务,请问有什么可以帮您?",
        "# channel: phone\n[00:00-00:04]{语音=3.5 音高=210→190} 客服: 您好,很高兴为您服务,请问有什么可以帮您?",
        "# channel: phone\n[00:00-00:01]{语音=0.8 音高=210→150} 客服: 好的。",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        limits = ctx.rulebook.voice
        for view, voice in _voiced_agent(ctx):
            semitones = voice.final_semitones
            if semitones is None or voice.speech_seconds < limits.pitch_min_seconds:
                continue
            if semitones < -limits.final_drop_semitones:
                yield self.finding(
                    view,
                    f"句尾音调下沉:结尾约{voice.final_pitch_hz:.0f} Hz,比这一轮的中位音高{voice.pitch_hz:.0f} Hz低{-semitones:.1f}个半音",
                )


@register
class Interrupting(DeliveryRule):
    code = "VOC004"
    name = "interrupting-customer"
    clauses = ("S-H4",)
    what = (
        "客户还在说话时客服开始讲话:客服这一轮的开始时间晚于客户这一轮的开始、"
        "又早于客户这一轮结束前 settings.interruption_tolerance_seconds 秒(默认0.5秒)。"
        "「嗯」「好的」「是的」「我明白了」这类不超过 settings.backchannel_max_chars 个字(不计标点)的简短回应不算打断。"
    )
    why = "打断客户让客户感到不被尊重,也容易漏听信息;应等客户说完再回应。" + _AUDIO_NOTE
    hints = (warning("S-H4", when="实时通话:客户还在说话、客服已开口(不止简短回应)时,每半秒的语音或识别中间结果都会检查",
                     replace=None, message="客户还在说话:请先听客户说完再回应"),)
    bad = (
        "# channel: phone\n[00:00-00:10] 客户: 我上周买的洗衣机到现在还没送到,打了好几次电话都说在路上\n"
        "[00:06-00:10] 客服: 您提供一下订单号,我帮您查。",
    )
    good = (
        "# channel: phone\n[00:00-00:10] 客户: 我上周买的洗衣机到现在还没送到,打了好几次电话都说在路上\n"
        "[00:05-00:06] 客服: 嗯,我明白了。\n[00:11-00:15] 客服: 您提供一下订单号,我帮您查。",
        "# channel: phone\n[00:00-00:10] 客户: 我上周买的洗衣机到现在还没送到,打了好几次电话都说在路上\n"
        "[00:09.7-00:14] 客服: 非常抱歉,您提供一下订单号,我帮您查。",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        tolerance = ctx.settings.interruption_tolerance_seconds
        speaking = [c for c in ctx.customer if c.turn.timed and c.spoken]
        for agent in ctx.agent:
            if not agent.turn.timed or not agent.spoken or is_backchannel(agent, ctx):
                continue
            start = agent.turn.start
            cut = next((c for c in speaking if c.turn.start < start < c.turn.end - tolerance), None)
            if cut is not None:
                yield self.finding(
                    agent, f"客户还在说话时客服开始讲话(客户这句话还有{seconds_text(cut.turn.end - start)}才说完)"
                )


def _customer_runs(ctx: CheckContext) -> Iterator[tuple[list[TurnView], TurnView | None]]:
    """Customer turns not separated by an agent taking the floor (backchannels don't), with the
    agent turn that ends the run (None at the end of the conversation)."""
    run: list[TurnView] = []
    for view in ctx.turns:
        if view.is_customer and view.turn.timed and view.spoken:
            run.append(view)
        elif view.is_agent and view.spoken and not is_backchannel(view, ctx):
            if run:
                yield run, view
            run = []
    if run:
        yield run, None


@register
class NoActiveListening(DeliveryRule):
    code = "VOC005"
    name = "no-active-listening"
    clauses = ("S-H5",)
    severity = Severity.MINOR
    what = (
        "客户连续讲话超过 settings.long_customer_turn_seconds 秒(默认20秒),期间客服没有任何简短回应"
        "(「嗯」「是的」「我明白了」,与客户讲话重叠或在客户的停顿中)。"
        "通话录音总是检查;转写只在带时间戳、并且转写中出现过客服的简短回应时检查:很多转写会丢掉简短回应,否则每通长电话都会误报。"
    )
    why = "适时的「嗯」「是的」「我明白了」让客户知道客服在认真听。" + _AUDIO_NOTE
    bad = (
        "# channel: phone\n[00:00-00:02] 客服: 您好,请问有什么可以帮您?\n"
        "[00:03-00:30] 客户: 我上周买的洗衣机一直没送到,打了三次电话,每次都说在路上,今天又说地址不对,我地址根本没改过\n"
        "[00:31-00:33] 客服: 好的。\n[00:33-00:38] 客服: 非常抱歉,我马上帮您查一下物流。",
    )
    good = (
        "# channel: phone\n[00:00-00:02] 客服: 您好,请问有什么可以帮您?\n"
        "[00:03-00:30] 客户: 我上周买的洗衣机一直没送到,打了三次电话,每次都说在路上,今天又说地址不对,我地址根本没改过\n"
        "[00:12-00:13] 客服: 嗯,是的。\n[00:31-00:36] 客服: 非常抱歉,我马上帮您查一下物流。",
        "# channel: phone\n[00:00-00:02] 客服: 您好,请问有什么可以帮您?\n"
        "[00:03-00:30] 客户: 我上周买的洗衣机一直没送到,打了三次电话,每次都说在路上,今天又说地址不对,我地址根本没改过\n"
        "[00:31-00:36] 客服: 非常抱歉,我马上帮您查一下物流。",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        acks = [v for v in ctx.agent if v.turn.timed and is_backchannel(v, ctx)]
        if not acks and ctx.conversation.audio is None:
            return  # this transcript does not keep backchannels: silence here proves nothing
        limit = ctx.settings.long_customer_turn_seconds
        for run, reply in _customer_runs(ctx):
            start, end = run[0].turn.start, max(v.turn.end for v in run)
            if end - start > limit and not any(overlaps(a, start, end) for a in acks):
                yield self.finding(
                    reply,
                    f"客户连续讲了{seconds_text(end - start)},其间客服没有任何回应(嗯/是的/我明白了)",
                )


@register
class DeadAir(DeliveryRule):
    code = "VOC006"
    name = "dead-air"
    clauses = ("S-H6",)
    what = (
        "轮到客服说话时出现不少于 settings.dead_air_seconds 秒(默认10秒)的沉默,而此前客服没有请客户稍候、"
        "也不像是在查询(没有预告查询,之后也没有报告查询结果)。报告在沉默后客服说的第一句。"
        "预告过或像查询的沉默是等待,归 HLD001–HLD003;客户自己请客服稍等后的沉默不算。"
    )
    why = "长时间冷场让客户以为断线或被冷落;需要停顿时应先说明:「请您稍等,正在为您查询。」" + _AUDIO_NOTE
    bad = (
        "# channel: phone\n[00:00-00:04] 客户: 你们的会员怎么取消?\n[00:04-00:06] 客服: 好的。\n"
        "[00:18-00:24] 客服: 会员可以在我的页面里取消。",
    )
    good = (
        "# channel: phone\n[00:00-00:04] 客户: 你们的会员怎么取消?\n[00:04-00:06] 客服: 好的。\n"
        "[00:09-00:15] 客服: 会员可以在我的页面里取消。",
        "# channel: phone\n[00:00-00:04] 客户: 你们的会员怎么取消?\n[00:04-00:07] 客服: 请您稍等,我帮您查询。\n"
        "[00:20-00:26] 客服: 感谢您的耐心等待,会员可以在我的页面里取消。",
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        # Without words a silent hold cannot be told from dead air (hold music can): say so.
        unknown = is_text_free(ctx.conversation)
        for pause in pauses(ctx):
            if pause.is_dead_air(ctx):
                message = f"客服沉默{seconds_text(pause.silence)}(冷场)," + (
                    "录音没有语音识别,无法确认此前是否请客户稍候" if unknown else "此前既没有请客户稍候,也没有说明在做什么"
                )
                yield self.finding(pause.resume, message)
