"""Recognized speech heard with doubt: findings that rest on it become 待复核 with the reason, and
every report shows the transcript with what the recognizer was sure of (guifan.engine.hearing)."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import jsonschema
import openpyxl

from guifan.engine import Engine
from guifan.model import CallAudio, Channel, Conversation, Interval, Recognition, Role, Turn
from guifan.readers.fields import build
from guifan.reporters.html import render_html
from guifan.reporters.jsonreport import report_document, report_schema
from guifan.reporters.xlsx import render_xlsx
from guifan.rulebook import default_rulebook
from guifan.scoring import BatchSummary, Checker

SURE, UNSURE = 0.9, 0.3
SCRIPT = [
    (Role.AGENT, "您好,请问有什么可以帮您?"),
    (Role.CUSTOMER, "我的快递三天了还没到。"),
    (Role.AGENT, "这个你自己去问快递公司吧,不归我们管。"),
    (Role.CUSTOMER, "好吧。"),
    (Role.AGENT, "请问还有其他可以帮您的吗?感谢您的来电,再见。"),
]


def call(confidences: dict[int, float | None] | None = None, texts: dict[int, str] | None = None) -> Conversation:
    """The script as a recognized call: every turn heard with confidence SURE unless given."""
    confidences, texts = confidences or {}, texts or {}
    turns = []
    for n, (role, text) in enumerate(SCRIPT):
        turns.append(Turn(role, texts.get(n, text), start=4.0 * n, end=4.0 * n + 3,
                          asr=Recognition("test-asr", confidences.get(n, SURE), 0.01)))
    audio = CallAudio(duration=20.0, sample_rate=8000, agent_speech=(Interval(0, 3),), customer_speech=(), transcriber="test-asr")
    return Conversation(id="call", turns=tuple(turns), channel=Channel.PHONE, audio=audio)


def findings(conversation: Conversation, rule: str):
    return [f for f in Engine().check(conversation) if f.rule == rule]


def test_an_unrecognized_greeting_is_a_finding_to_review_not_a_hard_one():
    clear = findings(call(texts={0: "喂。"}), "OPN001")
    assert clear and min(f.confidence for f in clear) == 1.0  # heard clearly: the greeting is missing
    (unheard,) = findings(call(texts={0: ""}), "OPN001")
    assert unheard.confidence < default_rulebook().review.confidence_below
    assert "第1轮语音未识别出文字" in unheard.message and "请复核" in unheard.message


def test_a_greeting_heard_with_low_confidence_is_in_doubt():
    (doubt,) = findings(call(confidences={0: UNSURE}, texts={0: "您号请问有神么"}), "OPN001")
    assert doubt.confidence <= UNSURE and "第1轮语音识别不确定" in doubt.message
    assert findings(call(confidences={0: UNSURE}), "OPN001") == []  # the words are there: nothing to say


def test_forbidden_words_on_an_unsure_turn_say_so():
    sure = [f for f in Engine().check(call()) if f.turn == 2 and f.rule.startswith("FBD")]
    unsure = [f for f in Engine().check(call(confidences={2: UNSURE})) if f.turn == 2 and f.rule.startswith("FBD")]
    assert sure and all(f.confidence == 1.0 for f in sure)
    assert [f.rule for f in unsure] == [f.rule for f in sure]
    assert all(f.confidence <= UNSURE and "第3轮语音识别不确定" in f.message for f in unsure)


def test_the_threshold_is_a_rulebook_setting():
    book = default_rulebook()
    lenient = book.model_copy(update={"speech": book.speech.model_copy(update={"trust_below": 0.2})})
    unsure = call(confidences={2: UNSURE})
    hard = [f for f in Engine(lenient).check(unsure) if f.turn == 2 and f.rule.startswith("FBD")]
    assert hard and all(f.confidence == 1.0 for f in hard)


def test_reports_carry_the_transcript_with_what_was_heard():
    conversation = call(confidences={2: UNSURE}, texts={0: ""})
    rulebook = default_rulebook()
    result = Checker(Engine(rulebook)).check(conversation)
    document = report_document([result], BatchSummary(read=1, checked=1), rulebook)
    jsonschema.validate(document, report_schema())
    turns = document["conversations"][0]["turns"]
    assert [t["text"] for t in turns] == ["", *(text for _, text in SCRIPT[1:])]
    assert turns[0]["unrecognized"] and turns[0]["asr"]["doubtful"]
    assert turns[2]["asr"] == {"recognizer": "test-asr", "confidence": UNSURE, "no_speech": 0.01, "doubtful": True}
    assert turns[1]["asr"]["doubtful"] is False and turns[1]["start"] == 4.0

    html = io.StringIO()
    render_html([result], BatchSummary(read=1, checked=1), rulebook, html)
    assert "(未识别" in html.getvalue() and "识别存疑 0.30" in html.getvalue() and "识别 0.90" in html.getvalue()

    xlsx = io.BytesIO()
    render_xlsx([result], BatchSummary(read=1, checked=1), rulebook, xlsx)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.getvalue()))["转写"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert rows[0][5] == "(未识别)" and rows[2][7] == UNSURE and rows[2][8] == "是" and not rows[1][8]


def test_an_asr_transcript_keeps_the_recognizers_confidence():
    """JSON input and ASR results (Whisper's avg_logprob) carry it to the findings."""
    raw = {"id": "t", "channel": "phone", "turns": [
        {"role": "agent", "text": "喂", "start": 0, "end": 1, "asr": {"recognizer": "x", "confidence": 0.2}},
        {"role": "customer", "text": "你好", "start": 1, "end": 2},
    ]}
    conversation = build(raw, "t.json")
    assert conversation.turns[0].asr == Recognition("x", 0.2) and conversation.turns[1].asr is None
    (greeting,) = findings(conversation, "OPN001")
    assert greeting.confidence <= 0.2
    assert replace(conversation.turns[0], text="").unrecognized


def test_wording_misheard_beyond_a_slip_is_in_doubt_not_missing():
    """请您稍等 heard as 请您早等 (早 is not a homophone of 稍): the hold request may be there, so
    "no hold request" is 待复核, while a turn with nothing like it stays a hard finding."""
    def hold_call(asked: str) -> Conversation:
        turns = (
            Turn(Role.AGENT, "您好,请问有什么可以帮您?", 0, 2, asr=Recognition("t", SURE)),
            Turn(Role.CUSTOMER, "我的快递到哪了", 3, 5, asr=Recognition("t", SURE)),
            Turn(Role.AGENT, asked, 6, 8, asr=Recognition("t", SURE)),
            Turn(Role.AGENT, "感谢您的耐心等待,您的快递明天送到。请问还有其他可以帮您的吗?再见", 80, 85, asr=Recognition("t", SURE)),
        )
        return Conversation(id="hold", turns=turns, channel=Channel.PHONE)

    (misheard,) = findings(hold_call("请您早等,我帮您查询一下"), "HLD001")
    assert misheard.confidence < default_rulebook().review.confidence_below and "听错" in misheard.message
    (missing,) = findings(hold_call("我帮您查询一下"), "HLD001")
    assert missing.confidence == 1.0
