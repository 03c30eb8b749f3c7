"""``eth_*`` about the chain and this node: identity, sync, mining, head and fees.

Gas is free on this chain: every price and fee is zero (the blob base fee is geth's minimum, 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eth_utils import to_checksum_address

from node.errors import InvalidParams
from node.records import JSON, hex_int
from node.rpc import params as p

if TYPE_CHECKING:
    from node.rpc.api import EthAPI

MAX_FEE_HISTORY_BLOCKS = 1_024


async def chain_id(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 0)
    return hex_int(api.ledger.genesis.chain_id)


async def syncing(api: EthAPI, params: Any) -> bool | JSON:
    """False when level with its peers; while catching up, how far (geth's shape)."""
    p.expect(params, 0, 0)
    progress = api.consensus.sync_progress() if api.consensus is not None else None
    if progress is None:
        return False
    starting, current, highest = progress
    return {"startingBlock": hex_int(starting), "currentBlock": hex_int(current), "highestBlock": hex_int(highest)}


async def accounts(api: EthAPI, params: Any) -> list[str]:
    p.expect(params, 0, 0)
    return []  # the node holds no user keys; clients sign


async def mining(api: EthAPI, params: Any) -> bool:
    p.expect(params, 0, 0)
    return api.service.can_seal


async def hashrate(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 0)
    return "0x0"


async def coinbase(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 0)
    key = api.ledger.validator_key
    return key.public_key.to_checksum_address() if key else to_checksum_address(b"\0" * 20)


async def block_number(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 0)
    return hex_int(api.ledger.head.block_number)


# -- fees (gas is free: everything is zero) ------------------------------------
async def gas_price(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 0)
    return "0x0"


async def max_priority_fee_per_gas(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 0)
    return "0x0"


async def blob_base_fee(api: EthAPI, params: Any) -> str:
    p.expect(params, 0, 0)
    return "0x1"


async def fee_history(api: EthAPI, params: Any) -> JSON:
    count_raw, newest_raw, percentiles = p.expect(params, 2, 3)
    count = p.quantity(count_raw, "blockCount", 2**63 - 1)
    if count > MAX_FEE_HISTORY_BLOCKS:
        raise InvalidParams(f"blockCount: at most {MAX_FEE_HISTORY_BLOCKS}")
    newest = api.require_header(p.block_ref(newest_raw, "newestBlock"))
    if percentiles is not None:
        if not isinstance(percentiles, list) or len(percentiles) > 100:
            raise InvalidParams("rewardPercentiles: expected an array of at most 100 numbers")
        previous = -1.0
        for value in percentiles:
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
                raise InvalidParams("rewardPercentiles: each must be a number between 0 and 100")
            if value < previous:
                raise InvalidParams("rewardPercentiles: must be in ascending order")
            previous = value
    count = min(count, newest.block_number + 1)
    oldest = newest.block_number - count + 1
    headers = [api.ledger.header_by_number(n) for n in range(oldest, newest.block_number + 1)]
    result: JSON = {
        "oldestBlock": hex_int(oldest),
        "baseFeePerGas": ["0x0"] * (count + 1),
        "gasUsedRatio": [h.gas_used / h.gas_limit if h else 0.0 for h in headers],
        "baseFeePerBlobGas": ["0x1"] * (count + 1),
        "blobGasUsedRatio": [0.0] * count,
    }
    if percentiles is not None:
        result["reward"] = [["0x0"] * len(percentiles) for _ in range(count)]
    return result
