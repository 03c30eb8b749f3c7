"""The node's own keys in the chain database: the whole schema, written down once.

py-evm keeps the chain itself (trie nodes under their 32-byte hashes, headers, bodies and
its indices under its ``SchemaV1`` keys such as ``b"v1:canonical_head_hash"`` and
``b"block-number-to-hash:…"``). Beside them the node stores what it renders once per
block at commit (``node/records.py``) so that serving it is one lookup, plus the commit
certificate and the genesis it was initialised with. Every such key starts with ``t:``,
which no py-evm key does, and block numbers are 8-byte big-endian so keys sort by height.
"""

from __future__ import annotations

GENESIS = b"t:genesis"  # hash of the genesis block this data directory was initialised with
HEAD = b"t:head"  # hash of the committed head, written in the same write as the block

_RECEIPT = b"t:r:"  # + transaction hash → receipt, JSON-RPC shape (orjson)
_TRANSACTION = b"t:x:"  # + transaction hash → transaction, JSON-RPC shape (orjson)
_LOGS = b"t:l:"  # + block number → the block's logs, JSON-RPC shape (orjson; absent when none)
_TRANSACTION_HASHES = b"t:h:"  # + block number → the block's transaction hashes, concatenated (absent when none)
_BLOCK_SIZE = b"t:s:"  # + block number → RLP size of the whole block, 8 bytes big-endian
_CERTIFICATE = b"t:c:"  # + block number → commit certificate, RLP [round, [seal, ...]] (node/qbft/certificate.py)


def block_number(number: int) -> bytes:
    """A block number as stored in keys and values: 8 bytes, big-endian."""
    return number.to_bytes(8, "big")


def receipt(tx_hash: bytes) -> bytes:
    return _RECEIPT + tx_hash


def transaction(tx_hash: bytes) -> bytes:
    return _TRANSACTION + tx_hash


def block_logs(number: int) -> bytes:
    return _LOGS + block_number(number)


def block_transaction_hashes(number: int) -> bytes:
    return _TRANSACTION_HASHES + block_number(number)


def block_size(number: int) -> bytes:
    return _BLOCK_SIZE + block_number(number)


def certificate(number: int) -> bytes:
    return _CERTIFICATE + block_number(number)
