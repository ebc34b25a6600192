"""RabbitMQ (AMQP 0-9-1) through pika: the `Broker` of amqp:// and amqps:// URLs.

A queue that does not exist yet is created durable, with a dead-letter queue beside it named
``<queue>.dead`` that rejected messages go to. An existing queue is used as it is: its own
dead-letter settings (arguments or a policy) decide where rejected messages go.
"""

from __future__ import annotations

import logging
from typing import Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError, ChannelClosedByBroker

from guifan.ingest.broker import BrokerError, Delivery

DEAD_SUFFIX = ".dead"
# pika logs what it also raises (a refused connection, the missing queue asked for); errors reach
# the user as BrokerError in Chinese, so its records are not printed unless the application logs.
logging.getLogger("pika").addHandler(logging.NullHandler())


def dead_letter_queue(queue: str) -> str:
    return queue + DEAD_SUFFIX


class RabbitMQ:
    """One queue of a RabbitMQ server (see `guifan.ingest.broker.Broker`)."""

    def __init__(self, url: str, queue: str):
        self.url, self.queue = url, queue
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._confirming = False

    def connect(self) -> None:
        try:
            self._connection = pika.BlockingConnection(pika.URLParameters(self.url))
            self._channel = self._connection.channel()
            self._declare()
        except AMQPError as exc:
            self.close()
            raise BrokerError(f"无法连接 RabbitMQ {_safe(self.url)}: {_reason(exc)}") from None
        except ValueError as exc:  # a malformed URL
            raise BrokerError(f"RabbitMQ 地址无效 {_safe(self.url)}: {exc}") from None

    def _declare(self) -> None:
        try:
            self._channel.queue_declare(self.queue, passive=True)
            return
        except ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
        self._channel = self._connection.channel()  # the broker closed the channel that asked
        dead = dead_letter_queue(self.queue)
        self._channel.queue_declare(dead, durable=True)
        self._channel.queue_declare(self.queue, durable=True, arguments={
            "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead})

    def consume(self, prefetch: int, wait: float) -> Iterator[Delivery | None]:
        try:
            self._channel.basic_qos(prefetch_count=prefetch)
            for method, properties, body in self._channel.consume(self.queue, inactivity_timeout=wait):
                if method is None:
                    yield None
                else:
                    yield Delivery(method.delivery_tag, body, properties.message_id, method.redelivered)
        except AMQPError as exc:
            raise BrokerError(f"RabbitMQ 连接中断: {_reason(exc)}") from None

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            self._call(self._channel.basic_ack, delivery_tag=max(d.tag for d in deliveries), multiple=True)

    def reject(self, delivery: Delivery) -> None:
        self._call(self._channel.basic_reject, delivery_tag=delivery.tag, requeue=False)

    def publish(self, body: bytes, message_id: str) -> None:
        if not self._confirming:  # basic_publish then returns once the broker has the message
            self._call(self._channel.confirm_delivery)
            self._confirming = True
        properties = pika.BasicProperties(message_id=message_id, delivery_mode=pika.DeliveryMode.Persistent,
                                          content_type="application/json")
        self._call(self._channel.basic_publish, "", self.queue, body, properties, mandatory=True)

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except AMQPError:
                pass  # already gone: the broker requeues what was not acknowledged either way

    @staticmethod
    def _call(operation, *args, **kwargs) -> None:
        try:
            operation(*args, **kwargs)
        except AMQPError as exc:
            raise BrokerError(f"RabbitMQ 操作失败: {_reason(exc)}") from None


def _reason(exc: AMQPError) -> str:
    return str(exc) or type(exc).__name__


def _safe(url: str) -> str:
    """The URL without its user and password, for messages."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
