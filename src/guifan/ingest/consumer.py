"""The consumer behind `guifan ingest`: messages in, conversations checked and stored in the
workspace, at least once and idempotently.

Deliveries are taken in batches (``batch`` messages, or what came within ``seconds``). Each
message is read as the JSON readers read a .json file and checked with the workspace's active
rulebook, outside any transaction; then the batch's conversations are stored through
`Workspace.store` (the web import's own path: a conversation is found again by its key, its review
work kept) in one transaction, and only after its commit are the messages acknowledged. A consumer
that dies before the acknowledgement leaves its messages to be delivered again; storing them again
changes nothing when they are the same (the conversation key), and makes a new version of a
reviewed conversation when they changed.

A bad message (not UTF-8, not JSON, a field the readers refuse, a conversation the rules or the
database refuse) is reported with its delivery tag and message id and rejected without requeue:
the broker dead-letters it, and the rest of the batch is stored. A database that cannot be reached
stops the consumer with nothing acknowledged (the broker delivers the batch again to the next one).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from guifan.errors import InputError
from guifan.ingest.broker import Broker, Delivery
from guifan.model import Conversation
from guifan.readers import DEFAULT_MAX_BYTES
from guifan.readers.jsonfile import read_json
from guifan.scoring import BatchSummary, CheckResult
from guifan.web.imports.service import refused
from guifan.web.models import RulebookVersion
from guifan.web.services import Workspace

# The database is down or locked past its timeout: no message is at fault, so none is rejected.
UNAVAILABLE = (OperationalError, InterfaceError)


@dataclass
class Totals:
    """What a consumer did, for its closing line."""

    received: int = 0
    redelivered: int = 0  # of the received: delivered before to a consumer that did not acknowledge
    stored: int = 0  # conversations stored (new, updated, or the same again)
    rejected: int = 0  # messages
    rereview: int = 0  # reviewed conversations that changed: a new version, to review again
    batches: int = 0


@dataclass(frozen=True)
class Settings:
    batch: int = 100  # messages per transaction at most
    seconds: float = 1.0  # a batch is committed this long after its first message at the latest
    prefetch: int | None = None  # unacknowledged messages the broker may hand out (default: two batches)
    max_bytes: int = DEFAULT_MAX_BYTES  # a bigger message is rejected unread


def message_name(queue: str, delivery: Delivery) -> str:
    """What a message is called in errors and in its conversations' source: the queue and the
    message id (a digest of the body when the publisher gave none), the same on every redelivery."""
    ident = delivery.message_id or "sha256-" + hashlib.sha256(delivery.body).hexdigest()[:16]
    return f"{queue}/{ident}"


def read_message(delivery: Delivery, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Conversation | InputError]:
    """The conversations of one message: a JSON conversation, as in a .json file (an array of them,
    or {"conversations": [...]}, is read too)."""
    if len(delivery.body) > max_bytes:
        return [InputError(name, f"消息大小 {len(delivery.body)} 字节超过上限 {max_bytes} 字节")]
    try:
        text = delivery.body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [InputError(name, f"消息不是 UTF-8 文本 (第 {exc.start + 1} 字节无法解码)")]
    if not text.strip():
        return [InputError(name, "消息为空")]
    return list(read_json(text, name)) or [InputError(name, "消息中没有对话")]


class Ingestor:
    def __init__(self, workspace: Workspace, broker: Broker, queue: str, settings: Settings = Settings(),
                 report: Callable[[str], None] = print):
        self.workspace, self.broker, self.queue, self.settings = workspace, broker, queue, settings
        self.report = report  # told of every rejected message, in Chinese
        self.totals = Totals()

    def run(self, stop: threading.Event | None = None, idle_exit: float | None = None) -> Totals:
        """Consume until ``stop`` is set or, with ``idle_exit``, no message came for that many
        seconds; the batch in hand is stored and acknowledged before returning."""
        settings = self.settings
        prefetch = settings.prefetch or 2 * settings.batch
        wait = min(settings.seconds, idle_exit) if idle_exit is not None else settings.seconds
        pending: list[Delivery] = []
        first = last = time.monotonic()
        for delivery in self.broker.consume(prefetch, wait):
            now = time.monotonic()
            if delivery is not None:
                if not pending:
                    first = now
                pending.append(delivery)
                last = now
            if pending and (delivery is None or len(pending) >= settings.batch or now - first >= settings.seconds):
                self.process(pending)
                pending = []
            if (stop is not None and stop.is_set()) or (idle_exit is not None and now - last >= idle_exit):
                break
        if pending:
            self.process(pending)
        return self.totals

    def process(self, deliveries: Sequence[Delivery]) -> None:
        """Check and store one batch, then acknowledge what was stored."""
        workspace, totals = self.workspace, self.totals
        with workspace.sessions() as session:
            version = self._active_rulebook(session)
            mask = bool(workspace.setting(session, "mask_personal_data"))
            number, checker = version.version, workspace.checker(version)
            session.commit()  # no transaction is held while checking
            checked: list[tuple[Delivery, str, list[CheckResult]]] = []
            for delivery in deliveries:
                totals.received += 1
                totals.redelivered += delivery.redelivered
                name = message_name(self.queue, delivery)
                summary = BatchSummary()
                results = list(checker.check_all(read_message(delivery, name, self.settings.max_bytes), summary))
                if summary.errors:
                    self._refuse(delivery, summary.errors)
                else:
                    checked.append((delivery, name, results))
            stored: list[Delivery] = []
            for delivery, name, results in checked:
                try:
                    outcomes = self._store(session, results, number, mask)
                except UNAVAILABLE:
                    raise
                except Exception as exc:
                    self._refuse(delivery, [refused(name, exc)])
                    continue
                stored.append(delivery)
                totals.stored += len(results)
                totals.rereview += sum(1 for o in outcomes if o is not None and o["outcome"] == "rereview")
            session.commit()
        self.broker.ack(stored)
        totals.batches += 1

    def _active_rulebook(self, session: Session) -> RulebookVersion:
        """The active rulebook; on a new database, the first consumer to store makes the default
        one, and another starting at the same moment takes it (its version number is unique)."""
        try:
            with session.begin_nested():
                return self.workspace.active_rulebook(session)
        except IntegrityError:
            return self.workspace.active_rulebook(session)

    def _store(self, session: Session, results: list[CheckResult], version: int, mask: bool) -> list[dict | None]:
        """One message's conversations, in a savepoint: a refused message undoes its own only.
        Tried again once when another consumer stored one of them meanwhile: its key (or its new
        version's number) is unique, so the insert fails when the other commits, and the second
        try finds the other's row and applies this message over it (PostgreSQL: read committed)."""
        def once() -> list[dict | None]:
            with session.begin_nested():
                return [self.workspace.store(session, result, version, mask) for result in results]

        try:
            return once()
        except IntegrityError:
            return once()

    def _refuse(self, delivery: Delivery, errors: list[InputError]) -> None:
        self.broker.reject(delivery)
        self.totals.rejected += 1
        ident = f"delivery tag {delivery.tag}" + (f", message_id {delivery.message_id}" if delivery.message_id else "")
        for error in errors:
            self.report(f"拒收消息 ({ident}),整条消息未入库、不再投递 (队列有死信队列时转入其中): {error}")
