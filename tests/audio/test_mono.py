"""Mono recordings with a diarization JSON beside them (``call.wav`` + ``call.json``): the scripted
calls mixed down to one channel, the JSON written from the script's turn times, checked against
what the two-channel recording of the same call gives; and every kind of bad JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import calls
import synth
from guifan.audio.asr import Heard
from guifan.engine import Engine
from guifan.errors import InputError
from guifan.model import Role
from guifan.readers import read_path, read_paths
from guifan.scoring import Checker

TOLERANCE = 0.3
BROKEN = {"OPN003", "VOC001", "VOC002", "VOC003", "VOC004", "VOC005", "VOC006", "HLD003"}


@pytest.fixture(scope="session")
def built(tmp_path_factory, audio_tools):
    """Both scripted calls: the stereo file, its channels mixed to mono, the rate and the truth."""
    folder = tmp_path_factory.mktemp("mono")
    found = {}
    for name, script in (("good", calls.GOOD), ("bad", calls.BAD)):
        stereo = folder / f"{name}-stereo.wav"
        placed = synth.build_call(script, stereo)
        data, rate = sf.read(str(stereo), always_2d=True, dtype="float32")
        found[name] = (stereo, np.clip(data.sum(axis=1), -1.0, 1.0), rate, placed)
    return found


def speech(placed):
    return [p for p in placed if p.kind == "speech"]


def funasr(placed, *, text: bool = False) -> list:
    """FunASR's generate() output for the call: times in ms, speaker 0 the agent, 1 the customer."""
    rows = []
    for p in speech(placed):
        row = {"start": round(p.start * 1000), "end": round(p.end * 1000), "spk": 0 if p.role == "agent" else 1}
        if text:
            row["text"] = p.text
        rows.append(row)
    return [{"key": "call", "sentence_info": rows}]


def place(folder: Path, samples: np.ndarray, rate: int, sidecar=None, stem: str = "call") -> Path:
    """``stem``.wav (mono, 16-bit) and, unless None, ``stem``.json beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    wav = folder / f"{stem}.wav"
    sf.write(str(wav), samples, rate, subtype="PCM_16")
    if sidecar is not None:
        text = sidecar if isinstance(sidecar, str) else json.dumps(sidecar, ensure_ascii=False)
        (folder / f"{stem}.json").write_text(text, encoding="utf-8")
    return wav


def read(path: Path, **options):
    from guifan.audio import AudioOptions

    (item,) = list(read_path(path, audio=AudioOptions(**options) if options else None))
    return item


def test_a_mono_recording_without_its_json_says_which_file_is_needed(built, tmp_path):
    _, samples, rate, _ = built["good"]
    wav = place(tmp_path, samples, rate)
    error = read(wav)
    assert isinstance(error, InputError) and error.path == str(wav)
    assert "call.json" in error.message and "双声道" in error.message and "说话人" in error.message


def test_the_good_call_in_mono_breaks_nothing(built, tmp_path):
    _, samples, rate, placed = built["good"]
    conversation = read(place(tmp_path, samples, rate, funasr(placed)))
    result = Checker(Engine()).check(conversation)
    assert result.findings == ()
    assert conversation.audio.rings and conversation.audio.holds
    assert conversation.metadata["recording"] == "mono" and conversation.metadata["asr_format"] == "FunASR"
    assert conversation.metadata["speakers"] == {"0": "agent", "1": "customer"}


def test_the_bad_call_in_mono_breaks_what_the_stereo_call_breaks(built, tmp_path):
    stereo_path, samples, rate, placed = built["bad"]
    conversation = read(place(tmp_path, samples, rate, funasr(placed)))
    stereo = read(stereo_path)
    findings = Engine().check(conversation)
    assert {f.rule for f in findings} == BROKEN
    assert sorted(f.rule for f in findings) == sorted(f.rule for f in Engine().check(stereo))
    # The same turns, measured alike where the agent speaks alone.
    assert [t.role for t in conversation.turns] == [t.role for t in stereo.turns]
    for mono_turn, stereo_turn in zip(conversation.turns, stereo.turns):
        assert abs(mono_turn.start - stereo_turn.start) <= TOLERANCE and abs(mono_turn.end - stereo_turn.end) <= TOLERANCE
    agent = {round(t.start): t for t in conversation.turns if t.role is Role.AGENT}
    reference = {round(t.start): t for t in stereo.turns if t.role is Role.AGENT}
    for at in (18, 57, 61, 68, 74, 78):
        assert abs(agent[at].voice.level_dbfs - reference[at].voice.level_dbfs) <= 1.0
        assert abs(agent[at].voice.syllables - reference[at].voice.syllables) <= 1
    assert 12 * np.log2(agent[61].voice.final_pitch_hz / agent[61].voice.pitch_hz) < -3
    # The interruption at 39 s is spoken over the customer: its overlap comes from the segments,
    # its voice cannot be separated (no level or pitch of the mix is claimed as the agent's).
    (cut,) = [i for i in conversation.audio.overlaps() if i.start < 43 and i.end > 39]
    assert abs(cut.start - 39.0) <= TOLERANCE
    assert agent[39].voice.level_dbfs is None and agent[39].voice.pitch_hz is None
    assert conversation.metadata["unseparated_overlap_seconds"] > 3


def test_words_come_from_the_json_when_it_has_them(built, tmp_path):
    _, samples, rate, placed = built["bad"]
    segments = [
        {"start": p.start, "end": p.end, "text": p.text, "speaker": "SPEAKER_01" if p.role == "agent" else "SPEAKER_00"}
        for p in speech(placed)
    ]
    wav = place(tmp_path, samples, rate, {"segments": segments, "agent_speaker": "SPEAKER_01"})
    conversation = read(wav)
    assert conversation.audio.transcriber == "Whisper (call.json)"
    for turn in conversation.turns:
        expected = "".join(
            p.text for p in speech(placed) if p.role == turn.role.value and turn.start - TOLERANCE <= p.start < turn.end
        )
        assert turn.text == expected and turn.asr.recognizer == "Whisper (JSON)"
    engine = Engine()
    assert engine.skipped(conversation) == []
    assert {"HLD001", "HLD003", "VOC003", "OPN003"} <= {f.rule for f in engine.check(conversation)}


class ClipRecognizer:
    """A recognizer that keeps every clip it is given (one per turn, from that speaker's track)
    and says it heard something where the clip holds sound."""

    name = "tracks"
    timed_words = False

    def __init__(self):
        self.clips: list[np.ndarray] = []

    def recognize(self, samples, sample_rate, *, prompt="", words=False) -> Heard:
        self.clips.append(samples)
        return Heard("听到" if np.abs(samples).max() > 0 else "", 0.9)


def test_without_words_in_the_json_each_speakers_track_is_recognized(built, tmp_path):
    """Each speaker's track is the recording inside that speaker's segments and silence elsewhere:
    every turn is recognized from its own speaker's track, and each clip holds that speaker's voice."""
    _, samples, rate, placed = built["good"]
    recognizer = ClipRecognizer()
    conversation = read(place(tmp_path, samples, rate, funasr(placed)), transcriber=recognizer)
    assert conversation.audio.transcriber == "tracks"
    assert len(recognizer.clips) == len(conversation.turns)
    assert all(t.text == "听到" and t.asr is not None and t.asr.recognizer == "tracks" for t in conversation.turns)


def test_an_8k_ulaw_mono_call(built, tmp_path):
    _, samples, rate, placed = built["bad"]
    wide = place(tmp_path / "wide", samples, rate)
    narrow = tmp_path / "call.wav"
    subprocess.run(["sox", "-q", "-R", str(wide), "-r", "8000", "-e", "u-law", str(narrow)], check=True)
    (tmp_path / "call.json").write_text(json.dumps(funasr(placed)), encoding="utf-8")
    conversation = read(narrow)
    assert conversation.audio.sample_rate == 8000
    assert {f.rule for f in Engine().check(conversation)} == BROKEN


def test_in_a_folder_the_json_is_read_with_its_recording(built, tmp_path):
    """``guifan check folder/``: one conversation per mono call, the JSON not read again as a
    transcript; a JSON without a mono recording beside it is still a transcript."""
    _, samples, rate, placed = built["good"]
    folder = tmp_path / "calls"
    place(folder, samples, rate, funasr(placed, text=True), stem="0917")
    (folder / "other.json").write_text(json.dumps(funasr(placed, text=True)), encoding="utf-8")
    items = list(read_paths([folder]))
    assert [type(i).__name__ for i in items] == ["Conversation", "Conversation"]
    by_source = {Path(i.source.split(":")[0]).name: i for i in items}
    assert by_source["0917.wav"].audio is not None and by_source["other.json"].audio is None
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "guifan", "check", str(folder / "0917.wav"), "-o", str(report), "--no-progress"],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    (record,) = json.loads(report.read_text(encoding="utf-8"))["conversations"]
    assert record["id"] == "0917" and record["audio"]["transcriber"] == "FunASR (0917.json)"
    assert "skipped_rules" not in record


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    """A 10 s mono recording of line noise, for the JSON errors."""
    samples = np.random.default_rng(1).standard_normal(80000).astype(np.float32) * 0.001
    return samples, 8000


def _sentences(*rows, **top):
    return {"sentences": [dict(zip(("start", "end", "speaker"), row)) for row in rows], **top}


@pytest.mark.parametrize(
    ("sidecar", "line", "field", "words"),
    [
        ('{"sentences": [{"start": 0, "end": 1, "speaker": 0},\n  {"start": 1 "end": 2}]}', 2, None, "JSON 格式错误"),
        (_sentences((0, 2, 0), (3, 12.5, 1)), 1, "sentences[1]", "超出录音 call.wav 的长度 10.00 秒"),
        (_sentences((0, 2, 0), (3, 2, 1)), 1, "sentences[1]", "早于开始时间"),
        (_sentences((-1, 2, 0)), 1, "sentences[0]", "负数"),
        ({"sentences": [{"start": 0, "speaker": 0}]}, 1, "sentences[0]", "开始或结束时间"),
        ({"sentences": [{"start": 0, "end": 1}]}, 1, "sentences[0]", "说话人"),
        (_sentences((0, 2, 0), (3, 4, 2), roles={"0": "agent", "1": "customer"}), 1, "roles", "没有说话人 2 的角色"),
        (_sentences((0, 2, 0), (3, 4, 1), roles={"0": "boss", "1": "customer"}), 1, "roles", "说话人 0 的角色 'boss' 无法识别"),
        (_sentences((0, 2, 0), (3, 4, 1), roles={"0": "customer", "1": "customer"}), 1, "roles", "没有客服说话人"),
        (_sentences((0, 2, 0), (3, 4, 1), agent_speaker="7"), 1, "agent_speaker", "客服说话人 '7' 不在 sentences 中"),
        (_sentences((0, 2, "客户")), 1, "sentences", "没有客服说话人"),
        ([_sentences((0, 2, 0)), _sentences((0, 2, 0))], 1, None, "而不是 2 个"),
        ({"results": []}, 1, None, "不是可识别的说话人分离结果"),
        ({"sentences": []}, 1, "sentences", "没有任何识别结果"),
        ({"time_unit": "min", **_sentences((0, 2, 0))}, 1, "time_unit", "ms 或 s"),
        (_sentences((0, 2, 0), started_at="昨天"), 1, "started_at", "ISO 8601"),
        ('{"sentences": [{"start": 0, "end": 1, "speaker": 0}, {"start": 1, "end": 2, "speaker": 1, "text": "\\ud800"}]}',
         1, "sentences[1].text", "孤立的 UTF-16 代理"),
        ("\n\n" + json.dumps(_sentences((0, 2, 0), (3, 4, 1), agent_speaker=5)), 3, "agent_speaker", "不在"),
    ],
)
def test_a_bad_json_names_its_file_and_field(quiet, tmp_path, sidecar, line, field, words):
    samples, rate = quiet
    wav = place(tmp_path, samples, rate, sidecar)
    error = read(wav)
    assert isinstance(error, InputError), error
    assert error.path == str(tmp_path / "call.json") and error.line == line and error.field == field, error
    assert words in error.message and "call.wav" in error.message, error.message


def test_a_speaker_named_by_role_words_and_segments_without_speech(quiet, tmp_path):
    """Role words need no map; a segment the voice detector hears nothing in makes no turn unless
    the JSON has words for it."""
    samples, rate = quiet
    sidecar = {"sentences": [{"start": 0.5, "end": 2, "role": "客服", "text": "您好"},
                             {"start": 3, "end": 4, "role": "客户"}], "agent_id": 1024}
    conversation = read(place(tmp_path, samples, rate, sidecar))
    assert conversation.agent_id == "1024" and "roles_guessed" not in conversation.metadata
    assert [(t.role, t.text, t.start, t.end) for t in conversation.turns] == [(Role.AGENT, "您好", 0.5, 2.0)]
    assert conversation.audio.agent_speech[0].to_list() == [0.5, 2.0] and conversation.audio.customer_speech == ()
