"""The QA workspace's tables (SQLAlchemy 2 ORM). The schema itself is managed by Alembic
(``guifan/web/migrations``); ``tests/test_web_db.py`` checks that the migrations produce exactly
these tables.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from guifan.web.clock import aware


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator):
    """A time stored as UTC and read back aware. SQLite keeps no zone: given 09:00+08:00 it would
    store the wall time 09:00 and read it back as 09:00 UTC, eight hours late."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return value.astimezone(timezone.utc) if value is not None and value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return aware(value)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class UserRole(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"  # QA supervisor: decides appeals, manages rulebook and sampling
    REVIEWER = "reviewer"  # QA reviewer: 复核
    TEAM_LEAD = "team_lead"  # sees the team's conversations and dashboards
    AGENT = "agent"  # sees own conversations, acknowledges or appeals
    TRAINEE = "trainee"  # a new agent: practises against simulated customers (陪练), sees own attempts


class ReviewStatus(StrEnum):
    PENDING = "pending"  # checked automatically, not reviewed yet
    REVIEWED = "reviewed"  # 已复核: waiting for the agent
    ACKNOWLEDGED = "acknowledged"  # the agent accepted the result
    APPEALED = "appealed"  # at least one appeal is open
    CLOSED = "closed"  # every appeal decided


class FindingStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class AppealStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"  # the finding is withdrawn
    DENIED = "denied"


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # published in a rulebook version
    DECLINED = "declined"


class ExemplarSide(StrEnum):
    POSITIVE = "positive"  # a sentence that performs the act
    NEGATIVE = "negative"  # a near miss: it does not


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[UserRole] = mapped_column(String(20))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    # The agent id that conversations carry (``Conversation.agent_id``): links an agent to their calls.
    agent_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    email: Mapped[str | None] = mapped_column(String(254))  # notifications are mailed here (guifan serve --smtp-host)

    team: Mapped[Team | None] = relationship()


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the secret
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class RulebookVersion(Base):
    __tablename__ = "rulebook_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    override_yaml: Mapped[str] = mapped_column(Text, default="")  # "" = the default rulebook
    origin: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=False)


# The list's sort columns, each indexed with the row id: the tie-break, which follows the sort's
# direction, so that one index serves both directions and a page can start after a row (keyset).
LIST_SORTED = ("started_at", "agent_code", "auto_score", "final_score", "imported_at", "channel", "uncertain",
               "standing", "review_status")


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (*(Index(f"ix_conversations_{column}_id", column, "id") for column in LIST_SORTED),
                      # a team lead's list, newest first, without sorting the team's rows
                      Index("ix_conversations_team_id_started_at_id", "team_id", "started_at", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # The id as people read it (masked when personal data is masked) and the key a re-import of the
    # same conversation is found by: a keyed hash of the id as imported (``Workspace.conversation_key``).
    external_id: Mapped[str] = mapped_column(String(200), index=True)
    external_key: Mapped[str] = mapped_column(String(64), unique=True)
    # 1 on import; each re-import that changed a reviewed conversation keeps the earlier state as a
    # ``ConversationVersion`` and counts up.
    version: Mapped[int] = mapped_column(Integer, default=1)
    channel: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # given with any offset
    agent_code: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    source: Mapped[str | None] = mapped_column(String(500))
    turns: Mapped[list[Any]] = mapped_column(JSON)  # [{"role", "text", "start", "end", "voice"?, "asr"?}], text masked
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What the audio front end measured over a recording (CallAudio.to_dict()); None for transcripts.
    audio: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The imported recording's file in the workspace's recordings folder (``Workspace.recording_dir``),
    # served with range requests to the conversation's page; None for transcripts.
    recording: Mapped[str | None] = mapped_column(String(40))
    kpis: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rulebook_version: Mapped[int] = mapped_column(Integer)
    auto_score: Mapped[float] = mapped_column(Float)
    # Open findings the check was unsure of (``Finding.awaits_review``): reviewers see these first.
    uncertain: Mapped[int] = mapped_column(Integer, default=0)
    # Findings that stand (not rejected), as the list's 问题 column counts them: kept, so that it sorts.
    standing: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    final_score: Mapped[float | None] = mapped_column(Float)
    category_scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    review_status: Mapped[ReviewStatus] = mapped_column(String(20), default=ReviewStatus.PENDING)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    findings: Mapped[list[Finding]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="Finding.id"
    )
    versions: Mapped[list[ConversationVersion]] = relationship(
        cascade="all, delete-orphan", order_by="ConversationVersion.version.desc()"
    )


class ConversationVersion(Base):
    """A reviewed conversation as it stood before a re-import changed it: transcript, findings with
    their verdicts, appeals and the review's outcome, kept whole so that no review work is lost."""

    __tablename__ = "conversation_versions"
    __table_args__ = (UniqueConstraint("conversation_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    replaced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    import_job_id: Mapped[int | None] = mapped_column(ForeignKey("import_jobs.id", ondelete="SET NULL"))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)


class Finding(Base):
    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_rule_conversation_id", "rule", "conversation_id"),)  # the list's rule filter

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)  # added by a reviewer
    rule: Mapped[str] = mapped_column(String(20))
    clauses: Mapped[list[Any]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(40))
    turn: Mapped[int | None] = mapped_column(Integer)
    span_start: Mapped[int | None] = mapped_column(Integer)
    span_end: Mapped[int | None] = mapped_column(Integer)
    quote: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text, default="")
    suggestion: Mapped[str] = mapped_column(Text, default="")
    # How sure the check was (0-1] and what the finding rests on (guifan.model.Evidence).
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    evidence: Mapped[str] = mapped_column(String(10), default="phrase")
    # Below the review threshold of the rulebook version the conversation was checked with, which
    # is fixed for these findings: decided once, when they are stored.
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[FindingStatus] = mapped_column(String(20), default=FindingStatus.OPEN)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="findings")

    @property
    def awaits_review(self) -> bool:
        """待复核: the check was unsure and no reviewer has judged the finding yet."""
        return self.needs_review and self.status == FindingStatus.OPEN


class Verdict(Base):
    """One reviewer's verdict on one automatic finding. The first reviewer's verdict sets the
    finding's status; a second reviewer's (calibration sample) is kept for agreement (kappa)."""

    __tablename__ = "verdicts"
    __table_args__ = (UniqueConstraint("finding_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    confirmed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship()


class Appeal(Base):
    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[AppealStatus] = mapped_column(String(20), default=AppealStatus.PENDING, index=True)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ExemplarProposal(Base):
    """A sentence reviewers taught: a rejected finding's quote (a near miss of the rule's acts) or a
    manual finding's words (the act, missed). A supervisor approves it into a rulebook version."""

    __tablename__ = "exemplar_proposals"
    # Each (act, side, text) is proposed once; the text is unbounded, so its digest is what is unique.
    __table_args__ = (UniqueConstraint("act", "side", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    act: Mapped[str] = mapped_column(String(40))
    side: Mapped[ExemplarSide] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)  # masked like the transcript it comes from
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of text
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[ProposalStatus] = mapped_column(String(20), default=ProposalStatus.PENDING, index=True)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rulebook_version: Mapped[int | None] = mapped_column(Integer)  # the version an approval published


class Assignment(Base):
    """A conversation a sampling plan gave a reviewer to review in a given ISO week."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("conversation_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    week: Mapped[str] = mapped_column(String(10))  # "2026-W48"
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ImportJob(Base):
    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[JobStatus] = mapped_column(String(20), default=JobStatus.PENDING, index=True)
    read: Mapped[int] = mapped_column(Integer, default=0)
    checked: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # What the import did to conversations that had review work (``Workspace.store``'s outcomes).
    outcomes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The conversations (and unreadable entries) of its files, counted when it starts; when its
    # current run started and what it had read then: the pace, hence the time left.
    total: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_read: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    files: Mapped[list[ImportFile]] = relationship(cascade="all, delete-orphan", order_by="ImportFile.id")


class ImportFile(Base):
    """An uploaded file, kept on disk (the workspace's upload folder) until its job is done, so that
    an interrupted import can resume."""

    __tablename__ = "import_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str | None] = mapped_column(String(1000))  # where the upload was streamed to
    size: Mapped[int] = mapped_column(Integer, default=0)
    # Uploads queued before migration 0004 were held in the database; they still run from here.
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Conversations of this file already stored: a resumed job skips them.
    done_items: Mapped[int] = mapped_column(Integer, default=0)
    finished: Mapped[bool] = mapped_column(Boolean, default=False)


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)


class UserSession(Base):
    """A signed-in browser. The cookie holds a random secret; only its sha256 is stored, so a leaked
    database does not sign anyone in, and deleting the row (logout) ends the session everywhere."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# Feature modules keep their own tables on this Base (one metadata for the migrations and their test).
from guifan.web.assist import models as _assist_models  # noqa: E402,F401
from guifan.web.training import models as _training_models  # noqa: E402,F401
from guifan.web.conversations import models as _conversation_models  # noqa: E402,F401
from guifan.web.notifications import models as _notification_models  # noqa: E402,F401
