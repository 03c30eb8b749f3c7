"""``evm_*`` (anvil's and hardhat's names): move a development chain's clock and seal on demand.

Served only when the node has a dev clock (``node init --dev``, see ``node/dev_clock.py``);
``method_table.method_table(dev_chain=False)`` leaves them out, so elsewhere they do not exist (-32601).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from node.errors import InvalidParams, RPCError
from node.rpc import params as p

if TYPE_CHECKING:
    from node.rpc.api import EthAPI


async def increase_time(api: EthAPI, params: Any) -> Any:
    """Moves the next blocks' clock forward by ``seconds``; returns the total offset."""
    (value,) = p.expect(params, 1, 1)
    seconds = p.quantity(value, "seconds")
    if seconds > 100 * 366 * 86400:
        raise InvalidParams("seconds: more than a century ahead")
    assert api.service.dev_clock is not None
    return api.service.dev_clock.increase(seconds)


async def set_next_block_timestamp(api: EthAPI, params: Any) -> Any:
    """The next block gets exactly this timestamp (not before the head's)."""
    (value,) = p.expect(params, 1, 1)
    timestamp = p.quantity(value, "timestamp")
    head = api.ledger.head.timestamp
    if timestamp < head:
        raise InvalidParams(f"timestamp {timestamp} is before the head block's ({head}); time only moves forward")
    assert api.service.dev_clock is not None
    api.service.dev_clock.set_next(timestamp)
    return None


async def mine(api: EthAPI, params: Any) -> Any:
    """Seals a block now, empty if no transaction is ready (optionally at ``timestamp``)."""
    (value,) = p.expect(params, 0, 1)
    if not api.service.can_seal:
        raise RPCError(-32000, "this node has no validator key and cannot seal blocks")
    if value is not None:
        await set_next_block_timestamp(api, [value])
    await api.service.produce_block(allow_empty=True)
    return "0x0"
