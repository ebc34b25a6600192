"""Live assist's tables: sessions (open ones kept for a restart, ended ones with their result) and
their events (dismissed hints, warnings sent anyway, alerts), which are calibration data.

Registered on the workspace's ``Base`` (``guifan.web.models`` imports this module), created by
migration 0006.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guifan.web.models import Base, utcnow


class SessionStatus:
    OPEN = "open"
    ENDED = "ended"


class AssistSession(Base):
    __tablename__ = "assist_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, unguessable
    status: Mapped[str] = mapped_column(String(10), default=SessionStatus.OPEN, index=True)
    channel: Mapped[str] = mapped_column(String(10))
    agent_code: Mapped[str | None] = mapped_column(String(64), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    external_id: Mapped[str] = mapped_column(String(200))  # the id the stored conversation gets
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: given as null (no date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_reason: Mapped[str | None] = mapped_column(String(10))  # end | idle
    rulebook_version: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stamp_times: Mapped[bool] = mapped_column(Boolean, default=True)
    dismissed: Mapped[list[Any]] = mapped_column(JSON, default=list)  # hint ids
    alerts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the QA result at the end (masked like the conversation)


class AssistTurn(Base):
    """A final turn of an open session, as said, to resume the session after a restart; appended as
    the session goes (only new turns are written), deleted when the session ends, since the stored
    conversation then holds them (masked like any import)."""

    __tablename__ = "assist_turns"
    __table_args__ = (UniqueConstraint("session_id", "n"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("assist_sessions.id", ondelete="CASCADE"), index=True)
    n: Mapped[int] = mapped_column(Integer)  # the turn's index in the conversation
    role: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    start: Mapped[float | None] = mapped_column(Float)
    end: Mapped[float | None] = mapped_column(Float)


class AssistEvent(Base):
    """Something an agent did with a hint: dismissed it, or sent words a draft had been warned
    about; and the alerts the live board showed."""

    __tablename__ = "assist_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("assist_sessions.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)  # dismissed | sent_after_warning | alert
    hint_id: Mapped[str] = mapped_column(String(100), default="")
    rule: Mapped[str] = mapped_column(String(20), index=True)
    clause: Mapped[str] = mapped_column(String(10), default="")
    turn: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
