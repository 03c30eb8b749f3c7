"""What every JSON-RPC handler shares: the node, its pool journal and filters, and block lookup.

The handlers themselves are plain ``async`` functions, one module per namespace (``eth/``,
``net.py``, ``debug.py``, ``txpool.py``, ``qbft.py``, ``takasago.py``, ``dev.py``), listed
by name in ``method_table.py``. They receive this object and the request's ``params``.

Conventions follow geth: quantities as 0x hex, unknown blocks/transactions as ``null``,
reverts as error code 3 with the revert data, admission failures as -32000 (-32003 when the
allowlist refuses the sender).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from eth.abc import BlockHeaderAPI

from node.admission import AdmissionWorkers
from node.errors import METHOD_NOT_FOUND, RESOURCE_NOT_FOUND, RPCError
from node.pool_journal import TransactionJournal
from node.rpc import params as p
from node.rpc.eth.logs import record_block
from node.rpc.filters import FilterRegistry
from node.rpc.method_table import method_table
from node.service import NodeService

if TYPE_CHECKING:
    from node.qbft.engine import ConsensusEngine

PENDING_BLOCK_CACHE_SECONDS = 1.0

BoundHandler = Callable[[Any], Awaitable[Any]]


class EthAPI:
    """The state the handlers share, and dispatch by method name through the method table."""

    def __init__(
        self,
        service: NodeService,
        rpc_gas_cap: int | None = None,
        admission: AdmissionWorkers | None = None,
        consensus: ConsensusEngine | None = None,
    ) -> None:
        self.service = service
        self.consensus = consensus
        self.admission = admission
        self.ledger = service.ledger
        # The pool comes with the service that composed it (node/service.py: pool_following); the
        # ledger does not own it. Handlers read and admit through ``api.pool``.
        self.pool = service.pool
        # Acknowledged transactions survive a crash: replayed into the pool now, before any client is served.
        self.journal = TransactionJournal(self.pool, self.ledger.data_dir)
        self.filters = FilterRegistry()
        self._pending_cache: tuple[tuple[bytes, int, int], float, tuple[Any, list[Any]]] | None = None
        self.gas_cap = rpc_gas_cap or max(self.ledger.head.gas_limit, 50_000_000)
        # The evm_* methods exist only on development chains (a dev clock, node init --dev).
        self.methods: dict[str, BoundHandler] = {
            name: functools.partial(handler, self)
            for name, handler in method_table(dev_chain=service.dev_clock is not None).items()
        }
        service.add_listener(self._on_block)

    async def dispatch(self, method: Any, params: Any) -> Any:
        if not isinstance(method, str):
            raise RPCError(-32600, "method must be a string")
        handler = self.methods.get(method)
        if handler is None:
            raise RPCError(METHOD_NOT_FOUND, f"the method {method[:100]} does not exist/is not available")
        return await handler(params)

    async def _on_block(self, committed: Any) -> None:
        self.journal.on_block(committed)
        record_block(self.filters, committed)

    # -- block lookup shared by the namespaces ----------------------------------
    def header(self, ref: p.BlockRef) -> BlockHeaderAPI | None:
        """The header a block parameter names, or None; ``pending`` and the other tags read the head."""
        ledger = self.ledger
        if ref.hash is not None:
            return ledger.header_by_hash(ref.hash)
        if ref.tag is not None:
            return ledger.header_by_number(0) if ref.tag == "earliest" else ledger.head
        assert ref.number is not None
        return ledger.header_by_number(ref.number)

    def require_header(self, ref: p.BlockRef) -> BlockHeaderAPI:
        header = self.header(ref)
        if header is None:
            raise RPCError(RESOURCE_NOT_FOUND, "header not found")
        return header

    def number_of(self, ref: p.BlockRef) -> int:
        if ref.tag is not None:
            return 0 if ref.tag == "earliest" else self.ledger.head.block_number
        if ref.number is not None:
            return ref.number
        return self.require_header(ref).block_number

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs ``fn`` off the event loop, in the caller's lane (``limits.WorkLanes``)."""
        return await asyncio.get_running_loop().run_in_executor(self.service.readers, fn, *args)

    async def pending(self) -> tuple[Any, list[Any]]:
        """The pending block and its senders, built at most once a second per head and pool size.

        Executing the pool is real work: many clients polling ``pending`` share one build.
        """
        ledger = self.ledger
        key = (ledger.head.hash, len(self.pool), self.pool.ready_count)
        cached = self._pending_cache
        if cached is not None and cached[0] == key and time.monotonic() - cached[1] < PENDING_BLOCK_CACHE_SECONDS:
            return cached[2]
        built: tuple[Any, list[Any]] = await self.read(self.service.pending_block)
        self._pending_cache = (key, time.monotonic(), built)
        return built
