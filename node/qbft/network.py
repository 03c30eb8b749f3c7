"""The node's peer network: authenticated links, typed frames and ordered delivery per peer.

Validators are fully meshed (each holds a link to every other), so a frame is sent
straight to every peer and never forwarded; an observer (an auditor's node) links to the
validators it is configured with. Each link has its own outbound queue and writer task,
so one slow peer never holds up the others and frames reach each peer in the order they
were sent. Links that drop are dialled again every second.

A frame is one kind byte followed by its payload (``Kind``); ``node/qbft/engine.py``
decides what each kind means.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum

import aiohttp
from aiohttp import web
from eth_keys.datatypes import PrivateKey

from node.qbft.peers import Gossip, HandshakeRefused, PeerNode

log = logging.getLogger("takasago.p2p")

DIAL_INTERVAL_SECONDS = 1.0
MAX_QUEUED_FRAMES = 20_000
PATH = "/p2p"


class Kind(IntEnum):
    CONSENSUS = 1  # a signed QBFT message
    TRANSACTIONS = 2  # RLP list of raw transactions a client gave one node
    STATUS = 3  # RLP [head number, head hash]
    GET_BLOCKS = 4  # RLP [first number, count]
    BLOCKS = 5  # RLP [[block, commit certificate], ...]


Handler = Callable[[bytes, bytes], Awaitable[None]]  # (payload, peer address)


@dataclass(frozen=True)
class PeerAddress:
    address: bytes
    url: str


class Links(Gossip):
    """The link table ``PeerNode`` fills, delivering frames without forwarding them (full mesh)."""

    async def receive(self, frame: bytes, origin: bytes) -> None:
        await self.handler(frame, origin)


class _Outbox:
    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self.send = send
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            frame = await self.queue.get()
            try:
                await self.send(frame)
            except (ConnectionError, aiohttp.ClientError, RuntimeError):
                return


class PeerNetwork:
    def __init__(
        self,
        key: PrivateKey,
        chain_id: int,
        allowed: set[bytes],
        dial: list[PeerAddress],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.handlers: dict[Kind, Handler] = {}
        self.on_link: Callable[[bytes], Awaitable[None]] | None = None
        self.links = Links(self._dispatch)
        self.node = PeerNode(key, chain_id, allowed, self.links, on_link=self._linked)
        self.dial_list = [p for p in dial if p.address != self.node.address]
        self.host = host
        self.port = port
        self._outboxes: dict[bytes, _Outbox] = {}
        self._runner: web.AppRunner | None = None
        self._dialer: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def address(self) -> bytes:
        return self.node.address

    def peers(self) -> list[bytes]:
        return list(self.links.peers)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> int:
        app = web.Application(client_max_size=1024)
        app.router.add_get(PATH, self.node.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True, shutdown_timeout=2.0)
        await site.start()
        sockets = getattr(site._server, "sockets", None)  # noqa: SLF001 - port 0 support
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=3))
        self._dialer = asyncio.get_running_loop().create_task(self._dial_forever(), name="p2p-dialer")
        return self.port

    async def stop(self) -> None:
        if self._dialer is not None:
            self._dialer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dialer
        for outbox in self._outboxes.values():
            outbox.task.cancel()
        await self.node.close()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _dial_forever(self) -> None:
        assert self._session is not None
        while True:
            for peer in self.dial_list:
                if peer.address in self.links.peers:
                    continue
                try:
                    await asyncio.wait_for(self.node.dial(self._session, peer.url, expected=peer.address), 5)
                    log.info("linked to peer 0x%s at %s", peer.address.hex(), peer.url)
                except (HandshakeRefused, aiohttp.ClientError, OSError, TimeoutError, TypeError) as exc:
                    log.debug("could not link to 0x%s at %s: %s", peer.address.hex(), peer.url, exc)
            await asyncio.sleep(DIAL_INTERVAL_SECONDS)

    async def _linked(self, peer: bytes) -> None:
        if self.on_link is not None:
            await self.on_link(peer)

    # -- frames --------------------------------------------------------------------------------
    async def _dispatch(self, frame: bytes, origin: bytes) -> None:
        if not frame:
            return
        try:
            kind = Kind(frame[0])
        except ValueError:
            log.debug("peer 0x%s sent an unknown frame kind %d", origin.hex(), frame[0])
            return
        handler = self.handlers.get(kind)
        if handler is None:
            return
        try:
            await handler(frame[1:], origin)
        except Exception:
            log.exception("handling a %s frame from 0x%s failed", kind.name, origin.hex())

    def send(self, peer: bytes, kind: Kind, payload: bytes) -> bool:
        """Queue a frame for one peer; False if there is no link to it."""
        link = self.links.peers.get(peer)
        if link is None:
            return False
        outbox = self._outboxes.get(peer)
        if outbox is None or outbox.send is not link.send or outbox.task.done():
            if outbox is not None:
                outbox.task.cancel()
            outbox = self._outboxes[peer] = _Outbox(link.send)
        if outbox.queue.qsize() >= MAX_QUEUED_FRAMES:
            log.warning("peer 0x%s is not keeping up; dropping a frame", peer.hex())
            return False
        outbox.queue.put_nowait(bytes([kind]) + payload)
        return True

    def broadcast(self, kind: Kind, payload: bytes, only: list[bytes] | None = None) -> int:
        """Queue a frame for every linked peer (or those in ``only``); returns how many."""
        targets = self.peers() if only is None else [p for p in only if p in self.links.peers]
        return sum(self.send(peer, kind, payload) for peer in targets)
