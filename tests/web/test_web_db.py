"""The Alembic migrations build exactly the ORM's schema, on SQLite and on PostgreSQL, idempotently."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import pytest

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, column, inspect, select, table, text

from guifan.web.db import make_engine, migrate, normalize_url, session_factory
from guifan.web.models import Base, Finding, Verdict


def test_migrations_match_the_models(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # a second start changes nothing
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_processes_started_at_once_on_a_new_database_migrate_it_one_at_a_time(db_url, tmp_path):
    """Two consumers (guifan ingest) or servers started together: both migrate, neither fails."""
    go = tmp_path / "go"
    script = ("import pathlib, sys, time\n"
              "from guifan.web.db import make_engine, migrate\n"
              "engine = make_engine(sys.argv[1])\n"
              "print('ready', flush=True)\n"
              "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.01)\n"
              "migrate(engine)\n")
    starts = [subprocess.Popen([sys.executable, "-c", script, db_url, str(go)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    assert [process.stdout.readline() for process in starts] == ["ready\n", "ready\n"]
    go.touch()  # both go at once (without the lock, one of them failed on every try)
    for process in starts:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    engine = make_engine(db_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_upgrading_keeps_review_work_and_makes_old_findings_certain(db_url):
    """Rows from before 0005 come out of the upgrade as exact findings, nothing awaiting review.
    On SQLite the upgrade rebuilds the conversations and findings tables: the rows that reference
    them (findings, verdicts) must survive it."""
    engine = make_engine(db_url)
    migrate(engine, "0004")
    now = datetime.now(timezone.utc)
    rows = {
        "users": dict(username="rev", display_name="rev", password_hash="x", role="reviewer", active=True,
                      created_at=now),
        "conversations": dict(external_id="c1", external_key="k1", version=1, channel="chat", rulebook_version=1,
                              auto_score=98.0, review_status="pending", imported_at=now, updated_at=now, turns=[],
                              meta={}, kpis={}, category_scores={}),
        "findings": dict(manual=False, rule="FBD010", severity="minor", category="courtesy", quote="你", message="",
                         suggestion="", status="confirmed", comment="", created_at=now, clauses=["S-F10"]),
        "verdicts": dict(confirmed=True, created_at=now),
    }
    with engine.begin() as connection:

        def insert(name: str, **links) -> int:
            values = {**rows[name], **links}
            columns = [column(k, JSON) if isinstance(v, (list, dict)) else column(k) for k, v in values.items()]
            return connection.execute(table(name, *columns).insert().values(values).returning(text("id"))).scalar_one()

        reviewer = insert("users")
        finding = insert("findings", conversation_id=insert("conversations"))
        insert("verdicts", finding_id=finding, reviewer_id=reviewer)
    migrate(engine)
    with session_factory(engine)() as session:
        (stored,) = session.scalars(select(Finding))
        assert (stored.id, stored.confidence, stored.evidence, stored.needs_review) == (finding, 1.0, "phrase", False)
        assert stored.conversation.uncertain == 0
        assert session.scalar(select(Verdict.finding_id)) == finding
    engine.dispose()


def test_plain_postgresql_urls_use_psycopg():
    assert normalize_url("postgresql://qa@db/guifan") == "postgresql+psycopg://qa@db/guifan"
    assert normalize_url("postgres://qa@db/guifan") == "postgresql+psycopg://qa@db/guifan"
    assert normalize_url("sqlite:///guifan.db") == "sqlite:///guifan.db"
