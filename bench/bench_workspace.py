"""Benchmark of the QA workspace at scale (issue 16, "Workspace import speed"): imports and the list.

    python bench/bench_workspace.py                          # both databases, 10,000 imported, 1,000,000 listed
    python bench/bench_workspace.py --import-count 2000 --list-rows 100000 --db sqlite
    PYTHONPATH=/tmp/before/src python bench/bench_workspace.py   # an older checkout, for before/after

Import: the whole path as a user runs it. A fresh workspace (``create_app``, its import worker),
an admin signed in through the API, N JDDC-like chats (sampled from /work/shared/corpus with new
ids, as /work/shared/tools/measure-check.py builds them) uploaded as one JSONL file through
``POST /api/v1/imports``, the job polled until done: conversations/s from the upload to the last
one stored. Then a second batch of N with new ids on the same server ("warm": the checkers have
seen the agents' words before, as a server that runs all day has). CPU: this process and its
workers (user+sys; the database server's not counted), a measure that a loaded machine does not
distort as it does the rate.

List: a generated database of ``--list-rows`` conversations (two findings each, 1,000 agents in
20 teams, a few reviewed), made with set-based SQL (PostgreSQL generate_series, an SQLite
recursive CTE), then ``GET /api/v1/conversations`` timed in-process (TestClient) over a mix of
first pages, next pages, deep pages, every sort and every filter, as an admin, a team lead and an
agent: p50 and p95 of the mix and of each kind. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text

from guifan.web.app import create_app
from guifan.web.db import make_engine, migrate, session_factory

CORPUS = Path("/work/shared/corpus/jddc-sample.jsonl")
PG_ADMIN = os.environ.get("GUIFAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench-password-1"


# -- databases -----------------------------------------------------------------------------------


@contextmanager
def database(kind: str, folder: Path):
    """A fresh, empty database of ``kind`` (sqlite, postgresql); yields its URL, drops it after."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"guifan_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def signed_in(app, username: str, role: str, **user) -> TestClient:
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, username, PASSWORD, role, **user)
        session.commit()
    return login(app, username)


def login(app, username: str) -> TestClient:
    client = TestClient(app)
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    client.headers["X-CSRF-Token"] = response.json()["csrf"]
    return client


def cpu_seconds() -> float:
    """CPU (user+sys) of this process and its children: those that ended, and those still running
    (the import's worker processes), read from /proc."""
    own, ended = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    running = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            running += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime + running / os.sysconf("SC_CLK_TCK")


# -- import --------------------------------------------------------------------------------------


def jddc_like(count: int, prefix: str, seed: int) -> bytes:
    """``count`` chats sampled from the JDDC sample with new ids (measure-check.py's load)."""
    pool = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        item = dict(rng.choice(pool))
        item["id"] = f"{prefix}-{i}"
        item.pop("source", None)
        lines.append(json.dumps(item, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


def import_batch(client: TestClient, name: str, payload: bytes) -> tuple[float, dict]:
    started = time.perf_counter()
    response = client.post("/api/v1/imports", files=[("files", (name, payload, "application/x-ndjson"))])
    response.raise_for_status()
    job_id = response.json()["id"]
    while True:
        job = client.get(f"/api/v1/imports/{job_id}").json()
        if job["status"] == "done":
            return time.perf_counter() - started, job
        time.sleep(0.1)


def bench_import(kind: str, count: int, folder: Path) -> None:
    with database(kind, folder) as url:
        app = create_app(url, secret="bench", upload_dir=folder / f"uploads-{uuid.uuid4().hex[:6]}",
                         max_upload_mb=1024, max_request_mb=1024)
        with TestClient(app):
            client = signed_in(app, "bench", "admin")
            for label, seed in (("cold", 7), ("warm", 8)):
                payload = jddc_like(count, f"{label}-{seed}", seed)
                cpu = cpu_seconds()
                seconds, job = import_batch(client, f"{label}.jsonl", payload)
                cpu = cpu_seconds() - cpu
                print(f"  import {kind:10s} {label}: {job['checked']:,} checked, {job['failed']} failed in "
                      f"{seconds:.1f} s = {job['read'] / seconds:,.0f} conversations/s; CPU {cpu:.1f} s "
                      f"= {cpu * 1000 / job['read']:.1f} ms a conversation (this process and its workers)", flush=True)
        app.state.workspace.engine.dispose()


# -- a generated database for the list -----------------------------------------------------------

TURNS = json.dumps([{"role": "customer" if n % 2 == 0 else "agent", "text": text, "start": None, "end": None}
                    for n, text in enumerate([
                        "我的[订单x]今天还在南宁[地址x],预计今天到的,能到吗", "您好,请问有什么可以帮您?",
                        "对", "目前是还在送往站点的呢,亲爱的", "从南宁出来了吗?",
                        "您的订单在京东[站点x]发货完成,准备送往京东[站点x]", "准备送往还是正在送往防城港港口站",
                        "还在送往站点的哦", "嗯嗯,谢谢,明天急着用,着急啊", "还请您稍加耐心等待一下哦,",
                        "今天实在送不过来我到防城港港口站自提可以吗", "商品到达站点后是可以自提的呢",
                        "好的谢谢", "请问还有其他可以帮您的吗?感谢您的咨询,祝您生活愉快,再见"])],
                   ensure_ascii=False)
CATEGORIES = json.dumps({"service": {"name": "服务规范", "weight": 40, "score": 90, "findings": 1}}, ensure_ascii=False)
RULES = ("OPN001", "CLS001", "FBD010", "EMP002", "HLD001", "CMP003", "ACC001", "VOC002", "SHK001", "NED001")
AGENTS, TEAMS = 1000, 20


def generate(url: str, rows: int) -> None:
    """``rows`` conversations with two findings each, by set-based SQL in the schema of the code on
    the path (columns a newer schema adds are filled when present)."""
    engine = make_engine(url)
    migrate(engine)
    sqlite = engine.dialect.name == "sqlite"
    columns = {c["name"] for c in inspect(engine).get_columns("conversations")}
    # i: 1..rows. Expressions in each dialect's SQL.
    mod = (lambda a, b: f"(({a}) % {b})")
    when = ("datetime('2026-01-01', '+' || (i * 30) || ' seconds') || '.000000'" if sqlite  # SQLAlchemy's format
            else "timestamptz '2026-01-01 00:00:00+00' + i * interval '30 seconds'")
    key = "printf('%064d', i)" if sqlite else "lpad(i::text, 64, '0')"
    reviewed = f"{mod('i', 50)} = 0"
    score = f"(100 - {mod('i * 7', 41)})"
    values = {
        "id": "i", "external_id": "'gen-' || i", "external_key": key, "version": "1",
        "channel": f"CASE WHEN {mod('i', 3)} = 0 THEN 'phone' ELSE 'chat' END",
        "started_at": f"CASE WHEN {mod('i', 97)} = 0 THEN NULL ELSE {when} END",
        "agent_code": f"'A' || {mod('i', AGENTS)}", "agent_id": f"{mod('i', AGENTS)} + 10",
        "team_id": f"{mod(mod('i', AGENTS), TEAMS)} + 1",
        "turns": "turns", "meta": "'{}'", "kpis": "'{}'", "rulebook_version": "1",
        "auto_score": score, "uncertain": f"CASE WHEN {mod('i', 5)} = 0 THEN 1 ELSE 0 END",
        "final_score": f"CASE WHEN {reviewed} THEN {score} + 5 ELSE NULL END",
        "category_scores": "categories",
        "review_status": f"CASE WHEN {reviewed} THEN 'reviewed' WHEN {mod('i', 997)} = 0 THEN 'appealed' ELSE 'pending' END",
        "imported_at": when, "updated_at": when,
        "standing": "2",  # the findings that stand, where the schema keeps the count
    }
    values = {k: v for k, v in values.items() if k in columns}
    json_cast = "" if sqlite else "::json"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO teams (id, name) SELECT i, '组' || i FROM "
                          + ("(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) SELECT i FROM s)"
                             if sqlite else "generate_series(1, :n) AS i")), {"n": TEAMS})
        # Agents A0..A999 as users 10..1009 (their password: the bench's; one hash for all).
        from guifan.web.services import hash_password

        digest = hash_password(PASSWORD)
        series = ("(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < :n - 1) SELECT i FROM s)"
                  if sqlite else "generate_series(0, :n - 1) AS i")
        conn.execute(text(f"INSERT INTO users (id, username, display_name, password_hash, role, team_id, agent_code, active, created_at) "
                          f"SELECT i + 10, 'agent' || i, '坐席' || i, :digest, 'agent', {mod('i', TEAMS)} + 1, 'A' || i, "
                          f"{'1' if sqlite else 'true'}, CURRENT_TIMESTAMP FROM {series}"), {"n": AGENTS, "digest": digest})
        if not sqlite:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('users', 'id'), 5000)"))
        names = ", ".join(values)
        exprs = ", ".join(values.values())
        step = 100_000
        for first in range(1, rows + 1, step):
            last = min(rows, first + step - 1)
            series = (f"(WITH RECURSIVE s(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM s WHERE i < {last}) SELECT i FROM s)"
                      if sqlite else f"generate_series({first}, {last}) AS i")
            conn.execute(text(f"INSERT INTO conversations ({names}) SELECT {exprs} FROM {series}, "
                              f"(SELECT CAST(:turns AS TEXT){json_cast} AS turns, CAST(:cats AS TEXT){json_cast} AS categories) AS c"),
                         {"turns": TURNS, "cats": CATEGORIES})
            rule = " ".join(f"WHEN {n} THEN '{r}'" for n, r in enumerate(RULES))
            for k in (0, 1):
                conn.execute(text(
                    "INSERT INTO findings (conversation_id, manual, rule, clauses, severity, category, turn, quote, message, "
                    "suggestion, confidence, evidence, needs_review, status, comment, created_at) "
                    f"SELECT i, {'0' if sqlite else 'false'}, CASE {mod(f'i + {k * 3}', len(RULES))} {rule} END, "
                    f"'[\"S-A1\"]'{json_cast}, 'minor', 'service', {k * 2 + 1}, '您好', '缺少问候', '', 0.9, 'phrase', "
                    f"{'0' if sqlite else 'false'}, 'open', '', CURRENT_TIMESTAMP FROM {series}"))
            print(f"\r    generated {last:,} of {rows:,}", end="", flush=True)
        if not sqlite:
            for table in ("conversations", "findings", "users", "teams"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    if sqlite:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        try:  # the statistics the code on the path keeps after an import, where it keeps them
            from guifan.web.imports.service import refresh_statistics
        except ImportError:
            refresh_statistics = None
        if refresh_statistics is not None:
            with session_factory(engine)() as session:
                refresh_statistics(session)
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load
    engine.dispose()


# -- list ----------------------------------------------------------------------------------------


def queries(lead_team: int) -> list[tuple[str, str, dict]]:
    """(kind, who, parameters): the list requests of the mix; "next" follows the first page's link."""
    mix = [("first page", "admin", {}), ("next page", "admin", {"page": 2}), ("page 20", "admin", {"page": 20}),
           ("page 200", "admin", {"page": 200})]
    for key in ("external_id", "channel", "agent", "started_at", "score", "final_score", "findings", "status",
                "uncertain"):
        for descending in ("true", "false"):
            mix.append((f"sort {key}", "admin", {"sort": key, "descending": descending}))
    mix += [("filter agent", "admin", {"agent": "A123"}), ("filter team", "admin", {"team": 3}),
            ("filter channel", "admin", {"channel": "phone"}), ("filter status", "admin", {"status": "reviewed"}),
            ("filter rare status", "admin", {"status": "appealed"}),
            ("filter dates", "admin", {"date_from": "2026-03-01", "date_to": "2026-03-07"}),
            ("filter uncertain", "admin", {"uncertain": "true"}), ("filter rule", "admin", {"rule": "FBD010"}),
            ("filter clause", "admin", {"clause": "S-A1"}),
            ("filter score", "admin", {"score_min": 60, "score_max": 70}),
            ("team lead", "lead", {}), ("team lead next", "lead", {"page": 2}), ("agent", "agent", {})]
    return mix


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def bench_list(kind: str, rows: int, repeat: int, folder: Path) -> None:
    with database(kind, folder) as url:
        started = time.perf_counter()
        generate(url, rows)
        print(f"\r  list   {kind:10s} generated {rows:,} conversations in {time.perf_counter() - started:.0f} s" + " " * 20,
              flush=True)
        app = create_app(url, secret="bench", worker=False, upload_dir=folder / "list-uploads")
        with TestClient(app):
            clients = {"admin": signed_in(app, "admin", "admin"), "lead": signed_in(app, "lead", "team_lead", team="组3"),
                       "agent": login(app, "agent123")}
            timings: dict[str, list[float]] = {}
            mix = queries(3)
            for round_ in range(repeat + 1):
                for label, who, params in mix:
                    params = dict(params)
                    client = clients[who]
                    if params.get("page") == 2:  # the first page's link to the next one, as the page offers it
                        first = client.get("/api/v1/conversations", params={k: v for k, v in params.items() if k != "page"}).json()
                        if first.get("next"):
                            params = {**params, "after": first["next"]}
                    began = time.perf_counter()
                    response = client.get("/api/v1/conversations", params=params)
                    elapsed = time.perf_counter() - began
                    response.raise_for_status()
                    if round_:  # the first round warms the caches
                        timings.setdefault(label, []).append(elapsed)
        app.state.workspace.engine.dispose()
    everything = [t for values in timings.values() for t in values]
    print(f"  list   {kind:10s} {len(everything)} requests: p50 {percentile(everything, 0.5) * 1000:.0f} ms, "
          f"p95 {percentile(everything, 0.95) * 1000:.0f} ms, max {max(everything) * 1000:.0f} ms")
    slow = sorted(timings.items(), key=lambda item: -statistics.median(item[1]))
    print("         slowest kinds (median / max ms): " + "; ".join(
        f"{label} {statistics.median(values) * 1000:.0f}/{max(values) * 1000:.0f}" for label, values in slow[:8]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--import-count", type=int, default=10_000, help="conversations per import batch (0: skip)")
    parser.add_argument("--list-rows", type=int, default=1_000_000, help="conversations of the generated database (0: skip)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of the list's mix")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    import guifan

    print(f"guifan from {Path(guifan.__file__).parent}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-workspace-") as folder:
        for kind in kinds:
            if args.import_count:
                bench_import(kind, args.import_count, Path(folder))
            if args.list_rows:
                bench_list(kind, args.list_rows, args.repeat, Path(folder))


if __name__ == "__main__":
    sys.exit(main())
