"""Every JSON-RPC method of the node, success and error paths, over real HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from eth_account import Account

from tests.conftest import NodeProcess, rpc
from tests.support import call_fn, deploy, transact, web3_for

ZERO = "0x" + "00" * 20


@pytest.fixture(scope="module")
def chain(shared_node: NodeProcess) -> dict[str, Any]:
    """A shared node with a token and a probe deployed and one transfer made."""
    w3 = web3_for(shared_node.url)
    keys = shared_node.dev_keys
    admin = keys["admin"]["privateKey"]
    token = deploy(w3, admin, "TestToken", keys["admin"]["address"], 10**24)
    probe = deploy(w3, admin, "Probe")
    receipt = call_fn(w3, admin, token.functions.transfer(keys["accounts"][0]["address"], 1234))
    return {"node": shared_node, "w3": w3, "keys": keys, "token": token, "probe": probe, "receipt": receipt}


def result(node: NodeProcess, method: str, params: list[Any] | None = None) -> Any:
    response = node.call(method, params)
    assert "error" not in response, response
    return response["result"]


def error(node: NodeProcess, method: str, params: list[Any] | None = None) -> dict[str, Any]:
    response = node.call(method, params)
    assert "error" in response, response
    return response["error"]


def test_identity_methods(chain: dict[str, Any]) -> None:
    node = chain["node"]
    assert result(node, "eth_chainId") == "0x539"
    assert result(node, "net_version") == "1337"
    assert result(node, "web3_clientVersion").startswith("takasago-node/")
    assert result(node, "net_listening") is True
    assert result(node, "net_peerCount") == "0x0"
    assert result(node, "eth_syncing") is False
    assert result(node, "eth_accounts") == []
    assert result(node, "web3_sha3", ["0x"]) == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_fees_are_zero(chain: dict[str, Any]) -> None:
    node = chain["node"]
    assert result(node, "eth_gasPrice") == "0x0"
    assert result(node, "eth_maxPriorityFeePerGas") == "0x0"
    history = result(node, "eth_feeHistory", ["0x3", "latest", [25, 75]])
    assert history["baseFeePerGas"] == ["0x0"] * 4
    assert len(history["reward"]) == 3 and history["reward"][0] == ["0x0", "0x0"]
    block = result(node, "eth_getBlockByNumber", ["latest", False])
    assert block["baseFeePerGas"] == "0x0"
    assert error(node, "eth_feeHistory", ["0x3", "latest", [75, 25]])["code"] == -32602


def test_blocks_and_transactions(chain: dict[str, Any]) -> None:
    node, receipt = chain["node"], chain["receipt"]
    tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
    number = receipt["blockNumber"]
    head = int(result(node, "eth_blockNumber"), 16)
    assert head >= number
    by_number = result(node, "eth_getBlockByNumber", [hex(number), False])
    assert tx_hash in by_number["transactions"]
    # header (~700 bytes with the seal) + one signed transfer (~110 bytes)
    assert 750 < int(by_number["size"], 16) < 1200
    by_hash = result(node, "eth_getBlockByHash", [by_number["hash"], True])
    assert by_hash["number"] == hex(number)
    assert by_hash["transactions"][0]["hash"] == tx_hash
    assert result(node, "eth_getBlockTransactionCountByNumber", [hex(number)]) == hex(len(by_number["transactions"]))
    assert result(node, "eth_getBlockTransactionCountByHash", [by_number["hash"]]) == hex(
        len(by_number["transactions"])
    )
    tx = result(node, "eth_getTransactionByHash", [tx_hash])
    assert tx["blockNumber"] == hex(number) and tx["from"] == chain["keys"]["admin"]["address"]
    rcpt = result(node, "eth_getTransactionReceipt", [tx_hash])
    assert rcpt["status"] == "0x1" and len(rcpt["logs"]) == 1
    assert rcpt["logs"][0]["topics"][0] == "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    assert result(node, "eth_getTransactionByBlockNumberAndIndex", [hex(number), "0x0"])["hash"] == tx_hash
    assert result(node, "eth_getTransactionByBlockHashAndIndex", [by_number["hash"], "0x0"])["hash"] == tx_hash
    assert result(node, "eth_getBlockReceipts", [hex(number)])[0]["transactionHash"] == tx_hash
    genesis = result(node, "eth_getBlockByNumber", ["earliest", False])
    assert genesis["number"] == "0x0" and genesis["parentHash"] == "0x" + "00" * 32
    # unknown things are null, not errors
    assert result(node, "eth_getBlockByNumber", [hex(head + 1000), False]) is None
    assert result(node, "eth_getBlockByHash", ["0x" + "11" * 32, False]) is None
    assert result(node, "eth_getTransactionByHash", ["0x" + "22" * 32]) is None
    assert result(node, "eth_getTransactionReceipt", ["0x" + "22" * 32]) is None
    assert result(node, "eth_getTransactionByBlockNumberAndIndex", [hex(number), "0x99"]) is None


def test_state_reads(chain: dict[str, Any]) -> None:
    node, token, keys = chain["node"], chain["token"], chain["keys"]
    holder = keys["accounts"][0]["address"]
    assert result(node, "eth_getBalance", [holder, "latest"]) == "0x0"
    assert int(result(node, "eth_getTransactionCount", [keys["admin"]["address"], "latest"]), 16) >= 3
    assert result(node, "eth_getTransactionCount", [keys["admin"]["address"], "pending"]) == result(
        node, "eth_getTransactionCount", [keys["admin"]["address"], "latest"]
    )
    code = result(node, "eth_getCode", [token.address, "latest"])
    assert len(code) > 1000
    assert result(node, "eth_getCode", [token.address, "earliest"]) == "0x"
    # ERC20 _totalSupply lives in slot 2
    assert int(result(node, "eth_getStorageAt", [token.address, "0x2", "latest"]), 16) == 10**24
    data = token.functions.balanceOf(holder)._encode_transaction_data()
    assert int(result(node, "eth_call", [{"to": token.address, "data": data}, "latest"]), 16) == 1234
    # by block number and by EIP-1898 block hash
    number = chain["receipt"]["blockNumber"]
    before = result(node, "eth_call", [{"to": token.address, "data": data}, hex(number - 1)])
    assert int(before, 16) == 0
    block_hash = result(node, "eth_getBlockByNumber", [hex(number), False])["hash"]
    assert int(result(node, "eth_call", [{"to": token.address, "input": data}, {"blockHash": block_hash}]), 16) == 1234


def test_estimate_gas_is_enough_and_tight(chain: dict[str, Any]) -> None:
    node, token, keys = chain["node"], chain["token"], chain["keys"]
    data = token.functions.transfer(keys["accounts"][1]["address"], 1)._encode_transaction_data()
    tx = {"from": keys["admin"]["address"], "to": token.address, "data": data}
    estimate = int(result(node, "eth_estimateGas", [tx]), 16)
    assert 21_000 < estimate < 100_000
    too_little = {**tx, "gas": hex(estimate - 2_000)}
    assert "error" in node.call("eth_call", [too_little]) or estimate - 2_000 < 21_000


def test_reverts_carry_data(chain: dict[str, Any]) -> None:
    node, probe = chain["node"], chain["probe"]
    custom = error(
        node, "eth_call", [{"to": probe.address, "data": probe.functions.fail(7)._encode_transaction_data()}]
    )
    assert custom["code"] == 3 and custom["message"] == "execution reverted"
    assert (
        custom["data"]
        == "0x"
        + probe.functions.fail(7)
        ._encode_transaction_data()[2:10]
        .replace(probe.functions.fail(7)._encode_transaction_data()[2:10], custom["data"][2:10])
        + (7).to_bytes(32, "big").hex()
    )
    message = error(
        node, "eth_call", [{"to": probe.address, "data": probe.functions.failWithMessage()._encode_transaction_data()}]
    )
    assert message == {
        "code": 3,
        "message": "execution reverted: probe: failure",
        "data": message["data"],
    } and message["data"].startswith("0x08c379a0")
    panic = error(
        node, "eth_estimateGas", [{"to": probe.address, "data": probe.functions.panic()._encode_transaction_data()}]
    )
    assert panic["code"] == 3 and panic["data"].startswith("0x4e487b71") and "assert" in panic["message"]


def test_reverted_transaction_is_mined_with_status_zero(chain: dict[str, Any]) -> None:
    w3, probe, keys = chain["w3"], chain["probe"], chain["keys"]
    receipt = call_fn(w3, keys["admin"]["privateKey"], probe.functions.fail(1), gas=100_000)
    assert receipt["status"] == 0 and receipt["gasUsed"] < 100_000


def test_get_logs_and_filters(chain: dict[str, Any]) -> None:
    node, token, probe, w3, keys = chain["node"], chain["token"], chain["probe"], chain["w3"], chain["keys"]
    transfer_topic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    logs = result(node, "eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest", "address": token.address}])
    assert [entry["topics"][0] for entry in logs] == [transfer_topic, transfer_topic]  # mint + transfer
    assert (
        result(node, "eth_getLogs", [{"fromBlock": "0x0", "address": [token.address], "topics": [["0x" + "00" * 32]]}])
        == []
    )
    block_hash = logs[1]["blockHash"]
    assert result(node, "eth_getLogs", [{"blockHash": block_hash}])[0]["transactionHash"] == logs[1]["transactionHash"]

    log_filter = result(node, "eth_newFilter", [{"address": probe.address}])
    block_filter = result(node, "eth_newBlockFilter")
    call_fn(w3, keys["admin"]["privateKey"], probe.functions.set(42))
    changes = result(node, "eth_getFilterChanges", [log_filter])
    assert len(changes) == 1 and int(changes[0]["data"], 16) == 42
    assert result(node, "eth_getFilterChanges", [log_filter]) == []
    assert len(result(node, "eth_getFilterLogs", [log_filter])) >= 1
    assert len(result(node, "eth_getFilterChanges", [block_filter])) >= 1
    assert result(node, "eth_uninstallFilter", [log_filter]) is True
    assert result(node, "eth_uninstallFilter", [log_filter]) is False
    assert error(node, "eth_getFilterChanges", [log_filter])["message"] == "filter not found"


def test_get_logs_bounds(chain: dict[str, Any]) -> None:
    node = chain["node"]
    too_wide = error(node, "eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(10**6)}])
    assert too_wide["code"] == -32005 and "block range too large" in too_wide["message"]
    bad_topic = error(node, "eth_getLogs", [{"topics": ["0x1234"]}])
    assert bad_topic["code"] == -32602 and "topics" in bad_topic["message"]
    mixed = error(node, "eth_getLogs", [{"blockHash": "0x" + "11" * 32, "fromBlock": "0x0"}])
    assert mixed["code"] == -32602


@pytest.mark.parametrize(
    ("method", "params", "fragment"),
    [
        ("eth_getBalance", ["0x1234", "latest"], "address"),
        ("eth_getBalance", [ZERO, "tomorrow"], "block"),
        ("eth_getBalance", [ZERO, "latest", "extra"], "parameters"),
        ("eth_getBlockByNumber", [True, False], "block"),
        ("eth_getBlockByNumber", ["latest", "yes"], "full"),
        ("eth_getTransactionByHash", ["0x1234"], "32 bytes"),
        ("eth_getStorageAt", [ZERO, "0xzz", "latest"], "position"),
        ("eth_call", ["not an object"], "object"),
        ("eth_call", [{"to": ZERO, "bogus": 1}], "unknown field"),
        ("eth_sendRawTransaction", ["0xzz"], "hex"),
        ("eth_sendRawTransaction", [12], "hex"),
        ("eth_getTransactionCount", [ZERO, "0x" + "f" * 80], "block"),
    ],
)
def test_invalid_params(chain: dict[str, Any], method: str, params: list[Any], fragment: str) -> None:
    err = error(chain["node"], method, params)
    assert err["code"] == -32602 and fragment in err["message"], err


def test_protocol_errors(chain: dict[str, Any]) -> None:
    url = chain["node"].url
    as_json = {"Content-Type": "application/json"}  # the node refuses other content types (issue 15, #19)
    assert requests.post(url, data="{not json", headers=as_json, timeout=10).json()["error"]["code"] == -32700
    assert requests.post(url, data="[]", headers=as_json, timeout=10).json()["error"]["code"] == -32600
    assert requests.post(url, json={"id": 1, "method": "eth_chainId"}, timeout=10).json()["error"]["code"] == -32600
    assert (
        requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": 5}, timeout=10).json()["error"]["code"] == -32600
    )
    unknown = rpc(url, "eth_doesNotExist")["error"]
    assert unknown["code"] == -32601 and "eth_doesNotExist" in unknown["message"]
    deep = "[" * 100_000 + "]" * 100_000
    assert requests.post(url, data=deep, headers=as_json, timeout=10).json()["error"]["code"] in (-32700, -32600)
    nested = {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [json.loads("[" * 80 + "]" * 80)]}
    assert requests.post(url, json=nested, timeout=10).json()["error"]["code"] == -32600
    assert _status_of_oversized_post(chain["node"].port) == 413
    too_many = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(1001)]
    assert requests.post(url, json=too_many, timeout=10).json()["error"]["code"] == -32600
    assert requests.get(url, timeout=10).status_code == 405
    # the node still answers after all that
    assert rpc(url, "eth_chainId")["result"] == "0x539"


def _status_of_oversized_post(port: int) -> int:
    """Announce a 9 MiB body and read the answer before sending it all."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = (
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {9 * 1024 * 1024}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"[" * 1024)
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def test_batch_requests_keep_order_and_ids(chain: dict[str, Any]) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": "a", "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_nope"},
        {"jsonrpc": "2.0", "method": "eth_blockNumber"},  # notification: no response
        {"jsonrpc": "2.0", "id": 3, "method": "net_version"},
    ]
    responses = requests.post(chain["node"].url, json=batch, timeout=10).json()
    assert [r["id"] for r in responses] == ["a", 2, 3]
    assert responses[0]["result"] == "0x539" and responses[1]["error"]["code"] == -32601


def test_admission_errors(chain: dict[str, Any]) -> None:
    node, keys, w3 = chain["node"], chain["keys"], chain["w3"]
    sender = Account.from_key(keys["accounts"][2]["privateKey"])
    base = {"to": ZERO, "value": 0, "gas": 21_000, "gasPrice": 0, "chainId": 1337}
    nonce = w3.eth.get_transaction_count(sender.address)

    def send(**overrides: Any) -> dict[str, Any]:
        tx = {**base, "nonce": nonce, **overrides}
        raw = Account.sign_transaction(tx, sender.key).raw_transaction
        return node.call("eth_sendRawTransaction", ["0x" + raw.hex()])

    assert "nonce too high" in send(nonce=nonce + 1000)["error"]["message"]
    assert "chain id" in send(chainId=1)["error"]["message"]
    assert "exceeds block gas limit" in send(gas=10**9)["error"]["message"]
    assert "intrinsic gas too low" in send(gas=20_000)["error"]["message"]
    assert "insufficient funds" in send(gasPrice=10**9)["error"]["message"]
    legacy_unprotected = Account.sign_transaction(
        {k: v for k, v in {**base, "nonce": nonce}.items() if k != "chainId"}, sender.key
    )
    unprotected = node.call("eth_sendRawTransaction", ["0x" + legacy_unprotected.raw_transaction.hex()])
    assert "EIP-155" in unprotected["error"]["message"]
    queued = send(nonce=nonce + 5)  # waits in the pool for the gap to fill
    assert "result" in queued, queued
    assert "already known" in send(nonce=nonce + 5)["error"]["message"]
    ok = send()
    assert "result" in ok, ok
    w3.eth.wait_for_transaction_receipt(ok["result"], timeout=30, poll_latency=0.02)
    low = send()
    assert "nonce too low" in low["error"]["message"] or "already known" in low["error"]["message"]
    assert "invalid transaction encoding" in node.call("eth_sendRawTransaction", ["0x02deadbeef"])["error"]["message"]
    for unknown in ("0x00c0", "0x7fc0"):  # typed-transaction envelopes py-evm has no codec for
        assert node.call("eth_sendRawTransaction", [unknown])["error"]["message"].startswith("unknown transaction type")


def test_malleable_high_s_signatures_are_refused_for_every_type(chain: dict[str, Any]) -> None:
    """EIP-2: the same transaction with s' = n - s (and the other parity) is refused."""
    import rlp

    node, keys = chain["node"], chain["keys"]
    sender = Account.from_key(keys["accounts"][5]["privateKey"])
    secp256k1_n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    tx = {
        "to": ZERO,
        "value": 0,
        "gas": 21_000,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
        "nonce": 0,
        "chainId": 1337,
    }
    raw = bytes(sender.sign_transaction(tx).raw_transaction)
    fields = rlp.decode(raw[1:])
    y_parity, s = int.from_bytes(fields[9], "big"), int.from_bytes(fields[11], "big")
    fields[9] = rlp.sedes.big_endian_int.serialize(1 - y_parity)
    fields[11] = (secp256k1_n - s).to_bytes(32, "big").lstrip(b"\0")
    malleated = raw[:1] + rlp.encode(fields)
    refused = node.call("eth_sendRawTransaction", ["0x" + malleated.hex()])
    assert refused["error"]["code"] == -32000 and "EIP-2" in refused["error"]["message"], refused
    # the original, low-s form of the very same transaction is accepted
    assert "result" in node.call("eth_sendRawTransaction", ["0x" + raw.hex()])


def test_value_transfer_and_pending_nonce(chain: dict[str, Any]) -> None:
    w3, keys = chain["w3"], chain["keys"]
    sender = keys["accounts"][3]
    receipt = transact(w3, sender["privateKey"], {"to": keys["accounts"][4]["address"], "value": 0, "gas": 21_000})
    assert receipt["status"] == 1 and receipt["gasUsed"] == 21_000 and receipt["effectiveGasPrice"] == 0


def test_runaway_call_is_aborted_and_the_node_goes_on(chain: dict[str, Any]) -> None:
    node = chain["node"]
    # init code "JUMPDEST, 100 × (GAS POP), PUSH1 0 JUMP": an endless loop slow enough for its gas
    # (412 a round) that the 5 s budget stops it before the 100M gas do
    started = time.monotonic()
    aborted = error(node, "eth_call", [{"data": "0x5b" + "5a50" * 100 + "600056", "gas": hex(100_000_000)}])
    assert aborted == {"code": -32000, "message": "execution aborted (timeout = 5s)"}
    assert time.monotonic() - started < 20
    assert result(node, "eth_chainId") == "0x539"
    w3, probe, keys = chain["w3"], chain["probe"], chain["keys"]
    assert call_fn(w3, keys["admin"]["privateKey"], probe.functions.set(5))["status"] == 1
