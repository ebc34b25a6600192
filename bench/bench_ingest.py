"""Benchmark: `guifan ingest` from RabbitMQ into SQLite and PostgreSQL, conversations per second.

    python bench/bench_ingest.py                 # 2,000 JDDC-like conversations of 13 turns
    python bench/bench_ingest.py -n 5000 --batch 200

Generates conversations (bench_check's generator), publishes them to a fresh queue of the local
RabbitMQ (`guifan.ingest.amqp`, persistent messages with publisher confirms), then runs
`guifan ingest … --exit-when-idle 1` as whole processes, as a user runs it: one consumer into a new
SQLite file, one and then two consumers (each on its own core) into new PostgreSQL databases
(127.0.0.1:5432, dropped afterwards). Prints, per run, conversations per second of the consumers'
CPU time (user+sys, start-up included) and of wall time (the idle second before they exit left
out), and, measured in the same run, the ratio of the CPU time to `guifan check` of the same
conversations into a JSON report and of two consumers' wall time to one's. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).parent))
from bench_check import make_conversation  # noqa: E402

AMQP = os.environ.get("GUIFAN_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
PG_ADMIN = os.environ.get("GUIFAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IDLE = 1.0


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], copies: int = 1) -> tuple[float, float, str]:
    """(CPU seconds, wall seconds, standard error) of ``copies`` of a command run at once to their end."""
    cpu, wall = child_cpu(), time.perf_counter()
    running = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for _ in range(copies)]
    errors = [process.communicate()[1] for process in running]
    wall, cpu = time.perf_counter() - wall, child_cpu() - cpu
    for process, err in zip(running, errors):
        if process.returncode != 0:
            sys.exit(f"{' '.join(command[:4])}… failed ({process.returncode}):\n{err}")
    return cpu, wall, "".join(errors)


def publish(queue: str, lines: list[str]) -> float:
    """Publishes one message per conversation; returns the messages per second."""
    from guifan.ingest.amqp import RabbitMQ

    broker = RabbitMQ(AMQP, queue)
    broker.connect()
    start = time.perf_counter()
    for index, line in enumerate(lines):
        broker.publish(line.encode("utf-8"), f"bench-{index}")
    rate = len(lines) / (time.perf_counter() - start)
    broker.close()
    return rate


def delete_queue(queue: str) -> None:
    import pika

    from guifan.ingest.amqp import dead_letter_queue

    connection = pika.BlockingConnection(pika.URLParameters(AMQP))
    channel = connection.channel()
    channel.queue_delete(queue)
    channel.queue_delete(dead_letter_queue(queue))
    connection.close()


def postgres_database() -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text

    name = f"guifan_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="conversations (default 2,000)")
    parser.add_argument("--turns", type=int, default=13)
    parser.add_argument("--batch", type=int, default=100, help="guifan ingest --batch (default 100)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    lines = [json.dumps(make_conversation(rng, i, args.turns), ensure_ascii=False) for i in range(args.n)]
    folder = Path(tempfile.mkdtemp(prefix="guifan-bench-ingest-"))
    source = folder / "conversations.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    guifan = [sys.executable, "-m", "guifan"]
    check_cpu, _, _ = timed([*guifan, "check", str(source), "-f", "json", "-o", str(folder / "report.json"),
                             "--no-progress"])
    print(f"{args.n} conversations of {args.turns} turns, batches of {args.batch}; "
          f"guifan check (whole process): {args.n / check_cpu:,.0f} conv/s of CPU")

    sqlite = f"sqlite:///{folder / 'guifan.db'}"
    databases = [postgres_database(), postgres_database()]
    walls = {}
    try:
        runs = (("SQLite", sqlite, 1), ("PostgreSQL", databases[0][0], 1), ("PostgreSQL", databases[1][0], 2))
        for label, db, consumers in runs:
            queue = f"guifan-bench-{uuid.uuid4().hex[:10]}"
            try:
                rate = publish(queue, lines)
                cpu, wall, err = timed([*guifan, "ingest", AMQP, "--queue", queue, "--db", db, "--batch",
                                        str(args.batch), "--exit-when-idle", str(IDLE)], copies=consumers)
            finally:
                delete_queue(queue)
            if sum(int(n) for n in re.findall(r"入库 (\d+) 个对话", err)) != args.n:
                sys.exit(f"not every conversation was stored once:\n{err}")
            walls[label, consumers] = wall - IDLE
            speedup = f"; {walls[label, 1] / walls[label, consumers]:.2f}× one consumer" if consumers > 1 else ""
            print(f"{label:<10} {consumers} consumer{'s' if consumers > 1 else ' '}: "
                  f"{args.n / cpu:,.0f} conv/s of CPU (user+sys), {args.n / (wall - IDLE):,.0f} conv/s of wall time"
                  f"{speedup}; CPU {cpu / check_cpu:.2f}× guifan check; published at {rate:,.0f} msg/s")
    finally:
        for _, drop in databases:
            drop()


if __name__ == "__main__":
    main()
