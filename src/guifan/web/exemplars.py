"""Routes of teaching (``guifan.web.teaching``): the API under ``/api/v1/exemplars`` and the page
语义样例, where supervisors approve reviewers' exemplar proposals into a new rulebook version or
decline them. Both need the rulebook permission, like publishing a rulebook."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from guifan.web import teaching
from guifan.web.app import DB, require
from guifan.web.models import ProposalStatus, User
from guifan.web.pages import back, failed, render
from guifan.web.security import Permission
from guifan.web.services import WorkspaceError
from guifan.web.validation import RowId

api = APIRouter(tags=["exemplars"])
pages = APIRouter(include_in_schema=False)
Supervisor = Annotated[User, Depends(require(Permission.RULEBOOK))]
MAX_SELECTION = 1000

SIDE_NAMES = {"positive": "正例 (是这个行为)", "negative": "反例 (不是这个行为)"}
PROPOSAL_STATUS = {"pending": "待审核", "approved": "已采纳", "declined": "已驳回"}


@api.get("/exemplars")
def list_exemplars(session: DB, user: Supervisor, status: ProposalStatus = ProposalStatus.PENDING,
                   limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
    """Exemplars reviewers proposed: pending ones oldest first, decided ones newest first."""
    return [teaching.proposal_dict(p) for p in teaching.proposals(session, [status], limit)]


class ApproveIn(BaseModel):
    ids: list[RowId] | None = Field(default=None, min_length=1, max_length=MAX_SELECTION,
                                    description="要采纳的样例;不填则采纳全部待审核样例")


@api.post("/exemplars/approve")
def approve(body: ApproveIn, request: Request, session: DB, user: Supervisor) -> dict:
    """Publish a new rulebook version: the active company override plus the approved exemplars."""
    version, rows = teaching.approve(session, request.app.state.workspace, user, body.ids)
    session.commit()
    return {"version": version.version, "approved": [teaching.proposal_dict(p) for p in rows]}


class DeclineIn(BaseModel):
    ids: list[RowId] = Field(min_length=1, max_length=MAX_SELECTION)


@api.post("/exemplars/decline")
def decline(body: DeclineIn, session: DB, user: Supervisor) -> dict:
    rows = teaching.decline(session, user, body.ids)
    session.commit()
    return {"declined": [teaching.proposal_dict(p) for p in rows]}


@pages.get("/exemplars", response_class=HTMLResponse)
def exemplars_page(request: Request, session: DB, user: Supervisor) -> HTMLResponse:
    names = dict(session.execute(select(User.id, User.display_name)).all())
    return render(request, "exemplars.html", user, pending=teaching.proposals(session, [ProposalStatus.PENDING], 500),
                  decided=teaching.proposals(session, [ProposalStatus.APPROVED, ProposalStatus.DECLINED], 50),
                  names=names, SIDE_NAMES=SIDE_NAMES, PROPOSAL_STATUS=PROPOSAL_STATUS,
                  error=request.query_params.get("error"))


@pages.post("/exemplars/decision")
def decision_form(request: Request, session: DB, user: Supervisor, approve: Annotated[bool, Form()],
                  ids: Annotated[list[RowId], Form(max_length=MAX_SELECTION)] = [],  # FastAPI copies a default
                  everything: Annotated[bool, Form()] = False) -> Response:
    """Approve or decline the ticked proposals; ``everything``: approve every pending one."""
    try:
        if everything and approve:
            teaching.approve(session, request.app.state.workspace, user)
        elif not ids:
            raise WorkspaceError("请先勾选样例")
        elif approve:
            teaching.approve(session, request.app.state.workspace, user, ids)
        else:
            teaching.decline(session, user, ids)
        session.commit()
    except WorkspaceError as exc:
        return failed("/exemplars", exc)
    return back("/exemplars")
