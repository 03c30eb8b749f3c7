"""Transaction gossip: a transaction a client gives any node reaches every validator.

Whoever proposes next must hold the transaction, whichever node the client happened to
ask. Transactions admitted from clients are sent on to every peer in small batches (a
few milliseconds' worth, so a burst costs one frame, not one each); those arriving from
peers are checked off the block-executing core (``AdmissionWorkers``) and pooled without
being sent on again (the validators are fully meshed). A link that comes up is offered
the pool's pending transactions, so those re-admitted from the pool journal after a
restart, or gossiped while the link was down, still reach the next proposer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import rlp
from eth_utils import keccak

from node.admission import AdmissionWorkers
from node.qbft.network import Kind, PeerNetwork
from node.txpool import TransactionPool, TransactionRejected

TX_GOSSIP_DELAY_SECONDS = 0.005
LINK_GOSSIP_MAX = 8_192  # pending transactions offered to a peer when its link comes up
LINK_GOSSIP_CHUNK_BYTES = 1024 * 1024  # well under the 4 MiB frame limit


class TransactionGossip:
    def __init__(self, pool: TransactionPool, network: PeerNetwork, admission: AdmissionWorkers | None) -> None:
        self.pool = pool
        self.network = network
        self.admission = admission
        self._out: list[bytes] = []
        self._flush_pending = False
        network.handlers[Kind.TRANSACTIONS] = self._on_transactions
        pool.on_admitted = self._queue

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def _queue(self, raw: bytes) -> None:
        """Called for every transaction a client gave this node; sent on in small batches."""
        self._out.append(raw)
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon_threadsafe(self._loop.call_later, TX_GOSSIP_DELAY_SECONDS, self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        batch, self._out = self._out, []
        if batch:
            self.network.broadcast(Kind.TRANSACTIONS, rlp.encode(batch))

    async def _on_transactions(self, payload: bytes, origin: bytes) -> None:
        try:
            raws = rlp.decode(payload)
        except rlp.DecodingError:
            return
        if not isinstance(raws, list):
            return
        pool = self.pool
        fresh = [raw for raw in raws if isinstance(raw, bytes) and pool.get(keccak(raw)) is None]
        if not fresh:
            return
        # Signatures are checked in the admission worker process, off the core that executes blocks.
        checks: list[Any] = await self.admission.check(fresh) if self.admission is not None else [None] * len(fresh)
        for raw, checked in zip(fresh, checks, strict=True):
            if isinstance(checked, TransactionRejected):
                continue
            try:
                pool.add(raw, checked, from_peer=True)
            except TransactionRejected:
                pass  # already known, or not valid here: the sender's node told its client

    def offer_pending(self, peer: bytes) -> None:
        """Send a peer whose link just came up the transactions pending here."""
        chunk: list[bytes] = []
        size = 0
        for pending in self.pool.pending_transactions()[:LINK_GOSSIP_MAX]:
            chunk.append(pending.raw)
            size += len(pending.raw)
            if size >= LINK_GOSSIP_CHUNK_BYTES:
                self.network.send(peer, Kind.TRANSACTIONS, rlp.encode(chunk))
                chunk, size = [], 0
        if chunk:
            self.network.send(peer, Kind.TRANSACTIONS, rlp.encode(chunk))
