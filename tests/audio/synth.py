"""Deterministic test audio: two-channel call recordings with known turn times.

Speech comes from espeak-ng (Mandarin read from Chinese characters) resampled by sox; hold music
and ringback tone are generated in numpy. Everything is mixed in numpy at exact sample offsets and
written with soundfile, so the ground truth (`Placed`) is exact and the same on every run.

A pitch ending ("fall"/"rise") is applied with the WORLD vocoder (pyworld): analyse, scale F0 over
the last stretch of voice, resynthesise. sox ``bend`` was tried first; it shifts the audio in time
(phase-vocoder latency) and does not finish a bend that reaches the end of the input.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

TOOLS_MESSAGE = "espeak-ng and sox are needed: apt-get install espeak-ng sox"

# espeak-ng voice, words per minute and pitch (0-99) per role. The plain "cmn" voice reads
# characters badly; "cmn-latn-pinyin" reads them well. Agent -p 80 is a ~123 Hz male voice, so a
# 700-cent fall ends near 82 Hz, above the F0 trackers' floors (pyworld dio 71 Hz by default,
# guifan's pitch track 60 Hz); at -p 45 (~82 Hz) a fall would drop out of the tracked range.
# The customer (+f2, -p 70) is a ~208 Hz female voice.
VOICES = {
    "agent": ("cmn-latn-pinyin", 165, 80),
    "customer": ("cmn-latn-pinyin+f2", 210, 70),
}
TRIM_BELOW = 0.01  # espeak's leading/trailing silence: samples under 1 % of the peak (-40 dB)
CACHE_VERSION = 2  # bump when the synthesis changes, to ignore older cached arrays


@dataclass(frozen=True)
class Utterance:
    """One spoken turn."""

    role: str  # "agent" or "customer"
    start: float  # seconds from the start of the call
    text: str  # Chinese characters
    speed: int = 0  # espeak-ng -s words per minute; 0 = the role's default (agent 165, customer 210)
    gain_db: float = -3.0  # peak level after normalisation, e.g. -30 very quiet, -1 loud
    ending: str | None = None  # "fall"/"rise": bend the pitch over the last `ending_seconds`; None = espeak's own
    ending_cents: int = 700
    ending_seconds: float = 0.6


@dataclass(frozen=True)
class Tone:
    """Non-speech audio on one channel: "music" (hold music) or "ring" (ringback, 450 Hz 1 s on / 4 s off)."""

    role: str  # the channel it is placed on ("agent" usually)
    start: float
    seconds: float
    kind: str  # "music" or "ring"
    gain_db: float = -12.0  # peak level; music's RMS is ~10.5 dB lower (-12 peak ≈ -22.5 dBFS RMS)


@dataclass(frozen=True)
class Placed:
    """Ground truth for one item of a built call (a ring Tone gives one per 1 s burst)."""

    role: str
    start: float
    end: float  # where the sound ends (speech: the voice, espeak's silence trimmed)
    kind: str  # "speech", "music", "ring"
    text: str = ""


def require_tools() -> None:
    """Raise a clear error when espeak-ng or sox is not installed."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise RuntimeError(TOOLS_MESSAGE)


def fail_without_tools() -> None:
    """In a test: fail (never skip) when espeak-ng or sox is missing; CI is expected to install them."""
    import pytest

    try:
        require_tools()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@functools.cache
def _tool_versions() -> str:
    require_tools()
    out = [subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.strip() for tool in ("espeak-ng", "sox")]
    return " | ".join(out)


def _cache_dir() -> Path:
    path = Path(os.environ.get("GUIFAN_AUDIO_CACHE") or Path(tempfile.gettempdir()) / "guifan-audio-cache")
    path.mkdir(parents=True, exist_ok=True)
    return path


def synthesize(utt: Utterance, sample_rate: int = 16000) -> np.ndarray:
    """The utterance as mono float32 at `sample_rate`: leading/trailing silence trimmed, peak at
    `utt.gain_db`. Cached on disk by a hash of every parameter, the voices and the tool versions."""
    if utt.role not in VOICES:
        raise ValueError(f"role must be 'agent' or 'customer', not {utt.role!r}")
    if utt.ending not in (None, "fall", "rise"):
        raise ValueError(f"ending must be None, 'fall' or 'rise', not {utt.ending!r}")
    key = json.dumps([CACHE_VERSION, _tool_versions(), VOICES[utt.role], asdict(utt), sample_rate], ensure_ascii=False)
    path = _cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npy"
    if path.exists():
        return np.load(path)
    samples = _synthesize(utt, sample_rate)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, samples)
    os.replace(tmp, path)  # atomic: parallel test workers never read half a file
    return samples


def _synthesize(utt: Utterance, sample_rate: int) -> np.ndarray:
    voice, default_speed, pitch = VOICES[utt.role]
    speed = utt.speed or default_speed
    wav = _run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", utt.text])
    x, rate = sf.read(io.BytesIO(wav), dtype="float32")
    loud = np.flatnonzero(np.abs(x) > TRIM_BELOW * np.abs(x).max()) if x.size else []
    if len(loud) == 0:
        raise RuntimeError(f"espeak-ng produced no sound for {utt.text!r}")
    x = x[loud[0] : loud[-1] + 1]
    if utt.ending is not None:  # at espeak's 22.05 kHz: resynthesised at 8 kHz, WORLD lost all voicing
        cents = utt.ending_cents if utt.ending == "rise" else -utt.ending_cents
        x = _bend_ending(x.astype(np.float64), rate, cents, utt.ending_seconds).astype(np.float32)
    if sample_rate != rate:  # sox's high-quality resampler; -R: repeatable output
        raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1"]
        out = _run(["sox", "-R", *raw, "-r", str(rate), "-", *raw, "-", "rate", str(sample_rate)], x.astype("<f4").tobytes())
        x = np.frombuffer(out, dtype="<f4")
    y = x.astype(np.float64)
    y *= 10 ** (utt.gain_db / 20) / np.abs(y).max()  # peak normalisation (sox gain -n)
    return y.astype(np.float32)


def _bend_ending(x: np.ndarray, rate: int, cents: float, seconds: float) -> np.ndarray:
    """`x` resynthesised by WORLD with F0 glided linearly by `cents` over its last `seconds` of
    voiced frames; same length as `x`."""
    import pyworld

    period = 5.0  # ms
    f0, t = pyworld.dio(x, rate, f0_floor=40.0, f0_ceil=700.0, frame_period=period)
    f0 = pyworld.stonemask(x, f0, t, rate)
    voiced = np.flatnonzero(f0 > 0)
    if voiced.size == 0:
        return x
    spectrum = pyworld.cheaptrick(x, f0, t, rate)
    aperiodicity = pyworld.d4c(x, f0, t, rate)
    # Voiced time still to come after each frame: the glide spans the last `seconds` of voice
    # (a fricative or pause inside the tail does not use up the glide), as "sentence end" is measured.
    remaining = (np.cumsum((f0 > 0)[::-1])[::-1] - 1) * period / 1000
    ramp = np.clip(1.0 - remaining / seconds, 0.0, 1.0) * cents
    y = pyworld.synthesize(f0 * 2.0 ** (ramp / 1200.0), spectrum, aperiodicity, rate, frame_period=period)
    return np.pad(y, (0, max(0, x.size - y.size)))[: x.size]


def _run(cmd: list[str], data: bytes | None = None) -> bytes:
    require_tools()
    done = subprocess.run(cmd, input=data, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


# Hold music: a loop of sustained triads (C, Am, F, G, ...), 0.5 s each, equal-power crossfades.
_CHORDS_HZ = [(261.63, 329.63, 392.00), (220.00, 261.63, 329.63), (174.61, 220.00, 261.63), (196.00, 246.94, 293.66),
              (261.63, 329.63, 392.00), (329.63, 392.00, 523.25), (174.61, 220.00, 261.63), (196.00, 246.94, 392.00)]
_CHORD_SECONDS = 0.5
_FADE_SECONDS = 0.05


def _music(seconds: float, rate: int, gain_db: float) -> np.ndarray:
    n = int(round(seconds * rate))
    step, fade = int(_CHORD_SECONDS * rate), int(_FADE_SECONDS * rate)
    out = np.zeros(n + step + fade)
    ramp = np.sin(np.linspace(0.0, np.pi / 2, fade))  # equal-power: sin² + cos² = 1 across the overlap
    for i, offset in enumerate(range(0, n, step)):
        t = np.arange(step + fade) / rate
        chord = sum(np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t) for f in _CHORDS_HZ[i % len(_CHORDS_HZ)])
        chord[:fade] *= ramp if offset else 1.0
        chord[-fade:] *= ramp[::-1]
        out[offset : offset + step + fade] += chord
    out = out[:n]
    edge = min(fade, n // 2)  # no click at the very start and end
    out[:edge] *= np.linspace(0.0, 1.0, edge)
    out[n - edge :] *= np.linspace(1.0, 0.0, edge)
    return out * (10 ** (gain_db / 20) / np.abs(out).max())


def _ring_bursts(tone: Tone) -> list[tuple[float, float]]:
    """(start, end) of each 1 s burst of a ringback tone (1 s on, 4 s off)."""
    bursts, at, stop = [], tone.start, tone.start + tone.seconds
    while at < stop - 1e-9:
        bursts.append((at, min(at + 1.0, stop)))
        at += 5.0
    return bursts


def _sine(seconds: float, rate: int, hz: float, gain_db: float) -> np.ndarray:
    n = int(round(seconds * rate))
    y = np.sin(2 * np.pi * hz * np.arange(n) / rate) * 10 ** (gain_db / 20)
    edge = min(int(0.005 * rate), n // 2)  # 5 ms ramps: no clicks
    y[:edge] *= np.linspace(0.0, 1.0, edge)
    y[n - edge :] *= np.linspace(1.0, 0.0, edge)
    return y


def build_call(items: Sequence[Utterance | Tone], path: Path, *, sample_rate: int = 16000, duration: float | None = None,
               agent_channel: int = 1, noise_db: float | None = -60.0) -> list[Placed]:
    """Write a two-channel 16-bit WAV (or FLAC/MP3 by path suffix, via soundfile) with the agent on
    channel `agent_channel` (1 = left) and the customer on the other; return the ground truth in time
    order. `duration` defaults to the end of the last item + 1 s. `noise_db`: the RMS level of a low
    white-noise floor (seeded, deterministic) on both channels, so the line is not digitally silent
    as a real one never is; None for none. Overlapping sound on one channel is summed and clipped."""
    if agent_channel not in (1, 2):
        raise ValueError(f"agent_channel must be 1 or 2, not {agent_channel}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".wav", ".flac", ".mp3"):
        raise ValueError(f"unsupported output type {path.suffix!r}: use .wav, .flac or .mp3")
    pieces: list[tuple[Placed, np.ndarray]] = []  # truth and samples, each placed at round(start * rate)
    for item in items:
        if item.role not in VOICES:
            raise ValueError(f"role must be 'agent' or 'customer', not {item.role!r}")
        if item.start < 0 or (isinstance(item, Tone) and item.seconds <= 0):
            raise ValueError(f"negative start or empty tone: {item}")
        if isinstance(item, Utterance):
            samples = synthesize(item, sample_rate)
            pieces.append((Placed(item.role, item.start, item.start + samples.size / sample_rate, "speech", item.text), samples))
        elif item.kind == "music":
            samples = _music(item.seconds, sample_rate, item.gain_db)
            pieces.append((Placed(item.role, item.start, item.start + samples.size / sample_rate, "music"), samples))
        elif item.kind == "ring":
            for start, end in _ring_bursts(item):
                samples = _sine(end - start, sample_rate, 450.0, item.gain_db)
                pieces.append((Placed(item.role, start, start + samples.size / sample_rate, "ring"), samples))
        else:
            raise ValueError(f"Tone kind must be 'music' or 'ring', not {item.kind!r}")

    last = max((p.end for p, _ in pieces), default=0.0)
    if duration is None:
        duration = last + 1.0
    elif duration < last:
        raise ValueError(f"duration {duration} s is shorter than the items (they end at {last:.2f} s)")
    length = int(round(duration * sample_rate))
    mix = np.zeros((length, 2))
    agent = agent_channel - 1
    for placed, samples in pieces:
        column = agent if placed.role == "agent" else 1 - agent
        offset = int(round(placed.start * sample_rate))
        count = min(samples.size, length - offset)
        mix[offset : offset + count, column] += samples[:count]
    if noise_db is not None:
        mix += np.random.default_rng(20240601).standard_normal(mix.shape) * 10 ** (noise_db / 20)
    mix = np.clip(mix, -1.0, 1.0).astype(np.float32)
    if suffix == ".mp3":  # libsndfile >= 1.1 encodes MP3 (LAME); reading back gives the exact length
        sf.write(str(path), mix, sample_rate, format="MP3", subtype="MPEG_LAYER_III")
    else:
        sf.write(str(path), mix, sample_rate, subtype="PCM_16")
    return sorted((p for p, _ in pieces), key=lambda p: (p.start, p.role != "agent"))
