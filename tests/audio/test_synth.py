"""Sanity checks of the test-call synthesizer itself (synth.py): timings, channels, formats, pitch."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
import soundfile as sf
from synth import Placed, Tone, Utterance, build_call, require_tools, synthesize

pytestmark = pytest.mark.usefixtures("audio_tools")

GREETING = "您好，请问有什么可以帮您？"
QUESTION = "我想问一下我的订单到哪里了"
LONG_GREETING = "您好，很高兴为您服务，请问有什么可以帮您？"
COMPLAINT = "你们这个服务太差了吧"
FRAME = 0.01
NOISE_DB = -60.0


def frame_db(samples: np.ndarray, rate: int) -> np.ndarray:
    """RMS level in dBFS per 10 ms frame."""
    size = int(rate * FRAME)
    count = samples.size // size
    frames = samples[: count * size].astype(np.float64).reshape(count, size)
    return 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-12)


def semitones_at_end(samples: np.ndarray, rate: int) -> float:
    """Median F0 of the last 0.5 s over the whole utterance's median, in semitones (pyworld DIO)."""
    import pyworld

    x = samples.astype(np.float64)
    f0, t = pyworld.dio(x, rate, frame_period=10)
    f0 = pyworld.stonemask(x, f0, t, rate)
    voiced = f0 > 0
    tail = voiced & (t >= t[-1] - 0.5)
    return float(12 * np.log2(np.median(f0[tail]) / np.median(f0[voiced])))


def check_channel(levels: np.ndarray, truth: list[Placed], slack: float = 0.05) -> None:
    """Sound inside each truth interval (at both edges, and mostly throughout), noise outside."""
    above = levels > NOISE_DB + 5  # 10 ms frames of the noise alone stay within ~2 dB of it
    times = np.arange(levels.size) * FRAME
    inside = np.zeros(levels.size, dtype=bool)
    for p in truth:
        inside |= (times + FRAME > p.start - slack) & (times < p.end + slack)
        span = (times >= p.start) & (times + FRAME <= p.end)
        head = (times >= p.start) & (times < p.start + slack)
        tail = (times + FRAME <= p.end) & (times + FRAME > p.end - slack)
        assert above[head].any() and above[tail].any(), f"no sound at the edges of {p}"
        share = above[span].mean()
        assert share > (0.99 if p.kind != "speech" else 0.6), f"{p}: only {share:.0%} of frames above the floor"
    assert not above[~inside].any(), f"sound outside the truth at {times[~inside & above][:5]} s"
    assert abs(np.median(levels[~inside]) - NOISE_DB) < 1.5


def test_synthesize_trims_normalises_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("GUIFAN_AUDIO_CACHE", str(tmp_path))
    utt = Utterance("agent", 0.0, GREETING)
    first = synthesize(utt, 16000)
    assert first.dtype == np.float32 and 1.5 < first.size / 16000 < 5
    assert np.abs(first).max() == pytest.approx(10 ** (-3 / 20), rel=1e-3)
    # espeak's silence is trimmed: the voice is audible within 20 ms of both ends
    assert np.abs(first[:320]).max() > 0.005 and np.abs(first[-320:]).max() > 0.005
    assert len(list(tmp_path.glob("*.npy"))) == 1
    assert np.array_equal(synthesize(utt, 16000), first)  # from the cache
    for f in tmp_path.glob("*.npy"):
        f.unlink()
    assert np.array_equal(synthesize(utt, 16000), first)  # synthesized again: identical
    quiet = synthesize(Utterance("agent", 0.0, GREETING, gain_db=-30), 16000)
    assert np.abs(quiet).max() == pytest.approx(10 ** (-30 / 20), rel=1e-3)
    faster = synthesize(Utterance("agent", 0.0, GREETING, speed=260), 16000)
    assert faster.size < 0.8 * first.size
    assert synthesize(Utterance("customer", 0.0, GREETING), 16000).size < first.size  # customer speaks faster


@pytest.mark.parametrize(("role", "text", "rate"), [("agent", LONG_GREETING, 16000), ("agent", QUESTION, 16000), ("agent", QUESTION, 8000),
                                                   ("customer", COMPLAINT, 16000), ("customer", LONG_GREETING, 16000), ("customer", COMPLAINT, 8000)])
def test_pitch_endings(role, text, rate):
    figures = {}
    for ending in (None, "fall", "rise"):
        x = synthesize(Utterance(role, 0.0, text, ending=ending), rate)
        figures[ending] = semitones_at_end(x, rate)
    print(f"{role} {rate} Hz {text}: end vs median, semitones: " + ", ".join(f"{k}={v:+.1f}" for k, v in figures.items()))
    assert figures["fall"] <= -3.0
    assert figures["rise"] >= 0.0
    assert figures["rise"] - figures["fall"] >= 5.0


@pytest.mark.parametrize("agent_channel", [1, 2])
def test_build_call_places_items_where_the_truth_says(tmp_path, agent_channel):
    greeting = synthesize(Utterance("agent", 0.0, GREETING), 16000)
    overlap_start = 0.5 + greeting.size / 16000 - 0.3  # the customer starts 0.3 s before the agent ends
    items = [
        Utterance("customer", overlap_start, QUESTION),
        Utterance("agent", 0.5, GREETING),
        Tone("agent", 7.0, 6.0, "music"),
        Utterance("agent", 13.5, "您稍等一下", gain_db=-30),
    ]
    path = tmp_path / "call.wav"
    truth = build_call(items, path, agent_channel=agent_channel)
    assert [p.start for p in truth] == sorted(p.start for p in truth)
    assert [(p.role, p.kind) for p in truth] == [("agent", "speech"), ("customer", "speech"), ("agent", "music"), ("agent", "speech")]
    assert truth[1].start < truth[0].end  # they do overlap
    assert truth[2].end == pytest.approx(13.0)
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    info = sf.info(path)
    assert (rate, data.shape[1], info.subtype) == (16000, 2, "PCM_16")
    assert data.shape[0] == round((truth[-1].end + 1.0) * rate)
    agent, customer = data[:, agent_channel - 1], data[:, 2 - agent_channel]
    check_channel(frame_db(agent, rate), [p for p in truth if p.role == "agent"])
    check_channel(frame_db(customer, rate), [p for p in truth if p.role == "customer"])
    quiet = frame_db(agent, rate)[int(truth[3].start / FRAME) : int(truth[3].end / FRAME)]
    music = frame_db(agent, rate)[int(7.1 / FRAME) : int(12.9 / FRAME)]
    assert -50 < np.percentile(quiet, 90) < -33  # -30 dB peak: about 15 dB above the line noise
    assert -24 < np.median(music) < -21 and music.std() < 2.5 and music.min() > -32  # steady, moderate, no gaps


def test_ringback_bursts(tmp_path):
    truth = build_call([Tone("agent", 1.0, 12.0, "ring")], tmp_path / "ring.wav", duration=14.0)
    assert [(p.start, p.end, p.kind) for p in truth] == [(1.0, 2.0, "ring"), (6.0, 7.0, "ring"), (11.0, 12.0, "ring")]
    data, rate = sf.read(tmp_path / "ring.wav", always_2d=True)
    check_channel(frame_db(data[:, 0], rate), truth)
    check_channel(frame_db(data[:, 1], rate), [])
    burst = data[int(6.2 * rate) : int(6.8 * rate), 0]
    spectrum = np.abs(np.fft.rfft(burst))
    assert np.fft.rfftfreq(burst.size, 1 / rate)[spectrum.argmax()] == pytest.approx(450, abs=2)


@pytest.mark.parametrize(("suffix", "rate", "subtype"), [(".wav", 8000, "PCM_16"), (".flac", 16000, "PCM_16"), (".mp3", 16000, "MPEG_LAYER_III"), (".mp3", 8000, "MPEG_LAYER_III")])
def test_rates_and_formats(tmp_path, suffix, rate, subtype):
    items = [Utterance("agent", 0.3, GREETING), Utterance("customer", 3.5, QUESTION, ending="rise")]
    path = tmp_path / f"call{suffix}"
    truth = build_call(items, path, sample_rate=rate)
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype) == (rate, 2, subtype)
    data, _ = sf.read(path, dtype="float32", always_2d=True)
    assert data.shape[0] == round((truth[-1].end + 1.0) * rate)  # no encoder delay or padding left
    reference = build_call(items, tmp_path / "reference.wav", sample_rate=rate)
    assert reference == truth
    ref, _ = sf.read(tmp_path / "reference.wav", dtype="float32", always_2d=True)
    for column in (0, 1):
        got, want = frame_db(data[:, column], rate), frame_db(ref[:, column], rate)
        loud = want > -40
        assert np.median(np.abs(got[loud] - want[loud])) < 1.0  # lossy MP3 keeps the levels
    if suffix != ".mp3":
        check_channel(frame_db(data[:, 0], rate), [truth[0]])
        check_channel(frame_db(data[:, 1], rate), [truth[1]])


def test_deterministic_output(tmp_path):
    items = [Utterance("agent", 0.2, GREETING, ending="fall"), Tone("customer", 1.0, 2.0, "music")]
    digests = set()
    for name in ("a.wav", "b.wav"):
        build_call(items, tmp_path / name)
        digests.add(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert len(digests) == 1
    data, _ = sf.read(tmp_path / "a.wav")
    assert np.count_nonzero(data == 0) < 0.01 * data.size  # the noise floor: never digital silence
    build_call(items, tmp_path / "silent.wav", noise_db=None)
    silent, _ = sf.read(tmp_path / "silent.wav")
    assert not silent[-8000:].any()


def test_bad_input(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="role"):
        build_call([Utterance("caller", 0.0, GREETING)], tmp_path / "x.wav")
    with pytest.raises(ValueError, match="agent_channel"):
        build_call([], tmp_path / "x.wav", agent_channel=0)
    with pytest.raises(ValueError, match="duration"):
        build_call([Tone("agent", 0.0, 5.0, "music")], tmp_path / "x.wav", duration=3.0)
    with pytest.raises(ValueError, match="output type"):
        build_call([], tmp_path / "x.ogg")
    monkeypatch.setattr("synth.shutil.which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng sox"):
        require_tools()


def test_ninety_second_call_build_time(tmp_path, monkeypatch):
    monkeypatch.setenv("GUIFAN_AUDIO_CACHE", str(tmp_path / "cache"))
    lines = [GREETING, QUESTION, "好的，请您稍等，我帮您查询一下", "您的订单已经发货了，预计明天送到", COMPLAINT,
             "非常抱歉给您带来不便", "那我什么时候能收到", "请问还有其他可以帮您的吗", "没有了，谢谢", "感谢您的来电，再见"]
    items: list[Utterance | Tone] = []
    at = 0.5
    for i in range(15):
        role = "agent" if i % 2 == 0 else "customer"
        items.append(Utterance(role, at, lines[i % len(lines)] if i < 10 else lines[i % 10] + "。" + lines[(i + 3) % 10],
                               ending=("fall", "rise", None)[i % 3] if role == "agent" else None))
        at += 5.8
    timings = []
    for name in ("cold.wav", "cached.wav"):
        begin = time.perf_counter()
        truth = build_call(items, tmp_path / name)
        timings.append(time.perf_counter() - begin)
    print(f"90 s call, 15 utterances ({truth[-1].end:.1f} s): cold {timings[0]:.2f} s, cached {timings[1]:.2f} s")
    assert 85 < truth[-1].end < 95
    assert timings[1] < timings[0] and timings[0] < 20
