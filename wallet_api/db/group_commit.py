"""Many requests' small writes in one SQLite transaction: one write lock and one fsync for all of them.

SQLite has one writer at a time. Issue 17 measured 32 residents paying through two workers:
each payment's two write transactions (accept-and-sign, settle) held the write lock for
18-34 ms under load (the commit's fsync, and the holding thread waiting for the GIL and a
CPU), so payments queued behind each other at ~15 a second whatever else was made faster.
Here each write *unit* (a function of an open session) is queued; one committer thread per
process takes every unit waiting, runs each in its own savepoint inside one ``BEGIN
IMMEDIATE`` transaction and commits once. A unit that raises is rolled back to its
savepoint and its caller gets the exception; the others commit. The units of one batch see
each other's writes in order, exactly as if they had run one after the other.

PostgreSQL does not need this (row locks let writers proceed side by side), so there a unit
simply runs in its own transaction in the caller's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("wallet_api.db")
T = TypeVar("T")
MAX_BATCH = 64  # units per transaction: bounds how long one commit keeps the others waiting


class GroupCommit:
    """Runs write units, batched into shared transactions on SQLite, one transaction each elsewhere."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.batched = getattr(sessions, "write_lock", None) is not None  # SQLite (wallet_api.db.engine.Sessions)
        self._queue: list[_Unit[Any]] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def run(self, unit: Callable[[Session], T]) -> T:
        """``unit(db)`` inside a write transaction (shared on SQLite); its result, or its exception raised here."""
        if not self.batched:
            with self.sessions.begin() as db:
                return unit(db)
        item: _Unit[T] = _Unit(unit)
        with self._ready:
            self._queue.append(item)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._commit_loop, name="wallet-group-commit", daemon=True)
                self._thread.start()
            self._ready.notify()
        item.done.wait()
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[return-value]

    def _commit_loop(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            self._commit(batch)

    def _commit(self, batch: list[_Unit[Any]]) -> None:
        try:
            with self.sessions.begin() as db:
                for item in batch:
                    try:
                        with db.begin_nested():
                            item.result = item.unit(db)
                    except Exception as exc:  # noqa: BLE001 - handed to the unit's caller
                        item.error = exc
        except Exception as exc:  # noqa: BLE001 - the commit itself failed: nothing of the batch was stored
            log.warning("a group commit of %d writes failed: %s", len(batch), type(exc).__name__)
            for item in batch:
                if item.error is None:
                    item.error = exc
        finally:
            for item in batch:
                item.done.set()


class _Unit(Generic[T]):
    __slots__ = ("done", "error", "result", "unit")

    def __init__(self, unit: Callable[[Session], T]) -> None:
        self.unit = unit
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
