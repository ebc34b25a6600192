"""Users and teams as the admin pages and API show them (the changes themselves are the
workspace's: ``Workspace.add_user``, ``update_user``, ``set_active``, ``set_password``, shared with
``guifan user``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guifan.web.models import Team, User


def user_record(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": str(user.role),
            "team_id": user.team_id, "team": user.team.name if user.team else None, "agent_code": user.agent_code,
            "active": user.active, "email": user.email}


def teams(session: Session) -> list[dict[str, Any]]:
    """Every team with its members' count."""
    rows = session.scalars(select(Team).order_by(Team.name)).all()
    members: dict[int, int] = {}
    for team_id in session.scalars(select(User.team_id).where(User.team_id.is_not(None))):
        members[team_id] = members.get(team_id, 0) + 1
    return [{"id": t.id, "name": t.name, "members": members.get(t.id, 0)} for t in rows]


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)
