"""From a two-channel call recording to a timed `Conversation` with voice measurements.

Each channel is one speaker (the agent's channel is configurable). Per channel: WebRTC voice
activity per 10 ms frame, minus hold music and ringback tone; speech stretches are grouped into
turns; every turn gets its level, syllable count and (agent turns) pitch; an ASR backend, when
one is given, writes each turn's text. Without one, turns have no text and only the rules that
need no words run on them (the engine lists what it skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from guifan.audio import features
from guifan.audio.asr import Heard, Word, collapse_loops, join_pieces
from guifan.audio.signal import resample
from guifan.audio.vad import FRAME_SECONDS, clear, frame_levels, noise_floor, runs, speech_mask
from guifan.errors import InputError
from guifan.model import CallAudio, Channel, Conversation, Interval, Recognition, Role, Turn, Voice

if TYPE_CHECKING:
    from guifan.audio.asr import Transcriber
    from guifan.audio.mono import DiarizationReader

MAX_SECONDS = 4 * 3600  # a longer "call" is a mis-filed recording, refused before decoding
# Telephone and desktop recorders write 8-48 kHz; a header claiming 2 Hz would have a small file
# resampled into gigabytes. Decoded samples (float32, both channels) are bounded by what the
# longest call takes at 16 kHz.
SAMPLE_RATES = (8000, 48000)
MAX_SAMPLES = MAX_SECONDS * 16000 * 2
_WORK_RATES = (8000, 16000)  # telephone audio, both taken by the WebRTC detector; other rates become 16 kHz


@dataclass(frozen=True)
class AudioOptions:
    """How recordings are read (``guifan check --agent-channel/--asr``)."""

    agent_channel: int = 1  # 1 = left / first channel, 2 = right / second
    transcriber: Transcriber | None = None
    # "turn": each voice-activity turn recognized on its own (measured more accurate, bench/bench_asr.py);
    # "channel": each channel's turns joined and recognized as one stretch, its timed words then
    # given back to the turns (half the decoding time). Backends without timed words: always "turn".
    segmentation: str = "turn"
    agent_prompt: str = ""  # the rulebook's standard wording as recognizer context (speech.agent_prompt)
    vad_aggressiveness: int = 2  # WebRTC VAD mode 0 (lenient) … 3 (strict)
    bridge_seconds: float = 0.3  # a pause shorter than this does not end a stretch of speech
    shortest_speech_seconds: float = 0.15  # shorter blips are clicks and breaths
    turn_gap_seconds: float = 0.8  # stretches of one speaker closer than this form one turn
    final_pitch_seconds: float = 0.5  # the "sentence end" of S-H3: the last voiced part of a turn
    # Recordings (as named in errors and sources) that a resumed batch has already checked: they
    # are skipped before decoding, which with ASR is most of the work.
    done: frozenset[str] = frozenset()
    # The recognizer as a worker process loads its own (guifan check --jobs, a cluster's task):
    # (backend, model directory, threads); a loaded model does not travel between processes.
    asr: tuple[str, str | None, int] | None = None

    def in_worker(self) -> "AudioOptions":
        """These options for a worker process: its own recognizer, loaded from ``asr``."""
        if self.asr is None:
            return replace(self, transcriber=None)
        from guifan.audio.asr import load_transcriber

        backend, model, threads = self.asr
        return replace(self, transcriber=load_transcriber(backend, model, threads=threads))


@dataclass
class _Track:
    """One channel's samples and per-frame analyses."""

    role: Role
    samples: np.ndarray
    levels: np.ndarray
    floor: float  # the line's noise level, dBFS
    speech: np.ndarray
    intervals: list[Interval]


def read_recording(path: Path, name: str, options: AudioOptions, *,
                   diarization: DiarizationReader | None = None) -> Iterator[Conversation | InputError]:
    """The conversation in one recording, or the error that stops it being read; nothing for a
    recording in ``options.done``. ``diarization`` reads a mono recording's speakers from the JSON
    beside it (`guifan.readers.sidecar`); without it a mono recording is refused."""
    import soundfile

    if name in options.done:
        return
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        yield InputError(name, f"无法解码音频: {exc}")
        return
    if info.frames == 0 or info.samplerate <= 0:
        yield InputError(name, "录音为空 (没有采样)")
        return
    if not SAMPLE_RATES[0] <= info.samplerate <= SAMPLE_RATES[1]:
        yield InputError(name, f"采样率 {info.samplerate} Hz 不受支持 (支持 {SAMPLE_RATES[0]}–{SAMPLE_RATES[1]} Hz)")
        return
    seconds = info.frames / info.samplerate
    if info.frames * info.channels > MAX_SAMPLES:
        yield InputError(name, f"录音过大 ({info.frames * info.channels} 个采样,上限 {MAX_SAMPLES};"
                               f"即 16 kHz 双声道 {MAX_SECONDS // 3600} 小时),请降低采样率或分段")
        return
    if seconds > MAX_SECONDS:
        yield InputError(name, f"录音长 {seconds / 3600:.1f} 小时,超过上限 {MAX_SECONDS // 3600} 小时")
        return
    if info.channels == 1:  # speakers from the diarization JSON beside it (guifan.audio.mono)
        from guifan.audio.mono import read_mono

        yield from read_mono(path, name, seconds, options, diarization)
        return
    if info.channels != 2:
        yield InputError(
            name,
            f"录音有 {info.channels} 个声道:需要双声道录音 (客服、客户各一个声道) 才能区分说话人,"
            "或单声道录音加同名的说话人分离 JSON (见 docs/audio.md)",
        )
        return
    if options.agent_channel not in (1, 2):
        yield InputError(name, f"客服声道应为 1 或 2,而不是 {options.agent_channel}")
        return
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    yield analyse(data, rate, path.stem, name, options)


def analyse(data: np.ndarray, rate: int, call_id: str, source: str, options: AudioOptions) -> Conversation:
    """``data``: samples × 2 channels of float32 audio at ``rate`` Hz."""
    work_rate = rate if rate in _WORK_RATES else 16000
    agent_index = options.agent_channel - 1
    tracks = {}
    for role, column in ((Role.AGENT, agent_index), (Role.CUSTOMER, 1 - agent_index)):
        samples = resample(np.ascontiguousarray(data[:, column]), rate, work_rate)
        levels = frame_levels(samples, work_rate)
        floor = noise_floor(levels)
        speech = speech_mask(samples, work_rate, levels, floor, options.vad_aggressiveness)
        tracks[role] = _Track(role, samples, levels, floor, speech, [])
    agent = tracks[Role.AGENT]
    # Hold music and ringback tone are what the customer hears on the agent's line: not speech.
    holds = features.hold_music(agent.levels, agent.floor)
    rings = [
        ring for track in tracks.values() for ring in features.ringback(track.samples, work_rate, track.levels, track.floor)
    ]
    rings.sort(key=lambda i: i.start)
    for track in tracks.values():
        # The customer may well speak during the hold music ("还在吗?"): only the agent's line is cleared.
        clear(track.speech, rings + holds if track.role is Role.AGENT else rings)
        track.intervals = runs(track.speech, bridge=options.bridge_seconds, shortest=options.shortest_speech_seconds)
    turns = [
        turn
        for track in tracks.values()
        for turn in _turns(track, work_rate, options)
    ]
    turns.sort(key=lambda t: (t.start, t.role is Role.CUSTOMER))
    if options.transcriber is not None:
        turns = _recognize(turns, tracks, work_rate, options)
    duration = data.shape[0] / rate
    audio = CallAudio(
        duration=duration,
        sample_rate=rate,
        agent_speech=tuple(agent.intervals),
        customer_speech=tuple(tracks[Role.CUSTOMER].intervals),
        holds=tuple(holds),
        rings=tuple(rings),
        transcriber=options.transcriber.name if options.transcriber is not None else None,
    )
    return Conversation(
        id=call_id,
        turns=tuple(turns),
        channel=Channel.PHONE,
        metadata={"agent_channel": options.agent_channel},
        source=source,
        audio=audio,
    )


def _turns(track: _Track, rate: int, options: AudioOptions) -> Iterator[Turn]:
    """The track's speech stretches grouped into turns, each measured (and transcribed)."""
    groups: list[list[Interval]] = []
    for interval in track.intervals:
        if groups and interval.start - groups[-1][-1].end < options.turn_gap_seconds:
            groups[-1].append(interval)
        else:
            groups.append([interval])
    for group in groups:
        start, end = group[0].start, group[-1].end
        first, last = int(start / FRAME_SECONDS), int(round(end / FRAME_SECONDS))
        samples = track.samples[int(start * rate):int(end * rate)] if track.role is Role.AGENT else None
        voice = measure_voice(track.levels[first:last], track.speech[first:last], samples, rate, options)
        yield Turn(role=track.role, text="", start=start, end=end, voice=voice)


def measure_utterance(samples: np.ndarray, rate: int, role: Role,
                      options: AudioOptions = AudioOptions()) -> tuple[float, float, Voice] | None:
    """One speaker's recorded utterance (a trainee's spoken answer): where its speech begins and
    ends, in seconds from the start of ``samples``, and its voice measured as a recording's turn;
    None when nothing in it is speech."""
    work_rate = rate if rate in _WORK_RATES else 16000
    samples = resample(np.asarray(samples, dtype=np.float32), rate, work_rate)
    levels = frame_levels(samples, work_rate)
    speech = speech_mask(samples, work_rate, levels, noise_floor(levels), options.vad_aggressiveness)
    stretches = runs(speech, bridge=options.bridge_seconds, shortest=options.shortest_speech_seconds)
    if not stretches:
        return None
    start, end = stretches[0].start, stretches[-1].end
    first, last = int(start / FRAME_SECONDS), int(round(end / FRAME_SECONDS))
    spoken = samples[int(start * work_rate):int(end * work_rate)] if role is Role.AGENT else None
    return start, end, measure_voice(levels[first:last], speech[first:last], spoken, work_rate, options)


def measure_voice(levels: np.ndarray, speech: np.ndarray, samples: np.ndarray | None, rate: int,
                  options: AudioOptions) -> Voice:
    """A turn's voice from its frames' levels and speech flags; pitch only when its ``samples``
    are given (the agent's turns: S-H3). Shared by recordings and live audio (guifan.audio.stream)."""
    power = np.mean(np.power(10.0, levels[speech] / 10.0)) if speech.any() else 0.0
    pitch = final = None
    if samples is not None:
        pitch, final = _pitch(samples, rate, speech, options)
    return Voice(
        speech_seconds=round(float(speech.sum()) * FRAME_SECONDS, 2),
        level_dbfs=round(10.0 * float(np.log10(power)), 1) if power > 0 else None,
        syllables=features.count_syllables(levels, speech),
        pitch_hz=pitch,
        final_pitch_hz=final,
    )


def _recognize(turns: list[Turn], tracks: dict[Role, _Track], rate: int, options: AudioOptions) -> list[Turn]:
    """The turns with the words the recognizer heard in them and how sure it was."""
    transcriber = options.transcriber
    assert transcriber is not None
    heard: dict[int, Heard] = {}
    if options.segmentation == "channel" and transcriber.timed_words:
        for role, track in tracks.items():
            mine = [n for n, turn in enumerate(turns) if turn.role is role]
            if mine:
                prompt = options.agent_prompt if role is Role.AGENT else ""
                joined, offsets = _join_turns(track.samples, rate, [turns[n] for n in mine])
                result = transcriber.recognize(joined, rate, prompt=prompt, words=True)
                heard.update(_share_words(result, offsets, mine))
    else:
        # In call order, so that a recognizer keeping context across turns sees the dialogue's.
        for n, turn in enumerate(turns):
            samples = tracks[turn.role].samples[int(turn.start * rate):int(turn.end * rate)]
            heard[n] = transcriber.recognize(samples, rate, prompt=options.agent_prompt if turn.role is Role.AGENT else "")
    return [
        replace(turn, text=heard[n].text.strip(),
                asr=Recognition(transcriber.name, heard[n].confidence, heard[n].no_speech))
        for n, turn in enumerate(turns)
    ]


# Between two turns of one channel joined for recognition: enough silence for the recognizer to
# hear a sentence end, short enough that nothing is decoded from the gap.
JOIN_GAP_SECONDS = 0.4


def _join_turns(samples: np.ndarray, rate: int, turns: list[Turn]) -> tuple[np.ndarray, list[float]]:
    """One channel's turns end to end with a short silence between them (the stretches the voice
    activity detector heard, without the long pauses and the other side's speech between them, on
    which a recognizer invents words), and where each turn starts in the joined audio."""
    gap = np.zeros(int(JOIN_GAP_SECONDS * rate), dtype=samples.dtype)
    pieces, offsets, at = [], [], 0.0
    for turn in turns:
        piece = samples[int(turn.start * rate):int(turn.end * rate)]
        offsets.append(at)
        pieces += [piece, gap]
        at += (piece.size + gap.size) / rate
    return (np.concatenate(pieces) if pieces else samples[:0]), offsets


def _share_words(result: Heard, offsets: list[float], indexes: list[int]) -> dict[int, Heard]:
    """The timed words of a channel's joined turns (``_join_turns``) split back into the turns, by
    where each word's middle falls: each turn's text, and its confidence as the geometric mean of
    its words' probabilities."""
    owned: dict[int, list[Word]] = {n: [] for n in indexes}
    for word in result.words:
        middle = (word.start + word.end) / 2
        position = max(0, int(np.searchsorted(offsets, middle, side="right")) - 1)
        owned[indexes[position]].append(word)
    shared = {}
    for n, words in owned.items():
        probabilities = [w.probability for w in words if w.probability is not None]
        confidence = float(np.exp(np.mean(np.log(np.maximum(probabilities, 1e-6))))) if probabilities else None
        text, confidence = collapse_loops(join_pieces([w.text for w in words]), confidence)
        shared[n] = Heard(text, confidence, result.no_speech)
    return shared


def _pitch(samples: np.ndarray, rate: int, speech: np.ndarray, options: AudioOptions) -> tuple[float | None, float | None]:
    """Median F0 of the turn and of its last ``final_pitch_seconds`` of voiced speech."""
    f0 = features.pitch_track(samples, rate)
    count = min(f0.size, speech.size)
    f0 = f0[:count][speech[:count]]
    voiced = f0[f0 > 0]
    tail = int(options.final_pitch_seconds / FRAME_SECONDS)
    if voiced.size < 2 * tail:
        return None, None
    return round(float(np.median(voiced)), 1), round(float(np.median(voiced[-tail:])), 1)
