"""What the node remembers about each block and transaction, in JSON-RPC shape.

Receipts, transactions and logs are rendered once, when their block is committed,
and stored next to the block in the same atomic write: serving them is then a
single key lookup, and they exist on disk exactly when their block does.
"""

from __future__ import annotations

import functools
from typing import Any

from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth_typing import Address
from eth_utils import to_checksum_address as _to_checksum_address

JSON = dict[str, Any]


@functools.lru_cache(maxsize=65_536)
def to_checksum_address(value: bytes) -> str:
    """EIP-55 form; cached because the same few addresses recur in every block."""
    return str(_to_checksum_address(bytes(value)))


def hex_int(value: int) -> str:
    return hex(value)


def hex_bytes(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def address_or_none(value: bytes) -> str | None:
    return None if value == CREATE_CONTRACT_ADDRESS or not value else to_checksum_address(value)


def transaction_type(tx: SignedTransactionAPI) -> int:
    return int(getattr(tx, "type_id", None) or 0)


def effective_gas_price(tx: SignedTransactionAPI, base_fee: int) -> int:
    fee_cap = getattr(tx, "max_fee_per_gas", None)
    if fee_cap is None:
        return int(tx.gas_price)
    return min(int(fee_cap), base_fee + int(tx.max_priority_fee_per_gas))


def transaction_json(
    tx: Any,
    sender: Address,
    header: BlockHeaderAPI | None,
    index: int | None,
) -> JSON:
    tx_type = transaction_type(tx)
    base_fee = getattr(header, "base_fee_per_gas", 0) if header is not None else 0
    result: JSON = {
        "type": hex_int(tx_type),
        "hash": hex_bytes(tx.hash),
        "nonce": hex_int(tx.nonce),
        "blockHash": hex_bytes(header.hash) if header is not None else None,
        "blockNumber": hex_int(header.block_number) if header is not None else None,
        "transactionIndex": hex_int(index) if index is not None else None,
        "from": to_checksum_address(sender),
        "to": address_or_none(tx.to),
        "value": hex_int(tx.value),
        "gas": hex_int(tx.gas),
        "gasPrice": hex_int(effective_gas_price(tx, base_fee)),
        "input": hex_bytes(tx.data),
        "r": hex_int(tx.r),
        "s": hex_int(tx.s),
    }
    if tx_type == 0:
        result["v"] = hex_int(tx.v)
        if tx.chain_id is not None:
            result["chainId"] = hex_int(tx.chain_id)
    else:
        y_parity = int(tx.y_parity)
        result["v"] = hex_int(y_parity)
        result["yParity"] = hex_int(y_parity)
        result["chainId"] = hex_int(tx.chain_id)
        result["accessList"] = [
            {"address": to_checksum_address(address), "storageKeys": [hex_bytes(k.to_bytes(32, "big")) for k in keys]}
            for address, keys in tx.access_list
        ]
        if tx_type >= 2:
            result["maxFeePerGas"] = hex_int(tx.max_fee_per_gas)
            result["maxPriorityFeePerGas"] = hex_int(tx.max_priority_fee_per_gas)
    return result


def block_records(
    block: BlockAPI, receipts: tuple[ReceiptAPI, ...], senders: list[Address]
) -> tuple[list[JSON], list[JSON], list[JSON]]:
    """Transactions, receipts and the block's logs, ready to serve."""
    header = block.header
    block_hash = hex_bytes(header.hash)
    number = hex_int(header.block_number)
    base_fee = int(getattr(header, "base_fee_per_gas", 0))
    txs: list[JSON] = []
    rcpts: list[JSON] = []
    logs: list[JSON] = []
    previous_cumulative = 0
    log_index = 0
    for index, (tx, receipt, sender) in enumerate(zip(block.transactions, receipts, senders, strict=True)):
        tx_hash = hex_bytes(tx.hash)
        txs.append(transaction_json(tx, sender, header, index))
        tx_logs = []
        for entry in receipt.logs:
            log = {
                "address": to_checksum_address(entry.address),
                "topics": [hex_bytes(t.to_bytes(32, "big")) for t in entry.topics],
                "data": hex_bytes(entry.data),
                "blockNumber": number,
                "blockHash": block_hash,
                "blockTimestamp": hex_int(header.timestamp),
                "transactionHash": tx_hash,
                "transactionIndex": hex_int(index),
                "logIndex": hex_int(log_index),
                "removed": False,
            }
            log_index += 1
            tx_logs.append(log)
        logs.extend(tx_logs)
        contract = None
        if tx.to == CREATE_CONTRACT_ADDRESS:
            contract = to_checksum_address(generate_contract_address(sender, tx.nonce))
        rcpts.append(
            {
                "type": hex_int(transaction_type(tx)),
                "transactionHash": tx_hash,
                "transactionIndex": hex_int(index),
                "blockHash": block_hash,
                "blockNumber": number,
                "from": to_checksum_address(sender),
                "to": address_or_none(tx.to),
                "cumulativeGasUsed": hex_int(receipt.gas_used),
                "gasUsed": hex_int(receipt.gas_used - previous_cumulative),
                "effectiveGasPrice": hex_int(effective_gas_price(tx, base_fee)),
                "contractAddress": contract,
                "logs": tx_logs,
                "logsBloom": hex_bytes(receipt.bloom.to_bytes(256, "big")),
                "status": hex_int(1 if receipt.state_root == b"\x01" else 0),
            }
        )
        previous_cumulative = receipt.gas_used
    return txs, rcpts, logs


def block_json(header: Any, size: int, transactions: list[Any]) -> JSON:
    result: JSON = {
        "number": hex_int(header.block_number),
        "hash": hex_bytes(header.hash),
        "parentHash": hex_bytes(header.parent_hash),
        "nonce": hex_bytes(header.nonce),
        "mixHash": hex_bytes(header.mix_hash),
        "sha3Uncles": hex_bytes(header.uncles_hash),
        "logsBloom": hex_bytes(header.bloom.to_bytes(256, "big")),
        "transactionsRoot": hex_bytes(header.transaction_root),
        "stateRoot": hex_bytes(header.state_root),
        "receiptsRoot": hex_bytes(header.receipt_root),
        "miner": to_checksum_address(header.coinbase),
        "difficulty": hex_int(header.difficulty),
        "totalDifficulty": "0x0",
        "extraData": hex_bytes(header.extra_data),
        "size": hex_int(size),
        "gasLimit": hex_int(header.gas_limit),
        "gasUsed": hex_int(header.gas_used),
        "timestamp": hex_int(header.timestamp),
        "transactions": transactions,
        "uncles": [],
        "baseFeePerGas": hex_int(header.base_fee_per_gas),
        "withdrawalsRoot": hex_bytes(header.withdrawals_root),
        "withdrawals": [],
        "blobGasUsed": hex_int(header.blob_gas_used),
        "excessBlobGas": hex_int(header.excess_blob_gas),
        "parentBeaconBlockRoot": hex_bytes(header.parent_beacon_block_root),
        "requestsHash": hex_bytes(header.requests_hash),
    }
    return result
