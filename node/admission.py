"""Admission checks in a worker process, off the block builder's core.

Signature recovery and py-evm's transaction validation cost about half a
millisecond per transaction; in the node process they would compete for the GIL
with block execution. A batch of raw transactions (one JSON-RPC batch) goes to the
worker in one call; the node process then only decodes each transaction and runs
the checks that need chain state (allowlist, nonce, funds).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from eth.abc import SignedTransactionAPI
from eth_typing import Address, Hash32

from node.errors import TransactionRejected
from node.txpool import CheckedTransaction, stateless_checks

log = logging.getLogger("takasago.admission")

# (sender, hash, decoded transaction) on success, (None, message, code) on refusal. The decoded
# transaction travels pickled (its cached hash included): unpickling costs the node process
# about a quarter of decoding the raw bytes again, on the thread that serves RPC.
Outcome = tuple[bytes, bytes, SignedTransactionAPI] | tuple[None, str, int]

_chain_id = 0
_gas_limit = 0


def _init_worker(chain_id: int, gas_limit: int, node_pid: int | None = None) -> None:
    from node import evm_patches

    evm_patches.install()  # the node's checked py-evm changes and keccak backend, in this spawned worker too

    global _chain_id, _gas_limit
    _chain_id, _gas_limit = chain_id, gas_limit
    if node_pid is not None:  # the node's pid, not getppid(): the node may already be gone by now
        threading.Thread(target=_exit_with_parent, args=(node_pid,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A node killed with SIGKILL cannot stop its worker: the worker notices it was orphaned and exits."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _check_batch(raws: list[bytes]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for raw in raws:
        try:
            checked = stateless_checks(raw, _chain_id, _gas_limit)
            assert checked.tx is not None
            outcomes.append((bytes(checked.sender), bytes(checked.hash), checked.tx))
        except TransactionRejected as exc:
            outcomes.append((None, exc.message, exc.code))
    return outcomes


class AdmissionWorkers:
    """A small process pool for :func:`stateless_checks`; falls back to in-process."""

    def __init__(self, chain_id: int, gas_limit: int, processes: int = 1) -> None:
        self.chain_id = chain_id
        self.gas_limit = gas_limit
        context = multiprocessing.get_context("spawn")  # never fork a threaded process
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=context,
            initializer=_init_worker,
            initargs=(chain_id, gas_limit, os.getpid()),
        )

    async def check(self, raws: list[bytes]) -> list[CheckedTransaction | TransactionRejected]:
        outcomes: list[Outcome]
        if self._pool is not None:
            try:
                outcomes = await asyncio.get_running_loop().run_in_executor(self._pool, _check_batch, raws)
            except BrokenProcessPool:
                log.error("admission worker died; checking transactions in-process from now on")
                self._pool = None
        if self._pool is None:
            _init_worker(self.chain_id, self.gas_limit)
            outcomes = _check_batch(raws)
        results: list[CheckedTransaction | TransactionRejected] = []
        for outcome in outcomes:
            if outcome[0] is None:
                results.append(TransactionRejected(outcome[1], outcome[2]))
            else:
                results.append(CheckedTransaction(Address(outcome[0]), Hash32(outcome[1]), outcome[2]))
        return results

    def warm_up(self) -> None:
        """Start the worker now rather than on the first transaction."""
        if self._pool is not None:
            self._pool.submit(_check_batch, []).result(timeout=120)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
