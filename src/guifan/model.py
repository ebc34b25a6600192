"""The one data model every layer passes along: Conversation, Turn and Finding.

Readers build conversations, the engine turns them into findings, scoring and reporters read both.
All three are immutable values so that results can be cached, hashed and shared between threads.
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    text: str
    start: float | None = None
    end: float | None = None

    @property
    def timed(self) -> bool:
        return self.start is not None and self.end is not None

    @property
    def duration(self) -> float | None:
        return self.end - self.start if self.timed else None


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

    def to_dict(self) -> dict[str, Any]:
        """The interchange format (what the JSON readers read)."""
        turns = []
        for turn in self.turns:
            item: dict[str, Any] = {"role": turn.role.value, "text": turn.text}
            if turn.start is not None:
                item["start"] = turn.start
            if turn.end is not None:
                item["end"] = turn.end
            turns.append(item)
        return {
            "id": self.id,
            "channel": self.channel.value,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "agent_id": self.agent_id,
            "metadata": dict(self.metadata),
            "turns": turns,
        }

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
        }
