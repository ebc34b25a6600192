"""Live audio (guifan.audio.stream, guifan.assist.audio): synthesized calls streamed as 16-bit PCM
into a live session, as a desktop would, 20 ms at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import synth

from guifan.assist import AssistError, LiveSession
from guifan.assist.audio import LiveAudio
from guifan.audio.frontend import AudioOptions, read_recording
from guifan.audio.signal import to_pcm16
from guifan.audio.stream import ChannelStream
from guifan.engine import Engine
from guifan.model import Channel, Conversation, Role

CHUNK_SECONDS = 0.02
CUSTOMER_TALKS = "我上周买的洗衣机到现在还没送到,打了好几次电话都说在路上,你们到底怎么回事"
INTERRUPTED = [
    synth.Utterance("agent", 0.5, "您好,很高兴为您服务,请问有什么可以帮您?"),
    synth.Utterance("customer", 4.5, CUSTOMER_TALKS),
    synth.Utterance("agent", 7.0, "您提供一下订单号,我帮您查一下物流信息。"),
]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def engine():
    return Engine()


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, audio_tools):
    path = tmp_path_factory.mktemp("live") / "interrupted.wav"
    truth = synth.build_call(INTERRUPTED, path, sample_rate=8000, duration=16)
    return path, truth


def channels(path: Path) -> tuple[dict[Role, bytes], int]:
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return {Role.AGENT: to_pcm16(data[:, 0]), Role.CUSTOMER: to_pcm16(data[:, 1])}, rate


def stream_call(audio: LiveAudio, pcm: dict[Role, bytes], rate: int, on_chunk=None) -> list[tuple[float, Role, object]]:
    """Both channels in call order, 20 ms at a time; every update with the call time it came at."""
    step = int(rate * CHUNK_SECONDS) * 2
    seen = []
    for at in range(0, len(pcm[Role.AGENT]), step):
        for role in (Role.AGENT, Role.CUSTOMER):
            for update in audio.feed(role, pcm[role][at:at + step]):
                seen.append((at / 2 / rate, role, update))
        if on_chunk is not None:
            on_chunk(at / 2 / rate)
    return seen


def finals(role: Role, pcm: bytes, rate: int, chunk: int) -> list:
    stream = ChannelStream(role, rate)
    out = [s for at in range(0, len(pcm), chunk) for s in stream.feed(pcm[at:at + chunk])]
    return [s for s in out + stream.flush() if s.final]


def test_turns_of_a_stream_are_the_recordings_turns(interrupted):
    path, truth = interrupted
    pcm, rate = channels(path)
    recorded = next(read_recording(path, path.name, AudioOptions()))
    for role in (Role.AGENT, Role.CUSTOMER):
        streamed = finals(role, pcm[role], rate, int(rate * CHUNK_SECONDS) * 2)
        # However the desktop cuts its chunks (odd sizes, half samples), the turns are the same.
        assert [(s.start, s.end, s.voice) for s in finals(role, pcm[role], rate, 333)] == \
               [(s.start, s.end, s.voice) for s in streamed]
        spoken = [p for p in truth if p.role == role.value]
        assert len(streamed) == len(spoken)
        for heard, said in zip(streamed, spoken):
            assert abs(heard.start - said.start) < 0.1 and abs(heard.end - said.end) < 0.1
        # Measured as the recording front end measures the same turn.
        batch = [t for t in recorded.turns if t.role is role]
        for live, whole in zip(streamed, batch):
            assert abs(live.voice.speech_seconds - whole.voice.speech_seconds) <= 0.1
            assert abs(live.voice.level_dbfs - whole.voice.level_dbfs) <= 1.0
            assert abs(live.voice.syllables - whole.voice.syllables) <= 1
            assert (live.voice.pitch_hz is None) == (whole.voice.pitch_hz is None)


def test_agent_talking_over_the_customer_is_warned_while_the_customer_still_speaks(interrupted, engine):
    path, truth = interrupted
    pcm, rate = channels(path)
    session = LiveSession(engine, Conversation("t", (), Channel.PHONE), clock=Clock())
    audio = LiveAudio(session)
    audio.open("agent", rate, offset=0.0)
    audio.open("customer", rate, offset=0.0)
    seen = stream_call(audio, pcm, rate)
    customer_end = next(p.end for p in truth if p.role == "customer")
    warned = [(at, u) for at, role, u in seen if any(h["rule"] == "VOC004" for h in u.hints)]
    assert warned, "no S-H4 warning"
    at, update = warned[0]
    assert not update.final and at < customer_end - 0.5  # a partial, while the customer is talking
    hint = next(h for h in update.hints if h["rule"] == "VOC004")
    assert hint["kind"] == "warning" and hint["clauses"] == ["S-H4"] and "客户还在说话" in hint["message"]
    # Before the agent said more than an acknowledgement over the customer, nothing was warned.
    agent_start = next(p.start for p in truth if p.role == "agent" and p.start > 5)
    assert at > agent_start + 0.5
    # The turns are the recording's: the finished session checks as guifan check call.wav does.
    audio.close(Role.AGENT)
    audio.close(Role.CUSTOMER)
    recorded = next(read_recording(path, path.name, AudioOptions()))
    live = {(f.rule, f.turn) for f in engine.check(session.conversation)}
    batch = {(f.rule, f.turn) for f in engine.check(recorded)}
    assert ("VOC004", 2) in live and {r for r, _ in live} == {r for r, _ in batch}


def test_an_acknowledgement_over_the_customer_is_not_warned(tmp_path, audio_tools, engine):
    path = tmp_path / "ack.wav"
    synth.build_call([synth.Utterance("customer", 0.5, CUSTOMER_TALKS),
                      synth.Utterance("agent", 3.0, "嗯,好的")], path, sample_rate=8000, duration=9)
    pcm, rate = channels(path)
    audio = LiveAudio(LiveSession(engine, Conversation("t", (), Channel.PHONE), clock=Clock()))
    audio.open("agent", rate, offset=0.0)
    audio.open("customer", rate, offset=0.0)
    seen = stream_call(audio, pcm, rate)
    assert not [u for _, _, u in seen if any(h["rule"] == "VOC004" for h in u.hints)]


def test_speech_rate_drifting_over_the_last_30_seconds(tmp_path, audio_tools, engine):
    fast = [synth.Utterance("agent", 0.5 + 5 * n, "您好,您的订单已经发货了,预计明天送达,请您注意查收", speed=300)
            for n in range(4)]
    path = tmp_path / "fast.wav"
    synth.build_call(fast, path, sample_rate=16000, duration=22)
    pcm, rate = channels(path)
    audio = LiveAudio(LiveSession(engine, Conversation("t", (), Channel.PHONE), clock=Clock()))
    audio.open("agent", rate, offset=0.0)
    audio.open("customer", rate, offset=0.0)
    seen = stream_call(audio, pcm, rate)
    rated = [(at, u) for at, role, u in seen if any(h["rule"] == "VOC001" for h in u.hints)]
    assert rated, "no S-H1 hint"
    at, update = rated[0]
    hint = next(h for h in update.hints if h["rule"] == "VOC001")
    assert update.final and "最近30秒的说话语速过快" in hint["message"] and hint["clauses"] == ["S-H1"]
    # Not before the agent had spoken a third of the window (10 s).
    speech = sum(t.voice.speech_seconds for t in audio.session.conversation.turns if t.end <= at)
    assert speech >= 10


def test_silence_on_the_line_runs_the_timers_with_the_clients_words(tmp_path, audio_tools, engine):
    path = tmp_path / "silent.wav"
    truth = synth.build_call([synth.Utterance("agent", 0.5, "您好,请问有什么可以帮您?")], path,
                             sample_rate=8000, duration=12)
    pcm, rate = channels(path)
    session = LiveSession(engine, Conversation("t", (), Channel.PHONE), clock=Clock())
    audio = LiveAudio(session)
    audio.open("agent", rate, words="client", offset=0.0)
    audio.open("customer", rate, words="client", offset=0.0)
    greeting = truth[0]
    due = []

    def each_chunk(at: float) -> None:
        if abs(at - (greeting.end + 0.3)) < CHUNK_SECONDS / 2:  # the call center's recognizer, a bit later
            session.add("agent", greeting.text, greeting.start, greeting.end)
        update = session.tick()
        if update is not None:
            due.extend((at, h) for h in update.hints if h["kind"] == "timer")

    stream_call(audio, pcm, rate, on_chunk=each_chunk)
    # The client's turn carries the voice the stream heard in its time.
    turn = session.conversation.turns[0]
    assert turn.voice is not None and turn.voice.speech_seconds > 1 and turn.voice.syllables >= 8
    at, hint = due[0]
    assert hint["clauses"] == ["S-C1"] and hint["step"] == 0
    # Pushed 5 s after the greeting ended, on the audio's clock (the wall clock never moved).
    assert greeting.end + 5 <= at <= greeting.end + 5.2


class Streaming:
    """A streaming recognizer that says what it is told, word by word as the audio comes (the
    plumbing of partial words; real streaming models cannot be had offline here)."""

    name = "scripted-online"
    timed_words = False
    streaming = True

    def __init__(self, words: str):
        self.words = words

    def open(self):
        words = self.words

        class Utterance:
            heard = 0

            def accept(self, samples, rate):
                self.heard += samples.size / rate
                return words[:int(self.heard * 4)]  # four characters a second

            def finish(self):
                from guifan.audio.asr import Heard
                return Heard(words, 0.9)

        return Utterance()


def test_a_forbidden_phrase_in_streamed_words_is_warned_before_the_turn_ends(tmp_path, audio_tools, engine):
    path = tmp_path / "rude.wav"
    said = "这个不归我们管,你自己去问问快递吧"
    truth = synth.build_call([synth.Utterance("agent", 0.5, said)], path, sample_rate=16000, duration=6)
    pcm, rate = channels(path)
    session = LiveSession(engine, Conversation("t", (), Channel.PHONE), clock=Clock())
    audio = LiveAudio(session, Streaming(said))
    assert audio.open("agent", rate)["words"] == "server"
    audio.open("customer", rate)
    seen = stream_call(audio, pcm, rate)
    warned = [(at, u) for at, role, u in seen if any(h["kind"] == "warning" and
                                                     {"S-F6", "S-F1"} & set(h["clauses"]) for h in u.hints)]
    assert warned and not warned[0][1].final and warned[0][0] < truth[0].end
    final = session.conversation.turns[0]
    assert final.text == said and final.asr.recognizer == "scripted-online" and final.asr.confidence == 0.9


def test_a_server_recognizer_gives_each_turn_its_words(tmp_path, audio_tools, engine):
    from guifan.audio.asr import load_transcriber

    path = tmp_path / "hello.wav"
    synth.build_call([synth.Utterance("agent", 0.5, "您好,很高兴为您服务")], path, sample_rate=16000, duration=4)
    pcm, rate = channels(path)
    session = LiveSession(engine, Conversation("t", (), Channel.PHONE), clock=Clock())
    audio = LiveAudio(session, load_transcriber("faster-whisper"))
    audio.open("agent", rate)
    audio.open("customer", rate)
    stream_call(audio, pcm, rate)
    turn = session.conversation.turns[0]
    assert turn.asr.recognizer == "faster-whisper" and 0 < turn.asr.confidence <= 1
    assert "您好" in turn.text and turn.voice.speech_seconds > 1


def test_bad_streams_are_refused_clearly(engine):
    session = LiveSession(engine, Conversation("t", (), Channel.PHONE), clock=Clock())
    audio = LiveAudio(session)
    for args, status, words in [
        (("boss", 8000), 422, "role"),
        (("agent", 44100), 422, "rate"),
        (("agent", 8000, "server"), 422, "--assist-asr"),
        (("agent", 8000, "maybe"), 422, "words"),
        (("agent", 8000, None, -5), 422, "offset"),
    ]:
        with pytest.raises(AssistError) as caught:
            audio.open(*args)
        assert caught.value.status == status and words in caught.value.message
    with pytest.raises(AssistError) as caught:
        audio.feed(Role.AGENT, b"\0\0")
    assert caught.value.status == 409 and "audio" in caught.value.message
    audio.open("agent", 8000)
    for pcm, status in [(b"\0" * 3, 422), (b"\0" * 70_000, 413)]:
        with pytest.raises(AssistError) as caught:
            audio.feed(Role.AGENT, pcm)
        assert caught.value.status == status
    assert audio.feed(Role.AGENT, np.zeros(160, dtype="<i2").tobytes()) == []  # and it goes on
