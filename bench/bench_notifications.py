"""Benchmark of notifications at scale: what the header's badge adds to every page, and the list.

    python bench/bench_notifications.py                       # SQLite and PostgreSQL, 100,000 notifications
    python bench/bench_notifications.py --db sqlite --notifications 20000

A generated workspace: ``--agents`` agents with ``--per-agent`` conversations each, and
``--notifications`` notifications spread over the agents' conversations (a third of them read), plus
a reviewer with an assignment notification per 100 conversations. Then, in-process through the
service calls the pages and the API use (``guifan.web.notifications.service``): the unread count
(the badge, on every page) and the first page of 50 (the list), for an agent and for the reviewer;
``--repeat`` calls each, median wall time and CPU time (user+sys) per call. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
import uuid

from sqlalchemy import create_engine, insert, text

from guifan.web.db import make_engine, migrate, session_factory
from guifan.web.models import Conversation, User, utcnow
from guifan.web.notifications import service
from guifan.web.notifications.models import Kind, Notification

PG_ADMIN = os.environ.get("GUIFAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fill(session, agents: int, per_agent: int, notifications: int) -> tuple[User, User]:
    now = utcnow()
    users = [{"username": f"a{n}", "display_name": f"a{n}", "password_hash": "x", "role": "agent",
              "agent_code": f"{n:04d}", "active": True, "created_at": now} for n in range(agents)]
    users.append({"username": "rev", "display_name": "rev", "password_hash": "x", "role": "reviewer", "active": True,
                  "created_at": now})
    session.execute(insert(User), users)
    ids = dict(session.execute(text("SELECT username, id FROM users")).all())
    conversations = [{"external_id": f"c{a}-{k}", "external_key": uuid.uuid4().hex, "channel": "chat",
                      "agent_code": f"{a:04d}", "agent_id": ids[f"a{a}"], "turns": [], "meta": {}, "kpis": {},
                      "rulebook_version": 1, "auto_score": 90.0, "category_scores": {}}
                     for a in range(agents) for k in range(per_agent)]
    session.execute(insert(Conversation), conversations)
    owners = session.execute(text("SELECT id, agent_id FROM conversations ORDER BY id")).all()
    rows = [{"user_id": owners[n % len(owners)][1], "kind": Kind.FINDINGS, "conversation_id": owners[n % len(owners)][0],
             "count": 2, "detail": {}, "created_at": now, "read_at": now if n % 3 == 0 else None, "mail_attempts": 0}
            for n in range(notifications)]
    rows += [{"user_id": ids["rev"], "kind": Kind.ASSIGNMENT, "conversation_id": None, "count": 100,
              "detail": {"week": "2026-W45"}, "created_at": now, "mail_attempts": 0}
             for _ in range(len(owners) // 100)]
    for start in range(0, len(rows), 10_000):
        session.execute(insert(Notification), rows[start:start + 10_000])
    session.commit()
    return session.get(User, ids["a0"]), session.get(User, ids["rev"])


def timed(call, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        wall, used = time.perf_counter(), cpu()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu() - used)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def run(url: str, args) -> None:
    engine = make_engine(url)
    migrate(engine)
    with session_factory(engine)() as session:
        agent, reviewer = fill(session, args.agents, args.per_agent, args.notifications)
        print(f"  {args.notifications:,} notifications, {args.agents * args.per_agent:,} conversations")
        for name, user in (("agent", agent), ("reviewer", reviewer)):
            badge = timed(lambda user=user: service.unread_count(session, user), args.repeat)
            listing = timed(lambda user=user: service.page_of(session, user, 1, 50, False), args.repeat)
            print(f"  {name:8}  badge (unread count) {badge[0]:6.2f} ms wall {badge[1]:6.2f} ms CPU"
                  f"  ·  first page of 50 {listing[0]:6.2f} ms wall {listing[1]:6.2f} ms CPU"
                  f"  ({service.unread_count(session, user)} unread)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--per-agent", type=int, default=100)
    parser.add_argument("--notifications", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            print("SQLite")
            run(f"sqlite:///{folder}/bench.db", args)
    if args.db in ("postgresql", "both"):
        name = f"guifan_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            print("PostgreSQL")
            run(PG_ADMIN.rsplit("/", 1)[0] + "/" + name, args)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
