"""kill -9 under load loses no transaction any client saw confirmed."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import requests
from eth_account import Account

from tests.conftest import NodeProcess
from tests.support import register_accounts, web3_for

SENDERS = 8


def _load(node: NodeProcess, accounts: list[Any], seen: dict[str, tuple[str, str]], stop: threading.Event) -> None:
    """Send value-0 transfers and record every receipt the node returns."""
    session = requests.Session()
    nonces = {a.address: 0 for a in accounts}
    w3 = web3_for(node.url)
    for a in accounts:
        nonces[a.address] = w3.eth.get_transaction_count(a.address, "latest")
    while not stop.is_set():
        batch, hashes = [], []
        for i, account in enumerate(accounts):
            tx = {
                "to": account.address,
                "value": 0,
                "gas": 21_000,
                "gasPrice": 0,
                "nonce": nonces[account.address],
                "chainId": 1337,
            }
            raw = "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()
            batch.append({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]})
        try:
            responses = session.post(node.url, json=batch, timeout=5).json()
        except (requests.RequestException, ValueError):
            return  # the node was killed
        for account, response in zip(accounts, sorted(responses, key=lambda r: r["id"]), strict=True):
            if "result" in response:
                nonces[account.address] += 1
                hashes.append(response["result"])
        deadline = time.monotonic() + 5
        while hashes and time.monotonic() < deadline and not stop.is_set():
            query = [
                {"jsonrpc": "2.0", "id": i, "method": "eth_getTransactionReceipt", "params": [h]}
                for i, h in enumerate(hashes)
            ]
            try:
                receipts = session.post(node.url, json=query, timeout=5).json()
            except (requests.RequestException, ValueError):
                return
            remaining = []
            for response in sorted(receipts, key=lambda r: r["id"]):
                receipt = response.get("result")
                if receipt:
                    seen[receipt["transactionHash"]] = (receipt["blockNumber"], receipt["blockHash"])
                else:
                    remaining.append(hashes[response["id"]])
            hashes = remaining


def test_kill_nine_under_load_loses_no_confirmed_transaction(node_factory: Any) -> None:
    node: NodeProcess = node_factory()
    w3 = web3_for(node.url)
    accounts = [Account.create() for _ in range(SENDERS)]
    register_accounts(w3, node.dev_keys["admin"]["privateKey"], [a.address for a in accounts])
    seen: dict[str, tuple[str, str]] = {}
    rng = random.Random(2026)
    for _round in range(3):
        stop = threading.Event()
        workers = [threading.Thread(target=_load, args=(node, accounts[i::2], seen, stop)) for i in range(2)]
        for worker in workers:
            worker.start()
        time.sleep(1.5 + rng.random() * 2)
        node.kill()  # SIGKILL: no chance to flush anything
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        node.start()
    assert len(seen) > 50, "the load generator confirmed too few transactions for the test to mean anything"

    # every confirmed transaction is still there, in the same block
    for tx_hash, (number, block_hash) in seen.items():
        receipt = node.call("eth_getTransactionReceipt", [tx_hash])["result"]
        assert receipt is not None, f"confirmed transaction {tx_hash} lost after kill -9"
        assert (receipt["blockNumber"], receipt["blockHash"]) == (number, block_hash)

    # the chain after restart is whole: parent links intact, every block and receipt readable
    head = int(node.call("eth_blockNumber")["result"], 16)
    parent_hash = node.call("eth_getBlockByNumber", ["0x0", False])["result"]["hash"]
    for number in range(1, head + 1):
        block = node.call("eth_getBlockByNumber", [hex(number), False])["result"]
        assert block["parentHash"] == parent_hash, f"broken parent link at #{number}"
        parent_hash = block["hash"]
        for tx_hash in block["transactions"]:
            assert node.call("eth_getTransactionReceipt", [tx_hash])["result"]["blockHash"] == block["hash"]

    # and it keeps producing blocks
    account = accounts[0]
    nonce = w3.eth.get_transaction_count(account.address)
    raw = account.sign_transaction(
        {"to": account.address, "value": 0, "gas": 21_000, "gasPrice": 0, "nonce": nonce, "chainId": 1337}
    ).raw_transaction
    assert w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw), timeout=30)["status"] == 1
