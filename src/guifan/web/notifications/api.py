"""The JSON API of notifications (``/api/v1/notifications``): the caller's own, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from guifan.web.api import MAX_PAGE, MAX_PER_PAGE
from guifan.web.app import DB, require
from guifan.web.models import User
from guifan.web.notifications import service
from guifan.web.security import Permission
from guifan.web.validation import RowId

router = APIRouter(tags=["notifications"])
Reader = Annotated[User, Depends(require(Permission.VIEW))]  # every role: one's own notifications


def jsonable(item: dict) -> dict:
    return {**item, "created_at": item["created_at"].isoformat()}


@router.get("/notifications")
def list_notifications(session: DB, user: Reader, unread: bool = False,
                       page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
                       per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50) -> dict:
    """The caller's notifications (``unread=true``: unread ones only), a page at a time, with the
    total and the unread count. ``text`` is the notification as the page shows it, ``link`` the
    page it is about, ``note`` an appeal's decision."""
    pager, items = service.page_of(session, user, page, per_page, unread)
    return {"total": pager.total, "unread": service.unread_count(session, user), "page": page, "per_page": per_page,
            "items": [jsonable(item) for item in items]}


@router.post("/notifications/{notification_id}/read")
def read_one(notification_id: RowId, session: DB, user: Reader) -> dict:
    row = opened(session, user, notification_id)
    session.commit()
    return jsonable(service.records(session, [row])[0])


@router.post("/notifications/read-all")
def read_all(session: DB, user: Reader) -> dict:
    marked = service.mark_read(session, user)
    session.commit()
    return {"marked": marked}


def opened(session, user: User, notification_id: int):
    """The caller's notification, marked read (404 for another user's)."""
    row = service.one(session, user, notification_id)
    if row is None:
        raise HTTPException(404, "没有这条通知")
    service.mark_read(session, user, row.id)
    session.refresh(row)
    return row
