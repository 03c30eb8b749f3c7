"""What one RPC client may take from the node, and where its work runs.

The node serves wallets, tills, the indexer and anyone else on the same event loop and
the same few threads. Three things keep one client from starving the others (issue 15,
findings 7, 8 and 24):

* **Lanes.** Code execution (``eth_call``, ``eth_estimateGas``) and heavy reads (fee
  history, full blocks, receipts, logs) never run on the event loop: they run on small
  thread pools with a bounded queue, and a request that finds its queue full is refused at
  once with -32005 "server busy" rather than waiting behind others. Trusted local services
  (the wallet, the indexer, the oracle) present a service token and get a lane of their
  own, so a flood of anonymous ``eth_call`` loops cannot delay their ``eth_estimateGas``.
* **Batch budgets.** A batch may hold at most so many execution requests and so many units
  of heavy work, and its off-loop work stops after a wall-clock budget; the rest of the
  batch is answered with -32005 (clients such as the indexer split and retry).
* **Per-client caps.** WebSockets and filters are counted per client (its remote address,
  or its service token), so one client cannot take them all.

A trusted service is identified by a secret it sends in the ``X-Takasago-Service-Token``
header, configured in node.json (``rpc.serviceTokenFile``, a 0600 file), never by its IP
address: on a shared host every local user, and every web page in a local browser,
arrives from 127.0.0.1 too.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from node.errors import LIMIT_EXCEEDED, RPCError

log = logging.getLogger("takasago.rpc")

SERVICE_TOKEN_HEADER = "X-Takasago-Service-Token"

# Methods that run EVM code: each is bounded by the gas cap and calls.py's time budget.
EXECUTION_METHODS = frozenset({"eth_call", "eth_estimateGas", "eth_createAccessList", "eth_simulateV1"})

# Read methods whose work grows with their parameters or the chain: run off the event loop.
# The weight is the work units one call costs against a batch's budget (fee history: one
# unit per block asked for; logs: a range of up to 10,000 blocks).
HEAVY_METHODS: dict[str, int] = {
    "eth_feeHistory": 1,  # times blockCount, see heavy_weight
    "eth_getBlockByNumber": 10,
    "eth_getBlockByHash": 10,
    "eth_getBlockReceipts": 10,
    "eth_getLogs": 100,
    "eth_getFilterLogs": 100,
    "debug_getRawBlock": 10,
    "debug_getRawTransaction": 10,
    "eth_getRawTransactionByHash": 10,
}


def heavy_weight(method: str, params: Any) -> int:
    """Work units of one heavy call (0 if the method is not heavy)."""
    weight = HEAVY_METHODS.get(method, 0)
    if method == "eth_feeHistory" and isinstance(params, list) and params:
        count = params[0]
        try:
            blocks = int(count, 16) if isinstance(count, str) else int(count)
        except (TypeError, ValueError):
            blocks = 1
        weight = max(1, min(blocks, 1_024))
    return weight


@dataclass(frozen=True)
class Caller:
    """Who sent the request being served: the key its per-client caps are counted under."""

    key: str  # "addr:<remote address>" or "service"
    trusted: bool


# The caller of the request being handled (set by the server for each request's task).
CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("rpc_caller", default=None)


@dataclass(frozen=True)
class RPCLimits:
    """Settings (node.json ``rpc``; defaults in docs/genesis.md)."""

    max_websockets: int = 512
    max_websockets_per_client: int = 32
    max_subscriptions_per_connection: int = 128
    max_filters: int = 1_000
    max_filters_per_client: int = 100
    ws_queue_messages: int = 1_024
    ws_queue_bytes: int = 4 * 1024 * 1024
    ws_send_timeout: float = 5.0
    execution_threads: int = 2
    execution_queue: int = 16  # a burst of the wallet's gas checks fits; loops past it are refused
    heavy_threads: int = 2
    heavy_queue: int = 32
    service_threads: int = 2
    service_queue: int = 64
    max_execution_per_batch: int = 256  # `takasago audit verify` sends 200 eth_calls a batch
    max_heavy_units_per_batch: int = 10_000
    batch_seconds: float = 10.0
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    service_token: str | None = None

    def is_service(self, presented: str | None) -> bool:
        """True if ``presented`` is the configured service token (compared in constant time)."""
        if not self.service_token or not presented:
            return False
        return hmac.compare_digest(presented.strip().encode(), self.service_token.encode())


class Lane:
    """A thread pool with a bounded number of waiting tasks: past it, refuse at once."""

    def __init__(self, name: str, kind: str, threads: int, queue: int | None) -> None:
        self.name = name
        self.kind = kind
        self.threads = threads
        self.limit = None if queue is None else threads + queue
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._in_flight = 0
        self._lock = threading.Lock()
        self.refused = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, bounded: bool = True) -> Future[Any]:
        with self._lock:
            if bounded and self.limit is not None and self._in_flight >= self.limit:
                self.refused += 1
                raise RPCError(
                    LIMIT_EXCEEDED,
                    f"server busy: {self._in_flight} {self.kind} requests in progress (limit {self.limit}); "
                    "retry later",
                )
            self._in_flight += 1
        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return future

    def _release(self, _future: Future[Any] | None) -> None:
        with self._lock:
            self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


class WorkLanes(Executor):
    """The node's read pools, chosen by who is asking (``CALLER``) and what (execution or heavy).

    Installed as ``NodeService.readers``, so ``run_in_executor(service.readers, ...)`` in the
    method handlers lands in the caller's lane without the handlers knowing about lanes.
    Work submitted outside any RPC request (consensus sync replies) runs on the service
    lane and is never refused.
    """

    def __init__(self, limits: RPCLimits | None = None) -> None:
        limits = limits or RPCLimits()
        self.execution = Lane("rpc-exec", "execution", limits.execution_threads, limits.execution_queue)
        self.heavy = Lane("rpc-heavy", "heavy read", limits.heavy_threads, limits.heavy_queue)
        self.service = Lane("rpc-service", "service", limits.service_threads, limits.service_queue)
        self._loops = threading.local()

    def lane_for(self, caller: Caller | None, heavy: bool = False) -> Lane:
        if caller is None or caller.trusted:
            return self.service
        return self.heavy if heavy else self.execution

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        caller = CALLER.get()
        lane = self.lane_for(caller)
        work = (lambda: fn(*args, **kwargs)) if kwargs else fn
        return lane.submit(work, *(() if kwargs else args), bounded=caller is not None)

    async def run_heavy(self, factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """Run a read handler's coroutine on a pool thread (in its own small event loop there).

        The handlers are ``async def`` but do blocking reads (LMDB, decoding); on the
        node's loop a big batch of them would delay every other client and the consensus
        timers. Each pool thread keeps one loop, reused across calls.
        """
        lane = self.lane_for(CALLER.get(), heavy=True)
        # The caller's context goes along, so work the handler hands on (``_read``) stays in its lane.
        context = contextvars.copy_context()
        future = lane.submit(context.run, self._drive, factory)
        return await asyncio.wrap_future(future)

    def _drive(self, factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        loop = getattr(self._loops, "loop", None)
        if loop is None:
            loop = asyncio.new_event_loop()
            self._loops.loop = loop
        return loop.run_until_complete(factory())

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for lane in (self.execution, self.heavy, self.service):
            lane.shutdown(wait=wait, cancel_futures=cancel_futures)


class BatchBudget:
    """What one batch may still spend: execution requests, heavy-work units and time."""

    def __init__(self, limits: RPCLimits) -> None:
        self.limits = limits
        self.executions = 0
        self.units = 0
        self.deadline = time.monotonic() + limits.batch_seconds

    def charge(self, method: str, params: Any) -> None:
        """Count one request against the batch; raises -32005 once the batch has spent its budget."""
        execution = method in EXECUTION_METHODS
        units = heavy_weight(method, params)
        if not execution and not units:
            return
        if time.monotonic() > self.deadline:
            raise RPCError(
                LIMIT_EXCEEDED,
                f"batch time limit reached ({self.limits.batch_seconds:g} s of work); send the rest in another batch",
            )
        if execution:
            if self.executions >= self.limits.max_execution_per_batch:
                raise RPCError(
                    LIMIT_EXCEEDED,
                    f"too many execution requests in one batch (limit {self.limits.max_execution_per_batch})",
                )
            self.executions += 1
        if units:
            if self.units + units > self.limits.max_heavy_units_per_batch and self.units > 0:
                raise RPCError(
                    LIMIT_EXCEEDED,
                    f"batch work limit reached ({self.limits.max_heavy_units_per_batch} units); "
                    "send the rest in another batch",
                )
            self.units += units


class ClientCounter:
    """Counts a resource (WebSockets, filters) per client, under a global and a per-client cap."""

    def __init__(self, what: str, total: int, per_client: int) -> None:
        self.what = what
        self.total = total
        self.per_client = per_client
        self.counts: Counter[str] = Counter()

    def acquire(self, caller: Caller | None) -> str | None:
        """Takes one unit for ``caller``; returns the key to release, or raises -32005."""
        used = sum(self.counts.values())
        if used >= self.total:
            raise RPCError(LIMIT_EXCEEDED, f"too many {self.what} (limit {self.total})")
        if caller is None:
            self.counts["-"] += 1
            return "-"
        if not caller.trusted and self.counts[caller.key] >= self.per_client:
            raise RPCError(LIMIT_EXCEEDED, f"too many {self.what} for this client (limit {self.per_client})")
        self.counts[caller.key] += 1
        return caller.key

    def release(self, key: str | None) -> None:
        if key is None:
            return
        self.counts[key] -= 1
        if self.counts[key] <= 0:
            del self.counts[key]
