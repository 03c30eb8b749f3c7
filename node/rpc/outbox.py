"""A WebSocket connection's outgoing queue, drained by the connection's own task.

Why: the block listener used to ``await`` every subscriber's send, so one client that
stopped reading (its TCP window full) froze block production for the whole chain (issue
15, finding 1). Now the block listener and the pending-transaction notifier only *offer*
notifications: an offer never waits. The queue is bounded (entries and bytes); a client
that lets it fill, or whose socket takes longer than ``send_timeout`` to accept one
message, is disconnected (and logged): it is not keeping up and would otherwise hold
memory without bound.

Two kinds of entries keep legitimate clients working:

* a block's log notifications for one subscription are one lazy entry, expanded by the
  writer (the block's log list is shared by every connection), so a block with many
  thousands of matching logs costs one entry, not thousands of strings;
* answers to the client's own requests wait for room instead of being refused: a client
  that pipelines requests without reading its answers simply stops having its requests
  read (TCP back-pressure), and a stalled one still runs into the send timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable

from aiohttp import web

log = logging.getLogger("takasago.rpc")

Entry = str | Iterable[str]


class Outbox:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        abort: Callable[[], None],
        *,
        peer: str,
        max_messages: int,
        max_bytes: int,
        send_timeout: float,
    ) -> None:
        self.ws = ws
        self.peer = peer
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.send_timeout = send_timeout
        self._abort = abort
        self._queue: deque[tuple[Entry, int, bool]] = deque()  # (entry, bytes, is an answer)
        self._notification_bytes = 0
        self._answer_bytes = 0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self.closed = False
        self.close_reason: str | None = None
        self._task = asyncio.get_running_loop().create_task(self._drain(), name=f"ws-writer {peer}")

    def offer(self, entry: Entry) -> bool:
        """Queues a notification (a message, or a lazy iterable of them); never waits.

        False, and the connection is closed, if the client is too far behind.
        """
        if self.closed:
            return False
        size = len(entry) if isinstance(entry, str) else 0
        if len(self._queue) >= self.max_messages or (
            self._notification_bytes and self._notification_bytes + size > self.max_bytes
        ):
            self.close(
                f"outgoing queue full ({len(self._queue)} entries, {self._notification_bytes} bytes): "
                "the client is not reading"
            )
            return False
        self._queue.append((entry, size, False))
        self._notification_bytes += size
        self._wake.set()
        return True

    async def answer(self, text: str) -> None:
        """Queues the answer to one of the client's requests, waiting while earlier answers fill the queue."""
        while not self.closed and self._answer_bytes and self._answer_bytes + len(text) > self.max_bytes:
            self._room.clear()
            await self._room.wait()
        if self.closed:
            return
        self._queue.append((text, len(text), True))
        self._answer_bytes += len(text)
        self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def close(self, reason: str) -> None:
        """Drops the connection now (no close handshake: the client is not reading anyway)."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self._forget()
        log.warning("closing WebSocket client %s: %s", self.peer, reason)
        self._abort()

    def _forget(self) -> None:
        self._queue.clear()
        self._notification_bytes = self._answer_bytes = 0
        self._wake.set()
        self._room.set()

    async def _send(self, text: str) -> bool:
        if self.ws.closed:
            self.closed = True
            return False
        try:
            await asyncio.wait_for(self.ws.send_str(text), self.send_timeout)
        except TimeoutError:
            self.close(f"a send took longer than {self.send_timeout:g} s: the client is not reading")
            return False
        except (ConnectionError, RuntimeError):
            self.closed = True
            return False
        return True

    async def _drain(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while not self.closed:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                entry, size, is_answer = self._queue.popleft()
                if is_answer:
                    self._answer_bytes -= size
                else:
                    self._notification_bytes -= size
                for text in [entry] if isinstance(entry, str) else entry:
                    if not await self._send(text):
                        self._forget()
                        return
                self._room.set()

    async def stop(self) -> None:
        """Ends the writer task (the connection is over)."""
        self.closed = True
        self._forget()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
