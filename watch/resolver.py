"""Rotating ids back to wards (issue 19): only the service, which holds every tag's secret, can do it.

For each 15-minute window a sighting may carry, the ids of every active tag are computed once
and kept in a table (id → ward); a batch then resolves each sighting by a dictionary lookup.
The tables of the few windows in use are kept (a city's 10,000 tags cost 10,000 HMACs, a few
milliseconds, per window); registering or retiring a tag clears them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from watch.rotating_id import candidate_windows, rotating_id

KEPT_WINDOWS = 8


class Resolver:
    def __init__(self, secrets: Callable[[], list[tuple[str, bytes]]]) -> None:
        """``secrets()``: every active ward's (id, tag secret), read when a window's table is built."""
        self._secrets = secrets
        self._tables: OrderedDict[int, dict[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._tables.clear()

    def warm(self, at: int) -> None:
        """Builds the tables a sighting at ``at`` needs (at start, so no batch waits for them)."""
        for window in candidate_windows(at):
            self._table(window)

    def resolve(self, rotating: bytes, at: int) -> str | None:
        """The ward whose tag broadcast ``rotating`` around ``at`` (its window or a neighbour), or None."""
        for window in candidate_windows(at):
            ward = self._table(window).get(rotating)
            if ward is not None:
                return ward
        return None

    def _table(self, window: int) -> dict[bytes, str]:
        with self._lock:
            table = self._tables.get(window)
            if table is not None:
                self._tables.move_to_end(window)
                return table
        built = {rotating_id(secret, window): ward for ward, secret in self._secrets()}
        with self._lock:
            self._tables[window] = built
            while len(self._tables) > KEPT_WINDOWS:
                self._tables.popitem(last=False)
        return built
