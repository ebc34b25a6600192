"""The notifications page (``/notifications``), its forms, and the unread count the page header
shows on every page (``unread_notifications`` in base.html)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from guifan.web.api import MAX_PAGE, MAX_PER_PAGE
from guifan.web.conversations.pages import _local
from guifan.web.models import User
from guifan.web.notifications import service
from guifan.web.notifications.api import DB, Reader, opened
from guifan.web.pages import back, render, templates
from guifan.web.validation import RowId, Text

router = APIRouter(include_in_schema=False)


def unread_notifications(request: Request, user: User) -> int:
    """The header's badge: the signed-in user's unread notifications."""
    with request.app.state.workspace.sessions() as session:
        return service.unread_count(session, user)


templates.env.globals["unread_notifications"] = unread_notifications


@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(request: Request, session: DB, user: Reader, unread: bool = False,
                       page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
                       per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50) -> HTMLResponse:
    pager, items = service.page_of(session, user, page, per_page, unread)
    return render(request, "notifications.html", user, items=items, pager=pager, unread_only=unread)


@router.post("/notifications/{notification_id}/open")
def open_form(notification_id: RowId, session: DB, user: Reader) -> Response:
    """Marked read, then the page it is about."""
    row = opened(session, user, notification_id)
    session.commit()
    return back(service.records(session, [row])[0]["link"])


@router.post("/notifications/{notification_id}/read")
def read_form(notification_id: RowId, session: DB, user: Reader,
              next_url: Annotated[Text, Form(alias="next", max_length=2000)] = "/notifications") -> Response:
    opened(session, user, notification_id)
    session.commit()
    return back(_local(next_url))


@router.post("/notifications/read-all")
def read_all_form(session: DB, user: Reader,
                  next_url: Annotated[Text, Form(alias="next", max_length=2000)] = "/notifications") -> Response:
    service.mark_read(session, user)
    session.commit()
    return back(_local(next_url))
