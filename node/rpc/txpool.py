"""``txpool_*`` (geth's): how many transactions wait, ready and queued."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from node.records import JSON, hex_int
from node.rpc import params as p

if TYPE_CHECKING:
    from node.rpc.api import EthAPI


async def status(api: EthAPI, params: Any) -> JSON:
    p.expect(params, 0, 0)
    pool = api.pool
    return {"pending": hex_int(pool.ready_count), "queued": hex_int(len(pool) - pool.ready_count)}
