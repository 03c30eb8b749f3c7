"""Many requests' small writes in one database transaction: one commit (one fsync, one write lock) for all.

SQLite has one writer at a time. Issue 17 measured 32 residents paying through two workers:
each payment's two write transactions (accept-and-sign, settle) held the write lock for
18-34 ms under load (the commit's fsync, and the holding thread waiting for the GIL and a
CPU), so payments queued behind each other at ~15 a second whatever else was made faster.
Here each write *unit* (a function of an open session) is queued; one committer thread per
process takes every unit waiting, runs them all inside one ``BEGIN IMMEDIATE`` transaction
and commits once. If a unit raises, that transaction is rolled back and the batch runs again
with each unit in its own savepoint: the raising unit is rolled back to its savepoint and
its caller gets the exception; the others commit. Units must therefore be safe to run twice
(they are functions of the database only, which a rollback restores). The units of one batch see
each other's writes in order, exactly as if they had run one after the other.

PostgreSQL lets writers proceed side by side (row locks), but each commit is still a WAL
flush and a few round trips, so units are batched there too. If a batch's transaction
fails as a whole (a deadlock with another worker's batch, a lost connection), nothing of it
was stored and each unit is run again alone, in its own transaction.
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
    """Runs write units batched into shared transactions, one committer thread per process."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._queue: list[_Unit[Any]] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def run(self, unit: Callable[[Session], T]) -> T:
        """``unit(db)`` inside a write transaction shared with other units; its result, or its exception raised here."""
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
            if not self._run_together(batch):
                self._run_each_in_savepoint(batch)
        except Exception as exc:  # noqa: BLE001 - the transaction failed as a whole: nothing of it was stored
            log.warning(
                "a group commit of %d writes failed (%s): each runs again alone", len(batch), type(exc).__name__
            )
            for item in batch:
                item.error, item.result = None, None
                try:
                    with self.sessions.begin() as db:
                        item.result = item.unit(db)
                except Exception as alone:  # noqa: BLE001 - handed to the unit's caller
                    item.error = alone
        finally:
            for item in batch:
                item.done.set()

    def _run_together(self, batch: list[_Unit[Any]]) -> bool:
        """Every unit in one transaction without savepoints, committed if none raised; False (rolled back) otherwise.

        The common case, and the cheaper one: a savepoint is two more statements per unit (two
        round trips on PostgreSQL), and almost every unit succeeds. A unit that raises (a
        request already paid, a key reused) rolls the whole transaction back, and the batch
        runs again with a savepoint per unit, so the others still commit together.
        """
        db = self.sessions()
        try:
            db.begin()
            results = [item.unit(db) for item in batch]
        except Exception:  # noqa: BLE001 - run again unit by unit, each in its own savepoint
            db.rollback()
            return False
        else:
            db.commit()
            for item, result in zip(batch, results, strict=True):
                item.result = result
            return True
        finally:
            db.close()

    def _run_each_in_savepoint(self, batch: list[_Unit[Any]]) -> None:
        with self.sessions.begin() as db:
            for item in batch:
                item.result, item.error = None, None
                try:
                    with db.begin_nested():
                        item.result = item.unit(db)
                except Exception as exc:  # noqa: BLE001 - handed to the unit's caller
                    item.error = exc


class _Unit(Generic[T]):
    __slots__ = ("done", "error", "result", "unit")

    def __init__(self, unit: Callable[[Session], T]) -> None:
        self.unit = unit
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
