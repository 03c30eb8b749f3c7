"""``debug_getRaw*`` (geth's): the RLP encodings, so an auditor hashes and decodes the bytes itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import rlp

from node.records import hex_bytes
from node.rpc import params as p

if TYPE_CHECKING:
    from node.rpc.api import EthAPI


async def get_raw_header(api: EthAPI, params: Any) -> str | None:
    (block,) = p.expect(params, 1, 1)
    header = api.header(p.block_ref(block))
    return None if header is None else hex_bytes(rlp.encode(header))


async def get_raw_block(api: EthAPI, params: Any) -> str | None:
    (block,) = p.expect(params, 1, 1)
    header = api.header(p.block_ref(block))
    return None if header is None else hex_bytes(rlp.encode(api.ledger.chain.get_block_by_header(header)))


async def get_raw_transaction(api: EthAPI, params: Any) -> str | None:
    """A committed transaction's encoding by hash (also served as ``eth_getRawTransactionByHash``)."""
    (value,) = p.expect(params, 1, 1)
    tx_hash = p.data(value, "transaction hash", 32)
    record = api.ledger.transaction_record(tx_hash)
    if record is None or record.get("blockNumber") is None:
        return None
    header = api.ledger.header_by_number(int(record["blockNumber"], 16))
    if header is None:
        return None
    block = api.ledger.chain.get_block_by_header(header)
    tx = block.transactions[int(record["transactionIndex"], 16)]
    return hex_bytes(tx.encode())
