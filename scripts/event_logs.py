"""Reading every log of an event over a block range, within the node's result limits.

Nodes cap eth_getLogs (ours: 10,000 blocks and 10,000 results; geth and Besu have
similar limits), so the range is walked in chunks that shrink when a chunk has too
many results and grow back when they are small.
"""

from __future__ import annotations

from typing import Any

from web3.exceptions import Web3RPCError

MAX_CHUNK_BLOCKS = 10_000


def _too_many(exc: Web3RPCError) -> bool:
    text = str(exc).lower()
    return "more than" in text or "too many" in text or "limit" in text or "-32005" in text


def all_logs(event: Any, from_block: int, to_block: int, **filters: Any) -> list[Any]:
    """Every log of ``event`` (a web3 contract event class) in ``[from_block, to_block]``."""
    logs: list[Any] = []
    start, size = from_block, MAX_CHUNK_BLOCKS
    while start <= to_block:
        end = min(to_block, start + size - 1)
        try:
            chunk = event().get_logs(from_block=start, to_block=end, **filters)
        except Web3RPCError as exc:
            if not _too_many(exc) or size == 1:
                raise
            size = max(1, size // 4)
            continue
        logs.extend(chunk)
        start = end + 1
        if len(chunk) < 2_000:
            size = min(MAX_CHUNK_BLOCKS, size * 2)
    return logs
