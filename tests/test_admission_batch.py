"""Issue 23, lever 1: a JSON-RPC batch's senders recovered in one pass in the admission worker.

Typed transactions have their sender recovered with one coincurve call (not through
eth-keys), and the worker hands the decoded transaction to the node process instead of the
node decoding the raw bytes again. These tests pin that the results are py-evm's: the same
sender and hash, the same refusal messages, and over a real node a batch that mixes good and
bad transactions is answered item by item, a non-registered sender still refused.
"""

from __future__ import annotations

import asyncio
from typing import Any

import coincurve
import requests
import rlp
from eth_account import Account
from eth_utils import keccak

from node import evm_patches
from node.admission import AdmissionWorkers
from node.errors import TransactionRejected
from node.txpool import CheckedTransaction, decode_raw_transaction, stateless_checks
from tests.conftest import NodeProcess

CHAIN_ID = 1337
GAS_LIMIT = 30_000_000
TO = "0x" + "11" * 20


def _signed(key: Any, kind: int, nonce: int = 0, data: bytes = b"") -> bytes:
    tx: dict[str, Any] = {"chainId": CHAIN_ID, "nonce": nonce, "gas": 60_000, "value": 0, "to": TO, "data": data}
    if kind == 2:
        tx.update(type=2, maxFeePerGas=0, maxPriorityFeePerGas=0)
    else:
        tx["gasPrice"] = 0
        if kind == 1:
            tx.update(type=1, accessList=[])
    return bytes(key.sign_transaction(tx).raw_transaction)


def _with_r(raw: bytes, r: int) -> bytes:
    """``raw`` (a typed transaction) with its signature's r replaced."""
    items = rlp.decode(raw[1:])
    items[-2] = r.to_bytes(32, "big").lstrip(b"\0")
    return raw[:1] + rlp.encode(items)


def _unrecoverable_r() -> int:
    """An r in range that is no curve point's x coordinate: no public key recovers from it."""
    message = keccak(b"probe")
    for r in range(2, 1_000):
        signature = r.to_bytes(32, "big") + (1).to_bytes(32, "big") + b"\0"
        try:
            coincurve.PublicKey.from_signature_and_message(signature, message, hasher=None)
        except Exception:  # noqa: BLE001 - the value sought
            return r
    raise AssertionError("no unrecoverable r below 1000")


def test_senders_and_hashes_are_py_evms_for_every_transaction_type() -> None:
    evm_patches.install()
    for i in range(12):
        key = Account.create()
        for kind in (0, 1, 2):
            raw = _signed(key, kind, nonce=i, data=bytes([i]) * i)
            checked = stateless_checks(raw, CHAIN_ID, GAS_LIMIT)
            stock = decode_raw_transaction(raw)
            assert checked.sender == stock.sender == bytes.fromhex(key.address[2:])
            assert checked.hash == stock.hash == keccak(raw)
            assert checked.tx is not None and checked.tx.encode() == raw


def test_a_signature_no_key_recovers_from_is_refused_with_py_evms_message() -> None:
    evm_patches.install()
    raw = _with_r(_signed(Account.create(), 2), _unrecoverable_r())
    try:
        _ = decode_raw_transaction(raw).sender
    except Exception as exc:  # noqa: BLE001 - the stock message to compare with
        stock = f"invalid transaction: {exc}"
    else:
        raise AssertionError("py-evm recovered a sender from an unrecoverable signature")
    try:
        stateless_checks(raw, CHAIN_ID, GAS_LIMIT)
    except TransactionRejected as refused:
        assert refused.message == stock
    else:
        raise AssertionError("admitted a transaction with an unrecoverable signature")


def test_the_worker_returns_the_decoded_transactions_of_a_batch() -> None:
    key = Account.create()
    good = [_signed(key, 2, nonce=n) for n in range(3)]
    wrong_chain = bytes(
        key.sign_transaction(
            {"type": 2, "chainId": 5, "nonce": 3, "gas": 60_000, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "to": TO}
        ).raw_transaction
    )
    workers = AdmissionWorkers(CHAIN_ID, GAS_LIMIT)
    try:
        results = asyncio.run(workers.check([*good, wrong_chain, b"\x02\xde\xad"]))
    finally:
        workers.shutdown()
    for raw, result in zip(good, results, strict=False):
        assert isinstance(result, CheckedTransaction)
        assert result.tx is not None and result.tx.encode() == raw and result.tx.nonce == good.index(raw)
        assert result.sender == bytes.fromhex(key.address[2:]) and result.hash == keccak(raw)
    assert isinstance(results[3], TransactionRejected)
    assert results[3].message == "invalid chain id: transaction is for chain 5, this is 1337"
    assert isinstance(results[4], TransactionRejected)
    assert results[4].message.startswith("invalid transaction encoding:")


def test_a_mixed_batch_is_answered_item_by_item(shared_node: NodeProcess) -> None:
    member = Account.from_key(shared_node.dev_keys["accounts"][0]["privateKey"])
    stranger = Account.create()
    nonce = int(shared_node.call("eth_getTransactionCount", [member.address, "pending"])["result"], 16)
    first, second = _signed(member, 2, nonce), _signed(member, 2, nonce + 1)
    raws = [
        first,
        _signed(stranger, 2),
        _with_r(_signed(member, 2, nonce + 2), _unrecoverable_r()),
        first,  # the same again
        second,
    ]
    body = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]}
        for i, raw in enumerate(raws)
    ]
    answers = {a["id"]: a for a in requests.post(shared_node.url, json=body, timeout=60).json()}
    assert answers[0]["result"] == "0x" + keccak(first).hex()
    assert answers[1]["error"]["code"] == -32003
    assert answers[1]["error"]["message"] == (
        f"sender 0x{stranger.address[2:].lower()} is not permitted: not an active account in the registry"
    )
    assert answers[2]["error"]["message"].startswith("invalid transaction: ")
    assert answers[3]["error"]["message"] == f"already known: 0x{keccak(first).hex()}"
    assert answers[4]["result"] == "0x" + keccak(second).hex()
    for tx_hash in (answers[0]["result"], answers[4]["result"]):
        receipt = _receipt(shared_node, tx_hash)
        assert receipt["status"] == "0x1" and receipt["from"].lower() == member.address.lower()


def _receipt(node: NodeProcess, tx_hash: str) -> dict[str, Any]:
    for _ in range(300):
        receipt = node.call("eth_getTransactionReceipt", [tx_hash])["result"]
        if receipt:
            return receipt  # type: ignore[no-any-return]
    raise AssertionError(f"no receipt for {tx_hash}")


def test_nonces_after_a_block_come_from_the_block(shared_node: NodeProcess) -> None:
    """A sender whose transactions a block included has no queue left; its next nonce is the block's."""
    member = Account.from_key(shared_node.dev_keys["accounts"][1]["privateKey"])
    nonce = int(shared_node.call("eth_getTransactionCount", [member.address, "pending"])["result"], 16)
    mined = shared_node.call("eth_sendRawTransaction", ["0x" + _signed(member, 2, nonce).hex()])["result"]
    assert _receipt(shared_node, mined)["status"] == "0x1"
    pending = shared_node.call("eth_getTransactionCount", [member.address, "pending"])["result"]
    assert int(pending, 16) == nonce + 1
    again = shared_node.call("eth_sendRawTransaction", ["0x" + _signed(member, 2, nonce, data=b"\x01").hex()])
    assert again["error"]["message"] == f"nonce too low: next nonce {nonce + 1}, tx nonce {nonce}"
    gap = shared_node.call("eth_sendRawTransaction", ["0x" + _signed(member, 2, nonce + 2).hex()])["result"]
    assert int(shared_node.call("eth_getTransactionCount", [member.address, "pending"])["result"], 16) == nonce + 1
    fill = shared_node.call("eth_sendRawTransaction", ["0x" + _signed(member, 2, nonce + 1).hex()])["result"]
    assert _receipt(shared_node, fill)["status"] == "0x1" and _receipt(shared_node, gap)["status"] == "0x1"
    assert int(shared_node.call("eth_getTransactionCount", [member.address, "latest"])["result"], 16) == nonce + 3
