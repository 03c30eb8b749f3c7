"""Issue 15 finding 5 (node part): an acknowledged transaction survives a crash of the node.

The pool is in memory; before the journal, a transaction the node had acknowledged but not
yet put in a block vanished with a ``kill -9``. These tests run the real node in interval
mode with an hour-long block period (so transactions stay pending), kill it, restart it and
follow the transactions into blocks.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests
from eth_account import Account

from node.pool_journal import JOURNAL_FILE, PoolJournal, encode_record, read_records
from tests.conftest import NodeProcess


def _transfer(key: str, nonce: int, to: str) -> str:
    tx = {"to": to, "value": 0, "gas": 21_000, "gasPrice": 0, "nonce": nonce, "chainId": 1337}
    return "0x" + bytes(Account.sign_transaction(tx, key).raw_transaction).hex()


def _wait_receipt(node: NodeProcess, tx_hash: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        receipt = node.call("eth_getTransactionReceipt", [tx_hash])["result"]
        if receipt is not None:
            return receipt  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"{tx_hash} was never included: {node.call('takasago_transactionStatus', [tx_hash])}")


def test_finding05_acknowledged_transaction_survives_kill_9_and_is_included_once(node_factory: Any) -> None:
    node: NodeProcess = node_factory(mode="interval", extra_args=("--block-period", "3600"))
    account = node.dev_keys["accounts"][0]
    recipient = Account.create().address
    single = node.call("eth_sendRawTransaction", [_transfer(account["privateKey"], 0, recipient)])["result"]
    key = account["privateKey"]
    batch = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [_transfer(key, i, recipient)]}
        for i in (1, 2)
    ]
    answers = requests.post(node.url, json=batch, timeout=30).json()
    hashes = [single, *(a["result"] for a in sorted(answers, key=lambda a: a["id"]))]
    assert all(node.call("takasago_transactionStatus", [h])["result"]["status"] == "pending" for h in hashes)
    assert node.call("eth_blockNumber")["result"] == "0x0"

    node.kill()  # SIGKILL: no shutdown code runs
    node.mode = "instant"  # seal as soon as the re-admitted transactions are ready
    node.extra_args = ()
    node.start()
    receipts = [_wait_receipt(node, h) for h in hashes]
    assert all(r["status"] == "0x1" for r in receipts)
    assert node.call("eth_getTransactionCount", [account["address"], "latest"])["result"] == "0x3"
    head = int(node.call("eth_blockNumber")["result"], 16)
    seen: list[str] = []
    for number in range(1, head + 1):
        seen += node.call("eth_getBlockByNumber", [hex(number), False])["result"]["transactions"]
    assert sorted(seen) == sorted(hashes)  # each exactly once

    # Once included, the journal is compacted: another restart re-admits nothing.
    node.stop()
    assert (node.data_dir / JOURNAL_FILE).stat().st_size == 0
    node.start()
    info = node.call("takasago_nodeInfo")["result"]
    assert info["pool"]["total"] == 0 and info["head"]["number"] == head
    nonce_3 = node.call("eth_sendRawTransaction", [_transfer(account["privateKey"], 3, recipient)])
    assert _wait_receipt(node, nonce_3["result"])["status"] == "0x1"


def test_finding05_journal_keeps_intact_records_and_cuts_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    first, second = b"\x02" + b"a" * 100, b"\x02" + b"b" * 50
    path.write_bytes(encode_record(first) + encode_record(second) + encode_record(b"\x02torn")[:-2])
    journal = PoolJournal(path)
    try:
        assert journal.records == [first, second]
        assert path.stat().st_size == len(encode_record(first) + encode_record(second))
    finally:
        journal.close()
    corrupt = bytearray(path.read_bytes())
    corrupt[-1] ^= 0xFF  # a flipped bit in the last record: its checksum no longer matches
    path.write_bytes(bytes(corrupt))
    assert read_records(path)[0] == [first]
    assert (path.stat().st_mode & 0o777) == 0o600
