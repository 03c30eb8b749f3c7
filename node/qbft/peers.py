"""Authenticated peer links between validators (and auditors' nodes), over WebSocket.

Each side proves it holds its validator key: both send a fresh 32-byte nonce, then both
sign ``keccak("takasago-peer/1" ‖ chain id ‖ dialer nonce ‖ listener nonce ‖ role)``.
A captured handshake cannot be replayed (the other side's nonce is fresh every time), a
peer not in the allowed set is refused, and a link to another chain fails. After the
handshake, frames are encoded QBFT messages (or other node gossip) as binary WebSocket
messages; ``Gossip`` forwards each new frame once to every other peer.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from eth_keys import keys
from eth_keys.datatypes import PrivateKey
from eth_keys.exceptions import BadSignature
from eth_utils import keccak

DOMAIN = b"takasago-peer/1"
HANDSHAKE_SECONDS = 5.0
MAX_FRAME = 4 * 1024 * 1024


class HandshakeRefused(Exception):
    pass


def transcript(chain_id: int, dialer_nonce: bytes, listener_nonce: bytes, role: bytes) -> bytes:
    return keccak(DOMAIN + chain_id.to_bytes(8, "big") + dialer_nonce + listener_nonce + role)


def _recover(digest: bytes, signature: bytes) -> bytes:
    try:
        return keys.Signature(signature).recover_public_key_from_msg_hash(digest).to_canonical_address()
    except (BadSignature, ValueError):
        raise HandshakeRefused("bad handshake signature") from None


@dataclass
class Peer:
    address: bytes
    send: Callable[[bytes], Awaitable[None]]


@dataclass
class Gossip:
    """Delivers each new frame to the local handler once and forwards it to every other peer."""

    handler: Callable[[bytes, bytes], Awaitable[None]]  # (frame, from peer address)
    peers: dict[bytes, Peer] = field(default_factory=dict)
    seen: set[bytes] = field(default_factory=set)
    max_seen: int = 100_000

    async def receive(self, frame: bytes, origin: bytes) -> None:
        digest = keccak(frame)
        if digest in self.seen:
            return
        if len(self.seen) >= self.max_seen:
            self.seen.clear()
        self.seen.add(digest)
        await self.handler(frame, origin)
        await self.publish(frame, exclude=origin, mark=False)

    async def publish(self, frame: bytes, exclude: bytes | None = None, mark: bool = True) -> None:
        if mark:
            self.seen.add(keccak(frame))
        for address, peer in list(self.peers.items()):
            if address != exclude:
                try:
                    await peer.send(frame)
                except (ConnectionError, aiohttp.ClientError, RuntimeError):
                    self.peers.pop(address, None)


class PeerNode:
    """One node's end: listens for peers, dials peers, authenticates both ways, then gossips."""

    def __init__(
        self,
        key: PrivateKey,
        chain_id: int,
        allowed: set[bytes],
        gossip: Gossip,
        on_link: Callable[[bytes], Awaitable[None]] | None = None,
    ) -> None:
        self.key = key
        self.chain_id = chain_id
        self.allowed = allowed  # may change while running (validator-set votes)
        self.gossip = gossip
        self.on_link = on_link  # told about every new authenticated link
        self.address = key.public_key.to_canonical_address()
        self.sockets: set[Any] = set()  # open links, closed on shutdown
        self._socket_of: dict[bytes, Any] = {}

    def _check(self, peer: bytes) -> None:
        if peer not in self.allowed:
            raise HandshakeRefused(f"0x{peer.hex()} is not an allowed peer")
        if peer == self.address:
            raise HandshakeRefused("a node does not peer with itself")

    # -- listening side --------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=20)
        nonce = secrets.token_bytes(32)
        try:
            await ws.prepare(request)
            await ws.send_bytes(nonce)
            hello = await asyncio.wait_for(ws.receive_bytes(), HANDSHAKE_SECONDS)
            if len(hello) != 32 + 65:
                raise HandshakeRefused("malformed handshake")
            dialer_nonce, signature = hello[:32], hello[32:]
            peer = _recover(transcript(self.chain_id, dialer_nonce, nonce, b"dialer"), signature)
            self._check(peer)
            mine = self.key.sign_msg_hash(transcript(self.chain_id, dialer_nonce, nonce, b"listener")).to_bytes()
            await ws.send_bytes(mine)
        except ConnectionError:
            return ws  # the dialer went away mid-handshake (e.g. both ends stopping)
        except (HandshakeRefused, TimeoutError, TypeError):
            await ws.close(code=4401, message=b"handshake refused")
            return ws
        await self._serve(peer, ws.send_bytes, ws)
        return ws

    # -- dialing side ----------------------------------------------------------------------------
    async def dial(self, session: aiohttp.ClientSession, url: str, expected: bytes | None = None) -> bytes:
        ws = await session.ws_connect(url, max_msg_size=MAX_FRAME, heartbeat=20)
        listener_nonce = await asyncio.wait_for(ws.receive_bytes(), HANDSHAKE_SECONDS)
        nonce = secrets.token_bytes(32)
        signature = self.key.sign_msg_hash(transcript(self.chain_id, nonce, listener_nonce, b"dialer")).to_bytes()
        await ws.send_bytes(nonce + signature)
        try:
            reply = await asyncio.wait_for(ws.receive_bytes(), HANDSHAKE_SECONDS)
        except TypeError:
            raise HandshakeRefused("the listener refused the handshake") from None
        peer = _recover(transcript(self.chain_id, nonce, listener_nonce, b"listener"), reply)
        self._check(peer)
        if expected is not None and peer != expected:
            raise HandshakeRefused("the listener is not the validator we dialled")
        asyncio.get_running_loop().create_task(self._serve(peer, ws.send_bytes, ws))
        return peer

    async def close(self) -> None:
        """Close every link (a peer sees the close at once instead of waiting for a heartbeat)."""
        for ws in list(self.sockets):
            try:
                await asyncio.wait_for(ws.close(code=1001, message=b"node stopping"), 2)
            except (TimeoutError, ConnectionError, RuntimeError):
                pass
        self.sockets.clear()

    async def drop(self, peer: bytes) -> None:
        """Close the link to ``peer`` (it is no longer allowed: voted out of the validator set)."""
        ws = self._socket_of.get(peer)
        if ws is not None:
            try:
                await asyncio.wait_for(ws.close(code=4403, message=b"no longer an allowed peer"), 2)
            except (TimeoutError, ConnectionError, RuntimeError):
                pass

    async def _serve(self, peer: bytes, send: Callable[[bytes], Awaitable[None]], ws: Any) -> None:
        self.sockets.add(ws)
        self._socket_of[peer] = ws
        self.gossip.peers[peer] = Peer(peer, send)
        if self.on_link is not None:
            await self.on_link(peer)
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    await self.gossip.receive(message.data, peer)
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                    break
        finally:
            self.sockets.discard(ws)
            if self._socket_of.get(peer) is ws:
                del self._socket_of[peer]
            if self.gossip.peers.get(peer) is not None and self.gossip.peers[peer].send == send:
                self.gossip.peers.pop(peer, None)
