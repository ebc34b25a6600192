"""The admins' page of users and teams (``/users``) and its forms, over the same workspace calls
as the API and ``guifan user``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from guifan.web.models import UserRole
from guifan.web.pages import back, failed, render
from guifan.web.services import WorkspaceError
from guifan.web.users import service
from guifan.web.users.api import DB, Admin, existing, workspace
from guifan.web.validation import RowId, Text

router = APIRouter(include_in_schema=False)
ROLES = [role.value for role in UserRole]


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: DB, user: Admin, error: Text | None = None, done: Text | None = None) -> Response:
    people = [service.user_record(u) for u in workspace(request).users(session)]
    return render(request, "users.html", user, people=people, teams=service.teams(session), roles=ROLES,
                  error=(error or "")[:300], done=(done or "")[:300])


def _changed(call, request: Request, session, message: str) -> Response:
    try:
        call()
        session.commit()
    except WorkspaceError as exc:
        session.rollback()
        return failed("/users", exc)
    return back(f"/users?done={message}")


@router.post("/users/new")
def create_form(request: Request, session: DB, user: Admin, username: Annotated[Text, Form(min_length=1, max_length=64)],
                password: Annotated[Text, Form(max_length=256)], role: Annotated[UserRole, Form()],
                team: Annotated[Text, Form(max_length=100)] = "", agent_code: Annotated[Text, Form(max_length=64)] = "",
                display_name: Annotated[Text, Form(max_length=100)] = "") -> Response:
    return _changed(lambda: workspace(request).add_user(session, username, password, role, team=team or None,
                                                        agent_code=agent_code or None, display_name=display_name,
                                                        by=user), request, session, f"已创建用户 {username}")


@router.post("/users/{user_id}/edit")
def edit_form(user_id: RowId, request: Request, session: DB, user: Admin, role: Annotated[UserRole, Form()],
              team: Annotated[Text, Form(max_length=100)] = "", agent_code: Annotated[Text, Form(max_length=64)] = "",
              display_name: Annotated[Text, Form(min_length=1, max_length=100)] = "",
              email: Annotated[Text, Form(max_length=254)] = "") -> Response:
    target = existing(session, user_id)
    return _changed(lambda: workspace(request).update_user(session, target, role=role, team=team, agent_code=agent_code,
                                                           display_name=display_name or None, email=email, by=user),
                    request, session, f"已保存 {target.username}")


@router.post("/users/{user_id}/active")
def active_form(user_id: RowId, request: Request, session: DB, user: Admin, active: Annotated[bool, Form()]) -> Response:
    target = existing(session, user_id)
    return _changed(lambda: workspace(request).set_active(session, target, active, by=user), request, session,
                    f"已{'启用' if active else '停用'} {target.username}")


@router.post("/users/{user_id}/password")
def password_form(user_id: RowId, request: Request, session: DB, user: Admin,
                  password: Annotated[Text, Form(max_length=256)]) -> Response:
    target = existing(session, user_id)
    return _changed(lambda: workspace(request).set_password(session, target, password, by=user), request, session,
                    f"已重设 {target.username} 的密码")
