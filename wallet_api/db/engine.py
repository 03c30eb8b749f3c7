"""The database engine: SQLite (embedded default) or PostgreSQL, migrated by Alembic.

SQLite runs in WAL mode. Reads and writes begin differently (issue 15, finding 9): a
session opened with ``sessions()`` is for reading and begins ``DEFERRED`` (WAL readers
never wait for the writer), while ``sessions.begin()`` is a write transaction and begins
``IMMEDIATE``, so concurrent writers queue for the write lock up front instead of failing
with "database is locked" when a read tries to upgrade. Code that writes must therefore
use ``sessions.begin()``; a plain ``sessions()`` that writes would risk that upgrade.
PostgreSQL ignores the distinction and serialises with row locks (``SELECT … FOR UPDATE``).

On SQLite every write transaction of this process first takes :class:`WriteLock`: a thread
lock, then an exclusive ``flock`` on ``<database>.write-lock`` shared by every worker process
on the file. Issue 17 measured why: 32 residents paying through two workers spent 85% of
their time in ``BEGIN IMMEDIATE``, because a writer that finds the database locked is put to
sleep by SQLite's busy handler (1, 2, 5 … up to 100 ms at a time) instead of being woken when
the lock is free. Queued on the lock file, the next writer starts the moment the previous one
commits. Other programs on the same file (the CLI) still meet ``busy_timeout`` as before.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
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
        # one pooled connection per request thread (anyio's default pool has 40): a smaller pool
        # opened and closed overflow connections, with their PRAGMAs, on every busy request
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=40, max_overflow=20
        )

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
    # pool_size: as many kept-open connections as a worker uses at once under a rush (its
    # request threads, the group committer, the receipt watcher). With 10, issue 17's
    # profile of 32 paying residents found a worker opening and closing overflow connections
    # all the time (psycopg's connect and set_autocommit, ~10% of its CPU). Idle connections
    # cost the server little; a city's server allows 100 by default, two workers keep ≤ 60.
    return create_engine(url, pool_size=30, max_overflow=20, pool_pre_ping=True)


class WriteLock:
    """One writer at a time on a SQLite file, across threads and worker processes, woken in turn.

    Re-entrant per thread (a nested write transaction would deadlock on SQLite anyway, as
    before, but never hangs here). The lock file sits beside the database and holds nothing.
    """

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".write-lock")
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)  # type: ignore[arg-type]


def _sqlite_file(engine: Engine) -> Path | None:
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    return Path(database).resolve() if database and database != ":memory:" else None


class Sessions(sessionmaker[Session]):
    """``sessions()`` reads (a deferred transaction); ``sessions.begin()`` writes (immediate on SQLite)."""

    write_lock: WriteLock | None = None

    def _writing(self) -> AbstractContextManager[None]:
        return self.write_lock.held() if self.write_lock is not None else nullcontext()

    @contextmanager
    def begin(self) -> Iterator[Session]:  # type: ignore[override]
        with self._writing(), self() as session, session.begin():
            session.connection(execution_options={_WRITE: True})  # BEGIN IMMEDIATE before the first statement
            yield session


def make_sessions(engine: Engine) -> Sessions:
    sessions = Sessions(engine, expire_on_commit=False)
    database = _sqlite_file(engine)
    if database is not None:
        sessions.write_lock = WriteLock(database)
    return sessions


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
