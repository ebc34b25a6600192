"""Who is calling and what they may do: session cookies, CSRF tokens, API tokens, login throttling,
and the role permissions every endpoint declares.

* Browser sessions: a signed cookie (itsdangerous) holding the user id and a CSRF token; HttpOnly,
  SameSite=Lax, Secure when served over HTTPS. Every unsafe request with a session cookie must
  carry the CSRF token (form field ``csrf`` or header ``X-CSRF-Token``).
* Integrations: ``Authorization: Bearer gf_…`` API tokens (no cookie, so no CSRF).
* Login: at most ``LOGIN_ATTEMPTS`` failures per user name and client address in ``LOGIN_WINDOW``.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict, deque
from enum import StrEnum
from threading import Lock

from itsdangerous import BadSignature, URLSafeTimedSerializer

from guifan.web.models import UserRole

SESSION_COOKIE = "guifan_session"
SESSION_SECONDS = 12 * 3600
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW = 300.0


class Permission(StrEnum):
    VIEW = "view"  # conversations within the user's scope
    IMPORT = "import"
    REVIEW = "review"  # verdicts, manual findings, comments, completing a review
    APPEAL = "appeal"  # acknowledge and appeal one's own findings
    DECIDE = "decide"  # decide appeals
    CALIBRATE = "calibrate"  # calibration figures, sampling plans
    DASHBOARD = "dashboard"
    RULEBOOK = "rulebook"  # publish a company override
    AUDIT = "audit"
    ADMIN = "admin"  # users, settings


ROLE_PERMISSIONS: dict[UserRole, frozenset[Permission]] = {
    UserRole.ADMIN: frozenset(Permission),
    UserRole.SUPERVISOR: frozenset(Permission) - {Permission.ADMIN, Permission.APPEAL},
    UserRole.REVIEWER: frozenset({Permission.VIEW, Permission.IMPORT, Permission.REVIEW, Permission.DASHBOARD,
                                  Permission.CALIBRATE}),
    UserRole.TEAM_LEAD: frozenset({Permission.VIEW, Permission.DASHBOARD}),
    UserRole.AGENT: frozenset({Permission.VIEW, Permission.APPEAL, Permission.DASHBOARD}),
}


def allowed(role: UserRole | str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[UserRole(role)]


class Sessions:
    def __init__(self, secret: str):
        self._serializer = URLSafeTimedSerializer(secret, salt="guifan-session")

    def issue(self, user_id: int) -> tuple[str, str]:
        """A cookie value and its CSRF token."""
        csrf = secrets.token_urlsafe(24)
        return self._serializer.dumps({"uid": user_id, "csrf": csrf}), csrf

    def read(self, cookie: str | None) -> dict | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and "uid" in data and "csrf" in data else None


class LoginThrottle:
    """Failed logins per (user name, client): more than LOGIN_ATTEMPTS in LOGIN_WINDOW are refused."""

    def __init__(self, attempts: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW):
        self.attempts, self.window = attempts, window
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = Lock()

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures[key]
        while failures and time.monotonic() - failures[0] > self.window:
            failures.popleft()
        return failures

    def blocked(self, username: str, client: str) -> bool:
        with self._lock:
            return len(self._recent((username, client))) >= self.attempts

    def failed(self, username: str, client: str) -> None:
        with self._lock:
            self._recent((username, client)).append(time.monotonic())

    def succeeded(self, username: str, client: str) -> None:
        with self._lock:
            self._failures.pop((username, client), None)
