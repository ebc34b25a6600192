"""`guifan ingest` and `guifan publish`: conversations through a message broker (docs/ingest.md).

Exit codes of `guifan ingest`: 0 every message received was stored, 1 some were rejected (each is
reported on standard error), 2 bad usage, or the broker or the database became unreachable
(nothing unacknowledged is lost: the broker delivers it again). `guifan publish`: 0 every
conversation was published, 1 some inputs could not be read, 2 bad usage or no broker.
"""

from __future__ import annotations

import json
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer

from guifan.cli import _db_option, _fail, _workspace, err
from guifan.errors import InputError
from guifan.readers import read_paths

URL_HELP = "消息队列地址,如 amqp://guest:guest@127.0.0.1:5672/ (RabbitMQ)"
QUEUE_HELP = "队列名 (不存在时创建,并创建死信队列 <队列名>.dead 接收被拒收的消息)"


def _say(line: str) -> None:
    err.print(line, highlight=False, markup=False, soft_wrap=True)


def _connect(url: str, queue: str):
    """The broker of ``url``, connected to ``queue``; ends the command when it cannot be."""
    from guifan.ingest import BrokerError, open_broker

    try:
        broker = open_broker(url, queue)
        broker.connect()
    except BrokerError as exc:
        _fail(str(exc))
    return broker


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM (the consumer then stores the batch in hand and stops)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ingest(
    url: str = typer.Argument(..., help=URL_HELP),
    queue: str = typer.Option(..., "--queue", help=QUEUE_HELP),
    db: str = _db_option(),
    batch: int = typer.Option(100, "--batch", min=1, help="每个数据库事务最多入库的消息数"),
    batch_seconds: float = typer.Option(1.0, "--batch-seconds", min=0.01, help="一批消息从第一条起最多等这么久就入库 (秒)"),
    prefetch: Optional[int] = typer.Option(None, "--prefetch", min=1, help="队列可预先交给本进程、尚未确认的消息数 (默认两批)"),
    exit_when_idle: Optional[float] = typer.Option(
        None, "--exit-when-idle", min=0,
        help="队列这么久没有新消息就退出 (秒;默认一直运行,Ctrl-C 或 SIGTERM 时存完手上的一批再退出)",
    ),
) -> None:
    """从消息队列接收对话 (每条消息一个 JSON 对话),检查后存入质检工作台;入库提交后才确认消息,重投不会重复入库。
    Consume conversations from a message broker, check them and store them in the QA workspace."""
    from guifan.ingest.consumer import UNAVAILABLE, Ingestor, Settings

    settings = Settings(batch=batch, seconds=batch_seconds, prefetch=prefetch)
    with _workspace(db) as (workspace, _session), _stop_on_signals() as stop:
        broker = _connect(url, queue)
        ingestor = Ingestor(workspace, broker, queue, settings, report=_say)
        _say(f"正在从队列 {queue} 接收对话 (每批最多 {batch} 条或 {batch_seconds:g} 秒)…")
        try:
            totals = ingestor.run(stop, idle_exit=exit_when_idle)
        except UNAVAILABLE as exc:
            _fail(f"数据库不可用,已停止 (未确认的消息将重新投递): {str(exc).splitlines()[0]}")
        finally:
            broker.close()
    line = f"共收到 {totals.received} 条消息:入库 {totals.stored} 个对话,拒收 {totals.rejected} 条"
    if totals.redelivered:
        line += f";其中 {totals.redelivered} 条是重投的 (重复的不会再次入库)"
    if totals.rereview:
        line += f";{totals.rereview} 个已复核的对话内容有变,存为新版本待重新复核"
    _say(line)
    raise typer.Exit(1 if totals.rejected else 0)


def publish(
    url: str = typer.Argument(..., help=URL_HELP),
    paths: list[Path] = typer.Argument(..., help="对话文件或目录 (与 guifan check 相同的格式)"),
    queue: str = typer.Option(..., "--queue", help=QUEUE_HELP),
) -> None:
    """把对话逐个发布到消息队列 (每条消息一个 JSON 对话,供 guifan ingest 接收;用于测试与压测)。
    Publish conversations to a message broker, one JSON conversation per message."""
    from guifan.ingest import BrokerError

    broker = _connect(url, queue)
    published = failed = 0
    try:
        for item in read_paths(paths):
            if isinstance(item, InputError):
                failed += 1
                _say(f"无法读取 {item}")
                continue
            body = json.dumps(item.to_dict(), ensure_ascii=False, default=str).encode("utf-8")
            broker.publish(body, message_id=item.id)
            published += 1
    except BrokerError as exc:
        _fail(f"{exc} (已发布 {published} 个对话)")
    finally:
        broker.close()
    _say(f"已向队列 {queue} 发布 {published} 个对话" + (f",{failed} 处无法读取" if failed else ""))
    raise typer.Exit(1 if failed else 0)
