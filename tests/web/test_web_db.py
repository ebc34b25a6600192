"""The Alembic migrations build exactly the ORM's schema, on SQLite and on PostgreSQL, idempotently."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from guifan.web.db import make_engine, migrate, normalize_url
from guifan.web.models import Base


def test_migrations_match_the_models(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # a second start changes nothing
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_plain_postgresql_urls_use_psycopg():
    assert normalize_url("postgresql://qa@db/guifan") == "postgresql+psycopg://qa@db/guifan"
    assert normalize_url("postgres://qa@db/guifan") == "postgresql+psycopg://qa@db/guifan"
    assert normalize_url("sqlite:///guifan.db") == "sqlite:///guifan.db"
