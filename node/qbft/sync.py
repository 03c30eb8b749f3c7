"""Block sync: a node behind its peers fetches the blocks it missed and checks each itself.

Every commit is announced with a STATUS frame (and a link that comes up hears our head at
once); a node that sees a peer ahead asks the furthest-ahead peer for the missing blocks
(GET_BLOCKS, at most ``SYNC_BATCH`` at a time) and imports each only after checking its
commit certificate against the validator set at its parent and re-executing it. So a
syncing node, auditor or validator, trusts no peer: a peer that sends a block that fails
either check, or does not answer, is forgotten until it announces its head again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import rlp
from eth.abc import BlockHeaderAPI
from eth_utils import ValidationError

from node.ledger import decode_block
from node.qbft.certificate import certificate_signers
from node.qbft.network import Kind, PeerNetwork
from node.service import NodeService

log = logging.getLogger("takasago.qbft")

SYNC_BATCH = 64
SYNC_REPLY_BYTES = 3 * 1024 * 1024
SYNC_TIMEOUT_SECONDS = 15.0


class BlockSync:
    def __init__(self, service: NodeService, network: PeerNetwork) -> None:
        self.service = service
        self.ledger = service.ledger
        self.network = network
        self.synced = 0  # blocks imported from peers
        self.stopping = False
        self.task: asyncio.Task[None] | None = None
        self._peer_heads: dict[bytes, int] = {}
        self._block_replies: dict[bytes, asyncio.Future[list[Any]]] = {}
        self._started: int | None = None
        network.handlers[Kind.STATUS] = self._on_status
        network.handlers[Kind.GET_BLOCKS] = self._on_get_blocks
        network.handlers[Kind.BLOCKS] = self._on_blocks

    def progress(self) -> tuple[int, int, int] | None:
        """(first block of this catch-up, head, highest a peer announced) while more than one block behind."""
        head = self.ledger.head.block_number
        highest = max(self._peer_heads.values(), default=head)
        if highest <= head + 1:
            self._started = None
            return None
        if self._started is None:
            self._started = head
        return self._started, head, highest

    def announce(self, header: BlockHeaderAPI) -> None:
        """Tell every peer our new head (after each commit)."""
        self.network.broadcast(Kind.STATUS, rlp.encode([header.block_number, header.hash]))

    def greet(self, peer: bytes) -> None:
        """Tell a peer whose link just came up where our head is."""
        head = self.ledger.head
        self.network.send(peer, Kind.STATUS, rlp.encode([head.block_number, head.hash]))

    async def _on_status(self, payload: bytes, origin: bytes) -> None:
        try:
            number, _hash = rlp.decode(payload)
        except (rlp.DecodingError, ValueError):
            return
        self._peer_heads[origin] = int.from_bytes(number, "big")
        if self._peer_heads[origin] > self.ledger.head.block_number and (self.task is None or self.task.done()):
            self.task = asyncio.get_running_loop().create_task(self._sync(), name="qbft-sync")

    async def _sync(self) -> None:
        while not self.stopping:
            head = self.ledger.head.block_number
            ahead = [(n, p) for p, n in self._peer_heads.items() if n > head and p in self.network.links.peers]
            if not ahead:
                return
            best, peer = max(ahead)
            reply: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self._block_replies[peer] = reply
            self.network.send(peer, Kind.GET_BLOCKS, rlp.encode([head + 1, min(SYNC_BATCH, best - head)]))
            try:
                items = await asyncio.wait_for(reply, SYNC_TIMEOUT_SECONDS)
            except TimeoutError:
                log.warning("peer 0x%s did not answer a block request", peer.hex())
                self._peer_heads.pop(peer, None)
                continue
            finally:
                self._block_replies.pop(peer, None)
            if not items:
                self._peer_heads.pop(peer, None)
                continue
            for item in items:
                if not await self._import(item, peer):
                    self._peer_heads.pop(peer, None)
                    break

    async def _import(self, item: Any, peer: bytes) -> bool:
        try:
            raw_block, certificate = item
            block = decode_block(raw_block, self.service.pool.get)
        except (ValueError, TypeError, ValidationError) as exc:
            log.warning("peer 0x%s sent a malformed block: %s", peer.hex(), exc)
            return False
        head = self.ledger.head
        if block.number <= head.block_number:
            return True  # consensus got there first
        if block.number != head.block_number + 1:
            return False
        try:
            validators = self.ledger.registry.validators(head)
            if certificate:
                certificate_signers(block.hash, certificate, validators)
            elif len(validators) != 1:
                raise ValidationError("no commit certificate")  # one validator: its header seal is the quorum
            built = await self.service.execute_block(block)
        except ValidationError as exc:
            if self.ledger.head.block_number >= block.number:
                return True  # consensus committed it while we were checking
            log.warning("refused block #%d from peer 0x%s: %s", block.number, peer.hex(), exc)
            return False
        if await self.service.commit_agreed(built, certificate or b""):
            self.synced += 1
            return True
        return self.ledger.head.block_number >= block.number

    async def _on_get_blocks(self, payload: bytes, origin: bytes) -> None:
        try:
            first_raw, count_raw = rlp.decode(payload)
            first, count = int.from_bytes(first_raw, "big"), min(int.from_bytes(count_raw, "big"), SYNC_BATCH)
        except (rlp.DecodingError, ValueError, TypeError):
            return
        ledger = self.ledger

        def read() -> list[list[bytes]]:
            items: list[list[bytes]] = []
            size = 0
            for number in range(max(first, 1), first + count):
                header = ledger.header_by_number(number)
                if header is None:
                    break
                raw = rlp.encode(ledger.chain.get_block_by_header(header))
                certificate = ledger.certificate(number) or b""
                size += len(raw) + len(certificate)
                if items and size > SYNC_REPLY_BYTES:
                    break
                items.append([raw, certificate])
            return items

        items = await asyncio.get_running_loop().run_in_executor(self.service.readers, read)
        self.network.send(origin, Kind.BLOCKS, rlp.encode(items))

    async def _on_blocks(self, payload: bytes, origin: bytes) -> None:
        reply = self._block_replies.get(origin)
        if reply is None or reply.done():
            return
        try:
            items = rlp.decode(payload)
        except rlp.DecodingError:
            items = []
        reply.set_result(items if isinstance(items, list) else [])
