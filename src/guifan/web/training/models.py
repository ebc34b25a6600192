"""Training's tables (陪练, docs/training.md): practice attempts, company scenario versions (drafts
and published) and the practice a team lead assigned.

Registered on the workspace's ``Base`` (``guifan.web.models`` imports this module), created by
migration 0007.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guifan.web.models import Base, utcnow


class AttemptStatus:
    IN_PROGRESS = "in_progress"
    FINISHED = "finished"  # the customer reached an end state
    ABANDONED = "abandoned"  # stopped halfway: 放弃, another attempt started, idle, or the exam's time ran out


class Mode:
    PRACTICE = "practice"  # 练习: live assist's hints shown
    EXAM = "exam"  # 考核: no hints, timed


class TrainingAttempt(Base):
    __tablename__ = "training_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scenario_id: Mapped[str] = mapped_column(String(64), index=True)
    scenario_version: Mapped[int] = mapped_column(Integer)  # 0: the bundled scenario; else the company version
    trial: Mapped[bool] = mapped_column(Boolean, default=False)  # an author playing an unpublished draft
    mode: Mapped[str] = mapped_column(String(10))
    seed: Mapped[int] = mapped_column(Integer, default=0)
    clauses: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the scenario's target clauses
    rulebook_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=AttemptStatus.IN_PROGRESS, index=True)
    answers: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"say": …} | {"wait": seconds}]
    transcript: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"role", "text", "start", "end"}]
    outcome: Mapped[str | None] = mapped_column(String(12))
    score: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    checklist: Mapped[list[Any] | None] = mapped_column(JSON)  # the report card's, when graded
    findings: Mapped[list[Any] | None] = mapped_column(JSON)  # QA findings as the JSON report's records
    faulted: Mapped[list[Any] | None] = mapped_column(JSON)  # target clauses with a finding that counts
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("training_assignments.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    active_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # the latest answer
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # 考核: when time is up
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_reason: Mapped[str | None] = mapped_column(String(12))  # end | abandon | replaced | idle | timeout


class TrainingScenario(Base):
    """A company scenario version: the YAML as the trainer pasted it. Drafts are versions not yet
    published; the newest published version of an id is the one practised (it replaces a bundled
    scenario of the same id)."""

    __tablename__ = "training_scenarios"
    __table_args__ = (UniqueConstraint("scenario_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    yaml: Mapped[str] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TrainingAssignment(Base):
    """A scenario a team lead (or trainer) gave an agent to practise, with the clauses it is for."""

    __tablename__ = "training_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scenario_id: Mapped[str] = mapped_column(String(64))
    clauses: Mapped[list[Any]] = mapped_column(JSON, default=list)
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # an attempt of it passed
