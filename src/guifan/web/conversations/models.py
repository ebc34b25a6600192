"""Saved filters: a user's named query strings of a list page. Registered on the workspace's ``Base``
(``guifan.web.models`` imports this module), created by migration 0008."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guifan.web.models import Base, utcnow


class SavedFilter(Base):
    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "page", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    page: Mapped[str] = mapped_column(String(20))  # the list it belongs to: conversations, appeals, audit
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(2000))  # the list's query string, without page
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
