"""The one data model every layer passes along: Conversation, Turn and Finding.

Readers build conversations, the engine turns them into findings, scoring and reporters read both.
All three are immutable values so that results can be cached, hashed and shared between threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping


class Role(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    SYSTEM = "system"


class Channel(StrEnum):
    PHONE = "phone"
    CHAT = "chat"


class Severity(StrEnum):
    """How much a finding weighs: fatal zeroes the whole score, major and minor deduct points."""

    FATAL = "fatal"
    MAJOR = "major"
    MINOR = "minor"


SEVERITY_LABELS = {Severity.FATAL: "致命", Severity.MAJOR: "严重", Severity.MINOR: "轻微"}  # as people read them


class Evidence(StrEnum):
    """What a finding rests on. Exact phrases are certain; the rest carry a confidence."""

    PHRASE = "phrase"  # the rulebook's wording, matched exactly (or its absence)
    SOUND = "sound"  # the wording heard with homophone slips (speech recognition)
    MEANING = "meaning"  # the agent's own words, recognized by a sentence encoder against exemplars
    MODEL = "model"  # a language model's judgement (optional, the company's own endpoint)
    TIMING = "timing"  # turn times: waits, holds, silences
    VOICE = "voice"  # the recording: rate, volume, pitch, overlaps


@dataclass(frozen=True, slots=True)
class Interval:
    """A stretch of a recording, in seconds from its start."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def to_list(self) -> list[float]:
        return [round(self.start, 3), round(self.end, 3)]


@dataclass(frozen=True, slots=True)
class Voice:
    """What the recording shows of one turn (set by the audio front end, or given in the input)."""

    speech_seconds: float  # time the voice activity detector heard speech within the turn
    level_dbfs: float | None = None  # RMS level of those speech frames, dB below full scale
    syllables: int | None = None  # syllable nuclei heard: one per Chinese character
    pitch_hz: float | None = None  # median F0 of the turn's voiced frames
    final_pitch_hz: float | None = None  # median F0 over the turn's last part (S-H3)

    @property
    def final_semitones(self) -> float | None:
        """How far the turn's end is above (+) or below (-) its median pitch, in semitones."""
        if not self.pitch_hz or not self.final_pitch_hz or self.pitch_hz <= 0 or self.final_pitch_hz <= 0:
            return None
        return 12 * math.log2(self.final_pitch_hz / self.pitch_hz)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__ if getattr(self, name) is not None}


@dataclass(frozen=True, slots=True)
class Recognition:
    """What the speech recognizer said about one turn's words: which recognizer, how sure it was.

    ``confidence`` is the recognizer's own score mapped to 0-1 (Whisper: the geometric mean of the
    token probabilities, exp(avg_logprob)); None when the backend gives none. ``no_speech`` is the
    recognizer's probability that the stretch held no speech (Whisper), None otherwise.
    """

    recognizer: str
    confidence: float | None = None
    no_speech: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__ if getattr(self, name) is not None}


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    text: str
    start: float | None = None
    end: float | None = None
    voice: Voice | None = None
    asr: Recognition | None = None  # set when the text was recognized from speech

    @property
    def unrecognized(self) -> bool:
        """Speech was heard but the recognizer wrote no words for it."""
        return self.asr is not None and not self.text.strip()

    @property
    def timed(self) -> bool:
        return self.start is not None and self.end is not None

    @property
    def duration(self) -> float | None:
        return self.end - self.start if self.timed else None


@dataclass(frozen=True, slots=True)
class CallAudio:
    """What the audio front end measured over a whole two-channel call."""

    duration: float
    sample_rate: int
    agent_speech: tuple[Interval, ...]
    customer_speech: tuple[Interval, ...]
    holds: tuple[Interval, ...] = ()  # hold music on the agent channel
    rings: tuple[Interval, ...] = ()  # ringback tone before the agent answered
    transcriber: str | None = None  # the ASR backend that wrote the turns' text; None: no text

    @property
    def transcribed(self) -> bool:
        return self.transcriber is not None

    def overlaps(self) -> list[Interval]:
        """Where both sides speak at once."""
        found, j = [], 0
        customer = self.customer_speech
        for a in self.agent_speech:
            while j < len(customer) and customer[j].end <= a.start:
                j += 1
            k = j
            while k < len(customer) and customer[k].start < a.end:
                start, end = max(a.start, customer[k].start), min(a.end, customer[k].end)
                if end > start:
                    found.append(Interval(start, end))
                k += 1
        return found

    def silences(self, min_seconds: float = 0.0) -> list[Interval]:
        """Where neither side speaks nor hold music plays, at least ``min_seconds`` long. The
        ringing (first ring to last) is not silence: the caller hears the tone, nobody is there yet."""
        ringing = (Interval(self.rings[0].start, max(i.end for i in self.rings)),) if self.rings else ()
        busy = sorted(self.agent_speech + self.customer_speech + self.holds + ringing, key=lambda i: i.start)
        found, cursor = [], 0.0
        for interval in busy:
            if interval.start - cursor >= min_seconds and interval.start > cursor:
                found.append(Interval(cursor, interval.start))
            cursor = max(cursor, interval.end)
        if self.duration - cursor >= min_seconds and self.duration > cursor:
            found.append(Interval(cursor, self.duration))
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration": round(self.duration, 3),
            "sample_rate": self.sample_rate,
            "agent_speech": [i.to_list() for i in self.agent_speech],
            "customer_speech": [i.to_list() for i in self.customer_speech],
            "holds": [i.to_list() for i in self.holds],
            "rings": [i.to_list() for i in self.rings],
            "transcriber": self.transcriber,
        }


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    turns: tuple[Turn, ...]
    channel: Channel = Channel.CHAT
    started_at: datetime | None = None
    agent_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # Where the conversation was read from ("file.jsonl:12"), for reports and error messages.
    source: str | None = None
    audio: CallAudio | None = None  # set when the conversation was read from a recording

    def to_dict(self) -> dict[str, Any]:
        """The interchange format (what the JSON readers read)."""
        turns = []
        for turn in self.turns:
            item: dict[str, Any] = {"role": turn.role.value, "text": turn.text}
            if turn.start is not None:
                item["start"] = turn.start
            if turn.end is not None:
                item["end"] = turn.end
            if turn.voice is not None:
                item["voice"] = turn.voice.to_dict()
            if turn.asr is not None:
                item["asr"] = turn.asr.to_dict()
            turns.append(item)
        data = {
            "id": self.id,
            "channel": self.channel.value,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "agent_id": self.agent_id,
            "metadata": dict(self.metadata),
            "turns": turns,
        }
        if self.audio is not None:
            data["audio"] = self.audio.to_dict()
        return data

    @property
    def timed(self) -> bool:
        """True when every non-empty turn carries start and end seconds."""
        spoken = [t for t in self.turns if t.text.strip() or t.timed]
        return bool(spoken) and all(t.timed for t in spoken)


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken clause at one place in a conversation."""

    rule: str
    clauses: tuple[str, ...]
    severity: Severity
    turn: int | None
    span: tuple[int, int] | None
    quote: str
    message: str
    suggestion: str
    # How sure the finding is (0-1] and what it rests on; below the rulebook's review threshold it
    # is reported as 待复核 (needs review) and, by default, does not count in the score.
    confidence: float = 1.0
    evidence: Evidence = Evidence.PHRASE

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Finding":
        span = data.get("span")
        return cls(
            rule=data["rule"],
            clauses=tuple(data["clauses"]),
            severity=Severity(data["severity"]),
            turn=data.get("turn"),
            span=(span[0], span[1]) if span else None,
            quote=data.get("quote", ""),
            message=data["message"],
            suggestion=data.get("suggestion", ""),
            confidence=float(data.get("confidence", 1.0)),
            evidence=Evidence(data.get("evidence", Evidence.PHRASE)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "clauses": list(self.clauses),
            "severity": self.severity.value,
            "turn": self.turn,
            "span": list(self.span) if self.span else None,
            "quote": self.quote,
            "message": self.message,
            "suggestion": self.suggestion,
            "confidence": round(self.confidence, 3),
            "evidence": self.evidence.value,
        }
