"""geth's raw accessors (debug_getRawHeader/Block/Transaction): the bytes hash to what the node says."""

from __future__ import annotations

import rlp
from eth_account import Account
from eth_utils import keccak

from tests.conftest import NodeProcess


def test_raw_header_block_and_transaction_hash_to_their_ids(shared_node: NodeProcess) -> None:
    key = shared_node.dev_keys["accounts"][0]["privateKey"]
    sender = Account.from_key(key)
    nonce = int(shared_node.call("eth_getTransactionCount", [sender.address, "pending"])["result"], 16)
    signed = sender.sign_transaction(
        {"to": sender.address, "value": 0, "gas": 21_000, "gasPrice": 0, "nonce": nonce, "chainId": 1337}
    )
    tx_hash = shared_node.call("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])["result"]
    receipt = None
    for _ in range(200):
        receipt = shared_node.call("eth_getTransactionReceipt", [tx_hash])["result"]
        if receipt:
            break
    assert receipt is not None
    number = receipt["blockNumber"]
    block = shared_node.call("eth_getBlockByNumber", [number, False])["result"]

    raw_header = bytes.fromhex(shared_node.call("debug_getRawHeader", [number])["result"][2:])
    assert "0x" + keccak(raw_header).hex() == block["hash"]
    fields = rlp.decode(raw_header)
    assert "0x" + fields[0].hex() == block["parentHash"] and "0x" + fields[4].hex() == block["transactionsRoot"]

    raw_tx = shared_node.call("debug_getRawTransaction", [tx_hash])["result"]
    assert raw_tx == "0x" + bytes(signed.raw_transaction).hex()
    assert shared_node.call("eth_getRawTransactionByHash", [tx_hash])["result"] == raw_tx

    raw_block = bytes.fromhex(shared_node.call("debug_getRawBlock", [number])["result"][2:])
    assert rlp.decode(raw_block)[0] == fields

    assert shared_node.call("debug_getRawHeader", ["0xffffff"])["result"] is None
    assert shared_node.call("debug_getRawTransaction", ["0x" + "00" * 32])["result"] is None
    bad = shared_node.call("debug_getRawHeader", ["not a block"])
    assert bad["error"]["code"] == -32602
