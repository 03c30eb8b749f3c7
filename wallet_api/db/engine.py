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
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
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
    engine = create_engine(url, pool_size=30, max_overflow=20)
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Checks a pooled connection before use only if it sat idle: SQLAlchemy's ``pool_pre_ping``, made lazy.

    A connection left in the pool across a server restart or a dropped link is found dead
    and replaced here instead of failing the request that draws it. ``pool_pre_ping`` asks
    the server on every checkout; issue 17's profile of a rush counted 4-5 checkouts per
    payment, each one more round trip for the API and the server. A connection checked in
    less than :data:`PING_AFTER_IDLE_SECONDS` ago was just used successfully, so it is not
    asked again; under load almost none is idle that long, in a quiet hour nearly all are.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # new (just connected) or just used
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(str(exc)) from exc  # the pool reconnects and checks out again
        if not alive:
            raise DisconnectionError("the database connection did not answer")


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
    autocommit: sessionmaker[Session] | None = None  # PostgreSQL: sessions for reads(), outside a transaction

    def _writing(self) -> AbstractContextManager[None]:
        return self.write_lock.held() if self.write_lock is not None else nullcontext()

    @contextmanager
    def begin(self) -> Iterator[Session]:  # type: ignore[override]
        with self._writing(), self() as session, session.begin():
            session.connection(execution_options={_WRITE: True})  # BEGIN IMMEDIATE before the first statement
            yield session


def reads(sessions: sessionmaker[Session]) -> Session:
    """A session whose statements each run alone, outside a transaction (``with reads(sessions) as db``).

    For the hot read paths that need no snapshot across statements (the bearer's session
    and member, a scanned request and its shop, a payment's answer): no ``BEGIN`` before
    the first statement and no ``ROLLBACK`` when the session ends, two round trips fewer
    on PostgreSQL (on SQLite, or with a plain sessionmaker, an ordinary session). Never for writing.
    """
    autocommit = sessions.autocommit if isinstance(sessions, Sessions) else None
    return autocommit() if autocommit is not None else sessions()


def make_sessions(engine: Engine) -> Sessions:
    sessions = Sessions(engine, expire_on_commit=False)
    if engine.dialect.name == "postgresql":  # SQLite's reads begin DEFERRED, locally: nothing to save there
        reading = engine.execution_options(isolation_level="AUTOCOMMIT")
        sessions.autocommit = sessionmaker(reading, expire_on_commit=False)
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
