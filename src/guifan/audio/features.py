"""What the front end measures in a channel besides speech: syllables, pitch, hold music, ringback.

All of it works on the 10 ms frame levels of ``guifan.audio.vad`` (cheap) except pitch, which runs
the WORLD vocoder's DIO tracker (``pyworld``, MIT) on agent speech only.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from guifan.audio.signal import resample
from guifan.audio.vad import FRAME_SECONDS, runs
from guifan.model import Interval

# Syllable nuclei: level peaks at least this far above the dip before them, at most ~12 per second.
_SYLLABLE_DIP_DB = 5.0
_SYLLABLE_MIN_FRAMES = 8
_SYLLABLE_RANGE_DB = 25.0  # peaks this far below the turn's loudest are breath and line noise
# Hold music: level steady (no syllable rhythm) and never near the floor, for seconds on end.
_MUSIC_WINDOW_FRAMES = 100
_MUSIC_MAX_STD_DB = 4.5
_MUSIC_ABOVE_FLOOR_DB = 10.0  # (its quietest tenth of frames): speech dips to the floor between words
MUSIC_MIN_SECONDS = 3.0
# Ringback tone (China: 450 Hz, 1 s on / 4 s off): nearly all of a frame's energy in 450 ± 25 Hz.
_RING_HZ = (425.0, 475.0)
_RING_SHARE = 0.6
_RING_MIN_SECONDS = 0.5
_RING_ABOVE_FLOOR_DB = 15.0
RING_SEARCH_SECONDS = 60.0  # ringing comes before the answer: only the start of a call is searched
_PITCH_RATE = 8000  # DIO does not need more for voices (F0 < 500 Hz) and runs twice as fast


def count_syllables(levels: np.ndarray, speech: np.ndarray) -> int:
    """Syllable nuclei in a turn's frame levels (one Chinese character is one syllable): peaks of
    the smoothed level inside speech frames, each separated from the previous by a dip."""
    if levels.size < 3:
        return 0
    smooth = np.convolve(levels, np.full(5, 0.2), mode="same")
    rising = (smooth[1:-1] > smooth[:-2]) & (smooth[1:-1] >= smooth[2:])
    peaks = np.flatnonzero(rising) + 1
    peaks = peaks[speech[peaks] & (smooth[peaks] > smooth.max() - _SYLLABLE_RANGE_DB)]
    count, last = 0, -1
    for peak in peaks:
        if last < 0:
            count, last = 1, peak
        elif peak - last >= _SYLLABLE_MIN_FRAMES and min(smooth[last], smooth[peak]) - smooth[last:peak].min() >= _SYLLABLE_DIP_DB:
            count, last = count + 1, peak
        elif smooth[peak] > smooth[last]:
            last = peak  # a higher top of the same syllable
    return count


def pitch_track(samples: np.ndarray, rate: int) -> np.ndarray:
    """F0 in Hz per 10 ms frame (0 where unvoiced)."""
    import pyworld

    x = resample(samples, rate, _PITCH_RATE).astype(np.float64)
    if x.size < _PITCH_RATE // 10:
        return np.zeros(0)
    f0, _ = pyworld.dio(x, _PITCH_RATE, f0_floor=60.0, f0_ceil=500.0, frame_period=FRAME_SECONDS * 1000)
    return f0


def hold_music(levels: np.ndarray, floor: float) -> list[Interval]:
    """Stretches of steady, loud, rhythm-free sound: music (or a tone) the customer hears on hold."""
    if levels.size < _MUSIC_WINDOW_FRAMES:
        return []
    windows = sliding_window_view(levels, _MUSIC_WINDOW_FRAMES)
    quiet_part = np.percentile(windows, 10, axis=1)
    steady = (windows.std(axis=1) < _MUSIC_MAX_STD_DB) & (quiet_part > floor + _MUSIC_ABOVE_FLOOR_DB)
    mask = np.zeros(levels.size, dtype=bool)
    for start in np.flatnonzero(steady):
        mask[start:start + _MUSIC_WINDOW_FRAMES] = True
    return runs(mask, bridge=0.5, shortest=MUSIC_MIN_SECONDS)


def ringback(samples: np.ndarray, rate: int, levels: np.ndarray, floor: float) -> list[Interval]:
    """Bursts of the 450 Hz ringback tone in the first ``RING_SEARCH_SECONDS`` of a channel."""
    size = int(rate * FRAME_SECONDS)
    count = min(levels.size, samples.size // size, int(RING_SEARCH_SECONDS / FRAME_SECONDS))
    if count == 0:
        return []
    # 40 ms windows per 10 ms frame give the FFT 25 Hz resolution, enough to isolate 450 Hz.
    width = 4 * size
    padded = np.concatenate([samples[: count * size], np.zeros(width, dtype=samples.dtype)])
    frames = sliding_window_view(padded, width)[: count * size : size]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(width), axis=1)) ** 2
    freqs = np.fft.rfftfreq(width, 1.0 / rate)
    band = (freqs >= _RING_HZ[0]) & (freqs <= _RING_HZ[1])
    share = spectrum[:, band].sum(axis=1) / np.maximum(spectrum.sum(axis=1), 1e-12)
    tone = (share > _RING_SHARE) & (levels[:count] > floor + _RING_ABOVE_FLOOR_DB)
    return runs(tone, bridge=0.1, shortest=_RING_MIN_SECONDS)
