"""A fault-injecting TCP proxy for the links between validators: delays, cut links, partitions.

Every ordered pair of validators (dialer, listener) gets its own proxy port, and the dialer
is configured to reach the listener through it, so a fault can target one node's links in
both directions. The proxy forwards bytes in order but holds each chunk for a
random delay, now and then cuts a link outright (whatever was in flight is lost, as when a
route fails), and can isolate one validator completely (a partition) until healed. It runs
its own event loop in a thread so tests can drive it from synchronous code.
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass, field


@dataclass
class Faults:
    max_delay: float = 0.0  # seconds each chunk may be held
    cut_probability: float = 0.0  # chance, per chunk, that the link is cut instead
    isolated: set[str] = field(default_factory=set)  # nodes no traffic reaches or leaves


@dataclass
class Counters:
    chunks: int = 0
    delayed: int = 0
    cuts: int = 0
    refused: int = 0


class FaultProxy:
    def __init__(self, seed: int = 0) -> None:
        self.faults = Faults()
        self.counters = Counters()
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._links: dict[str, set[asyncio.StreamWriter]] = {}
        self._thread.start()

    def add(self, listen_port: int, upstream_port: int, nodes: tuple[str, str]) -> None:
        """Forward 127.0.0.1:listen_port to 127.0.0.1:upstream_port (the link between ``nodes``) through the faults."""

        async def start() -> None:
            server = await asyncio.start_server(
                lambda r, w: self._accept(r, w, upstream_port, nodes), "127.0.0.1", listen_port, reuse_address=True
            )
            self._servers.append(server)

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)

    def isolate(self, node: str) -> None:
        """Cut every link to and from ``node`` and refuse new ones until ``heal``."""
        self.faults.isolated.add(node)
        self._loop.call_soon_threadsafe(self._cut_all, node)

    def heal(self) -> None:
        self.faults.isolated.clear()

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            for node in list(self._links):
                self._cut_all(node)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # -- internals ----------------------------------------------------------------------------------
    def _cut_all(self, node: str) -> None:
        for writer in list(self._links.get(node, ())):
            writer.transport.abort()

    def _blocked(self, nodes: tuple[str, str]) -> bool:
        return any(n in self.faults.isolated for n in nodes)

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream_port: int, nodes: tuple[str, str]
    ) -> None:
        if self._blocked(nodes):
            self.counters.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            writer.transport.abort()
            return
        links = [self._links.setdefault(node, set()) for node in nodes]
        for link in links:
            link.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while chunk := await src.read(65536):
                    self.counters.chunks += 1
                    if self._blocked(nodes) or self._rng.random() < self.faults.cut_probability:
                        self.counters.cuts += 1
                        break
                    if self.faults.max_delay:
                        self.counters.delayed += 1
                        await asyncio.sleep(self._rng.uniform(0, self.faults.max_delay))
                    dst.write(chunk)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.transport.abort()
                up_writer.transport.abort()
                for link in links:
                    link.discard(writer)
                    link.discard(up_writer)

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
