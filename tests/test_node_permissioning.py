"""Only allowlisted accounts transact: refused at admission and in block validation."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import rlp
from eth_account import Account
from eth_keys import keys

from node.genesis import load_genesis
from node.ledger import Ledger
from node.txpool import PendingTransaction, decode_raw_transaction
from tests.conftest import NodeProcess
from tests.support import call_fn, registry, web3_for


def _signed(private_key: str | bytes, nonce: int, to: str) -> bytes:
    tx = {"to": to, "value": 0, "gas": 21_000, "gasPrice": 0, "nonce": nonce, "chainId": 1337}
    return bytes(Account.sign_transaction(tx, private_key).raw_transaction)


def test_unlisted_sender_is_refused_at_admission(node_factory: Any) -> None:
    node: NodeProcess = node_factory()
    stranger = Account.create()
    raw = _signed(stranger.key, 0, stranger.address)
    response = node.call("eth_sendRawTransaction", ["0x" + raw.hex()])
    assert response["error"]["code"] == -32003
    assert (
        "not permitted" in response["error"]["message"] and stranger.address.lower()[2:] in response["error"]["message"]
    )


def test_registering_suspending_and_revoking_changes_admission(node_factory: Any) -> None:
    node: NodeProcess = node_factory()
    w3 = web3_for(node.url)
    admin = node.dev_keys["admin"]["privateKey"]
    newcomer = Account.create()
    reg = registry(w3)
    assert reg.functions.isAllowed(newcomer.address).call() is False
    assert call_fn(w3, admin, reg.functions.register(newcomer.address, 1, b"\x01" * 32), gas=300_000)["status"] == 1
    ok = node.call("eth_sendRawTransaction", ["0x" + _signed(newcomer.key, 0, newcomer.address).hex()])
    assert "result" in ok, ok
    w3.eth.wait_for_transaction_receipt(ok["result"], timeout=30, poll_latency=0.02)
    assert call_fn(w3, admin, reg.functions.setStatus(newcomer.address, 2), gas=300_000)["status"] == 1  # suspended
    refused = node.call("eth_sendRawTransaction", ["0x" + _signed(newcomer.key, 1, newcomer.address).hex()])
    assert refused["error"]["code"] == -32003
    # only the registrar may change the list
    outsider = node.dev_keys["accounts"][0]["privateKey"]
    receipt = call_fn(w3, outsider, reg.functions.register(Account.create().address, 1, b"\0" * 32), gas=300_000)
    assert receipt["status"] == 0


def _offline_block(
    data_dir: Path, sealer: keys.PrivateKey, raw_txs: list[bytes], timestamp: int | None = None
) -> bytes:
    """What a misbehaving validator could produce: a sealed block skipping the allowlist."""
    ledger = Ledger(data_dir, load_genesis(data_dir / "genesis.json"), sealer)
    try:
        ledger.registry.is_allowed = lambda header, address: True  # type: ignore[method-assign]
        ledger.registry.validators = lambda header: (sealer.public_key.to_canonical_address(),)  # type: ignore[method-assign]
        pending = []
        for raw in raw_txs:
            tx = decode_raw_transaction(raw)
            pending.append(PendingTransaction(tx, tx.sender, raw, tx.hash))
        built = ledger.build_block(pending, timestamp=timestamp)
        assert len(built.block.transactions) == len(raw_txs)
        return bytes(rlp.encode(built.block))
    finally:
        ledger.close()


def test_block_with_unlisted_sender_is_rejected_by_validation(node_factory: Any, tmp_path: Path) -> None:
    node: NodeProcess = node_factory(start=False)
    dev = node.dev_keys
    validator = keys.PrivateKey(bytes.fromhex(dev["validator"]["privateKey"][2:]))
    offline = tmp_path / "offline"
    shutil.copytree(node.data_dir, offline)
    stranger = Account.create()
    member = dev["accounts"][0]

    bad_block = _offline_block(offline, validator, [_signed(stranger.key, 0, member["address"])])
    shutil.rmtree(offline)
    shutil.copytree(node.data_dir, offline)
    good_block = _offline_block(offline, validator, [_signed(member["privateKey"], 0, member["address"])])
    shutil.rmtree(offline)
    shutil.copytree(node.data_dir, offline)
    forged_block = _offline_block(
        offline, keys.PrivateKey(b"\x07" * 32), [_signed(member["privateKey"], 0, member["address"])]
    )
    shutil.rmtree(offline)
    shutil.copytree(node.data_dir, offline)
    future_block = _offline_block(
        offline, validator, [_signed(member["privateKey"], 0, member["address"])], timestamp=int(time.time()) + 3600
    )

    node.mode = "interval"  # a follower must not seal its own block #1 before the import
    node.extra_args = ("--block-period", "3600")
    node.start()
    refused = node.call("takasago_importBlock", ["0x" + bad_block.hex()])
    assert "not permitted" in refused["error"]["message"], refused
    forged = node.call("takasago_importBlock", ["0x" + forged_block.hex()])
    assert "not an authorised validator" in forged["error"]["message"] or "validator list" in forged["error"]["message"]
    future = node.call("takasago_importBlock", ["0x" + future_block.hex()])
    assert "from the future" in future["error"]["message"], future
    assert node.call("eth_blockNumber")["result"] == "0x0"
    accepted = node.call("takasago_importBlock", ["0x" + good_block.hex()])
    assert accepted["result"]["number"] == "0x1", accepted
    assert node.call("eth_blockNumber")["result"] == "0x1"
    imported = node.call("eth_getBlockByNumber", ["0x1", False])["result"]
    assert imported["hash"] == accepted["result"]["hash"] and len(imported["transactions"]) == 1
    receipt = node.call("eth_getTransactionReceipt", [imported["transactions"][0]])["result"]
    assert receipt["status"] == "0x1" and receipt["blockHash"] == imported["hash"]
    garbage = node.call("takasago_importBlock", ["0xc0ffee"])
    assert garbage["error"]["code"] == -32000 and "invalid block" in garbage["error"]["message"]
