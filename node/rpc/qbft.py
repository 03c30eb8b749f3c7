"""``qbft_*`` (Besu's names): the validator set behind a block."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eth_utils import to_checksum_address

from node.rpc import params as p
from node.seal import decode_extra_data

if TYPE_CHECKING:
    from node.rpc.api import EthAPI


async def get_validators_by_block_number(api: EthAPI, params: Any) -> list[str]:
    """Besu's method: the validators that were authorised to agree on this block (its header's list)."""
    (block,) = p.expect(params, 1, 1)
    header = api.require_header(p.block_ref(block))
    if header.block_number == 0:
        return [to_checksum_address(v) for v in api.ledger.genesis.validators]
    return [to_checksum_address(v) for v in decode_extra_data(header.extra_data).validators]
