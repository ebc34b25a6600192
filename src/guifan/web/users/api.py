"""Users (admins): list, create, change role, team, agent code or name, disable and enable, reset a
password. Every change is audited by the workspace; the last enabled admin stays. (Teams are made
by naming them on a user; ``GET /teams`` lists them for everyone who may view.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from guifan.web.app import DB, require
from guifan.web.models import User, UserRole
from guifan.web.security import Permission
from guifan.web.users import service
from guifan.web.validation import RowId, Text

router = APIRouter(tags=["users"])
Admin = Annotated[User, Depends(require(Permission.ADMIN))]


class NewUser(BaseModel):
    username: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=8, max_length=256)
    role: UserRole
    team: Text | None = Field(default=None, max_length=100)
    agent_code: Text | None = Field(default=None, max_length=64)
    display_name: Text = Field(default="", max_length=100)


class UserChange(BaseModel):
    """Only the fields given change; ``team``, ``agent_code`` or ``email`` "" removes it. ``email``:
    where notifications are mailed (when the server has an SMTP server)."""

    role: UserRole | None = None
    team: Text | None = Field(default=None, max_length=100)
    agent_code: Text | None = Field(default=None, max_length=64)
    display_name: Text | None = Field(default=None, min_length=1, max_length=100)
    email: Text | None = Field(default=None, max_length=254)


class NewPassword(BaseModel):
    password: Text = Field(min_length=8, max_length=256)


def workspace(request: Request):
    return request.app.state.workspace


def existing(session, user_id: int) -> User:
    found = service.user_by_id(session, user_id)
    if found is None:
        raise HTTPException(404, "没有这个用户")
    return found


@router.get("/users")
def list_users(request: Request, session: DB, user: Admin) -> list[dict]:
    return [service.user_record(u) for u in workspace(request).users(session)]


@router.post("/users")
def add_user(body: NewUser, request: Request, session: DB, user: Admin) -> dict:
    created = workspace(request).add_user(session, body.username, body.password, body.role, team=body.team,
                                          agent_code=body.agent_code, display_name=body.display_name, by=user)
    session.commit()
    return service.user_record(created)


@router.patch("/users/{user_id}")
def change_user(user_id: RowId, body: UserChange, request: Request, session: DB, user: Admin) -> dict:
    target = existing(session, user_id)
    changes = workspace(request).update_user(session, target, role=body.role, team=body.team,
                                             agent_code=body.agent_code, display_name=body.display_name,
                                             email=body.email, by=user)
    session.commit()
    return {**service.user_record(target), "changed": sorted(changes)}


def _activated(user_id: int, active: bool, request: Request, session, by: User) -> dict:
    target = existing(session, user_id)
    workspace(request).set_active(session, target, active, by=by)
    session.commit()
    return service.user_record(target)


@router.post("/users/{user_id}/disable")
def disable_user(user_id: RowId, request: Request, session: DB, user: Admin) -> dict:
    """Signed out everywhere at once; cannot sign in or use API tokens (the last admin stays)."""
    return _activated(user_id, False, request, session, user)


@router.post("/users/{user_id}/enable")
def enable_user(user_id: RowId, request: Request, session: DB, user: Admin) -> dict:
    return _activated(user_id, True, request, session, user)


@router.post("/users/{user_id}/password")
def reset_password(user_id: RowId, body: NewPassword, request: Request, session: DB, user: Admin) -> dict:
    target = existing(session, user_id)
    workspace(request).set_password(session, target, body.password, by=user)
    session.commit()
    return {"id": target.id, "password_changed": True}
