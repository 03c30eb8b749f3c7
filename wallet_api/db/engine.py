"""The database engine: SQLite (embedded default) or PostgreSQL, migrated by Alembic.

SQLite runs in WAL mode. Reads and writes begin differently (issue 15, finding 9): a
session opened with ``sessions()`` is for reading and begins ``DEFERRED`` (WAL readers
never wait for the writer), while ``sessions.begin()`` is a write transaction and begins
``IMMEDIATE``, so concurrent writers queue for the write lock up front instead of failing
with "database is locked" when a read tries to upgrade. Code that writes must therefore
use ``sessions.begin()``; a plain ``sessions()`` that writes would risk that upgrade.
PostgreSQL ignores the distinction and serialises with row locks (``SELECT … FOR UPDATE``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_WRITE = "takasago_write"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            write = connection.get_execution_options().get(_WRITE, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Sessions(sessionmaker[Session]):
    """``sessions()`` reads (a deferred transaction); ``sessions.begin()`` writes (immediate on SQLite)."""

    @contextmanager
    def begin(self) -> Iterator[Session]:  # type: ignore[override]
        with self() as session, session.begin():
            session.connection(execution_options={_WRITE: True})  # BEGIN IMMEDIATE before the first statement
            yield session


def make_sessions(engine: Engine) -> Sessions:
    return Sessions(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Brings the schema to the latest revision (idempotent)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    command.upgrade(alembic_config(url), "head")
