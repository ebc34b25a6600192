"""The scripted test calls: a good one that keeps every voice and timing clause, a bad one that
breaks each once. Times are seconds from the start of the recording."""

from __future__ import annotations

from synth import Tone, Utterance

EXPLANATION = (
    "我家的宽带从上周五开始就一直断断续续的,晚上根本打不开网页",
    "我已经重启了好几次路由器,也把线都重新插了一遍",
    "打过两次电话,每次都说会有师傅联系我,可是一直没有人来",
    "我在家办公,每天都要开视频会议,现在真的很影响工作",
)


def _explanation(start: float) -> list[Utterance]:
    """The customer explains at length: four sentences with short pauses, one turn of ~22 s."""
    items, at = [], start
    for sentence in EXPLANATION:
        items.append(Utterance("customer", at, sentence))
        at += len(sentence) * 0.2 + 0.6  # the customer speaks ~5 characters a second
    return items


GOOD = [
    Tone("agent", 0.0, 1.0, "ring"),
    Utterance("agent", 2.0, "您好,很高兴为您服务,请问有什么可以帮您", ending="rise"),
    *_explanation(6.5),
    Utterance("agent", 18.2, "嗯,是的", gain_db=-6),
    Utterance("agent", 31.0, "非常抱歉给您添麻烦了,请您稍等,我帮您查询一下", ending="rise"),
    Tone("agent", 37.0, 8.0, "music"),
    Utterance("customer", 40.5, "好的"),  # over the hold music, on the other channel
    Utterance("agent", 46.0, "感谢您的耐心等待,维修师傅明天上午会上门处理", ending="rise"),
    Utterance("customer", 51.5, "好的,谢谢"),
    Utterance("agent", 53.5, "不客气,请问还有其他可以帮您的吗", ending="rise"),
    Utterance("customer", 57.5, "没有了"),
    Utterance("agent", 59.0, "感谢您的来电,祝您生活愉快,再见", ending="rise"),
]

BAD = [
    Tone("agent", 0.0, 16.0, "ring"),  # four rings: answered after ~17.5 s (S-A4)
    Utterance("agent", 17.5, "您好,很高兴为您服务,请问有什么可以帮您", speed=380),  # too fast (S-H1)
    *_explanation(21.0),  # ~22 s without a single 嗯 from the agent (S-H5) ...
    Utterance("agent", 39.0, "您提供一下订单号,我帮您查一下"),  # ... and cut off (S-H4)
    Utterance("agent", 45.0, "好的"),
    Utterance("agent", 57.0, "您的宽带故障已经登记了"),  # 11 s of unexplained silence before it (S-H6)
    Utterance("agent", 61.0, "维修师傅明天上午会上门处理", ending="fall"),  # falling end (S-H3)
    Utterance("customer", 65.0, "那我明天在家等着", gain_db=-24),  # a quiet customer ...
    Utterance("agent", 68.0, "好的,师傅上门前会先给您打电话", gain_db=-11),  # ... and the agent drops too (S-H2)
    Utterance("agent", 73.5, "请您保持电话畅通", gain_db=12),  # too loud (S-H2)
    Utterance("agent", 77.5, "还有其他问题吗", gain_db=-32),  # too quiet (S-H2)
    Tone("agent", 81.0, 64.0, "music"),  # a hold of over a minute, never interrupted (S-B3)
    Utterance("agent", 146.0, "感谢您的耐心等待,再见"),
]
