"""Pages of the conversation list (``/``): page links, sortable columns, filters in the URL, the
user's saved filters and bulk assignment; and the forms of saved filters and bulk confirmation.
Permissions and scope are the API's (the same dependencies and ``visible``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from guifan.web import api
from guifan.web.app import DB, require
from guifan.web.conversations import service
from guifan.web.models import Appeal, Assignment, AuditEntry, Conversation, Finding, User
from guifan.web.pages import active_rule_titles, back, failed, render, templates
from guifan.web.security import Permission, allowed
from guifan.web.services import WorkspaceError, visible
from guifan.web.validation import RowId, Text

router = APIRouter(include_in_schema=False)
templates.env.globals.update(query_with=service.query_with, PAGE_SIZES=service.PAGE_SIZES,
                             CHANNEL_NAMES={"phone": "电话", "chat": "在线"})
templates.env.filters["clock"] = lambda seconds: f"{int(seconds // 60)}:{seconds % 60:04.1f}"  # 1:05.3

# The list's columns: (sort key, heading); every one sorts.
COLUMNS = [("external_id", "会话"), ("channel", "渠道"), ("agent", "坐席"), ("started_at", "时间"),
           ("score", "自动得分"), ("final_score", "复核得分"), ("findings", "问题"), ("status", "状态")]


def _local(url: str) -> str:
    """A redirect target from a form: a path of this site, else the list."""
    return url if url.startswith("/") and not url.startswith(("//", "/\\")) else "/"


@router.get("/", response_class=HTMLResponse)
def conversations_page(request: Request, session: DB, user: Annotated[User, Depends(require(Permission.VIEW))],
                       filters: Annotated[api.Filters, Depends()]) -> Response:
    pager, rows = api.page_of(session, user, filters)
    queued = 0  # the reviewer's queue: assigned and not yet reviewed (the list with queue=mine)
    if allowed(user.role, Permission.REVIEW):
        queued = session.scalar(select(func.count(Assignment.id)).where(
            Assignment.reviewer_id == user.id, Assignment.done.is_(False))) or 0
    return render(request, "conversations.html", user, rows=rows, filters=filters, columns=COLUMNS,
                  pager=pager,
                  saved=service.saved_filters(session, user, "conversations"),
                  reviewers=service.reviewers(session) if allowed(user.role, Permission.DECIDE) else [],
                  rules=active_rule_titles(request, session), teams=api.teams(session, user), queued=queued,
                  error=request.query_params.get("error"))


@router.post("/saved-filters")
def save_filter_form(session: DB, user: Annotated[User, Depends(require(Permission.VIEW))],
                     page: Annotated[Text, Form(max_length=20)], name: Annotated[Text, Form(max_length=100)],
                     query: Annotated[Text, Form(max_length=service.QUERY_MAX_CHARS)] = "") -> Response:
    target = "/" if page == "conversations" else f"/{page}"
    try:
        row = service.save_filter(session, user, page, name, query)
    except WorkspaceError as exc:
        return failed(target, exc)
    session.commit()
    return back(f"{target}?{row.query}")


@router.post("/saved-filters/{filter_id}/delete")
def delete_filter_form(filter_id: RowId, session: DB, user: Annotated[User, Depends(require(Permission.VIEW))],
                       next_url: Annotated[Text, Form(alias="next", max_length=2000)] = "/") -> Response:
    try:
        service.delete_filter(session, user, filter_id)
    except WorkspaceError as exc:
        return failed("/", exc)
    session.commit()
    return back(_local(next_url))


@router.post("/conversations/assign")
def assign_form(session: DB, user: Annotated[User, Depends(require(Permission.DECIDE))],
                reviewer_id: Annotated[RowId, Form()],
                ids: Annotated[list[RowId], Form(max_length=service.BULK_MAX)] = [],  # noqa: B006 (FastAPI copies it)
                next_url: Annotated[Text, Form(alias="next", max_length=2000)] = "/") -> Response:
    target = _local(next_url)
    try:
        made = service.assign(session, user, ids, reviewer_id)
    except WorkspaceError as exc:
        return failed(target.split("?")[0], exc)
    session.commit()
    return back(target + ("&" if "?" in target else "?") + f"assigned={len(made)}")


@router.post("/findings/confirm")
def confirm_form(request: Request, session: DB, user: Annotated[User, Depends(require(Permission.REVIEW))],
                 conversation_id: Annotated[RowId, Form()],
                 ids: Annotated[list[RowId], Form(max_length=service.BULK_MAX)] = []) -> Response:  # noqa: B006
    target = f"/conversations/{api.visible_conversation(session, user, conversation_id).id}"
    try:
        service.confirm_findings(session, request.app.state.workspace, user, ids)
    except WorkspaceError as exc:
        return failed(target, exc)
    session.commit()
    return back(target)


class ListQuery(BaseModel):
    """Paging and sorting of the appeals and audit lists (the conversation list has ``api.Filters``)."""

    sort: Text = Field(default="", max_length=20)
    descending: bool = True
    page: int = Field(default=1, ge=1, le=api.MAX_PAGE)
    per_page: int = Field(default=50, ge=1, le=api.MAX_PER_PAGE)

    def order(self, columns: dict, default: str, tiebreak):
        column = columns.get(self.sort) if self.sort in columns else columns[default]
        return column.desc() if self.descending else column.asc(), tiebreak


APPEAL_SORTS = {"created_at": Appeal.created_at, "conversation": Conversation.external_id, "rule": Finding.rule,
                "status": Appeal.status}
APPEAL_STATUS = {"pending": "待处理", "accepted": "已采纳", "denied": "已驳回"}


@router.get("/appeals", response_class=HTMLResponse)
def appeals_page(request: Request, session: DB, user: Annotated[User, Depends(require(Permission.DECIDE))],
                 paging: Annotated[ListQuery, Depends()],
                 status: Literal["pending", "accepted", "denied", "all"] = "pending") -> HTMLResponse:
    query = (select(Appeal).join(Finding, Finding.id == Appeal.finding_id)
             .join(Conversation, Conversation.id == Appeal.conversation_id)
             .order_by(*paging.order(APPEAL_SORTS, "created_at", Appeal.id)))
    if status != "all":
        query = query.where(Appeal.status == status)
    pager, rows = service.paged(session, visible(query, user), paging.page, paging.per_page)
    findings = {f.id: f for f in session.scalars(select(Finding).where(Finding.id.in_([a.finding_id for a in rows])))}
    return render(request, "appeals.html", user, appeals=rows, findings=findings, pager=pager, paging=paging, status=status,
                  APPEAL_STATUS=APPEAL_STATUS, saved=service.saved_filters(session, user, "appeals"))


AUDIT_SORTS = {"at": AuditEntry.at, "user": AuditEntry.user_id, "action": AuditEntry.action,
               "entity": AuditEntry.entity}
AUDIT_ENTITIES = {"conversation": "会话", "finding": "问题", "appeal": "申诉", "rulebook": "规则手册", "user": "用户",
                  "setting": "设置", "import_job": "导入", "assignment": "抽样"}


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: DB, user: Annotated[User, Depends(require(Permission.AUDIT))],
               paging: Annotated[ListQuery, Depends()], entity: Annotated[Text | None, Query(max_length=30)] = None,
               action: Annotated[Text | None, Query(max_length=50)] = None,
               who: Annotated[RowId | None, Query()] = None) -> HTMLResponse:
    query = select(AuditEntry).order_by(*paging.order(AUDIT_SORTS, "at", AuditEntry.id.desc()))
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if action:
        query = query.where(AuditEntry.action == action)
    if who is not None:
        query = query.where(AuditEntry.user_id == who)
    pager, rows = service.paged(session, query, paging.page, paging.per_page)
    names = {u.id: u.display_name for u in session.scalars(select(User))}
    return render(request, "audit.html", user, entries=rows, names=names, entity=entity, action=action, who=who,
                  pager=pager, paging=paging, entities=AUDIT_ENTITIES,
                  saved=service.saved_filters(session, user, "audit"))
