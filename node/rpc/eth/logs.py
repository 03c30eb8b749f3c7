"""``eth_getLogs`` and the polling filters (``eth_newFilter`` and friends).

A query may span at most ``MAX_LOG_BLOCK_RANGE`` blocks and return at most
``MAX_LOG_RESULTS`` logs; past either the client narrows its range (-32005).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from node.errors import LIMIT_EXCEEDED, RESOURCE_NOT_FOUND, InvalidParams, RPCError
from node.records import JSON, hex_bytes
from node.rpc import params as p
from node.rpc.filters import Filter, FilterRegistry, LogCriteria, parse_criteria

if TYPE_CHECKING:
    from node.rpc.api import EthAPI

MAX_LOG_BLOCK_RANGE = 10_000
MAX_LOG_RESULTS = 10_000


def logs_for(
    api: EthAPI, criteria: LogCriteria, from_number: int | None = None, to_number: int | None = None
) -> list[JSON]:
    if criteria.block_hash is not None:
        header = api.ledger.header_by_hash(criteria.block_hash)
        if header is None:
            raise RPCError(RESOURCE_NOT_FOUND, "unknown block")
        start: int = header.block_number
        end: int = header.block_number
    else:
        start = from_number if from_number is not None else api.number_of(criteria.from_block)
        end = to_number if to_number is not None else api.number_of(criteria.to_block)
        if end - start + 1 > MAX_LOG_BLOCK_RANGE:  # judged on the request, before clamping to the head
            raise RPCError(
                LIMIT_EXCEEDED, f"block range too large: {end - start + 1} blocks, at most {MAX_LOG_BLOCK_RANGE}"
            )
        end = min(end, api.ledger.head.block_number)
        if start > end:
            if from_number is None and start > api.ledger.head.block_number:
                return []
            if start > end and to_number is None and criteria.to_block.number is not None:
                raise InvalidParams("invalid block range: fromBlock is after toBlock")
            return []
        if end - start + 1 > MAX_LOG_BLOCK_RANGE:
            raise RPCError(
                LIMIT_EXCEEDED, f"block range too large: {end - start + 1} blocks, at most {MAX_LOG_BLOCK_RANGE}"
            )
    results: list[JSON] = []
    for number in range(start, end + 1):
        for entry in api.ledger.block_logs(number):
            if criteria.matches(entry):
                results.append(entry)
                if len(results) > MAX_LOG_RESULTS:
                    raise RPCError(
                        LIMIT_EXCEEDED,
                        f"query returned more than {MAX_LOG_RESULTS} results; narrow the block range",
                    )
    return results


async def get_logs(api: EthAPI, params: Any) -> list[JSON]:
    (criteria,) = p.expect(params, 1, 1)
    return logs_for(api, parse_criteria(criteria))


# -- polling filters -----------------------------------------------------------
async def new_filter(api: EthAPI, params: Any) -> str:
    (criteria,) = p.expect(params, 1, 1)
    parsed = parse_criteria(criteria)
    return api.filters.install(Filter("logs", parsed))


async def new_block_filter(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 0)
    return api.filters.install(Filter("blocks"))


async def new_pending_transaction_filter(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 1)
    return api.filters.install(Filter("pending"))


async def get_filter_changes(api: EthAPI, params: Any) -> list[Any]:
    (filter_id,) = p.expect(params, 1, 1)
    flt = api.filters.get(filter_id)
    changes = list(flt.buffer)
    flt.buffer.clear()
    return changes


async def get_filter_logs(api: EthAPI, params: Any) -> list[JSON]:
    (filter_id,) = p.expect(params, 1, 1)
    flt = api.filters.get(filter_id)
    if flt.kind != "logs" or flt.criteria is None:
        raise InvalidParams("filter is not a log filter")
    return logs_for(api, flt.criteria)


async def uninstall_filter(api: EthAPI, params: Any) -> bool:
    (filter_id,) = p.expect(params, 1, 1)
    return api.filters.uninstall(filter_id)


def record_block(filters: FilterRegistry, committed: Any) -> None:
    """Buffers a committed block for every installed filter that wants it (block hash, transactions, logs)."""
    header = committed.header
    for flt in filters.all():
        if flt.kind == "blocks":
            flt.buffer.append(hex_bytes(header.hash))
        elif flt.kind == "pending":
            flt.buffer.extend(r["transactionHash"] for r in committed.receipts)
        elif flt.kind == "logs" and flt.criteria is not None:
            criteria = flt.criteria
            if criteria.block_hash is not None:
                continue
            if criteria.to_block.number is not None and header.block_number > criteria.to_block.number:
                continue
            if criteria.from_block.number is not None and header.block_number < criteria.from_block.number:
                continue
            flt.buffer.extend(entry for entry in committed.logs if criteria.matches(entry))
