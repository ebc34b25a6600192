"""ASR transcripts (FunASR, Whisper/WhisperX, sentence-level JSON) read into timed conversations."""

from __future__ import annotations

import json

import pytest

from guifan.engine import Engine
from guifan.errors import InputError
from guifan.model import Channel, Role
from guifan.readers import read_path

FUNASR = [{"key": "call-0917", "text": "…", "sentence_info": [
    {"text": "您好,请问有什么可以帮您?", "start": 320, "end": 2100, "spk": 0},
    {"text": "我的宽带断了三天了。", "start": 2600, "end": 4800, "spk": 1},
    {"text": "好的。", "start": 5200, "end": 5600, "spk": 0},
    {"text": "查到了,已经为您派维修师傅。", "start": 30100, "end": 33500, "spk": 0}]}]
ALIBABA = {"id": "ali-1", "roles": {"1": "customer", "0": "agent"}, "Sentences": [
    {"Text": "喂,你好", "BeginTime": 0, "EndTime": 900, "ChannelId": 1},
    {"Text": "您好,很高兴为您服务", "BeginTime": 1000, "EndTime": 2500, "ChannelId": 0}]}
WHISPERX = {"language": "zh", "segments": [
    {"start": 0.0, "end": 2.0, "text": " 您好,请问有什么可以帮您?", "speaker": "SPEAKER_01"},
    {"start": 2.4, "end": 4.0, "text": "我想查话费", "speaker": "SPEAKER_00"}], "agent_speaker": "SPEAKER_01"}


def read(tmp_path, obj, name="asr.json"):
    path = tmp_path / name
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return list(read_path(path))


def test_funasr_sentences_become_timed_phone_turns_with_guessed_roles(tmp_path):
    [conv] = read(tmp_path, FUNASR)
    assert conv.id == "call-0917" and conv.channel is Channel.PHONE and conv.timed
    assert [t.role for t in conv.turns] == [Role.AGENT, Role.CUSTOMER, Role.AGENT, Role.AGENT]
    assert (conv.turns[0].start, conv.turns[0].end) == (0.32, 2.1)  # milliseconds to seconds
    assert conv.metadata == {"asr_format": "FunASR", "roles_guessed": "first_speaker_is_agent"}


def test_timing_clauses_work_without_audio(tmp_path):
    # 5.6 s "好的。" then 24.5 s of silence before the result: an unannounced hold (S-B1).
    [conv] = read(tmp_path, FUNASR)
    assert "S-B1" in {c for f in Engine().check(conv) for c in f.clauses}


def test_sentence_level_json_with_channels_and_a_role_map(tmp_path):
    [conv] = read(tmp_path, ALIBABA)
    assert [(t.role, t.text, t.start) for t in conv.turns] == [
        (Role.CUSTOMER, "喂,你好", 0.0), (Role.AGENT, "您好,很高兴为您服务", 1.0)]
    assert "roles_guessed" not in conv.metadata


def test_whisperx_segments_in_seconds_with_the_agent_named(tmp_path):
    [conv] = read(tmp_path, WHISPERX, "call-77.json")
    assert conv.id == "call-77"
    assert [(t.role, t.text, t.end) for t in conv.turns] == [
        (Role.AGENT, "您好,请问有什么可以帮您?", 2.0), (Role.CUSTOMER, "我想查话费", 4.0)]


def test_generic_sentences_with_role_words_and_explicit_unit(tmp_path):
    obj = {"id": "g", "time_unit": "ms", "sentences": [
        {"text": "您好", "bg": 0, "ed": 800, "role": "客服"}, {"text": "在吗", "begin": 900, "end": 1500, "role": "客户"}]}
    [conv] = read(tmp_path, obj)
    assert [(t.role, t.end) for t in conv.turns] == [(Role.AGENT, 0.8), (Role.CUSTOMER, 1.5)]


@pytest.mark.parametrize(
    ("obj", "field", "words"),
    [
        ({"segments": [{"start": 0, "end": 1, "text": "你好"}]}, "segments[0]", "WhisperX"),
        ({"sentences": [{"text": "你好", "speaker": 0}]}, "sentences[0]", "开始或结束时间"),
        ({"sentences": [{"start": 0, "end": 1, "speaker": 0}]}, "sentences[0]", "识别文本"),
        ({"sentences": [{"text": "x", "start": "a", "end": 1, "speaker": 0}]}, "sentences[0]", "数字"),
        ({"roles": {"0": "agent"}, "sentences": [{"text": "x", "start": 0, "end": 1, "speaker": 1}]}, "roles", "说话人 1"),
        ({"time_unit": "min", "sentences": [{"text": "x", "start": 0, "end": 1, "speaker": 1}]}, "time_unit", "ms 或 s"),
        ({"sentences": []}, "sentences", "没有任何识别结果"),
    ],
)
def test_bad_asr_output_names_the_field(tmp_path, obj, field, words):
    [error] = read(tmp_path, obj)
    assert isinstance(error, InputError) and error.field == field and words in error.message
