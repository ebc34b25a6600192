"""The notifications table. Registered on the workspace's ``Base`` (``guifan.web.models`` imports
this module), created by migration 0010."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from guifan.web.models import Base, utcnow


class Kind(StrEnum):
    FINDINGS = "findings"  # an import found findings on the agent's conversation (one per conversation)
    APPEAL = "appeal"  # the agent's appeal was decided
    ASSIGNMENT = "assignment"  # conversations were assigned to the reviewer (one per assigning)


class Notification(Base):
    """Something a user should see, once: unread until they open it or mark it read. A row is also
    the mail outbox: the mailer sends unread rows not mailed yet (``guifan.web.notifications.mail``)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[Kind] = mapped_column(String(20))
    # The conversation it is about; None for an assignment of several conversations.
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    count: Mapped[int] = mapped_column(Integer, default=1)  # findings or conversations
    # What the text needs besides the conversation: the appeal's outcome, the assignment's week.
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    mailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0)
