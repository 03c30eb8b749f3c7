"""A WebSocket connection's outgoing queue, drained by the connection's own task.

Why: the block listener used to ``await`` every subscriber's send, so one client that
stopped reading (its TCP window full) froze block production for the whole chain (issue
15, finding 1). Now whoever has something to say (the block listener, the pending-
transaction notifier, the request loop) only *offers* a message: the offer never waits.
The queue is bounded in messages and bytes; a client that lets it fill, or whose socket
takes longer than ``send_timeout`` to accept one message, is disconnected (and logged),
since it is not keeping up and would otherwise hold memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger("takasago.rpc")


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
        self._queue: deque[str] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self.closed = False
        self.close_reason: str | None = None
        self._task = asyncio.get_running_loop().create_task(self._drain(), name=f"ws-writer {peer}")

    def offer(self, text: str) -> bool:
        """Queues ``text``; never waits. False (and the connection is closed) if the client is too far behind."""
        if self.closed:
            return False
        size = len(text)
        # A single large answer is always accepted into an empty queue, so a big but
        # legitimate response (eth_getLogs) is not mistaken for a stalled reader.
        if self._queue and (len(self._queue) >= self.max_messages or self._bytes + size > self.max_bytes):
            self.close(
                f"outgoing queue full ({len(self._queue)} messages, {self._bytes} bytes): the client is not reading"
            )
            return False
        self._queue.append(text)
        self._bytes += size
        self._wake.set()
        return True

    @property
    def queued(self) -> int:
        return len(self._queue)

    def close(self, reason: str) -> None:
        """Drop the connection now (no close handshake: the client is not reading anyway)."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self._queue.clear()
        self._bytes = 0
        self._wake.set()
        log.warning("closing WebSocket client %s: %s", self.peer, reason)
        self._abort()

    async def _drain(self) -> None:
        try:
            while not self.closed:
                if not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                text = self._queue.popleft()
                self._bytes -= len(text)
                if self.ws.closed:
                    self.closed = True
                    return
                try:
                    await asyncio.wait_for(self.ws.send_str(text), self.send_timeout)
                except TimeoutError:
                    self.close(f"a send took longer than {self.send_timeout:g} s: the client is not reading")
                    return
                except (ConnectionError, RuntimeError):
                    self.closed = True
                    return
        except asyncio.CancelledError:
            pass

    async def stop(self) -> None:
        """Ends the writer task (the connection is over)."""
        self.closed = True
        self._queue.clear()
        self._wake.set()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
