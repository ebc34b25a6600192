"""`guifan ingest` and `guifan publish` against the real RabbitMQ on 127.0.0.1:5672 (`.ci/run` starts
it) and the workspace on real SQLite and PostgreSQL: messages checked and stored, at least once and
idempotently, bad messages reported and dead-lettered, a consumer killed mid-batch."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")
pika = pytest.importorskip("pika", reason="the amqp extra is not installed")

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from guifan.cli import app  # noqa: E402
from guifan.engine import Engine  # noqa: E402
from guifan.ingest.amqp import RabbitMQ, dead_letter_queue  # noqa: E402
from guifan.ingest.consumer import Ingestor, Settings  # noqa: E402
from guifan.readers.fields import build  # noqa: E402
from guifan.rulebook import load_rulebook  # noqa: E402
from guifan.scoring import Checker  # noqa: E402
from guifan.web.db import make_engine, migrate  # noqa: E402
from guifan.web.models import Conversation, ConversationVersion, ReviewStatus, RulebookVersion  # noqa: E402
from guifan.web.services import Workspace  # noqa: E402
from web.conftest import conversation, db_url  # noqa: E402,F401  (the SQLite and PostgreSQL databases)

AMQP = os.environ.get("GUIFAN_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
runner = CliRunner()


def _connection() -> pika.BlockingConnection:
    try:
        return pika.BlockingConnection(pika.URLParameters(AMQP))
    except pika.exceptions.AMQPConnectionError:
        pytest.fail("RabbitMQ on 127.0.0.1:5672 is not running (.ci/run starts it)")


def waiting(queue: str) -> int:
    """Messages ready in a queue (none are unacknowledged once its consumers are gone)."""
    connection = _connection()
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


@pytest.fixture
def queue():
    """A queue of this test's own, deleted afterwards with its dead-letter queue."""
    name = f"guifan-test-{uuid.uuid4().hex[:12]}"
    yield name
    connection = _connection()
    channel = connection.channel()
    channel.queue_delete(name)
    channel.queue_delete(dead_letter_queue(name))
    connection.close()


def publish(queue: str, *messages: tuple[bytes | dict, str | None]) -> None:
    broker = RabbitMQ(AMQP, queue)
    broker.connect()
    try:
        for body, message_id in messages:
            raw = json.dumps(body, ensure_ascii=False).encode() if isinstance(body, dict) else body
            broker.publish(raw, message_id)
    finally:
        broker.close()


def ingest(queue: str, db: str, *extra: str):
    return runner.invoke(app, ["ingest", AMQP, "--queue", queue, "--db", db, "--exit-when-idle", "1", *extra])


def stored(db: str) -> dict[str, Conversation]:
    engine = make_engine(db)
    try:
        with Workspace(engine).sessions() as session:
            rows = session.scalars(select(Conversation)).all()
            for row in rows:
                row.findings  # noqa: B018  (loaded before the session ends)
            return {row.external_id: row for row in rows}
    finally:
        engine.dispose()


def test_conversations_published_are_checked_and_stored(db_url, queue, tmp_path):
    chats = [conversation("c-1", "1024"), conversation("c-2", "2048", "稍等")]
    source = tmp_path / "chats.jsonl"
    source.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in chats), encoding="utf-8")
    published = runner.invoke(app, ["publish", AMQP, str(source), "--queue", queue])
    assert published.exit_code == 0, published.output
    assert "已向队列" in published.stderr and "发布 2 个对话" in published.stderr
    assert waiting(queue) == 2

    result = ingest(queue, db_url)
    assert result.exit_code == 0, result.output
    assert "共收到 2 条消息:入库 2 个对话,拒收 0 条" in result.stderr
    rows = stored(db_url)
    assert set(rows) == {"c-1", "c-2"}
    checker = Checker(Engine(load_rulebook()))  # the engine of `guifan check`, with the default rulebook
    for chat in chats:
        expected = checker.check(build(chat))
        row = rows[chat["id"]]
        assert sorted((f.rule, f.turn) for f in row.findings) == sorted((f.rule, f.turn) for f in expected.findings)
        assert row.auto_score == expected.score.total
        assert row.source == f"{queue}/{chat['id']}:1"  # the message id, as `guifan publish` sets it
    assert {f.rule for f in rows["c-2"].findings}  # "稍等" alone breaks the standard: not an empty check
    assert waiting(queue) == 0  # every message acknowledged


def test_the_same_conversation_again_changes_nothing_and_a_changed_one_is_a_new_version(db_url, queue):
    publish(queue, (conversation("c-1", "1024"), "m-1"))
    assert ingest(queue, db_url).exit_code == 0
    engine = make_engine(db_url)
    workspace = Workspace(engine)
    with workspace.sessions() as session:
        reviewer = workspace.add_user(session, "rev", "correct-horse-9", "reviewer")
        row = session.scalar(select(Conversation))
        workspace.complete_review(session, reviewer, row)
        session.commit()
    before = stored(db_url)["c-1"]
    assert before.review_status == ReviewStatus.REVIEWED and before.findings

    publish(queue, (conversation("c-1", "1024"), "m-1"), (conversation("c-1", "1024"), "m-2"))
    again = ingest(queue, db_url)
    assert again.exit_code == 0, again.output
    assert "入库 2 个对话" in again.stderr
    after = stored(db_url)
    assert list(after) == ["c-1"]
    row = after["c-1"]
    assert (row.id, row.version, row.review_status, row.final_score) == (
        before.id, 1, ReviewStatus.REVIEWED, before.final_score)
    assert [(f.id, f.status) for f in row.findings] == [(f.id, f.status) for f in before.findings]

    publish(queue, (conversation("c-1", "1024", "您好,很高兴为您服务"), "m-3"))
    changed = ingest(queue, db_url)
    assert changed.exit_code == 0, changed.output
    assert "1 个已复核的对话内容有变,存为新版本待重新复核" in changed.stderr
    row = stored(db_url)["c-1"]
    assert (row.id, row.version, row.review_status) == (before.id, 2, ReviewStatus.PENDING)
    assert row.turns[1]["text"] == "您好,很高兴为您服务"
    with workspace.sessions() as session:
        kept = session.scalars(select(ConversationVersion)).all()
        assert [(v.conversation_id, v.version, v.snapshot["review_status"]) for v in kept] == [
            (before.id, 1, ReviewStatus.REVIEWED)]
    engine.dispose()


class _AckLost(RabbitMQ):
    """The real broker, but acknowledgements never reach it: a consumer that dies right after its
    commit. Its connection closes with every message unacknowledged, so the broker redelivers them."""

    def ack(self, deliveries) -> None:
        pass


def test_a_redelivery_after_the_commit_stores_nothing_twice(db_url, queue):
    publish(queue, *((conversation(f"c-{i}", "1024"), f"m-{i}") for i in range(5)))
    engine = make_engine(db_url)
    migrate(engine)
    broker = _AckLost(AMQP, queue)
    broker.connect()
    first = Ingestor(Workspace(engine), broker, queue, Settings(batch=2, prefetch=5)).run(idle_exit=1)
    broker.close()
    engine.dispose()
    assert (first.received, first.stored, first.batches) == (5, 5, 3)
    before = stored(db_url)
    assert waiting(queue) == 5  # stored, yet all back in the queue

    result = ingest(queue, db_url)
    assert result.exit_code == 0, result.output
    assert "共收到 5 条消息:入库 5 个对话,拒收 0 条;其中 5 条是重投的" in result.stderr
    after = stored(db_url)
    assert sorted(after) == [f"c-{i}" for i in range(5)]
    assert {k: (r.id, r.version, [f.id for f in r.findings]) for k, r in after.items()} == {
        k: (r.id, r.version, [f.id for f in r.findings]) for k, r in before.items()}
    assert waiting(queue) == 0


def test_bad_messages_are_reported_and_dead_lettered_and_the_rest_stored(db_url, queue):
    bad_role = conversation("c-bad", "1024")
    bad_role["turns"][2]["role"] = "robot"
    publish(
        queue,
        (conversation("c-1", "1024"), "good-1"),
        (b'{"id": "c-x", "turns": [', "not-json"),
        (bad_role, "bad-role"),
        ("你好".encode("gbk") + b"\xff", None),
        (b"  ", "empty"),
        (b"[]", "no-conversation"),
        (conversation("c-2", "1024"), "good-2"),
    )
    result = ingest(queue, db_url, "--batch", "3")
    assert result.exit_code == 1, result.output
    assert "共收到 7 条消息:入库 2 个对话,拒收 5 条" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("拒收消息")]
    assert len(lines) == 5
    assert re.search(r"delivery tag \d+, message_id not-json\).*not-json:1: JSON 格式错误", lines[0])
    assert re.search(r"message_id bad-role\).*bad-role:1 字段 turns\[2\]\.role \(第3轮\)", lines[1])
    assert re.search(r"\(delivery tag \d+\).*/sha256-[0-9a-f]{16}: 消息不是 UTF-8 文本", lines[2])
    assert "message_id empty" in lines[3] and "消息为空" in lines[3]
    assert "message_id no-conversation" in lines[4] and "消息中没有对话" in lines[4]
    assert sorted(stored(db_url)) == ["c-1", "c-2"]
    assert waiting(queue) == 0
    assert waiting(dead_letter_queue(queue)) == 5  # kept for people to look at, never redelivered


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_conversation_the_database_refuses_is_rejected_and_the_rest_of_its_batch_stored(db_url, queue):
    publish(queue, (conversation("c-1", "1024"), "good-1"), (conversation("c-\u0000", "1024"), "nul-id"),
            (conversation("c-2", "1024"), "good-2"))  # PostgreSQL's text holds no NUL character
    result = ingest(queue, db_url)
    assert result.exit_code == 1, result.output
    assert "共收到 3 条消息:入库 2 个对话,拒收 1 条" in result.stderr
    assert re.search(r"message_id nul-id\).*/nul-id: 存入工作台时出错: .*NUL", result.stderr)
    assert sorted(stored(db_url)) == ["c-1", "c-2"]
    assert waiting(dead_letter_queue(queue)) == 1


def _consume_behind(engine, queue: str, other) -> list:
    """A consumer in a thread, until it waits for the other session's uncommitted insert (another
    consumer's); then the other commits. Returns the consumer's totals (none if it failed)."""
    broker = RabbitMQ(AMQP, queue)
    broker.connect()
    totals = []
    consumer = threading.Thread(target=lambda: totals.append(Ingestor(Workspace(engine), broker, queue).run(idle_exit=1)))
    consumer.start()

    def blocked() -> bool:
        with engine.connect() as connection:
            return bool(connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")))

    _wait_for(lambda: blocked() or not consumer.is_alive(), "the consumer to wait for the other's insert")
    other.commit()
    consumer.join(timeout=300)
    broker.close()
    return totals


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_consumers_storing_the_same_new_conversation_at_once_store_it_once(db_url, queue):
    engine = make_engine(db_url)
    migrate(engine)
    workspace = Workspace(engine)
    publish(queue, (conversation("c-1", "1024", "您好,很高兴为您服务"), "m-2"))
    with workspace.sessions() as other:  # another consumer: has inserted c-1, not yet committed
        version = workspace.active_rulebook(other)
        other.commit()
        workspace.store(other, workspace.checker(version).check(build(conversation("c-1", "1024"))),
                        version.version, mask=True)
        totals = _consume_behind(engine, queue, other)
    engine.dispose()
    assert [(t.stored, t.rejected) for t in totals] == [(1, 0)]
    rows = stored(db_url)
    assert list(rows) == ["c-1"]
    assert rows["c-1"].turns[1]["text"] == "您好,很高兴为您服务"  # the message, applied over the other's row


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_consumers_starting_on_a_new_database_share_its_first_rulebook(db_url, queue):
    engine = make_engine(db_url)
    migrate(engine)
    workspace = Workspace(engine)
    publish(queue, (conversation("c-1", "1024"), "m-1"))
    with workspace.sessions() as other:  # another consumer: has made the default rulebook, not yet committed
        workspace.active_rulebook(other)
        totals = _consume_behind(engine, queue, other)
    with workspace.sessions() as session:
        assert session.scalars(select(RulebookVersion.version)).all() == [1]
    engine.dispose()
    assert [(t.stored, t.rejected) for t in totals] == [(1, 0)]
    assert {k: row.rulebook_version for k, row in stored(db_url).items()} == {"c-1": 1}


def _consumer(queue: str, db: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "guifan", "ingest", AMQP, "--queue", queue, "--db", db, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _count(db: str) -> int:
    engine = make_engine(db)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count(Conversation.id)))
    except DBAPIError:  # the consumer has not made the schema yet
        return 0
    finally:
        engine.dispose()


def _wait_for(condition, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_consumer_killed_mid_batch_and_restarted_stores_everything_once(db_url, queue):
    total = 300
    publish(queue, *((conversation(f"k-{i}", "1024", f"您好,工号{i}为您服务"), f"m-{i}") for i in range(total)))
    consumer = _consumer(queue, db_url, "--batch", "20")
    try:
        _wait_for(lambda: _count(db_url) >= 20 or consumer.poll() is not None, "the first batch")
        assert consumer.poll() is None, consumer.communicate()
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(timeout=60)
    finally:
        if consumer.poll() is None:
            consumer.kill()
        consumer.communicate()
    at_kill = _count(db_url)
    assert 20 <= at_kill < total  # killed while messages were still coming

    restarted = _consumer(queue, db_url, "--batch", "20", "--exit-when-idle", "2")
    _, err = restarted.communicate(timeout=600)
    assert restarted.returncode == 0, err
    received = re.search(r"共收到 (\d+) 条消息:入库 (\d+) 个对话,拒收 0 条;其中 (\d+) 条是重投的", err)
    assert received, err
    assert int(received.group(1)) >= total - at_kill and int(received.group(3)) > 0  # the unacknowledged came back
    rows = stored(db_url)
    assert sorted(rows) == sorted(f"k-{i}" for i in range(total))  # each once: the key is unique
    assert {row.version for row in rows.values()} == {1}
    assert waiting(queue) == 0


def test_a_batch_is_stored_after_its_seconds_and_sigterm_stops_after_storing(queue, tmp_path):
    db = f"sqlite:///{tmp_path / 'guifan.db'}"
    consumer = _consumer(queue, db, "--batch", "1000", "--batch-seconds", "0.5")
    try:
        publish(queue, *((conversation(f"t-{i}", "1024"), f"m-{i}") for i in range(3)))
        _wait_for(lambda: _count(db) == 3 or consumer.poll() is not None, "the batch of three")
        assert consumer.poll() is None  # stored although the batch is far from full
        consumer.send_signal(signal.SIGTERM)
        _, err = consumer.communicate(timeout=120)
    finally:
        if consumer.poll() is None:
            consumer.kill()
    assert consumer.returncode == 0, err
    assert "共收到 3 条消息:入库 3 个对话,拒收 0 条" in err
    assert waiting(queue) == 0


def test_an_unreachable_broker_and_an_unknown_scheme_are_clear_errors(tmp_path):
    db = f"sqlite:///{tmp_path / 'guifan.db'}"
    down = runner.invoke(app, ["ingest", "amqp://guest:secret@127.0.0.1:1/", "--queue", "q", "--db", db])
    assert down.exit_code == 2
    assert "无法连接 RabbitMQ amqp://127.0.0.1:1/" in down.stderr and "secret" not in down.stderr
    unknown = runner.invoke(app, ["publish", "kafka://127.0.0.1:9092", str(tmp_path), "--queue", "q"])
    assert unknown.exit_code == 2
    assert "不支持的消息队列地址 kafka://,支持: amqp://, amqps://" in unknown.stderr
