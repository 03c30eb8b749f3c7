"""The wallet's receipt watcher against a real node: woken by the node's new heads, timer polling as the fallback.

Issue 18 found that a 10 ms poll timer made every confirmation wait for the next tick (a
help request measured 1.8x a payment for ~1.2x the work). The watcher now sends its batch
when the node announces a block over WebSocket; these tests check that it does (few
batches, none on the slow safety timer), and that without the subscription it still
confirms by polling.
"""

from __future__ import annotations

import time
from typing import Any

from eth_account import Account

from ledger_client.rpc import Rpc
from tests.conftest import free_port
from wallet_api import receipts
from wallet_api.receipts import ReceiptWatcher, ws_url_of


class CountingRpc(Rpc):
    """The real client, counting the receipt batches it sends."""

    batches = 0

    def batch_results(self, calls: Any, *args: Any, **kwargs: Any) -> Any:
        self.batches += 1
        return super().batch_results(calls, *args, **kwargs)


def _send(node: Any, nonce: int) -> str:
    account = Account.from_key(node.dev_keys["accounts"][1]["privateKey"])
    chain_id = int(node.call("eth_chainId")["result"], 16)
    tx = {"to": "0x" + "77" * 20, "value": 0, "gas": 21_000, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0,
          "nonce": nonce, "chainId": chain_id, "type": 2}  # fmt: skip
    reply = node.call("eth_sendRawTransaction", ["0x" + account.sign_transaction(tx).raw_transaction.hex()])
    return str(reply["result"])


def _nonce(node: Any) -> int:
    address = Account.from_key(node.dev_keys["accounts"][1]["privateKey"]).address
    return int(node.call("eth_getTransactionCount", [address, "pending"])["result"], 16)


def test_ws_url_is_the_rpc_endpoint_over_websocket() -> None:
    assert ws_url_of("http://127.0.0.1:8545") == "ws://127.0.0.1:8545"
    assert ws_url_of("https://node.example:443/rpc") == "wss://node.example:443/rpc"
    assert ws_url_of("ipc:///tmp/node.ipc") is None


def test_confirmations_are_woken_by_new_heads(shared_node: Any) -> None:
    rpc = CountingRpc(shared_node.url)
    watcher = ReceiptWatcher(rpc, shared_node.ws_url)
    assert watcher.wait("0x" + "00" * 32, 0.05) is None  # starts the thread and the subscription
    deadline = time.monotonic() + 10
    while not (watcher._heads is not None and watcher._heads.subscribed) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert watcher._heads is not None and watcher._heads.subscribed
    time.sleep(0.3)  # let the subscription settle (eth_subscribe answered)
    nonce = _nonce(shared_node)
    for i in range(5):
        rpc.batches = 0
        started = time.monotonic()
        tx_hash = _send(shared_node, nonce + i)
        receipt = watcher.wait(tx_hash, 5)
        waited = time.monotonic() - started
        assert receipt is not None and receipt["status"] == 1, receipt
        # woken by the head: well under the safety timer, and only a batch or two (not one per 10 ms)
        assert waited < receipts.SUBSCRIBED_POLL_SECONDS, f"confirmation took {waited * 1000:.0f} ms"
        assert rpc.batches <= 3, rpc.batches
    assert watcher._heads.heads_seen >= 5


def test_without_a_subscription_the_timer_still_confirms(shared_node: Any) -> None:
    rpc = CountingRpc(shared_node.url)
    watcher = ReceiptWatcher(rpc, f"ws://127.0.0.1:{free_port()}")  # nobody listens there
    tx_hash = _send(shared_node, _nonce(shared_node))
    receipt = watcher.wait(tx_hash, 5)
    assert receipt is not None and receipt["status"] == 1
    assert watcher._heads is not None and not watcher._heads.subscribed
    plain = ReceiptWatcher(Rpc(shared_node.url))  # no WebSocket at all
    assert plain.wait(_send(shared_node, _nonce(shared_node)), 5) is not None
