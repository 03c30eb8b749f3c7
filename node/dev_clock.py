"""Time travel for development chains: hardhat's and anvil's ``evm_*`` clock methods.

Tests of expiry need blocks stamped at chosen seconds (the last second of a month,
the one after). A ``--dev`` chain accepts ``evm_increaseTime``,
``evm_setNextBlockTimestamp`` and ``evm_mine`` with their hardhat meanings; a real
chain never exposes them, because its validators stamp blocks with the wall clock.
Time only moves forward: a block is never older than its parent.
"""

from __future__ import annotations

import threading
import time


class DevClock:
    """The timestamp the next block gets: wall clock plus an offset, or one set explicitly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.offset = 0
        self._next: int | None = None

    def now(self) -> int:
        return int(time.time()) + self.offset

    def increase(self, seconds: int) -> int:
        """Moves the clock forward by ``seconds``; returns the total offset (as hardhat does)."""
        with self._lock:
            self.offset += seconds
            return self.offset

    def set_next(self, timestamp: int) -> None:
        """The next block gets exactly ``timestamp``; later blocks continue from it."""
        with self._lock:
            self._next = timestamp
            self.offset = max(self.offset, timestamp - int(time.time()))

    def take(self) -> int:
        """The timestamp for the block being built now (consumes a pending explicit one)."""
        with self._lock:
            if self._next is not None:
                value, self._next = self._next, None
                return value
            return self.now()
