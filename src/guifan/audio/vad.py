"""Voice activity per 10 ms frame (WebRTC VAD) and the frames' levels, for one channel."""

from __future__ import annotations

import numpy as np

from guifan.audio.signal import to_pcm16
from guifan.model import Interval

FRAME_SECONDS = 0.01


def frame_levels(samples: np.ndarray, rate: int) -> np.ndarray:
    """RMS level of every whole 10 ms frame, in dBFS (-120 for digital silence)."""
    size = int(rate * FRAME_SECONDS)
    count = samples.size // size
    frames = samples[: count * size].reshape(count, size).astype(np.float64)
    power = np.mean(frames * frames, axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-12))


def noise_floor(levels: np.ndarray) -> float:
    """The line's noise level: the quietest tenth of its frames (a call is never all speech)."""
    return float(np.percentile(levels, 10)) if levels.size else -120.0


def speech_mask(samples: np.ndarray, rate: int, levels: np.ndarray, floor: float, aggressiveness: int) -> np.ndarray:
    """True for every 10 ms frame the detector calls speech and that stands above the line's
    noise floor (the detector alone takes loud line hiss for speech on some recordings)."""
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    size = int(rate * FRAME_SECONDS)
    pcm = to_pcm16(samples[: levels.size * size])
    step = size * 2  # bytes per frame
    voiced = np.fromiter(
        (vad.is_speech(pcm[i * step:(i + 1) * step], rate) for i in range(levels.size)), dtype=bool, count=levels.size
    )
    return voiced & (levels > max(floor + 6.0, -60.0))


def runs(mask: np.ndarray, *, bridge: float, shortest: float) -> list[Interval]:
    """The stretches where ``mask`` is true, in seconds: gaps shorter than ``bridge`` are closed
    first, then stretches shorter than ``shortest`` dropped (clicks, breaths)."""
    if not mask.any():
        return []
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    merged: list[list[int]] = []
    gap = bridge / FRAME_SECONDS
    for start, end in zip(starts, ends):
        if merged and start - merged[-1][1] < gap:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [
        Interval(round(float(s) * FRAME_SECONDS, 3), round(float(e) * FRAME_SECONDS, 3))
        for s, e in merged
        if (e - s) * FRAME_SECONDS >= shortest
    ]


def clear(mask: np.ndarray, intervals: list[Interval]) -> None:
    """Mark the frames of ``intervals`` as not speech (hold music, ringback tone)."""
    for interval in intervals:
        mask[int(interval.start / FRAME_SECONDS):int(np.ceil(interval.end / FRAME_SECONDS))] = False
