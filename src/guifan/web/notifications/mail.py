"""Notifications by e-mail through the company's SMTP server (``guifan serve --smtp-host …``).

The notifications table is the outbox: a background thread mails each user with an e-mail address
their unread notifications not mailed yet, in one message per user and round, outside any request.
A commit that added notifications wakes it; it also looks every ``poll_seconds`` (notifications
another process made, retries). A failure is logged and retried in a later round, at most
``MAIL_ATTEMPTS`` times; notifications older than ``MAIL_WITHIN`` or already read are not mailed.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from guifan.web.models import User, utcnow
from guifan.web.notifications import service
from guifan.web.notifications.models import Notification
from guifan.web.services import Workspace, WorkspaceError, check_email

log = logging.getLogger(__name__)
MAIL_ATTEMPTS = 3
MAIL_WITHIN = timedelta(days=1)
MAIL_BATCH = 500  # notifications a round claims
SMTP_TIMEOUT = 30  # seconds


@dataclass(frozen=True)
class MailSettings:
    """The SMTP server and the sender; ``site_url``: the workspace's address as its users reach it
    (https://qa.example.com), for the links in the mails."""

    host: str
    sender: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    site_url: str = ""

    def __post_init__(self) -> None:
        if not self.host.strip():
            raise ValueError("请给出 SMTP 服务器地址 (--smtp-host)")
        try:
            check_email(self.sender)  # a header: one address, no line breaks
        except WorkspaceError:
            raise ValueError(f"发件地址格式不正确 (--smtp-from): {self.sender}") from None
        if not 0 < self.port < 65536:
            raise ValueError(f"SMTP 端口应在 1 到 65535 之间: {self.port}")


class Mailer:
    def __init__(self, workspace: Workspace, settings: MailSettings, poll_seconds: float = 60):
        self.workspace = workspace
        self.settings = settings
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="guifan-mail", daemon=True)

    def start(self) -> None:
        event.listen(self.workspace.sessions, "after_commit", self._committed)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=SMTP_TIMEOUT + 5)
        event.remove(self.workspace.sessions, "after_commit", self._committed)

    def _committed(self, session: Session) -> None:
        if session.info.pop(service.ADDED, False):
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # a commit during the round wakes the next one
            try:
                claimed, sent = self.send_due()
            except Exception:  # the database is away: try again in the next round
                log.exception("通知邮件:读取待发送的通知失败")
                claimed, sent = 0, 0
            if claimed and not sent:  # the server is away: commits do not wake the next try
                self._stop.wait(self.poll_seconds)
            elif sent < MAIL_BATCH:
                self._wake.wait(self.poll_seconds)

    def send_due(self) -> tuple[int, int]:
        """One round: claim the notifications due, mail them, record what was sent. Returns how many
        notifications it claimed and how many it mailed."""
        with self.workspace.sessions() as session:
            due = _claim(session)
            session.commit()
            sent = self._send(due) if due else []
            if sent:
                session.execute(update(Notification).where(Notification.id.in_(sent)).values(mailed_at=utcnow()))
                session.commit()
        return sum(len(items) for items in due.values()), len(sent)

    def _send(self, due: dict[tuple[str, str], list[dict]]) -> list[int]:
        """Mail each recipient their notifications over one connection; returns the ids mailed."""
        settings, sent = self.settings, []
        try:
            with smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username:
                    smtp.login(settings.username, settings.password or "")
                for (address, name), items in due.items():
                    try:
                        smtp.send_message(self.message(address, name, items))
                        sent += [item["id"] for item in items]
                    except smtplib.SMTPException as exc:  # this recipient only
                        log.warning("通知邮件未能发给 %s: %s", address, exc)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("通知邮件发送失败 (SMTP 服务器 %s:%s): %s", settings.host, settings.port, exc)
        return sent

    def message(self, address: str, name: str, items: list[dict]) -> EmailMessage:
        site = self.settings.site_url.rstrip("/")
        lines = [f"{name},您好:", "", f"质检工作台有 {len(items)} 条新通知:", ""]
        for item in items:
            lines.append(f"· {item['text']}")
            if item["note"]:
                lines.append(f"  处理意见:{item['note']}")
            if site:
                lines.append(f"  {site}{item['link']}")
        lines += ["", f"全部通知:{site}/notifications" if site else "请登录质检工作台查看全部通知。"]
        message = EmailMessage()
        message["Subject"] = f"规范质检工作台:{len(items)} 条新通知"
        message["From"] = self.settings.sender
        message["To"] = address
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.settings.sender.rsplit("@", 1)[1])
        message.set_content("\n".join(lines) + "\n")
        return message


def _claim(session: Session) -> dict[tuple[str, str], list[dict]]:
    """The notifications due, per recipient (address, name), each claimed by counting the attempt
    first: a row another process claimed in the meantime is left to it."""
    rows = session.execute(
        select(Notification, User.email, User.display_name).join(User, User.id == Notification.user_id)
        .where(Notification.read_at.is_(None), Notification.mailed_at.is_(None),
               Notification.mail_attempts < MAIL_ATTEMPTS, Notification.created_at >= utcnow() - MAIL_WITHIN,
               User.active.is_(True), User.email.is_not(None))
        .order_by(Notification.id).limit(MAIL_BATCH)
    ).all()
    per_user: dict[tuple[str, str], list[Notification]] = defaultdict(list)
    for row, address, name in rows:
        taken = session.execute(update(Notification).where(Notification.id == row.id,
                                                           Notification.mail_attempts == row.mail_attempts)
                                .values(mail_attempts=row.mail_attempts + 1).execution_options(synchronize_session=False))
        if taken.rowcount == 1:
            per_user[(address, name)].append(row)
    return {recipient: service.records(session, items) for recipient, items in per_user.items()}
