"""Notifications made where their events happen (``Workspace.store``, ``Workspace.decide``,
``assign_sample`` and the bulk assignment call these), read by their user only: a user's
notifications are theirs, and of conversations they may still see (``visible``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

# The module, not its names: guifan.web.conversations.service calls this one (``assigned``).
from guifan.web.conversations import service as lists
from guifan.web.models import (
    Appeal,
    AppealStatus,
    Assignment,
    Conversation,
    Finding,
    User,
    utcnow,
)
from guifan.web.notifications.models import Kind, Notification
from guifan.web.services import visible

# Set on a session that added notifications: its commit wakes the mailer (guifan.web.notifications.mail).
ADDED = "guifan.notifications.added"
DECISION_CHARS = 200  # of an appeal's decision, quoted in the notification


def _add(session: Session, row: Notification) -> None:
    session.add(row)
    session.info[ADDED] = True


def findings_found(session: Session, conversation: Conversation, findings: list[Finding]) -> None:
    """The automatic findings an import (or a live session's end) just found on an agent's
    conversation: one notification for them all."""
    new_findings(session, conversation.id, conversation.agent_id, len(findings))


def new_findings(session: Session, conversation_id: int, agent_id: int | None, count: int) -> None:
    """``findings_found`` by ids (an import's bulk insert has no rows loaded)."""
    if agent_id is not None and count:
        _add(session, Notification(user_id=agent_id, kind=Kind.FINDINGS, conversation_id=conversation_id,
                                   count=count, detail={}))


def appeal_decided(session: Session, appeal: Appeal) -> None:
    _add(session, Notification(user_id=appeal.agent_id, kind=Kind.APPEAL, conversation_id=appeal.conversation_id,
                               detail={"finding_id": appeal.finding_id, "accepted": appeal.status == AppealStatus.ACCEPTED,
                                       "decision": appeal.decision[:DECISION_CHARS]}))


def assigned(session: Session, by: User, assignments: Iterable[Assignment]) -> None:
    """New assignments: one notification per reviewer (not for one's own assigning to oneself)."""
    per_reviewer: dict[int, list[Assignment]] = defaultdict(list)
    for row in assignments:
        if row.reviewer_id != by.id:
            per_reviewer[row.reviewer_id].append(row)
    for reviewer_id, rows in per_reviewer.items():
        _add(session, Notification(user_id=reviewer_id, kind=Kind.ASSIGNMENT, count=len(rows),
                                   conversation_id=rows[0].conversation_id if len(rows) == 1 else None,
                                   detail={"week": rows[0].week}))


# -- reading ---------------------------------------------------------------------------------------


def mine(query: Select, user: User) -> Select:
    """Restrict a notifications query to the user's own, about conversations they may still see (an
    agent whose agent code changed no longer sees the old code's conversations, nor hears of them)."""
    return query.where(Notification.user_id == user.id,
                       or_(Notification.conversation_id.is_(None),
                           Notification.conversation_id.in_(visible(select(Conversation.id), user))))


def unread_count(session: Session, user: User) -> int:
    return session.scalar(mine(select(func.count(Notification.id)), user).where(Notification.read_at.is_(None)))


def page_of(session: Session, user: User, page: int, per_page: int, unread_only: bool) -> tuple[lists.Pager, list[dict]]:
    """A page of the user's notifications, newest first, as ``record`` shows them."""
    query = mine(select(Notification), user).order_by(Notification.id.desc())
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    pager, rows = lists.paged(session, query, page, per_page)
    return pager, records(session, rows)


def records(session: Session, rows: list[Notification]) -> list[dict]:
    ids = {row.conversation_id for row in rows if row.conversation_id is not None}
    names = dict(session.execute(select(Conversation.id, Conversation.external_id).where(Conversation.id.in_(ids))).all())
    return [record(row, names.get(row.conversation_id, "")) for row in rows]


def record(row: Notification, conversation: str) -> dict[str, Any]:
    """A notification as people read it: its text (Chinese), a note (an appeal's decision) and the
    page it is about."""
    note, link = "", f"/conversations/{row.conversation_id}" if row.conversation_id is not None else "/"
    if row.kind == Kind.FINDINGS:
        text = f"您的会话 {conversation} 有 {row.count} 个新问题"
    elif row.kind == Kind.APPEAL:
        text = f"您对会话 {conversation} 的申诉" + ("已采纳,该问题已撤销" if row.detail.get("accepted") else "未被采纳")
        note = row.detail.get("decision", "")
        link += f"#finding-{row.detail.get('finding_id')}"
    elif row.conversation_id is not None:
        text = f"会话 {conversation} 已分配给您复核 ({row.detail.get('week')})"
    else:
        text = f"{row.count} 通会话已分配给您复核 ({row.detail.get('week')})"
    return {"id": row.id, "kind": str(row.kind), "text": text, "note": note, "link": link,
            "conversation_id": row.conversation_id, "count": row.count, "created_at": row.created_at,
            "read": row.read_at is not None}


def one(session: Session, user: User, notification_id: int) -> Notification | None:
    """The user's notification of this id (None for another user's: it does not exist for them)."""
    return session.scalar(mine(select(Notification), user).where(Notification.id == notification_id))


def mark_read(session: Session, user: User, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read, or every unread one (None); returns how many."""
    query = mine(select(Notification.id), user).where(Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    result = session.execute(update(Notification).where(Notification.id.in_(query)).values(read_at=utcnow())
                             .execution_options(synchronize_session=False))
    return result.rowcount
