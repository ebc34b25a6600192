"""Small signal utilities on mono float32 sample arrays in [-1, 1] (numpy only)."""

from __future__ import annotations

import numpy as np


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``samples`` at ``rate`` Hz converted to ``target`` Hz.

    Linear interpolation after a moving-average low-pass when going down: ample for voice activity,
    levels and speech recognizers fed 8/16 kHz telephone audio; not meant for music production.
    """
    if rate == target or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    if target < rate:
        width = int(round(rate / target))
        if width > 1:
            samples = np.convolve(samples, np.full(width, 1.0 / width, dtype=np.float32), mode="same")
    count = int(round(samples.size * target / rate))
    positions = np.arange(count, dtype=np.float64) * (rate / target)
    return np.interp(positions, np.arange(samples.size), samples).astype(np.float32)


def to_pcm16(samples: np.ndarray) -> bytes:
    """Little-endian 16-bit PCM, as webrtcvad and many recognizers take it."""
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def dbfs(samples: np.ndarray) -> float:
    """RMS level in dB below full scale (a full-scale sine is about -3 dBFS); -120 for silence."""
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 1e-6 else -120.0
