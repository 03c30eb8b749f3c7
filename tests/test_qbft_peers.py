"""Validators' peer links: mutual authentication by validator key, refusal of outsiders, other chains
and replayed handshakes, and gossip that reaches every node once over real WebSockets."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from eth_keys import keys
from eth_utils import keccak

from node.qbft.peers import Gossip, HandshakeRefused, PeerNode
from tests.conftest import free_port

CHAIN = 1337


def key(name: str) -> keys.PrivateKey:
    return keys.PrivateKey(keccak(name.encode()))


async def start(node: PeerNode) -> tuple[str, web.AppRunner]:
    app = web.Application()
    app.router.add_get("/peer", node.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return f"http://127.0.0.1:{port}/peer", runner


def network(names: list[str], chain: int = CHAIN) -> tuple[list[PeerNode], dict[str, list[bytes]]]:
    allowed = {key(n).public_key.to_canonical_address() for n in ("A", "B", "C")}
    received: dict[str, list[bytes]] = {n: [] for n in names}
    nodes = []
    for name in names:

        async def handler(frame: bytes, _origin: bytes, name: str = name) -> None:
            received[name].append(frame)

        nodes.append(PeerNode(key(name), chain, allowed, Gossip(handler)))
    return nodes, received


async def settle(condition: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)


def test_gossip_reaches_every_validator_once_through_authenticated_links() -> None:
    async def scenario() -> None:
        (a, b, c), received = network(["A", "B", "C"])
        urls, runners = zip(*[await start(n) for n in (a, b, c)], strict=True)
        async with aiohttp.ClientSession() as session:
            assert await a.dial(session, urls[1], expected=b.address) == b.address  # A — B — C, a line
            assert await b.dial(session, urls[2]) == c.address
            await settle(lambda: len(b.gossip.peers) == 2 and len(c.gossip.peers) == 1)
            await a.gossip.publish(b"proposal-frame")
            await settle(lambda: received["C"])
            await b.gossip.publish(b"prepare-frame")
            await settle(lambda: len(received["A"]) == 1 and len(received["C"]) == 2)
            await asyncio.sleep(0.2)
            assert received == {
                "A": [b"prepare-frame"],
                "B": [b"proposal-frame"],
                "C": [b"proposal-frame", b"prepare-frame"],
            }
        for runner in runners:
            await runner.cleanup()

    asyncio.run(scenario())


def test_outsiders_other_chains_and_impostors_are_refused() -> None:
    async def scenario() -> None:
        (a,), _ = network(["A"])
        url, runner = await start(a)
        (outsider,), _ = network(["O"])
        (other_chain,), _ = network(["B"], chain=1)
        (b,), _ = network(["B"])
        async with aiohttp.ClientSession() as session:
            for dialer in (outsider, other_chain):
                with pytest.raises((HandshakeRefused, TypeError, aiohttp.ClientError)):
                    await dialer.dial(session, url)
            with pytest.raises(HandshakeRefused, match="not the validator we dialled"):
                await b.dial(session, url, expected=key("C").public_key.to_canonical_address())
            # a captured handshake does not open a new link: the listener's nonce is fresh
            ws = await session.ws_connect(url)
            listener_nonce = await ws.receive_bytes()
            captured = b"\x00" * 32 + key("B").sign_msg_hash(keccak(b"old transcript")).to_bytes()
            await ws.send_bytes(captured)
            closing = await ws.receive()
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and len(listener_nonce) == 32
            await ws.close()
        assert set(a.gossip.peers) <= {b.address}
        await runner.cleanup()

    asyncio.run(scenario())
