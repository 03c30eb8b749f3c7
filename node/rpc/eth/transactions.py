"""``eth_*`` for transactions: admission (``eth_sendRawTransaction``), lookups and receipts.

A transaction is acknowledged only once it is in the pool *and* its journal record is
fsync'd; a JSON-RPC batch of them shares one fsync (``BatchChecks``).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import orjson
from eth.abc import BlockHeaderAPI

from node.errors import InvalidParams, RPCError, TransactionRejected
from node.records import JSON, hex_bytes, hex_int, transaction_json
from node.rpc import params as p
from node.txpool import CheckedTransaction

if TYPE_CHECKING:
    from node.rpc.api import EthAPI


class BatchChecks(dict[str, "CheckedTransaction | TransactionRejected"]):
    """Stateless admission results for a batch's transactions, and how many are still to be answered.

    The batch's answer leaves only after its last ``eth_sendRawTransaction`` is handled, so that
    one waits for the journal's fsync on behalf of all of them: one fsync per batch. (An item
    the server refuses before dispatch, e.g. one with an invalid id, is never handled; the
    count then stays above zero and the batch's records are fsync'd by the journal's timed
    flush (``UNWAITED_FLUSH_SECONDS``) shortly after the answer instead of before it.)
    """

    def __init__(self, remaining: int) -> None:
        super().__init__()
        self.remaining = remaining
        self.sequence = 0  # the last journal record this batch appended


# Stateless admission results for the transactions of the JSON-RPC batch being served.
PRECHECKED: ContextVar[dict[str, CheckedTransaction | TransactionRejected] | None] = ContextVar(
    "prechecked", default=None
)


async def precheck_batch(api: EthAPI, raws: list[str]) -> dict[str, CheckedTransaction | TransactionRejected]:
    """Run the stateless checks of a batch's transactions in one worker call."""
    checks = BatchChecks(len(raws))
    if api.admission is None:
        return checks
    keys, datas = [], []
    for raw in raws:
        try:
            datas.append(p.data(raw, "transaction"))
        except InvalidParams:
            continue  # reported precisely when the request itself is handled
        keys.append(raw)
    checks.update(zip(keys, await api.admission.check(datas), strict=True))
    return checks


async def send_raw_transaction(api: EthAPI, params: Any) -> str:
    """Admit a signed transaction; answer only once it is in the pool *and* fsync'd in its journal."""
    prechecked = PRECHECKED.get()
    batch = prechecked if isinstance(prechecked, BatchChecks) else None
    sequence = 0
    try:
        (raw,) = p.expect(params, 1, 1)
        data = p.data(raw, "transaction")
        checked: CheckedTransaction | TransactionRejected | None = None
        if prechecked is not None and raw in prechecked:
            checked = prechecked[raw]
        elif api.admission is not None:
            checked = (await api.admission.check([data]))[0]
        if isinstance(checked, TransactionRejected):
            raise checked
        tx_hash = api.pool.add(data, checked)
        sequence = api.journal.admitted(tx_hash, data)
        return hex_bytes(tx_hash)
    finally:
        if batch is None:
            if sequence:
                await api.journal.durable(sequence)
        else:
            batch.sequence = max(batch.sequence, sequence)
            batch.remaining -= 1
            if batch.remaining <= 0 and batch.sequence:
                await api.journal.durable(batch.sequence)


async def send_transaction(api: EthAPI, params: Any) -> str:
    raise RPCError(
        -32000, "unknown account: this node holds no keys; sign the transaction and use eth_sendRawTransaction"
    )


async def sign(api: EthAPI, params: Any) -> str:
    raise RPCError(-32000, "unknown account: this node holds no keys")


async def get_transaction_by_hash(api: EthAPI, params: Any) -> JSON | orjson.Fragment | None:
    (value,) = p.expect(params, 1, 1)
    tx_hash = p.data(value, "transaction hash", 32)
    record = api.ledger.raw_transaction_record(tx_hash)
    if record is not None:  # written in the same durable commit as its block
        return orjson.Fragment(record)
    pending = api.pool.get(tx_hash)
    if pending is not None:
        return pending_transaction_json(pending.tx, pending.sender, None, None)
    return None


async def get_transaction_receipt(api: EthAPI, params: Any) -> orjson.Fragment | None:
    (value,) = p.expect(params, 1, 1)
    tx_hash = p.data(value, "transaction hash", 32)
    # Only durably committed blocks have receipts (see Ledger.commit).
    record = api.ledger.raw_receipt_record(tx_hash)
    return None if record is None else orjson.Fragment(record)


def _tx_by_index(api: EthAPI, header: BlockHeaderAPI | None, index_raw: Any) -> JSON | None:
    index = p.quantity(index_raw, "index", 2**32)
    if header is None:
        return None
    hashes = api.ledger.block_tx_hashes(header.block_number)
    return api.ledger.transaction_record(hashes[index]) if index < len(hashes) else None


async def get_transaction_by_block_number_and_index(api: EthAPI, params: Any) -> JSON | None:
    block, index = p.expect(params, 2, 2)
    ref = p.block_ref(block)
    if ref.tag == "pending":
        position = p.quantity(index, "index", 2**32)
        pending, senders = await api.pending()
        if position >= len(pending.transactions):
            return None
        return pending_transaction_json(pending.transactions[position], senders[position], pending.header, position)
    return _tx_by_index(api, api.header(ref), index)


async def get_transaction_by_block_hash_and_index(api: EthAPI, params: Any) -> JSON | None:
    block_hash, index = p.expect(params, 2, 2)
    return _tx_by_index(api, api.ledger.header_by_hash(p.data(block_hash, "block hash", 32)), index)


def _raw_tx_by_index(api: EthAPI, header: BlockHeaderAPI | None, index: Any) -> str | None:
    position = p.quantity(index, "index", 2**63 - 1)
    if header is None or position >= len(api.ledger.block_tx_hashes(header.block_number)):
        return None
    return hex_bytes(api.ledger.chain.get_block_by_header(header).transactions[position].encode())


async def get_raw_transaction_by_block_number_and_index(api: EthAPI, params: Any) -> str | None:
    block, index = p.expect(params, 2, 2)
    ref = p.block_ref(block)
    if ref.tag == "pending":
        position = p.quantity(index, "index", 2**63 - 1)
        transactions = (await api.pending())[0].transactions
        return hex_bytes(transactions[position].encode()) if position < len(transactions) else None
    return _raw_tx_by_index(api, api.header(ref), index)


async def get_raw_transaction_by_block_hash_and_index(api: EthAPI, params: Any) -> str | None:
    block_hash, index = p.expect(params, 2, 2)
    return _raw_tx_by_index(api, api.ledger.header_by_hash(p.data(block_hash, "block hash", 32)), index)


def pending_transaction_json(tx: Any, sender: Any, header: BlockHeaderAPI | None, index: int | None) -> JSON:
    """A transaction not yet in a block: ``gasPrice`` is its fee cap, as geth reports it.

    Once mined, the effective price is ``min(tip + base fee, cap)``; until then geth shows the
    most the transaction may pay (``maxFeePerGas``), not the tip.
    """
    record = transaction_json(tx, sender, header, index)
    fee_cap = getattr(tx, "max_fee_per_gas", None)
    if fee_cap is not None:
        record["gasPrice"] = hex_int(fee_cap)
    return record
