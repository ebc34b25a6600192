"""Database connection and schema migrations.

SQLite (a file, no setup) is the default; PostgreSQL is the production store:
``guifan serve --db postgresql://user@host/dbname``. The schema is managed by Alembic and brought
up to date when the server starts.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_URL = "sqlite:///guifan.db"
MIGRATION_LOCK = 0x67756966616E  # PostgreSQL advisory lock key held while migrating ("guifan")


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs (libpq style) and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str = DEFAULT_URL) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the importer
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a crashed process, fewer fsyncs
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``, the newest by default (idempotent).

    SQLite alters a table by rebuilding it (copy, drop, rename); with foreign keys enforced, dropping
    the old table would cascade to the rows that reference it (a conversation's findings, their
    verdicts and appeals). Foreign keys are off while migrating and checked before the commit.
    """
    config = alembic_config(engine)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: before it
            connection.commit()
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":  # processes started at once migrate one at a time
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("迁移后数据库存在失效的外键引用")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
