"""Mono call recordings with a diarization: who spoke when comes from the ASR's JSON beside the
recording, the voice measurements from the audio.

A mono recording holds both speakers on one track, so the audio alone cannot say who speaks. Many
call centres record mono and run a diarizing ASR (FunASR with a speaker model, Alibaba Cloud or
iFlytek with speaker separation, WhisperX); its JSON gives each segment a speaker and start/end
times, and often the text. The reader layer (`guifan.readers.sidecar`) reads that JSON into a
`Diarization`; here it is laid over the audio:

* per role, the mono samples inside that role's segments form the role's track (silence
  elsewhere), and its speech is the voice activity of the recording inside those segments;
* where segments of both roles overlap, the voices cannot be separated: both tracks hold the
  mix there, the overlap (S-H4 interruptions) is measured from the segments, and the turn's
  level, syllables and pitch are measured only on the frames where its speaker speaks alone;
* hold music and ringback tone are found on the whole recording, as on the agent's channel of a
  stereo call;
* the turns, their measurements and (without text in the JSON) their recognition are those of
  the two-channel front end (`guifan.audio.frontend`); with text in the JSON, each segment's
  text goes to the turn of its speaker it overlaps most.

No JSON beside a mono recording: one error saying which file is expected.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from guifan.audio import features
from guifan.audio.asr import join_pieces
from guifan.audio.frontend import _WORK_RATES, AudioOptions, _recognize, _Track, _turns
from guifan.audio.signal import resample
from guifan.audio.vad import FRAME_SECONDS, clear, frame_levels, noise_floor, runs, speech_mask
from guifan.errors import InputError
from guifan.model import CallAudio, Channel, Conversation, Interval, Recognition, Role, Turn, Voice

SIDECAR_SUFFIX = ".json"  # call.wav -> call.json, beside it
RECORDING_SUFFIXES = (".wav", ".flac", ".mp3")
# A turn is measured on the frames where its speaker speaks alone when they are at least this
# share of its speech; a turn mostly over the other voice is measured on the mix (`_unseparated`).
MIN_ALONE_SHARE = 0.5


@dataclass(frozen=True)
class Segment:
    """One stretch of the diarization: who spoke from ``start`` to ``end`` (seconds), and what
    (``text`` None: the JSON gives no words for it)."""

    role: Role
    start: float
    end: float
    text: str | None = None
    speaker: str = ""  # the label in the JSON ("0", "SPEAKER_01")


@dataclass(frozen=True)
class Diarization:
    """A mono recording's speakers, as read from its JSON (checked against the recording's length)."""

    source: str  # the JSON file, as named in errors and in the report
    shape: str  # the ASR format it was read as ("FunASR", "Whisper", "sentences", "turns")
    segments: tuple[Segment, ...]  # in time order
    started_at: datetime | None = None
    agent_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def has_text(self) -> bool:
        """Whether the JSON carries words (then no recognizer is needed)."""
        return any(segment.text for segment in self.segments)


# How the reader layer hands a recording's diarization to the audio layer: given the recording
# and its length in seconds, the diarization, the error in its JSON, or None when there is none.
DiarizationReader = Callable[[Path, float], "Diarization | InputError | None"]


def sidecar_path(recording: Path) -> Path:
    """Where a mono recording's diarization is expected: the same name with ``.json``, beside it."""
    return recording.with_suffix(SIDECAR_SUFFIX)


def is_mono(recording: Path) -> bool:
    """Whether ``recording`` is a readable one-channel recording (False for anything else)."""
    try:
        import soundfile

        return soundfile.info(str(recording)).channels == 1
    except Exception:  # not installed, unreadable, not audio: not a mono recording we can use
        return False


def recording_of(sidecar: Path) -> Path | None:
    """The mono recording that ``sidecar`` (a .json file) is the diarization of, if there is one."""
    if sidecar.suffix.lower() != SIDECAR_SUFFIX:
        return None
    for suffix in RECORDING_SUFFIXES:
        for candidate in (sidecar.with_suffix(suffix), sidecar.with_suffix(suffix.upper())):
            if candidate.is_file() and is_mono(candidate):
                return candidate
    return None


def missing_sidecar(recording: Path) -> str:
    return (
        f"单声道录音无法仅凭声音区分客服与客户:请提供双声道录音 (客服、客户各一个声道),"
        f"或在录音旁放置同名的说话人分离结果 {sidecar_path(recording).name} "
        "(ASR 输出的 JSON,如 FunASR 的 sentence_info、阿里云的 Sentences、讯飞等的 sentences,"
        "每段须有说话人与开始/结束时间,可带文字;见 docs/audio.md 单声道录音)"
    )


def read_mono(path: Path, name: str, seconds: float, options: AudioOptions,
              diarization: DiarizationReader | None) -> Iterator[Conversation | InputError]:
    """The conversation of a mono recording with its diarization, or the error that stops it."""
    found = diarization(path, seconds) if diarization is not None else None
    if found is None:
        yield InputError(name, missing_sidecar(path))
        return
    if isinstance(found, InputError):
        yield found
        return
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    yield analyse_mono(data[:, 0], rate, found, path.stem, name, options)


def _frames(segments: list[Segment] | list[Interval], count: int) -> np.ndarray:
    """True for every 10 ms frame that ``segments`` touch."""
    mask = np.zeros(count, dtype=bool)
    for segment in segments:
        mask[int(segment.start / FRAME_SECONDS):int(np.ceil(segment.end / FRAME_SECONDS))] = True
    return mask


def _samples(segments: list[Segment], count: int, rate: int) -> np.ndarray:
    mask = np.zeros(count, dtype=bool)
    for segment in segments:
        mask[int(segment.start * rate):int(np.ceil(segment.end * rate))] = True
    return mask


def _overlap(a: Interval | Segment, b: Interval | Segment) -> float:
    return min(a.end, b.end) - max(a.start, b.start)


def analyse_mono(samples: np.ndarray, rate: int, diarization: Diarization, call_id: str, source: str,
                 options: AudioOptions) -> Conversation:
    """``samples``: the mono recording, float32 at ``rate`` Hz; ``diarization``: its speakers."""
    work_rate = rate if rate in _WORK_RATES else 16000
    mono = resample(np.ascontiguousarray(samples), rate, work_rate)
    levels = frame_levels(mono, work_rate)
    floor = noise_floor(levels)
    heard = speech_mask(mono, work_rate, levels, floor, options.vad_aggressiveness)
    holds = features.hold_music(levels, floor)
    rings = features.ringback(mono, work_rate, levels, floor)
    rings.sort(key=lambda i: i.start)
    segments = {role: [s for s in diarization.segments if s.role is role] for role in Role}
    cover = {role: _frames(found, levels.size) for role, found in segments.items()}

    tracks: dict[Role, _Track] = {}
    voiced: dict[Role, np.ndarray] = {}
    for role, other in ((Role.AGENT, Role.CUSTOMER), (Role.CUSTOMER, Role.AGENT)):
        own = heard & cover[role]
        # As on a stereo call: music and tone are never speech; the customer may talk over the music.
        clear(own, rings + holds if role is Role.AGENT else rings)
        intervals = runs(own, bridge=options.bridge_seconds, shortest=options.shortest_speech_seconds)
        # Words the ASR wrote where voice activity heard nothing (quiet speech): the segment stands.
        found = _frames(intervals, levels.size)
        unheard = [
            Interval(s.start, s.end) for s in segments[role]
            if s.text and s.end > s.start
            and not found[int(s.start / FRAME_SECONDS):int(np.ceil(s.end / FRAME_SECONDS))].any()
        ]
        intervals = sorted(intervals + unheard, key=lambda i: i.start)
        # Measured only where this speaker speaks alone: in an overlap the mix is both voices.
        alone = own & ~cover[other] & ~cover[Role.SYSTEM]
        voiced[role] = own
        track = mono * _samples(segments[role], mono.size, work_rate)
        tracks[role] = _Track(role, track.astype(np.float32), levels, floor, alone, intervals)

    turns = [
        _unseparated(turn, voiced[role], track.speech, levels)
        for role, track in tracks.items() for turn in _turns(track, work_rate, options)
    ]
    turns.sort(key=lambda t: (t.start, t.role is Role.CUSTOMER))
    transcriber = None
    if diarization.has_text:
        transcriber = f"{diarization.shape} ({Path(diarization.source).name})"
        turns = _words(turns, diarization.segments, f"{diarization.shape} (JSON)")
    elif options.transcriber is not None:
        transcriber = options.transcriber.name
        turns = _recognize(turns, tracks, work_rate, options)

    overlap = float((cover[Role.AGENT] & cover[Role.CUSTOMER]).sum()) * FRAME_SECONDS
    metadata = {
        **diarization.metadata,
        "recording": "mono",
        "diarization": diarization.source,
        "asr_format": diarization.shape,
    }
    if overlap > 0:
        metadata["unseparated_overlap_seconds"] = round(overlap, 2)
    audio = CallAudio(
        duration=samples.shape[0] / rate,
        sample_rate=rate,
        agent_speech=tuple(tracks[Role.AGENT].intervals),
        customer_speech=tuple(tracks[Role.CUSTOMER].intervals),
        holds=tuple(holds),
        rings=tuple(rings),
        transcriber=transcriber,
    )
    return Conversation(
        id=call_id,
        turns=tuple(turns),
        channel=Channel.PHONE,
        started_at=diarization.started_at,
        agent_id=diarization.agent_id,
        metadata=metadata,
        source=source,
        audio=audio,
    )


def _unseparated(turn: Turn, voiced: np.ndarray, alone: np.ndarray, levels: np.ndarray) -> Turn:
    """A turn spoken mostly over the other speaker (a backchannel during the customer's story) has
    too few frames of its own to measure: its speech time and syllables are taken from the mix, its
    level and pitch are left unknown (they would be both voices')."""
    first, last = int(turn.start / FRAME_SECONDS), int(round(turn.end / FRAME_SECONDS))
    mine, clean = voiced[first:last], alone[first:last]
    if not mine.any() or clean.sum() >= MIN_ALONE_SHARE * mine.sum():
        return turn
    return replace(turn, voice=Voice(
        speech_seconds=round(float(mine.sum()) * FRAME_SECONDS, 2),
        syllables=features.count_syllables(levels[first:last], mine),
    ))


def _words(turns: list[Turn], segments: tuple[Segment, ...], recognizer: str) -> list[Turn]:
    """The turns with the JSON's text: each segment's words go to the turn of its role that it
    overlaps most (else the nearest); segments of the system (IVR prompts) become turns of their
    own. Turns no words reached keep empty text: speech the ASR wrote nothing for."""
    texts: dict[int, list[str]] = {n: [] for n in range(len(turns))}
    extra: list[Turn] = []
    # One speaker's turns never overlap: in start order their ends are in order too.
    mine = {role: [n for n, turn in enumerate(turns) if turn.role is role] for role in (Role.AGENT, Role.CUSTOMER)}
    starts = {role: [turns[n].start for n in found] for role, found in mine.items()}
    ends = {role: [turns[n].end for n in found] for role, found in mine.items()}
    for segment in segments:
        if not segment.text:
            continue
        if segment.role is Role.SYSTEM:
            extra.append(Turn(Role.SYSTEM, segment.text, segment.start, segment.end))
            continue
        found = mine[segment.role]
        if not found:  # a zero-length segment with words, and no other speech of its role
            extra.append(Turn(segment.role, segment.text, segment.start, segment.end, asr=Recognition(recognizer)))
            continue
        low = bisect.bisect_right(ends[segment.role], segment.start)
        high = bisect.bisect_right(starts[segment.role], segment.end)
        candidates = found[low:high] or [found[i] for i in {max(low - 1, 0), min(low, len(found) - 1)}]
        best = max(candidates, key=lambda n: (_overlap(turns[n], segment), -abs(turns[n].start - segment.start)))
        texts[best].append(segment.text)
    worded = [
        replace(turn, text=join_pieces(texts[n]), asr=Recognition(recognizer))
        for n, turn in enumerate(turns)
    ]
    return sorted(worded + extra, key=lambda t: (t.start, t.role is not Role.AGENT))
