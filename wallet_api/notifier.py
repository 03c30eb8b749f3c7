"""Wakes the event streams of payment requests when a change to them commits.

A hook or a payment marks the request it changed (:func:`mark_changed`) in the session's
``info``; :func:`announce_commits` publishes the marks once that session commits (and
drops them on a rollback), so a woken stream reads the new state. Other worker
processes' changes are not seen here: streams also re-read on a slow timer.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

CHANGED_REQUESTS = "changed_payment_requests"  # Session.info key: request ids to announce after commit


def mark_changed(db: DbSession, request_pk: str) -> None:
    """Marks a payment request as changed: its event streams wake once ``db`` commits."""
    db.info.setdefault(CHANGED_REQUESTS, set()).add(request_pk)


def announce_commits(sessions: sessionmaker[DbSession], notifier: Notifier) -> None:
    """Publishes the requests marked in a transaction once it commits."""

    def committed(db: DbSession) -> None:
        changed = db.info.pop(CHANGED_REQUESTS, None)
        if changed:
            notifier.publish(changed)

    def rolled_back(db: DbSession, _transaction: Any = None) -> None:
        db.info.pop(CHANGED_REQUESTS, None)

    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_rollback", rolled_back)


class Notifier:
    """The event streams waiting on each payment request, woken from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscription]] = {}

    def subscribe(self, key: str) -> Subscription:
        subscription = Subscription(self, key)
        with self._lock:
            self._subscribers.setdefault(key, set()).add(subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            subscribers = self._subscribers.get(subscription.key)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[subscription.key]

    def publish(self, keys: set[str]) -> None:
        with self._lock:
            woken = [s for key in keys for s in self._subscribers.get(key, ())]
        for subscription in woken:
            subscription.wake()


class Subscription:
    """One event stream's interest in one payment request; :meth:`wait` returns on a change or a timeout."""

    def __init__(self, notifier: Notifier, key: str) -> None:
        self.notifier = notifier
        self.key = key
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float) -> bool:
        """True if woken by a change, False after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._event.clear()

    def close(self) -> None:
        self.notifier._remove(self)
