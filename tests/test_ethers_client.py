"""ethers v6 (the JS library most dapps and wallets use) against the node.

Runs tests/js/ethers_client.mjs with the system `node` and asserts on its JSON summary:
deploy, transfer, balances, queryFilter, receipts, revert decoding, and the Transfer
event delivered both over a WebSocketProvider subscription and HTTP filter polling.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "js" / "ethers_client.mjs"
NODE = shutil.which("node")
SUPPLY = 1_000_000 * 10**18
AMOUNT = 1234
INSUFFICIENT_BALANCE = "0xe450d38c"

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node (JavaScript runtime) not on PATH"),
    pytest.mark.skipif(
        not (REPO / "node_modules" / "ethers").is_dir(), reason="ethers not installed: run `npm install`"
    ),
]


@pytest.fixture(scope="module")
def summary(shared_node: Any) -> Iterator[dict[str, Any]]:
    key = shared_node.dev_keys["admin"]["privateKey"]
    proc = subprocess.run(
        [NODE, str(SCRIPT), shared_node.url, key, shared_node.ws_url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no summary (exit {proc.returncode})\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    result = json.loads(lines[-1])
    assert result.get("ok") is True and proc.returncode == 0, json.dumps(result, indent=2) + proc.stderr[-4000:]
    yield result


def test_deploy_transfer_and_balances(summary: dict[str, Any]) -> None:
    assert summary["chainId"] == "1337"
    assert summary["deploy"]["status"] == 1
    assert summary["deploy"]["contractAddress"] == summary["token"]
    assert summary["code"] is True
    assert (summary["name"], summary["symbol"], summary["decimals"]) == ("Test Token", "TST", 18)
    transfer = summary["transfer"]
    assert transfer["status"] == 1 and transfer["logs"] == 1 and transfer["parsed"] == ["Transfer"]
    assert summary["confirmations"] >= 1
    assert summary["balances"] == {
        "sender": str(SUPPLY - AMOUNT),
        "recipient": str(AMOUNT),
        "totalSupply": str(SUPPLY),
    }


def test_transaction_and_block_lookup(summary: dict[str, Any]) -> None:
    transfer = summary["transfer"]
    fetched = summary["fetched"]
    assert fetched["hash"] == transfer["hash"]
    assert fetched["from"] == summary["sender"]
    assert fetched["to"] == summary["token"]
    assert fetched["blockNumber"] == transfer["blockNumber"]
    assert fetched["chainId"] == "1337"
    assert summary["block"]["number"] == transfer["blockNumber"]
    assert transfer["hash"] in summary["block"]["transactions"]
    assert summary["block"]["baseFeePerGas"] == "0"


def test_query_filter(summary: dict[str, Any]) -> None:
    qf = summary["queryFilter"]
    assert qf["all"] == 2 and qf["allNames"] == ["Transfer", "Transfer"]  # mint + transfer
    assert qf["toRecipient"] == 1
    assert qf["toRecipientArgs"] == [[summary["sender"], summary["recipient"], str(AMOUNT)]]
    assert qf["toRecipientTx"] == [summary["transfer"]["hash"]]


def test_revert_data_is_decoded(summary: dict[str, Any]) -> None:
    static = summary["staticCallRevert"]
    assert static is not None and static["code"] == "CALL_EXCEPTION"
    assert static["revertName"] == "ERC20InsufficientBalance"
    assert static["revertArgs"] == [summary["sender"], str(SUPPLY - AMOUNT), str(2 * SUPPLY)]
    for key in ("estimateRevert", "sendRevert"):
        info = summary[key]
        assert info is not None and info["code"] == "CALL_EXCEPTION", (key, info)
        assert (info["data"] or "").startswith(INSUFFICIENT_BALANCE), (key, info)
    assert summary["minedRevert"].get("status") == 0, summary["minedRevert"]


def test_events_over_websocket_and_http_filters(summary: dict[str, Any]) -> None:
    expected = {
        "name": "Transfer",
        "from": summary["sender"],
        "to": summary["recipient"],
        "value": str(AMOUNT),
        "transactionHash": summary["transfer"]["hash"],
        "blockNumber": summary["transfer"]["blockNumber"],
    }
    for key in ("wsEvent", "httpEvent"):
        event = {k: v for k, v in summary[key].items() if k != "listenerArgs"}
        assert event == expected, (key, summary[key])
    assert isinstance(summary["wsBlock"], int) and summary["wsBlock"] >= summary["blockNumberBefore"]


def test_plain_send_with_ethers_defaults(summary: dict[str, Any]) -> None:
    """wallet.sendTransaction({to, value: 0}) with no gas/fee overrides, as a wallet would send it.

    ethers estimates gas first (eth_estimateGas on a plain transfer) and takes fees from
    eth_gasPrice; on a zero-fee chain this must simply work.
    """
    assert summary["feeData"]["gasPrice"] == "0"
    assert summary["defaultFeeTx"].get("status") == 1, summary["defaultFeeTx"]
