"""New heads from the node's WebSocket (``eth_subscribe("newHeads")``): act on a block as soon as it is sealed.

The indexer indexes the block; the wallet's receipt watcher asks for the receipts it
awaits (instead of polling on a timer and waiting up to a poll period for each one).
Runs in its own thread with its own event loop and reconnects when the node goes away;
every user also polls on a slower timer, so a lost subscription only delays, never loses.
The upgrade request carries the node's service token when one is configured, so the
node's per-client WebSocket and subscription caps never apply to our own services.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import aiohttp

from ledger_client.node_access import service_headers

log = logging.getLogger("ledger_client.heads")


class HeadListener:
    """Counts the node's new heads; :meth:`wait` blocks until one arrives, ``on_head`` is called for each."""

    def __init__(
        self,
        ws_url: str,
        headers: dict[str, str] | None = None,
        on_head: Callable[[], None] | None = None,
        name: str = "heads",
    ) -> None:
        self.ws_url = ws_url
        self.headers = service_headers() if headers is None else headers
        self.on_head = on_head
        self.name = name
        self._arrived = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.heads_seen = 0
        self.subscribed = False  # True while the subscription is up (callers may then poll less often)

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait(self, timeout: float) -> bool:
        """True if a new head arrived within ``timeout`` seconds."""
        arrived = self._arrived.wait(timeout)
        self._arrived.clear()
        return arrived

    async def _run(self) -> None:
        pause = 0.5
        while not self._stop.is_set():
            try:
                async with (
                    aiohttp.ClientSession() as session,
                    session.ws_connect(self.ws_url, heartbeat=20, headers=self.headers) as ws,
                ):
                    await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]})
                    self.subscribed = True
                    pause = 0.5
                    while not self._stop.is_set():
                        try:
                            message = await ws.receive(timeout=1)
                        except TimeoutError:
                            continue
                        if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                            break
                        if message.type == aiohttp.WSMsgType.TEXT and '"eth_subscription"' in message.data:
                            self.heads_seen += 1
                            self._arrived.set()
                            if self.on_head is not None:
                                self.on_head()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.info("head subscription lost (%s); reconnecting in %.1f s", type(exc).__name__, pause)
            self.subscribed = False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 4)
