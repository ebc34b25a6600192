"""The small interface every message broker implements for `guifan ingest` and `guifan publish`.

A broker hands out deliveries of one queue, each acknowledged (stored: never delivered again) or
rejected (bad: not requeued, dead-lettered where the queue has a dead-letter target) by the
consumer. A delivery that is neither, because the consumer stopped or died, is delivered again:
that is what makes ingestion at least once, and the workspace's conversation key makes it
idempotent. docs/ingest.md tells how to add a broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

from guifan.errors import GuifanError


class BrokerError(GuifanError):
    """The broker cannot be reached or refused an operation (shown to the user as is)."""


@dataclass(frozen=True)
class Delivery:
    """One message as the broker delivered it."""

    tag: int | str  # the broker's handle for acknowledging or rejecting it (RabbitMQ's delivery tag)
    body: bytes
    message_id: str | None = None  # the publisher's id of the message, when it gave one
    redelivered: bool = False  # delivered before to a consumer that did not acknowledge it


class Broker(Protocol):
    """One queue of a broker. Methods raise `BrokerError` with a message for the user."""

    def connect(self) -> None:
        """Open the connection; create the queue (with a dead-letter queue) when it does not exist."""

    def consume(self, prefetch: int, wait: float) -> Iterator[Delivery | None]:
        """Deliveries as they arrive, at most ``prefetch`` unacknowledged at a time; None after
        ``wait`` seconds without one (the consumer then commits what it holds and looks whether
        it was asked to stop)."""

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge deliveries whose conversations are committed. Every delivery received before
        the last of them has been acknowledged or rejected by then, so acknowledging
        cumulatively (up to the last) is allowed."""

    def reject(self, delivery: Delivery) -> None:
        """Refuse a bad delivery for good: never redelivered, kept in the dead-letter queue."""

    def publish(self, body: bytes, message_id: str) -> None:
        """Send one message to the queue, durably (returns once the broker has it)."""

    def close(self) -> None:
        """Close the connection; deliveries not acknowledged are delivered again."""
