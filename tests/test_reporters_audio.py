"""Reporters on call recordings: the audio record (JSON), the timeline and voice metrics (HTML), the
audio line (text), and the notice about rules skipped without speech recognition.

The conversations are built directly from Interval/Voice/CallAudio values (no audio files), so
every figure below can be worked out by hand from the intervals:

    rings     0–1, 2.5–3.5           agent     5–12, 25–33, 50–55     customer  11–16, 32–40
    hold      41–48                  duration  60

    overlaps  11–12, 32–33                                   -> 2, 2.0 s
    silences  3.5–5, 16–25, 40–41, 48–50, 55–60 (>= 1 s)     -> 18.5 s, longest 9.0 s
    speech    agent 20 s (1/3 of the call), customer 13 s
"""

from __future__ import annotations

import io
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

from guifan.engine import Engine, all_rules
from guifan.model import CallAudio, Channel, Conversation, Interval, Role, Turn, Voice
from guifan.readers.fields import build
from guifan.reporters import REPORTERS, report_document, report_schema
from guifan.reporters.common import audio_record, conversation_record
from guifan.reporters.html import hatch, mmss, tick_step
from guifan.scoring import BatchSummary, Checker

XSS = "<script>alert(1)</script>"
AGENT_SPEECH = (Interval(5, 12), Interval(25, 33), Interval(50, 55))
CUSTOMER_SPEECH = (Interval(11, 16), Interval(32, 40))
HOLDS = (Interval(41, 48),)
RINGS = (Interval(0, 1), Interval(2.5, 3.5))

# (role, start, end, text, voice): 18, 18 and 5 spoken characters (and syllables) in the agent turns.
TURNS = (
    (Role.AGENT, 5, 12, "您好,很高兴为您服务,请问有什么可以帮您?", Voice(6.0, -20.0, 18, 200.0, 200.0)),
    (Role.CUSTOMER, 11, 16, f"{XSS}我的快递到哪了", Voice(4.5, -25.0, 7)),
    # 18 characters in 2.5 s: 432 per minute, too fast; the end falls 12·log2(150/200) = -5.0 semitones.
    (Role.AGENT, 25, 33, "感谢您的耐心等待,您的订单明天上午送达。", Voice(2.5, -20.0, 18, 200.0, 150.0)),
    (Role.CUSTOMER, 32, 40, "好的", Voice(7.0, -22.0, 2)),
    # 5 characters in 4 s: 75 per minute, too slow; -42 dBFS, too quiet.
    (Role.AGENT, 50, 55, "不客气,再见。", Voice(4.0, -42.0, 5)),
)


def call(transcriber: str | None = "funasr", conv_id: str = "call-1") -> Conversation:
    return Conversation(
        id=conv_id,
        turns=tuple(
            Turn(role, text if transcriber else "", start, end, voice) for role, start, end, text, voice in TURNS
        ),
        channel=Channel.PHONE,
        source="call-1.wav",
        audio=CallAudio(60.0, 8000, AGENT_SPEECH, CUSTOMER_SPEECH, HOLDS, RINGS, transcriber),
    )


def text_only() -> Conversation:
    return Conversation(
        id="chat-1",
        turns=(Turn(Role.CUSTOMER, "在吗"), Turn(Role.AGENT, "您好,请问有什么可以帮您?")),
        channel=Channel.CHAT,
    )


@pytest.fixture(scope="module")
def checker():
    return Checker(Engine())


def render(fmt: str, conversations, checker) -> str:
    results = [checker.check(c) for c in conversations]
    stream = io.StringIO()
    REPORTERS[fmt](results, BatchSummary(read=len(results), checked=len(results)), checker.engine.rulebook, stream)
    return stream.getvalue()


def validate(doc) -> None:
    jsonschema.validate(doc, report_schema(), cls=jsonschema.Draft202012Validator)


class Tags(HTMLParser):
    def __init__(self, out: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.feed(out)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def with_class(self, cls: str, tag: str | None = None) -> list[dict]:
        return [
            attrs for name, attrs in self.tags
            if cls in (attrs.get("class") or "").split() and (tag is None or name == tag)
        ]


# --- the record ----------------------------------------------------------------------------------


def test_audio_record_figures(checker):
    record = audio_record(call())
    assert record["duration"] == 60.0 and record["sample_rate"] == 8000 and record["transcriber"] == "funasr"
    assert record["agent_speech_seconds"] == 20.0 and record["agent_speech_share"] == 0.333
    assert record["customer_speech_seconds"] == 13.0 and record["customer_speech_share"] == 0.217
    assert (record["overlap_count"], record["overlap_seconds"]) == (2, 2.0)
    assert (record["silence_seconds"], record["longest_silence_seconds"]) == (18.5, 9.0)
    assert (record["hold_count"], record["hold_seconds"], record["ring_count"]) == (1, 7.0, 2)
    assert record["answer_seconds"] == 5.0
    # 41 characters over 6 + 2.5 + 4 seconds of agent speech; median of -20, -20, -42.
    assert record["agent_speech_rate"] == 196.8
    assert record["agent_level_dbfs"] == -20.0
    turns = record["agent_turns"]
    assert [t["turn"] for t in turns] == [0, 2, 4]
    assert [t["speech_rate"] for t in turns] == [180.0, 432.0, 75.0]
    assert [t["level_dbfs"] for t in turns] == [-20.0, -20.0, -42.0]
    assert [t["final_pitch_semitones"] for t in turns] == [0.0, round(12 * math.log2(0.75), 1), None]
    assert turns[1] == {
        "turn": 2, "start": 25, "end": 33, "speech_seconds": 2.5, "speech_rate": 432.0,
        "level_dbfs": -20.0, "final_pitch_semitones": -5.0,
    }


def test_audio_record_without_speech_recognition_counts_syllables():
    record = audio_record(call(transcriber=None))
    assert record["transcriber"] is None
    # Syllables 18 + 18 + 5 over the same 12.5 seconds: the same rate as the characters.
    assert record["agent_speech_rate"] == 196.8


def test_audio_record_of_a_call_without_agent_speech():
    conv = Conversation("c", (Turn(Role.CUSTOMER, "", 0, 3, Voice(3.0)),), Channel.PHONE,
                        audio=CallAudio(4.0, 8000, (), (Interval(0, 3),)))
    record = audio_record(conv)
    assert record["answer_seconds"] is None and record["agent_speech_rate"] is None
    assert record["agent_level_dbfs"] is None and record["agent_turns"] == []
    assert record["silence_seconds"] == 1.0 and record["overlap_count"] == 0


def test_json_report_of_a_call_validates_and_holds_the_figures(checker):
    results = [checker.check(c) for c in (call(), call(transcriber=None, conv_id="call-2"), text_only())]
    doc = json.loads(render("json", [r.conversation for r in results], checker))
    jsonschema.Draft202012Validator.check_schema(report_schema())
    validate(doc)
    transcribed, text_free, chat = doc["conversations"]
    assert transcribed["audio"] == audio_record(results[0].conversation)
    assert transcribed["audio"]["overlap_count"] == 2 and transcribed["audio"]["silence_seconds"] == 18.5
    assert "skipped_rules" not in transcribed  # transcribed: every rule ran
    assert text_free["audio"]["transcriber"] is None
    assert text_free["skipped_rules"] == list(results[1].skipped) and "FBD006" in text_free["skipped_rules"]
    # A text transcript keeps exactly the keys it always had.
    assert "audio" not in chat and "skipped_rules" not in chat
    assert set(chat) == {"id", "source", "channel", "agent_id", "started_at", "score", "findings", "turns"}
    # The voice rules found what the figures show.
    found = {(f["rule"], f["turn"]) for f in transcribed["findings"]}
    assert found >= {("VOC001", 2), ("VOC001", 4), ("VOC002", 4), ("VOC003", 2)}


def test_the_record_survives_the_interchange_format(checker):
    conv = call()
    again = build(json.loads(json.dumps(conv.to_dict())), "call.json:1")
    assert audio_record(again) == audio_record(conv)
    record = conversation_record(checker.check(again), checker.engine.rulebook)
    assert record["audio"]["agent_speech_rate"] == 196.8


@pytest.mark.parametrize(
    "breakage",
    [
        lambda a: a.update(agent_speech_share=1.5),
        lambda a: a.update(overlap_count=-1),
        lambda a: a.pop("ring_count"),
        lambda a: a.update(extra=1),
        lambda a: a["agent_turns"][0].update(turn="0"),
    ],
)
def test_json_schema_rejects_broken_audio(checker, breakage):
    doc = report_document([checker.check(call())], BatchSummary(1, 1), checker.engine.rulebook)
    validate(doc)
    breakage(doc["conversations"][0]["audio"])
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def test_json_schema_rejects_empty_skipped_rules(checker):
    doc = report_document([checker.check(call())], BatchSummary(1, 1), checker.engine.rulebook)
    doc["conversations"][0]["skipped_rules"] = []
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def test_documented_audio_example_validates():
    doc = (Path(__file__).parents[1] / "docs" / "json-report.md").read_text(encoding="utf-8")
    section = doc.split("### `audio`", 1)[1]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    schema = report_schema()
    audio_schema = {"$defs": schema["$defs"], "$ref": "#/$defs/audio"}
    jsonschema.validate(example, audio_schema, cls=jsonschema.Draft202012Validator)


# --- HTML ----------------------------------------------------------------------------------------


def test_html_timeline_draws_every_interval(checker):
    out = render("html", [call()], checker)
    tags = Tags(out)
    assert len(tags.with_class("timeline", "svg")) == 1
    svg = tags.with_class("timeline", "svg")[0]
    assert svg["viewbox"].startswith("0 0 1000 ") and svg["preserveaspectratio"] == "xMinYMin meet"
    assert len([a for a in tags.with_class("tl-speech") if "agent" in a["class"]]) == 3
    assert len([a for a in tags.with_class("tl-speech") if "customer" in a["class"]]) == 2
    assert len(tags.with_class("tl-overlap")) == 2
    assert len(tags.with_class("tl-silence")) == 5
    assert len(tags.with_class("tl-hold")) == 1 and "保持音乐" in out
    assert len(tags.with_class("tl-ring")) == 2 and "回铃" in out
    assert "图例" in out and "客服" in out and "客户" in out
    # Ticks every 10 seconds: 00:00 … 01:00.
    assert all(f">{mmss(t)}</text>" in out for t in range(0, 61, 10))
    # Bars sit where their intervals are: 52 + t / 60 * 936 user units.
    first = next(a for a in tags.with_class("tl-speech") if "agent" in a["class"])
    assert float(first["x"]) == pytest.approx(52 + 5 / 60 * 936, abs=0.1)
    assert float(first["width"]) == pytest.approx(7 / 60 * 936, abs=0.2)


def test_html_timeline_marks_voice_and_timing_findings(checker):
    result = checker.check(call())
    out = render("html", [call()], checker)
    tags = Tags(out)
    rules = all_rules()
    def placed(code: str) -> bool:  # timing and voice rules
        return rules[code].needs_timing or not rules[code].needs_text

    timed = [f for f in result.findings if f.turn is not None and placed(f.rule)]
    assert {f.rule for f in timed} >= {"VOC001", "VOC002", "VOC003"}
    markers = tags.with_class("tl-mark", "a")
    assert len(markers) == len({f.turn for f in timed})  # one marker per turn, however many findings it has
    assert all(a["href"].startswith("#c1-f") for a in markers)
    svg = out.split("<svg", 1)[1].split("</svg>", 1)[0]
    for f in timed:
        assert f"{f.rule} S-" in svg and f.message in svg  # in the marker's tooltip
    # Findings of rules that read the words get no marker.
    assert not any(f.rule in svg for f in result.findings if not placed(f.rule))
    assert ">HLD001+2</text>" in svg  # the second agent turn: HLD001, VOC001 and VOC003 under one marker


def test_html_voice_metrics_mark_values_outside_the_limits(checker):
    out = render("html", [call()], checker)
    assert "语音指标" in out
    assert "句尾音高变化" in out and "语速 字/分" in out and "音量 dBFS" in out
    table = out.split('<table class="voice">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 4  # header and three agent turns
    off = Tags(table).with_class("off", "td")
    assert len(off) == 4  # 432 and 75 per minute, -42 dBFS, a -5 semitone fall
    for text in (">432<", ">75<", ">-42.0<", ">-5.0<"):
        cell = table.split(text, 1)[0].rsplit("<td", 1)[1]
        assert "off" in cell, text
    for text in (">180<", ">-20.0<", ">+0.0<"):
        cell = table.split(text, 1)[0].rsplit("<td", 1)[1]
        assert "off" not in cell, text
    assert "funasr" in out and "20.0秒(占 33%)" in out and "2 处,共 2.0秒" in out


def test_html_skipped_rules_notice_only_without_speech_recognition(checker):
    text_free = checker.check(call(transcriber=None))
    assert text_free.skipped
    out = render("html", [call(transcriber=None)], checker)
    assert f"跳过了需要文字的 {len(text_free.skipped)} 条规则" in out and "未做语音识别" in out
    notice = out.split("skipped-rules", 1)[1].split("</p>", 1)[0]
    assert "--asr" in notice and "S-F1–F11" in notice and "S-A1–A3" in notice
    assert "S-H" not in notice  # voice clauses did run
    transcribed = render("html", [call()], checker)
    assert "skipped-rules" not in transcribed and "跳过了需要文字" not in transcribed


def test_html_report_of_a_call_stays_self_contained_and_escaped(checker):
    out = render("html", [call(conv_id=f"id-{XSS}"), text_only()], checker)
    tags = Tags(out)
    names = {tag for tag, _ in tags.tags}
    assert not names & {"script", "link", "img", "iframe", "object", "embed", "foreignobject", "image", "use"}
    for _, attrs in tags.tags:
        assert not any(name.startswith("on") for name in attrs)
        for value in attrs.values():
            assert not (value or "").startswith(("http:", "https:", "//"))
    assert "url(" not in out and "@import" not in out
    assert "<script>" not in out
    assert f"id-{XSS}".replace("<", "&lt;").replace(">", "&gt;") in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;我的快递到哪了" in out


def test_html_text_only_conversation_has_no_timeline(checker):
    out = render("html", [text_only()], checker)
    assert "<svg" not in out and "通话时间线" not in out and "语音指标" not in out
    assert "skipped-rules" not in out
    both = render("html", [text_only(), call()], checker)
    assert both.count("<svg") == 1


def test_timeline_helpers():
    assert mmss(0) == "00:00" and mmss(65) == "01:05" and mmss(3725) == "1:02:05"
    assert tick_step(42) == 5 and tick_step(60) == 10 and tick_step(600) == 60 and tick_step(3 * 3600) == 1800
    assert tick_step(100 * 3600) >= 36000
    path = hatch(10, 0, 30, 20)
    for segment in path.split("M")[1:]:
        (x1, y1), (x2, y2) = (map(float, p.split(",")) for p in segment.split("L"))
        assert 10 <= min(x1, x2) and max(x1, x2) <= 40.05 and 0 <= min(y1, y2) and max(y1, y2) <= 20
        assert x2 - x1 == pytest.approx(y1 - y2, abs=0.11)  # 45°


# --- text ----------------------------------------------------------------------------------------


def test_text_report_prints_the_audio_line_and_the_notice(checker):
    out = render("text", [call(), call(transcriber=None, conv_id="call-2"), text_only()], checker)
    assert "录音 01:00.0 · 语音识别 funasr · 说话占比 客服 33% 客户 22% · 重叠 2 处 2.0秒 · 保持音乐 1 次 7.0秒" in out
    assert "录音 01:00.0 · 未做语音识别" in out
    assert out.count("录音 ") == 2  # not for the chat
    assert out.count("跳过了需要文字的") == 1 and "--asr" in out


def test_clause_ranges_shorten_runs_of_one_section():
    from guifan.reporters.common import clause_ranges

    assert clause_ranges(["S-A1", "S-A2", "S-A3", "S-A5", "S-B1", "S-B2", "S-B4", "S-G1"]) == "S-A1–A3、S-A5、S-B1–B2、S-B4、S-G1"
    assert clause_ranges([]) == ""


def test_xlsx_has_a_recordings_sheet_only_when_there_are_recordings(checker):
    from openpyxl import load_workbook

    from guifan.reporters.xlsx import render_xlsx

    def sheets(conversations):
        results = [checker.check(c) for c in conversations]
        stream = io.BytesIO()
        render_xlsx(results, BatchSummary(read=len(results), checked=len(results)), checker.engine.rulebook, stream)
        return load_workbook(io.BytesIO(stream.getvalue()))

    book = sheets([call(), call(transcriber=None, conv_id="call-2"), text_only()])
    rows = list(book["录音"].iter_rows(values_only=True))
    assert rows[0][:3] == ("对话ID", "时长(秒)", "语音识别")
    assert [r[0] for r in rows[1:]] == ["call-1", "call-2"]  # the chat has no row
    assert rows[1][1] == 60.0 and rows[1][2] == "funasr" and rows[2][2] == "未做语音识别"
    assert "录音" not in sheets([text_only()]).sheetnames
