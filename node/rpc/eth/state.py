"""``eth_*`` reads of account state at a block: balance, nonce, code and storage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from node.records import hex_bytes, hex_int
from node.rpc import params as p

if TYPE_CHECKING:
    from node.rpc.api import EthAPI


def _account_and_state(api: EthAPI, params: Any) -> tuple[Any, Any]:
    """The ``[address, block]`` parameters of the account-state methods."""
    address, block = p.expect(params, 1, 2)
    account = p.address(address, "address")
    return account, api.ledger.state_at(api.require_header(p.block_ref(block)))


async def get_balance(api: EthAPI, params: Any) -> str:
    account, state = _account_and_state(api, params)
    return hex_int(state.get_balance(account))


async def get_transaction_count(api: EthAPI, params: Any) -> str:
    """The account's nonce at a block; at ``pending``, the pool's next nonce for it."""
    address, block = p.expect(params, 1, 2)
    account = p.address(address, "address")
    ref = p.block_ref(block)
    if ref.tag == "pending":
        return hex_int(api.pool.pending_nonce(account))
    header = api.require_header(ref)
    return hex_int(api.ledger.state_at(header).get_nonce(account))


async def get_code(api: EthAPI, params: Any) -> str:
    account, state = _account_and_state(api, params)
    return hex_bytes(state.get_code(account))


async def get_storage_at(api: EthAPI, params: Any) -> str:
    address, slot, block = p.expect(params, 2, 3)
    account = p.address(address, "address")
    if isinstance(slot, str) and len(slot) == 66:
        position = int.from_bytes(p.data(slot, "position", 32), "big")
    else:
        position = p.quantity(slot, "position")
    header = api.require_header(p.block_ref(block))
    value = api.ledger.state_at(header).get_storage(account, position)
    return hex_bytes(value.to_bytes(32, "big"))
