"""``eth_*`` for blocks: by number or hash, geth's never-sealed ``pending`` block, counts and receipts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import rlp
from eth.abc import BlockHeaderAPI

from node.records import JSON, block_json, hex_bytes, hex_int
from node.rpc import params as p
from node.rpc.eth.transactions import pending_transaction_json

if TYPE_CHECKING:
    from node.rpc.api import EthAPI


def _block(api: EthAPI, header: BlockHeaderAPI | None, full: bool) -> JSON | None:
    if header is None:
        return None
    hashes = api.ledger.block_tx_hashes(header.block_number)
    if full:
        transactions: list[Any] = [api.ledger.transaction_record(h) for h in hashes]
    else:
        transactions = [hex_bytes(h) for h in hashes]
    return block_json(header, api.ledger.block_size(header), transactions)


async def get_block_by_number(api: EthAPI, params: Any) -> JSON | None:
    block, full = p.expect(params, 1, 2)
    ref = p.block_ref(block)
    full_transactions = p.boolean(full, "full") if full is not None else False
    if ref.tag == "pending":
        return await _pending_block(api, full_transactions)
    return _block(api, api.header(ref), full_transactions)


async def get_block_by_hash(api: EthAPI, params: Any) -> JSON | None:
    block_hash, full = p.expect(params, 1, 2)
    header = api.ledger.header_by_hash(p.data(block_hash, "block hash", 32))
    return _block(api, header, p.boolean(full, "full") if full is not None else False)


async def _pending_block(api: EthAPI, full: bool) -> JSON:
    """geth's pending block: the pool's ready transactions executed on the head, never sealed.

    As in geth, ``hash``, ``nonce`` and ``miner`` are null: the block does not exist yet.
    """
    block, senders = await api.pending()
    header = block.header
    if full:
        transactions: list[Any] = [
            pending_transaction_json(tx, sender, header, i)
            for i, (tx, sender) in enumerate(zip(block.transactions, senders, strict=True))
        ]
    else:
        transactions = [hex_bytes(tx.hash) for tx in block.transactions]
    result = block_json(header, len(rlp.encode(block)), transactions)
    result.update(hash=None, nonce=None, miner=None)
    return result


async def get_block_receipts(api: EthAPI, params: Any) -> list[JSON | None] | None:
    (block,) = p.expect(params, 1, 1)
    header = api.header(p.block_ref(block))
    if header is None:
        return None
    return [api.ledger.receipt_record(h) for h in api.ledger.block_tx_hashes(header.block_number)]


async def get_block_transaction_count_by_number(api: EthAPI, params: Any) -> str | None:
    (block,) = p.expect(params, 1, 1)
    ref = p.block_ref(block)
    if ref.tag == "pending":
        return hex_int(len((await api.pending())[0].transactions))
    header = api.header(ref)
    return None if header is None else hex_int(len(api.ledger.block_tx_hashes(header.block_number)))


async def get_block_transaction_count_by_hash(api: EthAPI, params: Any) -> str | None:
    (block_hash,) = p.expect(params, 1, 1)
    header = api.ledger.header_by_hash(p.data(block_hash, "block hash", 32))
    return None if header is None else hex_int(len(api.ledger.block_tx_hashes(header.block_number)))


async def get_uncle_count_by_block_number(api: EthAPI, params: Any) -> str | None:
    (block,) = p.expect(params, 1, 1)
    return None if api.header(p.block_ref(block)) is None else "0x0"


async def get_uncle_count_by_block_hash(api: EthAPI, params: Any) -> str | None:
    (block_hash,) = p.expect(params, 1, 1)
    return None if api.ledger.header_by_hash(p.data(block_hash, "block hash", 32)) is None else "0x0"
