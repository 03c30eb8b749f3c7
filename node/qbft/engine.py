"""QBFT inside the node: the height driver, running one ``Instance`` per height and committing decided blocks.

Each height, in order:

1. Read the validator set the registry authorised at the parent (votes change it there).
2. The round-0 proposer waits for transactions (or the block period, for an empty
   block), builds and seals a block on the writer thread and proposes it.
3. Every block that arrives in a PROPOSAL (or as a prepared block in a ROUND-CHANGE) is
   executed on the writer thread *before* the instance sees the message, so the
   instance's ``validate`` is a lookup: a block is valid when it extends our head, is
   sealed by an authorised validator, every sender is permitted, and re-executing it
   reproduces its state root, receipts and gas.
4. When the instance decides, the block is committed with its commit certificate (the
   quorum of commit seals) in the same durable write, and the head moves.

Beside the driver, each in its own module: keeping nodes level (``sync.py``: STATUS on
every commit, GET_BLOCKS from a peer ahead, each block checked before import), passing
clients' transactions to every peer (``gossip.py``), and the misbehaviour tests can switch
on (``faults.py``, a no-op otherwise).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

import rlp
from eth_keys.datatypes import PrivateKey
from eth_utils import ValidationError, keccak

from node.admission import AdmissionWorkers
from node.ledger import BuiltBlock, CommittedBlock, decode_block
from node.qbft.certificate import encode_certificate
from node.qbft.faults import FaultInjection
from node.qbft.gossip import TransactionGossip
from node.qbft.instance import (
    Action,
    Broadcast,
    Decided,
    Instance,
    PreparedCertificate,
    StartTimer,
    round_change_prepared,
)
from node.qbft.journal import HeightRecord, VoteJournal
from node.qbft.messages import Code, InvalidMessage, SignedMessage, decode, proposer
from node.qbft.network import Kind, PeerNetwork
from node.qbft.sync import BlockSync
from node.service import NodeService

log = logging.getLogger("takasago.qbft")

FUTURE_HEIGHTS = 64  # messages this far ahead are kept until we get there
FUTURE_MESSAGES_PER_HEIGHT = 2_000


class ConsensusEngine:
    def __init__(
        self,
        service: NodeService,
        key: PrivateKey | None,
        network: PeerNetwork,
        *,
        observers: set[bytes] | None = None,
        request_timeout: float = 4.0,
        block_period: float = 1.0,
        max_block_transactions: int = 2_000,
        admission: AdmissionWorkers | None = None,
        journal: VoteJournal | None = None,
        faults: FaultInjection | None = None,
    ) -> None:
        self.service = service
        self.ledger = service.ledger
        # Defence in depth: whatever path offers a block (consensus, sync, an RPC method), the
        # ledger itself now refuses to commit one without a quorum's commit certificate.
        self.ledger.require_certificates = True
        self.key = key
        self.network = network
        self.observers = observers or set()
        self.request_timeout = request_timeout
        self.block_period = block_period
        self.max_block_transactions = max_block_transactions
        self.journal = journal
        self._record = HeightRecord(0)
        self.faults = faults if faults is not None else FaultInjection()
        self.me = key.public_key.to_canonical_address() if key is not None else None
        self.sync = BlockSync(service, network)
        self.gossip = TransactionGossip(service.pool, network, admission)

        self.height = 0
        self.instance: Instance | None = None
        self.validators: list[bytes] = []
        self._moved = asyncio.Event()
        self._timers: list[asyncio.TimerHandle] = []
        self._future: dict[int, list[SignedMessage]] = defaultdict(list)
        self._checked: dict[bytes, bytes | None] = {}  # keccak(raw block) → its hash if valid here, else None
        self._checking: dict[bytes, asyncio.Future[None]] = {}
        self._executed: dict[bytes, BuiltBlock] = {}  # block hash → executed, ready to commit
        self._my_block: bytes | None = None
        self._alternative: bytes | None = None  # the second block an equivocating proposer shows
        self._building = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stats = {"decided": 0, "round_changes": 0, "invalid_proposals": 0}

        network.handlers[Kind.CONSENSUS] = self._on_consensus
        network.on_link = self._on_link
        service.add_listener(self._on_commit)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.gossip.start(self._loop)
        self._task = self._loop.create_task(self._run(), name="qbft")

    async def stop(self) -> None:
        self._stopping = self.sync.stopping = True
        self._moved.set()
        self._cancel_timers()
        for task in [self._task, self.sync.task, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._task, self.sync.task]:
            if task is not None:
                try:
                    await asyncio.wait_for(task, 30)
                except (asyncio.CancelledError, TimeoutError):
                    pass

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def sync_progress(self) -> tuple[int, int, int] | None:
        """(first block of this catch-up, head, highest a peer announced) while more than one block behind."""
        return self.sync.progress()

    def status(self) -> dict[str, Any]:
        instance = self.instance
        stats = self.stats
        return {
            "height": self.height,
            "round": instance.round if instance is not None else None,
            "validator": self.me is not None and self.me in self.validators,
            "peers": ["0x" + p.hex() for p in self.network.peers()],
            "decided": stats["decided"],
            "synced": self.sync.synced,
            "round_changes": stats["round_changes"],
            "invalid_proposals": stats["invalid_proposals"],
        }

    # -- heights ---------------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._run_height()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consensus height %d failed; starting it again", self.height)
                await asyncio.sleep(0.5)

    async def _run_height(self) -> None:
        parent = self.ledger.head
        height = parent.block_number + 1
        validators: list[bytes] = list(self.ledger.registry.validators(parent))
        allowed = self.network.node.allowed
        allowed.clear()
        allowed.update(validators)
        allowed.update(self.observers)
        for peer in self.network.peers():
            if peer not in allowed:
                self._spawn(self.network.node.drop(peer))
        self._moved = moved = asyncio.Event()
        self._cancel_timers()
        self.height, self.validators = height, validators
        self._checked, self._executed = {}, {}
        self._my_block = self._alternative = None
        for old in [h for h in self._future if h < height]:
            del self._future[old]
        if self.me is None or self.me not in validators:
            self.instance = None
            await moved.wait()
            return
        instance = Instance(
            height, validators, self._signing_key(), self._propose, self._validate, base_timeout=self.request_timeout
        )
        self.instance = instance
        self._record = HeightRecord(height)
        saved = self.journal.load(height) if self.journal is not None else None
        if saved is not None and saved.said:
            await self._resume(instance, saved)
            await moved.wait()
            self._cancel_timers()
            return
        for message in self._future.pop(height, []):
            self._spawn(self._handle(message))
        if proposer(validators, height, 0) == self.me and not self.faults.withholds_proposals:
            await self._await_content(moved)
            if moved.is_set():
                return
            await self._build()
        if self.instance is instance and not moved.is_set():
            self._apply(instance.start())
        await moved.wait()
        self._cancel_timers()

    async def _resume(self, instance: Instance, saved: HeightRecord) -> None:
        """Restarted mid-height: take up what the journal says we sent and prepared, and say it again."""
        sent = []
        for raw in saved.said:
            try:
                sent.append(decode(raw))
            except InvalidMessage:
                continue
        prepared = None
        if saved.prepared_round is not None:
            await self._check_block(saved.prepared_block)
            digest = self._validate(saved.prepared_block)
            if digest is not None:
                prepares = tuple(decode(raw) for raw in saved.prepares)
                prepared = PreparedCertificate(saved.prepared_round, digest, saved.prepared_block, prepares)
        for message in sent:
            if message.message.code == Code.PROPOSAL:
                await self._check_block(message.message.body)
                self._my_block = message.message.body
        self._record = saved
        log.info(
            "resuming height %d from the vote journal: %d messages sent, prepared in round %s",
            instance.height, len(sent), saved.prepared_round,
        )  # fmt: skip
        self._apply(instance.restore(sent, prepared))
        for message in sent:  # peers may have missed them when we stopped
            self.network.broadcast(Kind.CONSENSUS, message.encode())
            await self._handle(message)
        for message in self._future.pop(instance.height, []):
            self._spawn(self._handle(message))

    def _journal(self, message: SignedMessage) -> None:
        """Write-ahead: the message (and what we prepared) is on disk before any peer can hear it."""
        record = self._record
        record.said.append(message.encode())
        if self.journal is None:
            return
        instance = self.instance
        if instance is not None and instance.prepared is not None:
            record.note_prepared(instance.prepared)
        self.journal.write(record)

    def _signing_key(self) -> PrivateKey:
        assert self.key is not None
        return self.key

    async def _await_content(self, moved: asyncio.Event) -> None:
        """Propose as soon as transactions are ready, or an empty block after the block period."""
        deadline = time.monotonic() + self.block_period
        while not moved.is_set():
            remaining = deadline - time.monotonic()
            if await self.service.wait_for_transactions(min(0.05, remaining)) or remaining <= 0:
                return

    async def _build(self) -> None:
        parent_hash = self.ledger.head.hash
        candidates = self.service.pool.take_ready(self.ledger.head.gas_limit, self.max_block_transactions)
        self._building = True
        try:
            built: BuiltBlock = await self.service.on_writer(lambda: self.ledger.build_block(candidates))
            alternative = None
            if self.faults.equivocates:
                later = built.block.header.timestamp + 1
                alternative = await self.service.on_writer(lambda: self.ledger.build_block(candidates, later))
        finally:
            self._building = False
        if self.ledger.head.hash != parent_hash:
            return
        block = built.block
        block = self.faults.corrupt(block, tuple(self.validators), self._signing_key())
        raw = rlp.encode(block)
        self._checked[keccak(raw)] = block.hash
        self._executed[block.hash] = built
        self._my_block = raw
        if alternative is not None:
            self._alternative = rlp.encode(alternative.block)
            self._checked[keccak(self._alternative)] = alternative.block.hash
            self._executed[alternative.block.hash] = alternative

    def _propose(self, height: int, round_: int) -> bytes | None:
        return self._my_block if height == self.height else None

    def _validate(self, raw: bytes) -> bytes | None:
        return self._checked.get(keccak(raw))

    # -- consensus messages ----------------------------------------------------------------------
    async def _on_consensus(self, payload: bytes, origin: bytes) -> None:
        try:
            signed = decode(payload)
        except InvalidMessage as exc:
            log.debug("peer 0x%s sent an invalid consensus message: %s", origin.hex(), exc)
            return
        await self._handle(signed)

    async def _handle(self, signed: SignedMessage) -> None:
        height = signed.message.height
        if height > self.height:
            if height <= self.height + FUTURE_HEIGHTS and len(self._future[height]) < FUTURE_MESSAGES_PER_HEIGHT:
                self._future[height].append(signed)
            return
        instance = self.instance
        if instance is None or height < self.height:
            return
        for raw in _blocks_in(signed):
            await self._check_block(raw)
        if self.instance is instance:
            self._apply(instance.handle(signed))

    async def _check_block(self, raw: bytes) -> None:
        """Execute a proposed block once, so ``_validate`` can answer without blocking."""
        key = keccak(raw)
        if key in self._checked:
            return
        waiting = self._checking.get(key)
        if waiting is not None:
            await waiting
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._checking[key] = done
        checked = self._checked
        try:
            block = decode_block(raw, self.service.pool.get)
            if block.header.parent_hash != self.ledger.head.hash:
                checked[key] = None
                return
            built = await self.service.execute_block(block)
            if checked is self._checked:
                self._executed[built.block.hash] = built
            checked[key] = built.block.hash
        except ValidationError as exc:
            self.stats["invalid_proposals"] += 1
            log.warning("rejected a proposed block at height %d: %s", self.height, exc)
            checked[key] = None
        finally:
            self._checking.pop(key, None)
            done.set_result(None)

    def _apply(self, actions: list[Action]) -> None:
        instance = self.instance
        for action in actions:
            if isinstance(action, Broadcast):
                self._journal(action.message)
                self._broadcast(action.message)
                self.faults.after_journaled(action.message)
                if instance is not None and self.instance is instance:
                    self._apply(instance.handle(action.message))  # a validator counts its own messages
            elif isinstance(action, StartTimer):
                seconds = action.seconds + (self.block_period if action.round == 0 else 0.0)
                if action.round > 0:
                    self.stats["round_changes"] += 1
                    log.info("height %d: round %d", action.height, action.round)
                self._timers.append(self._loop.call_later(seconds, self._timeout, action.height, action.round))
            elif isinstance(action, Decided):
                self._spawn(self._finalise(action))
        self._maybe_build_for_round()

    def _broadcast(self, message: SignedMessage) -> None:
        if self.faults.split_proposal(message, self._alternative, self.network, self._signing_key()):
            return
        self.network.broadcast(Kind.CONSENSUS, message.encode())

    def _maybe_build_for_round(self) -> None:
        """Leading a later round without a block of our own (we did not lead round 0): build one."""
        instance = self.instance
        if (
            instance is None
            or instance.decided is not None
            or self._my_block is not None
            or self._building
            or self.faults.withholds_proposals
            or proposer(self.validators, self.height, instance.round) != self.me
        ):
            return

        async def build_and_lead() -> None:
            await self._build()
            if self.instance is instance:
                self._apply(instance.lead())

        self._building = True
        self._spawn(build_and_lead())

    def _timeout(self, height: int, round_: int) -> None:
        instance = self.instance
        if instance is None or instance.height != height:
            return
        if self._checking and instance.round == round_:
            # A proposal is still being executed: a large block on busy cores must not cost a
            # round change. Only liveness depends on timers, so waiting is safe.
            self._timers.append(self._loop.call_later(0.1, self._timeout, height, round_))
            return
        self._apply(instance.timeout(round_))

    def _cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers = []

    async def _finalise(self, decided: Decided) -> None:
        built = self._executed.get(decided.digest)
        if built is None:
            log.error("decided block 0x%s at height %d was never executed here", decided.digest.hex(), decided.height)
            return
        certificate = encode_certificate(decided.round, [seal for _author, seal in decided.seals])
        await self.service.commit_agreed(built, certificate)
        self.stats["decided"] += 1

    async def _on_commit(self, committed: CommittedBlock) -> None:
        self._moved.set()
        self.sync.announce(committed.header)

    # -- links -----------------------------------------------------------------------------------
    async def _on_link(self, peer: bytes) -> None:
        self.sync.greet(peer)
        if self._record.height == self.height:  # a new or restored link hears what we said at this height
            for raw in self._record.said:
                self.network.send(peer, Kind.CONSENSUS, raw)
        self.gossip.offer_pending(peer)


def _blocks_in(signed: SignedMessage) -> list[bytes]:
    """The blocks a message asks us to judge: a proposal's, and prepared blocks in round changes."""
    message = signed.message
    found: list[bytes] = []
    if message.code == Code.PROPOSAL:
        found.append(message.body)
        candidates = [m.message for m in message.justification if m.message.code == Code.ROUND_CHANGE]
    elif message.code == Code.ROUND_CHANGE:
        candidates = [message]
    else:
        return found
    for candidate in candidates:
        try:
            prepared = round_change_prepared(candidate)
        except InvalidMessage:
            continue
        if prepared is not None and prepared.block not in found:
            found.append(prepared.block)
    return found
