"""Pages of live assist (docs/assist.md): the agent's page, the start page and the live board.

* ``/assist``: start a session (agents for themselves; supervisors and admins for an agent code) and
  the open sessions the user may see.
* ``/assist/{session_id}``: the page an agent desktop embeds (``guifan serve --frame-ancestors``) or
  opens beside its chat: the conversation, the draft box with inline warnings and one-click
  replacements, the hint list; usable by keyboard alone. The session's own agent (and supervisors
  and admins who opened it from ``/assist``) work in it; others who may see the session, and anyone
  coming from the board (``?watch=1``), look on read-only.
* ``/assist/board``: the sessions in progress with their alerts, newest first, updated live.

The pages are shells: the session's data comes from the API (``/api/v1/assist``) through
``static/assist-client.js``, and the API applies the scope (agents their own sessions, team leads
their team's, supervisors and admins all) to every call. The pages apply the same scope to
themselves: a session out of scope is a 404, a role without access a 403. No inline script or
style (Content-Security-Policy); data for the scripts is in ``data-`` attributes and JSON blocks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse

from guifan.web import api
from guifan.web.app import DB, require
from guifan.web.assist.api import visible_session
from guifan.web.assist.service import ALL, SEES, LiveSessions
from guifan.web.models import User, UserRole
from guifan.web.pages import render
from guifan.web.security import Permission

router = APIRouter(include_in_schema=False)
Viewer = Annotated[User, Depends(require(Permission.VIEW))]

# Who may look at live sessions (SEES) and work in any of them (ALL) are the API's (docs/assist.md).
STARTS = ALL | {UserRole.AGENT}
SCOPE_LABELS = {UserRole.ADMIN: "全部会话", UserRole.SUPERVISOR: "全部会话", UserRole.TEAM_LEAD: "本组会话",
                UserRole.AGENT: "我的会话"}
SessionId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")]


def _may_see(user: User) -> None:
    if UserRole(user.role) not in SEES:
        raise HTTPException(403, "没有权限查看实时会话")


def _clause_titles(request: Request, session) -> dict[str, str]:
    workspace = request.app.state.workspace
    rulebook = workspace.checker(workspace.active_rulebook(session)).engine.rulebook
    return {code: clause.title for code, clause in rulebook.clauses.items()}


@router.get("/assist", response_class=HTMLResponse)
def assist_index(request: Request, user: Viewer) -> HTMLResponse:
    _may_see(user)
    return render(request, "assist_index.html", user, may_start=UserRole(user.role) in STARTS)


@router.get("/assist/board", response_class=HTMLResponse)
def assist_board(request: Request, session: DB, user: Viewer) -> HTMLResponse:
    _may_see(user)
    teams = {t["id"]: t["name"] for t in api.teams(session, user)}
    return render(request, "assist_board.html", user, team_names=teams, scope_label=SCOPE_LABELS[UserRole(user.role)])


@router.get("/assist/{session_id}", response_class=HTMLResponse)
def assist_session(session_id: SessionId, request: Request, session: DB, user: Viewer,
                   watch: bool = False) -> HTMLResponse:
    _may_see(user)
    live = visible_session(request, session, user, session_id)  # 404 out of scope, as the API
    own = live.agent_user == user.id
    works = LiveSessions.works(user, live) and (own or not watch)
    return render(request, "assist.html", user, session_id=session_id, read_only=not works,
                  clause_titles=_clause_titles(request, session), frame_ancestors=request.app.state.frame_ancestors)
