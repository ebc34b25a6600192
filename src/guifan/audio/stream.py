"""One channel of a call as it streams: 16-bit PCM in, speech state and turns out.

The recording front end (``guifan.audio.frontend``) sees a whole channel at once; a live call
arrives in chunks of a few tens of milliseconds. ``ChannelStream`` applies the same analysis frame
by frame: WebRTC voice activity per 10 ms frame above the line's noise floor (here the quietest
tenth of the last ``FLOOR_SECONDS``), speech stretches grouped into turns that end after
``turn_gap_seconds`` without speech, and every turn measured as the front end measures it
(``measure_voice``: speech time, level, syllables, the agent's pitch). While a turn is open it is
reported as a partial every ``PARTIAL_SECONDS`` of audio; when it ends, as final, with its samples
for a recognizer.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from dataclasses import dataclass

import numpy as np

from guifan.audio.frontend import AudioOptions, measure_voice
from guifan.audio.vad import FRAME_SECONDS
from guifan.model import Role, Voice

RATES = (8000, 16000)  # what the WebRTC detector takes: telephone and wide-band PCM
PARTIAL_SECONDS = 0.5  # an open turn is reported this often (audio time)
FLOOR_SECONDS = 30.0  # the noise floor is taken over this much of the latest audio
FLOOR_EVERY = 100  # frames between two estimates of the floor
MAX_TURN_SECONDS = 60.0  # a longer monologue is closed as a turn and a new one begun
KEEP_SECONDS = 60.0  # frames kept to measure turns whose words come from elsewhere (``voice_between``)
SPEECH_LEVEL_MIN = -60.0  # dBFS: quieter frames are never speech (as in guifan.audio.vad)


@dataclass(frozen=True, slots=True)
class Spoken:
    """A turn as the stream heard it so far (``final`` False: still open)."""

    role: Role
    start: float
    end: float
    voice: Voice
    final: bool
    samples: np.ndarray | None = None  # the final turn's audio (float32 at ``ChannelStream.rate``)


class ChannelStream:
    """Voice activity and turns of one speaker's channel, fed chunk by chunk."""

    def __init__(self, role: Role, rate: int, *, offset: float = 0.0, options: AudioOptions = AudioOptions()):
        if rate not in RATES:
            raise ValueError(f"采样率应为 {' 或 '.join(str(r) for r in RATES)} Hz,而不是 {rate}")
        import webrtcvad

        self.role, self.rate, self.offset, self.options = role, rate, offset, options
        self._vad = webrtcvad.Vad(options.vad_aggressiveness)
        self._frame = int(rate * FRAME_SECONDS)  # samples per frame
        self._pending = b""
        self.frames = 0  # frames heard so far: the stream's clock
        self._floor = -120.0
        self._recent = deque(maxlen=int(FLOOR_SECONDS / FRAME_SECONDS))  # levels, for the floor
        keep = int(KEEP_SECONDS / FRAME_SECONDS)
        self._kept_levels: deque[float] = deque(maxlen=keep)
        self._kept_speech: deque[bool] = deque(maxlen=keep)
        # The open turn: from its first speech frame to now.
        self._first: int | None = None
        self._last = -1  # the latest speech frame
        self._levels: list[float] = []
        self._speech: list[bool] = []
        self._voiced = 0  # speech frames of the open turn (``speaking`` is asked on every frame)
        self._samples: list[np.ndarray] = []
        self._reported = 0  # frame at which the open turn was last reported

    @property
    def now(self) -> float:
        """Seconds into the call at the end of what was heard."""
        return self.offset + self.frames * FRAME_SECONDS

    @property
    def speaking(self) -> bool:
        """A turn is open and has held speech long enough not to be a click."""
        return self._first is not None and self._voiced * FRAME_SECONDS >= self.options.shortest_speech_seconds

    @property
    def since(self) -> float:
        """When the current state began: the open turn's start, or the end of the last speech."""
        if self.speaking:
            return self._time(self._first)
        return self._time(self._last + 1) if self._last >= 0 else self.offset

    def feed(self, pcm: bytes) -> list[Spoken]:
        """Little-endian 16-bit mono PCM at ``rate``: the turns it opened, updated or closed."""
        data = self._pending + pcm
        step = self._frame * 2
        whole = len(data) // step * step
        self._pending = data[whole:]
        out: list[Spoken] = []
        for at in range(0, whole, step):
            chunk = data[at:at + step]
            out.extend(self._frame_in(chunk))
        return out

    def flush(self) -> list[Spoken]:
        """The end of the stream: the open turn, closed."""
        self._pending = b""
        return self._close() if self._first is not None else []

    def open_samples(self, first: int = 0) -> np.ndarray:
        """The open turn's samples from its ``first`` on (a streaming recognizer takes them as they come)."""
        chunks = self._samples[first // self._frame:]
        return np.concatenate(chunks)[first % self._frame:] if chunks else np.zeros(0, dtype=np.float32)

    def voice_between(self, start: float, end: float) -> Voice | None:
        """The voice of [start, end) from the frames kept (turns whose words come from the call
        center's own recognizer); None when those frames are gone or held no speech."""
        first_kept = self.frames - len(self._kept_levels)
        a = max(int(round((start - self.offset) / FRAME_SECONDS)), first_kept)
        b = min(int(round((end - self.offset) / FRAME_SECONDS)), self.frames)
        if b <= a:
            return None
        # islice walks the deques once (indexing one is linear away from its ends).
        levels = np.fromiter(islice(self._kept_levels, a - first_kept, b - first_kept), dtype=np.float64, count=b - a)
        speech = np.fromiter(islice(self._kept_speech, a - first_kept, b - first_kept), dtype=bool, count=b - a)
        if not speech.any():
            return None
        return measure_voice(levels, speech, None, self.rate, self.options)

    # -- frame by frame ---------------------------------------------------------------------------

    def _time(self, frame: int) -> float:
        return round(self.offset + frame * FRAME_SECONDS, 3)

    def _frame_in(self, chunk: bytes) -> list[Spoken]:
        samples = np.frombuffer(chunk, dtype="<i2").astype(np.float32) / 32768.0
        power = float(np.mean(samples.astype(np.float64) ** 2))
        level = 10.0 * float(np.log10(max(power, 1e-12)))
        self._recent.append(level)
        # Every frame until there are enough of them (the first second would otherwise take line
        # noise for speech), then now and then.
        if self.frames < FLOOR_EVERY or self.frames % FLOOR_EVERY == 0:
            self._floor = float(np.percentile(np.fromiter(self._recent, dtype=np.float64), 10))
        voiced = bool(self._vad.is_speech(chunk, self.rate) and level > max(self._floor + 6.0, SPEECH_LEVEL_MIN))
        frame = self.frames
        self.frames += 1
        self._kept_levels.append(level)
        self._kept_speech.append(voiced)
        out: list[Spoken] = []
        if self._first is None and not voiced:
            return out
        if self._first is None:
            self._first, self._reported = frame, frame
        self._levels.append(level)
        self._speech.append(voiced)
        self._voiced += voiced
        self._samples.append(samples)
        if voiced:
            self._last = frame
        gap = (frame - self._last) * FRAME_SECONDS
        if gap >= self.options.turn_gap_seconds or (frame - self._first) * FRAME_SECONDS >= MAX_TURN_SECONDS:
            out.extend(self._close())
        elif self.speaking and (frame - self._reported) * FRAME_SECONDS >= PARTIAL_SECONDS and voiced:
            self._reported = frame
            out.append(self._partial())
        elif self.speaking and self._reported == self._first and voiced:
            self._reported = frame  # the turn's first report: as soon as it is speech
            out.append(self._partial())
        return out

    def _measured(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The open turn's levels and speech flags up to its latest speech frame."""
        count = self._last - self._first + 1
        return (np.asarray(self._levels[:count], dtype=np.float64), np.asarray(self._speech[:count], dtype=bool), count)

    def _partial(self) -> Spoken:
        levels, speech, _ = self._measured()
        voice = measure_voice(levels, speech, None, self.rate, self.options)
        return Spoken(self.role, self._time(self._first), self._time(self._last + 1), voice, False)

    def _close(self) -> list[Spoken]:
        """The open turn as final (nothing if it held only a click), and a fresh start."""
        out: list[Spoken] = []
        if self.speaking and self._last >= self._first:
            levels, speech, count = self._measured()
            samples = np.concatenate(self._samples[:count]) if self._samples else np.zeros(0, dtype=np.float32)
            pitched = samples if self.role is Role.AGENT else None
            voice = measure_voice(levels, speech, pitched, self.rate, self.options)
            out.append(Spoken(self.role, self._time(self._first), self._time(self._last + 1), voice, True, samples))
        self._first, self._last = None, max(self._last, -1)
        self._levels, self._speech, self._samples, self._voiced = [], [], [], 0
        return out
