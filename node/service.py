"""The running node: the ledger, its transaction pool, its block producer, and who to tell about new blocks.

Block production modes:

* ``instant`` — seal as soon as transactions are ready. While a block is being built
  and committed, newly arriving transactions wait for the next one, so blocks grow
  with the load (natural batching) and an idle chain produces no empty blocks.
* ``interval`` — seal every ``block_period`` seconds, with or without transactions
  (as QBFT and Clique do), so the chain's clock advances predictably.
* ``qbft`` — this node does not seal alone: the consensus engine (``node/qbft/engine.py``)
  agrees on every block with the other validators and commits it through this service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import lmdb
from eth.abc import BlockAPI
from eth_typing import Address
from eth_utils import ValidationError

from node.dev_clock import DevClock
from node.ledger import BuiltBlock, CannotSeal, CommittedBlock, Ledger, StaleExecution
from node.rpc.limits import RPCLimits, WorkLanes
from node.txpool import TransactionPool

log = logging.getLogger("takasago.node")

# One INFO line per this many blocks (each block's own line is DEBUG): a line per block
# at 1-second blocks is ~0.9 GB of log a year (issue 15, finding 27).
SUMMARY_EVERY_BLOCKS = 600
# A block listener slower than this is reported: listeners sit on the block path.
SLOW_LISTENER_SECONDS = 0.5
# eth_getBlockByNumber("pending") executes at most this many pooled transactions per request.
PENDING_BLOCK_MAX_TRANSACTIONS = 2_000

BlockListener = Callable[[CommittedBlock], Awaitable[None] | None]


@dataclass
class NodeStats:
    blocks_produced: int = 0
    transactions_included: int = 0
    transactions_dropped: int = 0
    last_block_seconds: float = 0.0
    started_at: float = field(default_factory=time.time)


@dataclass
class _Window:
    """Blocks sealed since the last summary line (see SUMMARY_EVERY_BLOCKS)."""

    blocks: int = 0
    transactions: int = 0
    seconds: float = 0.0


def pool_following(ledger: Ledger) -> TransactionPool:
    """A transaction pool that admits against the ledger's head and resets itself on each new head.

    The pool listens to the chain, as geth's does to chain-head events: the ledger publishes
    every committed block and never reaches into the pool.
    """
    pool = TransactionPool(
        ledger.genesis.chain_id,
        block_gas_limit=lambda: ledger.head.gas_limit,
        state_nonce=lambda a: ledger.head_state().get_nonce(a),
        state_balance=lambda a: ledger.head_state().get_balance(a),
        is_allowed=lambda a: ledger.registry.is_allowed(ledger.head, a),
    )
    ledger.add_head_listener(pool.on_new_head)
    return pool


class NodeService:
    def __init__(
        self,
        ledger: Ledger,
        pool: TransactionPool,
        mode: str = "instant",
        block_period: float | None = None,
        dev_clock: DevClock | None = None,
        read_limits: RPCLimits | None = None,
        summary_every: int = SUMMARY_EVERY_BLOCKS,
    ) -> None:
        if mode not in ("instant", "interval", "qbft"):
            raise ValueError(f"unknown block production mode {mode!r} (instant, interval or qbft)")
        self.ledger = ledger
        self.pool = pool
        self.mode = mode
        self.block_period = float(block_period if block_period is not None else ledger.genesis.block_period)
        self.stats = NodeStats()
        # Development chains only: lets tests stamp blocks at chosen times (evm_* methods).
        self.dev_clock = dev_clock
        self._listeners: list[BlockListener] = []
        self._ready = asyncio.Event()
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # One writer thread: building, importing and committing blocks never overlap.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="block-writer")
        # Reads that execute code (eth_call, estimateGas) must not stall the RPC loop; they
        # run in the caller's lane (anonymous clients, or the trusted services), bounded.
        self.readers = WorkLanes(read_limits)
        self.summary_every = max(1, summary_every)
        self._window = _Window()
        self.drop_reasons: dict[bytes, str] = {}

    @property
    def can_seal(self) -> bool:
        """True when this node seals blocks on its own (not when it takes part in QBFT)."""
        return self.ledger.validator_key is not None and self.mode != "qbft"

    async def wait_for_transactions(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a ready transaction in the pool; True if there is one."""
        if self.pool.ready_count:
            return True
        self._ready.clear()
        try:
            await asyncio.wait_for(self._ready.wait(), max(0.0, seconds))
        except TimeoutError:
            pass
        return self.pool.ready_count > 0

    async def on_writer(self, work: Callable[[], Any]) -> Any:
        """Run ``work`` on the block-writer thread (everything that executes or writes blocks does)."""
        return await asyncio.get_running_loop().run_in_executor(self.writer, work)

    async def commit_block(self, built: BuiltBlock, certificate: bytes | None = None) -> CommittedBlock:
        """Commit a block agreed elsewhere (consensus or sync) and tell the listeners."""
        committed: CommittedBlock = await self.on_writer(lambda: self.ledger.commit(built, certificate))
        await self._announce(committed)
        return committed

    async def execute_block(self, block: Any) -> BuiltBlock:
        """Validate and execute a block made elsewhere on the writer thread (not yet committed)."""
        built: BuiltBlock = await self.on_writer(lambda: self.ledger.import_block(block, self.pool.get))
        return built

    async def commit_agreed(self, built: BuiltBlock, certificate: bytes) -> bool:
        """Commit a block consensus decided or sync fetched; True once it (or a later block) is the head.

        Consensus and sync may race to commit the same block: whichever loses finds it
        already there. A block whose executed state the store discarded meanwhile (another
        block's failed write) is executed again and retried.
        """
        block = built.block
        for _attempt in range(3):
            if self.ledger.head.block_number >= block.number:
                return self.ledger.head.block_number > block.number or self.ledger.head.hash == block.hash
            try:
                await self.commit_block(built, certificate)
                return True
            except ValidationError as exc:
                if self.ledger.head.block_number >= block.number:
                    continue  # sync and consensus raced to commit it: the check above answers
                if not isinstance(exc, StaleExecution):
                    log.warning("could not commit block #%d: %s", block.number, exc)
                    return False
                built = await self.execute_block(block)
        return False

    def add_listener(self, listener: BlockListener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        loop = asyncio.get_running_loop()

        def wake() -> None:
            # Transactions arrive on the event loop's own thread (RPC handlers), so the
            # event is set directly; the thread-safe path costs a syscall per transaction.
            if self._ready.is_set():
                return
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                self._ready.set()
            else:
                loop.call_soon_threadsafe(self._ready.set)

        self.pool.on_ready = wake
        if self.can_seal:
            self._task = asyncio.create_task(self._produce_forever(), name="block-producer")
            if self.pool.ready_count:
                self._ready.set()

    async def stop(self) -> None:
        self._stopping = True
        self._stop_requested.set()
        self._ready.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=30)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        self.writer.shutdown(wait=True)
        self.readers.shutdown(wait=False, cancel_futures=True)

    async def _produce_forever(self) -> None:
        next_due = time.monotonic() + self.block_period
        failures = 0
        while not self._stopping:
            if self.mode == "instant":
                await self._ready.wait()
                self._ready.clear()
                if self._stopping:
                    break
            else:
                try:
                    await asyncio.wait_for(self._stop_requested.wait(), max(0.0, next_due - time.monotonic()))
                    break
                except TimeoutError:
                    pass
                next_due = max(next_due + self.block_period, time.monotonic())
            try:
                await self.produce_block(allow_empty=self.mode == "interval")
                failures = 0
            except CannotSeal as exc:
                # A configuration problem, not the transactions' fault: keep them.
                log.error("cannot seal blocks: %s", exc)
                await asyncio.sleep(5)
            except (lmdb.Error, OSError) as exc:
                # Storage trouble (disk full, I/O error): nothing was committed; retry.
                log.error("could not write the block, retrying: %s", exc)
                await asyncio.sleep(1)
            except Exception:
                # Building failed for a reason the transactions may cause; after a
                # retry, drop them so one bad transaction cannot stop the chain.
                failures += 1
                log.exception("block production failed (attempt %d)", failures)
                if failures >= 2:
                    self._drop_unproducible()
                    failures = 0
                await asyncio.sleep(0.1)
            if self.mode == "instant" and self.pool.ready_count:
                self._ready.set()

    async def produce_block(self, allow_empty: bool = False) -> CommittedBlock | None:
        loop = asyncio.get_running_loop()
        candidates = self.pool.take_ready(self.ledger.head.gas_limit)
        if not candidates and not allow_empty:
            return None
        started = time.perf_counter()
        committed = await loop.run_in_executor(self.writer, self._build_and_commit, candidates)
        self.stats.last_block_seconds = time.perf_counter() - started
        log.debug(
            "sealed block #%d: %d transactions, %d dropped, %.0f ms",
            committed.header.block_number, len(committed.transactions), len(committed.dropped),
            self.stats.last_block_seconds * 1000,
        )  # fmt: skip
        self._summarise(committed)
        await self._announce(committed)
        return committed

    def _summarise(self, committed: CommittedBlock) -> None:
        """Every ``summary_every`` sealed blocks, one INFO line for all of them."""
        window = self._window
        window.blocks += 1
        window.transactions += len(committed.transactions)
        window.seconds += self.stats.last_block_seconds
        if window.blocks < self.summary_every:
            return
        log.info(
            "sealed blocks #%d to #%d: %d transactions, %.0f ms per block on average",
            committed.header.block_number - window.blocks + 1, committed.header.block_number, window.transactions,
            window.seconds * 1000 / window.blocks,
        )  # fmt: skip
        self._window = _Window()

    def _drop_unproducible(self) -> None:
        pool = self.pool
        candidates = pool.take_ready(self.ledger.head.gas_limit)
        for pending in candidates:
            self.drop_reasons[pending.hash] = "internal error while building the block"
        pool.remove_included([], candidates)

    def _build_and_commit(self, candidates: list[Any]) -> CommittedBlock:
        timestamp = self.dev_clock.take() if self.dev_clock is not None else None
        built: BuiltBlock = self.ledger.build_block(candidates, timestamp)
        return self.ledger.commit(built)

    def pending_block(self) -> tuple[BlockAPI, list[Address]]:
        """The block the pool's ready transactions would make on the head now (geth's ``pending``)."""
        candidates = self.pool.take_ready(self.ledger.head.gas_limit, PENDING_BLOCK_MAX_TRANSACTIONS)
        return self.ledger.pending_block(candidates)

    async def import_block(self, block: Any) -> CommittedBlock:
        loop = asyncio.get_running_loop()

        def work() -> CommittedBlock:
            return self.ledger.commit(self.ledger.import_block(block, self.pool.get))

        committed = await loop.run_in_executor(self.writer, work)
        await self._announce(committed)
        return committed

    async def _announce(self, committed: CommittedBlock) -> None:
        self.stats.blocks_produced += 1
        self.stats.transactions_included += len(committed.included) or len(committed.transactions)
        self.stats.transactions_dropped += len(committed.dropped)
        for pending, reason in committed.dropped:
            log.warning("dropped transaction 0x%s: %s", pending.hash.hex(), reason)
            self.drop_reasons[pending.hash] = reason
        if len(self.drop_reasons) > 10_000:
            self.drop_reasons.clear()
        for listener in list(self._listeners):
            started = time.monotonic()
            try:
                result = listener(committed)
                if result is not None:
                    await result
            except Exception:
                log.exception("block listener failed")
            spent = time.monotonic() - started
            if spent > SLOW_LISTENER_SECONDS:
                log.warning("block listener %s took %.1f s (it delays the next block)", listener, spent)
