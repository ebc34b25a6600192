"""Streaming ingestion: conversations published to a message broker, checked and stored in the
workspace (`guifan ingest`), and the publishing side for tests and benchmarks (`guifan publish`).

A broker is chosen by its URL's scheme in ``BROKERS``; each implements `guifan.ingest.broker.Broker`
(docs/ingest.md: how to add one).
"""

from __future__ import annotations

from typing import Callable
from urllib.parse import urlsplit

from guifan.ingest.broker import Broker, BrokerError, Delivery


def _rabbitmq(url: str, queue: str) -> Broker:
    try:
        from guifan.ingest.amqp import RabbitMQ
    except ImportError:
        raise BrokerError("连接 RabbitMQ 需要可选依赖: pip install 'guifan[amqp]'") from None
    return RabbitMQ(url, queue)


# URL scheme → the broker's constructor (imported when used: each brings its own client library).
BROKERS: dict[str, Callable[[str, str], Broker]] = {"amqp": _rabbitmq, "amqps": _rabbitmq}


def open_broker(url: str, queue: str) -> Broker:
    """The broker of ``url``'s scheme for ``queue``, not yet connected."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in BROKERS:
        given = f"{scheme}://" if scheme else "(没有协议前缀)"
        raise BrokerError(f"不支持的消息队列地址 {given},支持: {', '.join(s + '://' for s in BROKERS)}")
    return BROKERS[scheme](url, queue)


__all__ = ["BROKERS", "Broker", "BrokerError", "Delivery", "open_broker"]
