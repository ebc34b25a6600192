"""Who is calling and what they may do: sessions, CSRF tokens, API tokens, login throttling, the
role permissions every endpoint declares, and the security headers of every response.

* Browser sessions are server-side (``UserSession``): the cookie holds a random secret, the
  database its sha256, the user and the session's CSRF token. Logging out deletes the row; a
  deactivated user's sessions stop working. The cookie is HttpOnly, SameSite=Lax, Secure when
  served over HTTPS. Every unsafe request with a session cookie must carry the CSRF token (form
  field ``csrf`` or header ``X-CSRF-Token``).
* The login form has its own CSRF token (double submit): ``GET /login`` sets a short-lived signed
  cookie and puts the same nonce in the form; ``POST /login`` refuses a mismatch. The JSON login
  accepts ``application/json`` only, which a cross-site HTML form cannot send.
* Integrations: ``Authorization: Bearer gf_…`` API tokens (no cookie, so no CSRF).
* Login: at most ``LOGIN_ATTEMPTS`` failures per user name and client, and ``CLIENT_ATTEMPTS``
  per client across user names, in ``LOGIN_WINDOW``. The client is the connection's address:
  ``X-Forwarded-For`` counts only from the proxies given to ``guifan serve --trusted-proxy``.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import deque
from datetime import timedelta
from enum import StrEnum
from threading import Lock
from typing import Sequence

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guifan.web.models import User, UserRole, UserSession, utcnow
from guifan.web.services import token_digest

SESSION_COOKIE = "guifan_session"
SESSION_SECONDS = 12 * 3600
LOGIN_FORM_COOKIE = "guifan_login"
LOGIN_FORM_SECONDS = 3600  # a login page left open longer than this asks for a reload
LOGIN_ATTEMPTS = 5
CLIENT_ATTEMPTS = 20
LOGIN_WINDOW = 300.0


class Permission(StrEnum):
    VIEW = "view"  # conversations within the user's scope
    IMPORT = "import"
    REVIEW = "review"  # verdicts, manual findings, comments, completing a review
    APPEAL = "appeal"  # acknowledge and appeal one's own findings
    DECIDE = "decide"  # decide appeals
    CALIBRATE = "calibrate"  # calibration figures, sampling plans
    DASHBOARD = "dashboard"
    RULEBOOK = "rulebook"  # publish a company override, try a draft
    AUDIT = "audit"
    ADMIN = "admin"  # users, settings
    PRACTISE = "practise"  # practise training scenarios (陪练), see one's own attempts and assignments
    COACH = "coach"  # others' attempts and readiness, proposals and assignments (team leads: their team)
    AUTHOR = "author"  # training scenarios: validate and play drafts, publish versions


ROLE_PERMISSIONS: dict[UserRole, frozenset[Permission]] = {
    UserRole.ADMIN: frozenset(Permission),
    UserRole.SUPERVISOR: frozenset(Permission) - {Permission.ADMIN, Permission.APPEAL},
    UserRole.REVIEWER: frozenset({Permission.VIEW, Permission.IMPORT, Permission.REVIEW, Permission.DASHBOARD,
                                  Permission.CALIBRATE}),
    UserRole.TEAM_LEAD: frozenset({Permission.VIEW, Permission.DASHBOARD, Permission.COACH}),
    UserRole.AGENT: frozenset({Permission.VIEW, Permission.APPEAL, Permission.DASHBOARD, Permission.PRACTISE}),
    UserRole.TRAINEE: frozenset({Permission.VIEW, Permission.PRACTISE}),  # VIEW: own conversations, as agents
}


def allowed(role: UserRole | str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[UserRole(role)]


class Sessions:
    """Server-side browser sessions (table ``user_sessions``)."""

    def issue(self, db: Session, user: User) -> tuple[str, str]:
        """A new session: the cookie value and its CSRF token."""
        now = utcnow()
        db.execute(delete(UserSession).where(UserSession.expires_at <= now))  # everyone's expired ones
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        db.add(UserSession(token_hash=token_digest(secret), user_id=user.id, csrf=csrf, created_at=now,
                           expires_at=now + timedelta(seconds=SESSION_SECONDS)))
        return secret, csrf

    def find(self, db: Session, cookie: str | None) -> tuple[User, UserSession] | None:
        """The active user and the live session the cookie names (one indexed query), or None."""
        if not cookie:
            return None
        row = db.execute(
            select(User, UserSession).join(UserSession, UserSession.user_id == User.id)
            .where(UserSession.token_hash == token_digest(cookie), UserSession.expires_at > utcnow(),
                   User.active.is_(True))
        ).first()
        return (row[0], row[1]) if row else None


class LoginForms:
    """The login form's CSRF token: a nonce in the form and, signed with the server's secret and
    timestamped, in a cookie; the server checks the signature, the age and that the two agree."""

    def __init__(self, secret: str):
        self._serializer = URLSafeTimedSerializer(secret, salt="guifan-login")

    def issue(self) -> tuple[str, str]:
        """The cookie value and the form field value."""
        nonce = secrets.token_urlsafe(24)
        return self._serializer.dumps(nonce), nonce

    def valid(self, cookie: str | None, field: str | None) -> bool:
        if not cookie or not field:
            return False
        try:
            nonce = self._serializer.loads(cookie, max_age=LOGIN_FORM_SECONDS)
        except BadSignature:
            return False
        return isinstance(nonce, str) and secrets.compare_digest(nonce, field)


class LoginThrottle:
    """Failed logins in the last ``window`` seconds: refused after ``attempts`` for one user name from
    one client, or ``client_attempts`` from one client whatever the user names."""

    def __init__(self, attempts: int = LOGIN_ATTEMPTS, client_attempts: int = CLIENT_ATTEMPTS,
                 window: float = LOGIN_WINDOW, max_keys: int = 10_000):
        self.attempts, self.client_attempts, self.window, self.max_keys = attempts, client_attempts, window, max_keys
        # (user name, client) or client -> times of its recent failures
        self._failures: dict[tuple[str, str] | str, deque[float]] = {}
        self._lock = Lock()

    def _count(self, key: tuple[str, str] | str, now: float) -> int:
        failures = self._failures.get(key)
        if failures is None:
            return 0
        while failures and now - failures[0] > self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return len(failures)

    def blocked(self, username: str, client: str) -> bool:
        with self._lock:
            now = time.monotonic()
            return (self._count((username, client), now) >= self.attempts
                    or self._count(client, now) >= self.client_attempts)

    def failed(self, username: str, client: str) -> None:
        with self._lock:
            now = time.monotonic()
            if len(self._failures) > self.max_keys:  # forget what is past the window, or memory grows
                for key in list(self._failures):
                    self._count(key, now)
            for key in ((username, client), client):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str, client: str) -> None:
        # The client's count stands: otherwise one valid account would reset it between guesses.
        with self._lock:
            self._failures.pop((username, client), None)


# -- response headers ------------------------------------------------------------------------------

# Pages use no script and no inline style (the recording's stylesheet is linked, not inlined).
PAGE_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
# Swagger UI (/api/docs) is FastAPI's page: its script and stylesheet come from jsDelivr, it starts
# with an inline script and styles itself inline. It shows only the OpenAPI document, so this looser
# policy stays on that path.
DOCS_PATH = "/api/docs"
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
               "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
               "img-src 'self' data: https://fastapi.tiangolo.com; object-src 'none'; base-uri 'none'")
# An origin allowed to frame the workspace (live assist in the agents' desktop): scheme, host, port.
_FRAME_SOURCE = re.compile(r"^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$")


def check_frame_ancestors(origins: Sequence[str]) -> list[str]:
    """The allow-list as given, or ValueError naming an entry that is not an origin."""
    for origin in origins:
        if not _FRAME_SOURCE.match(origin):
            raise ValueError(f"frame-ancestors: {origin!r} 不是来源 (应写成 https://主机[:端口])")
    return list(origins)


def security_headers(path: str, frame_ancestors: Sequence[str]) -> dict[str, str]:
    policy = DOCS_POLICY if path.startswith(DOCS_PATH) else PAGE_POLICY
    ancestors = " ".join(frame_ancestors) or "'none'"
    headers = {
        "Content-Security-Policy": f"{policy}; frame-ancestors {ancestors}",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    if not frame_ancestors:  # for browsers without CSP frame-ancestors; it would override an allow-list
        headers["X-Frame-Options"] = "DENY"
    return headers


class SecurityHeaders:
    """ASGI middleware: the security headers on every response that passes through the app."""

    def __init__(self, app: ASGIApp, frame_ancestors: Sequence[str]):
        self.app, self.frame_ancestors = app, list(frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope["path"], self.frame_ancestors)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)
