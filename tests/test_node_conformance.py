"""Issue 15, "Conformance with standard clients": the node answers as geth does, checked against anvil.

Each test sends the same request to our node and, where the answer is comparable, to anvil
(the reference EVM used by tests/test_differential_anvil.py), and checks the geth behaviour
the issue names. Deliberate differences are listed in docs/rpc.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from bench.harness.anvil import anvil_process, find_anvil
from tests.conftest import NodeProcess, rpc

ANVIL = find_anvil()
CHAIN_ID = 1337
# Runtime code, no deployment needed (given by a state override): return storage slot 0 / 1 / SELFBALANCE.
RETURN_SLOT_0 = "0x60005460005260206000f3"
RETURN_SLOT_1 = "0x60015460005260206000f3"
RETURN_SELFBALANCE = "0x4760005260206000f3"
FUNDS = 10**21


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _result(url: str, method: str, params: list[Any]) -> Any:
    response = rpc(url, method, params)
    assert "result" in response, (method, response)
    return response["result"]


def _error(url: str, method: str, params: list[Any]) -> dict[str, Any]:
    response = rpc(url, method, params)
    assert "error" in response, (method, response)
    return response["error"]  # type: ignore[no-any-return]


def _send(url: str, key: str, tx: dict[str, Any]) -> str:
    full = {"chainId": CHAIN_ID, "value": 0, "gas": 100_000, "gasPrice": 0, **tx}
    raw = "0x" + bytes(Account.sign_transaction(full, key).raw_transaction).hex()
    return str(_result(url, "eth_sendRawTransaction", [raw]))


def _receipt(url: str, tx_hash: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        receipt = _result(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            return receipt  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"no receipt for {tx_hash}")


@pytest.fixture(scope="module")
def anvil() -> Iterator[str | None]:
    if ANVIL is None:  # compared where anvil is installed (npm install); the node's own checks still run
        yield None
        return
    with anvil_process(binary=ANVIL) as url:
        yield url


def _urls(node: NodeProcess, anvil: str | None) -> list[str]:
    return [node.url] + ([anvil] if anvil else [])


@pytest.fixture()
def funded_node(node_factory: Any) -> NodeProcess:
    """A dev chain whose account 0 holds ether (set in genesis.json before the first start), in
    interval mode with an hour-long period, so transactions stay pending."""
    node: NodeProcess = node_factory(mode="interval", extra_args=("--block-period", "3600"), start=False)
    genesis_path = node.data_dir / "genesis.json"
    genesis = json.loads(genesis_path.read_text())
    genesis["alloc"][node.dev_keys["accounts"][0]["address"]] = {"balance": hex(FUNDS)}
    genesis_path.write_text(json.dumps(genesis))
    node.start()
    return node


def test_conformance_estimate_gas_plain_transfer_is_21000(shared_node: NodeProcess, anvil: str | None) -> None:
    sender = shared_node.dev_keys["accounts"][0]["address"]
    transfer = {"from": sender, "to": Account.create().address, "value": "0x0"}
    for url in _urls(shared_node, anvil):
        assert _result(url, "eth_estimateGas", [transfer]) == "0x5208", url
    # A call that runs code is still searched for (and a transfer to code is not short-circuited).
    with_code = {"from": sender, "to": "0x" + "ab" * 20}
    overrides = {"0x" + "ab" * 20: {"code": RETURN_SLOT_0}}
    estimates = {
        url: int(_result(url, "eth_estimateGas", [with_code, "latest", overrides]), 16)
        for url in _urls(shared_node, anvil)
    }
    assert all(21_000 < gas < 30_000 for gas in estimates.values()), estimates


def test_conformance_state_overrides_in_call_and_estimate(shared_node: NodeProcess, anvil: str | None) -> None:
    target = "0x" + "cd" * 20
    call = {"to": target}
    cases: list[tuple[dict[str, Any], int]] = [
        ({target: {"code": RETURN_SLOT_0, "stateDiff": {_word(0): _word(42)}}}, 42),
        ({target: {"code": RETURN_SLOT_1, "state": {_word(1): _word(7)}}}, 7),
        ({target: {"code": RETURN_SELFBALANCE, "balance": hex(12345)}}, 12345),
        ({target: {"code": RETURN_SLOT_0, "nonce": "0x5"}}, 0),
    ]
    for overrides, expected in cases:
        for url in _urls(shared_node, anvil):
            assert int(_result(url, "eth_call", [call, "latest", overrides]), 16) == expected, (url, overrides)
    # Overrides apply to that call only: nothing is written.
    assert _result(shared_node.url, "eth_getCode", [target, "latest"]) == "0x"
    # 'state' replaces the whole storage: a slot set only by stateDiff elsewhere reads 0 under 'state'.
    both = {target: {"code": RETURN_SLOT_0, "state": {_word(1): _word(1)}, "stateDiff": {_word(0): _word(1)}}}
    error = _error(shared_node.url, "eth_call", [call, "latest", both])
    assert error["code"] == -32602 and "both 'state' and 'stateDiff'" in error["message"]
    bad = _error(shared_node.url, "eth_call", [call, "latest", {target: {"codes": "0x"}}])
    assert bad["code"] == -32602 and "codes" in bad["message"]
    # eth_estimateGas takes them too: the call succeeds only with the code the override gives.
    assert (
        int(_result(shared_node.url, "eth_estimateGas", [call, "latest", {target: {"code": RETURN_SLOT_0}}]), 16)
        > 21_000
    )


def test_conformance_insufficient_funds_names_the_sender_as_an_address(shared_node: NodeProcess) -> None:
    poor = Account.create().address
    error = _error(shared_node.url, "eth_call", [{"from": poor, "to": poor, "value": "0x1"}])
    assert error["message"] == f"insufficient funds for gas * price + value: address {poor} have 0 want 1"
    assert "b'" not in error["message"]
    estimate = _error(
        shared_node.url, "eth_estimateGas", [{"from": poor, "to": poor, "gasPrice": "0x2", "gas": "0x5208"}]
    )
    assert estimate["message"] == f"insufficient funds for gas * price + value: address {poor} have 0 want 42000"


def test_conformance_raw_transaction_by_block_and_index(shared_node: NodeProcess, anvil: str | None) -> None:
    key = shared_node.dev_keys["accounts"][1]["privateKey"]
    for url in _urls(shared_node, anvil):
        nonce = int(_result(url, "eth_getTransactionCount", [Account.from_key(key).address, "pending"]), 16)
        tx_hash = _send(url, key, {"to": Account.create().address, "nonce": nonce, "gas": 21_000})
        receipt = _receipt(url, tx_hash)
        index = receipt["transactionIndex"]
        by_number = _result(url, "eth_getRawTransactionByBlockNumberAndIndex", [receipt["blockNumber"], index])
        by_hash = _result(url, "eth_getRawTransactionByBlockHashAndIndex", [receipt["blockHash"], index])
        assert by_number == by_hash == _result(url, "eth_getRawTransactionByHash", [tx_hash]), url
        assert "0x" + keccak(hexstr=by_number).hex() == tx_hash
        assert _result(url, "eth_getRawTransactionByBlockNumberAndIndex", [receipt["blockNumber"], "0x63"]) is None
        assert _result(url, "eth_getRawTransactionByBlockHashAndIndex", ["0x" + "00" * 32, "0x0"]) is None


def _probe_code(other: str) -> str:
    """Runtime: SLOAD 0, SLOAD 1, BALANCE(other), STOP — and the initcode that deploys it."""
    runtime = "6000545060015450" + "73" + other[2:].lower() + "315000"
    assert len(runtime) == 64
    return "0x6020600c60003960206000f3" + runtime


def test_conformance_create_access_list(shared_node: NodeProcess, anvil: str | None) -> None:
    key = shared_node.dev_keys["accounts"][2]["privateKey"]
    sender = Account.from_key(key).address
    other = to_checksum_address("0x" + "5e" * 20)
    lists = {}
    for url in _urls(shared_node, anvil):
        nonce = int(_result(url, "eth_getTransactionCount", [sender, "pending"]), 16)
        receipt = _receipt(url, _send(url, key, {"nonce": nonce, "data": _probe_code(other)}))
        probe = receipt["contractAddress"]
        answer = _result(url, "eth_createAccessList", [{"from": sender, "to": probe}, "latest"])
        entries = {e["address"].lower(): sorted(int(k, 16) for k in e["storageKeys"]) for e in answer["accessList"]}
        assert entries == {probe.lower(): [0, 1], other.lower(): []}, (url, answer)
        assert all(len(k) == 66 for e in answer["accessList"] for k in e["storageKeys"])
        # Sending with that list costs what the answer says, and less than without it (the calls are warm).
        with_list = {"from": sender, "to": probe, "accessList": answer["accessList"]}
        assert int(_result(url, "eth_estimateGas", [with_list]), 16) >= int(answer["gasUsed"], 16)
        lists[url] = int(answer["gasUsed"], 16)
    assert len(set(lists.values())) == 1, lists  # node and anvil agree on the gas


def test_conformance_pending_block_and_pending_fee_cap(funded_node: NodeProcess) -> None:
    node = funded_node
    account = node.dev_keys["accounts"][0]
    tip, cap = 1_000_000_000, 3_000_000_000
    tx = {
        "type": 2, "chainId": CHAIN_ID, "nonce": 0, "to": Account.create().address, "value": 5, "gas": 21_000,
        "maxFeePerGas": cap, "maxPriorityFeePerGas": tip,
    }  # fmt: skip
    raw = "0x" + bytes(Account.sign_transaction(tx, account["privateKey"]).raw_transaction).hex()
    tx_hash = _result(node.url, "eth_sendRawTransaction", [raw])
    pending_tx = _result(node.url, "eth_getTransactionByHash", [tx_hash])
    assert pending_tx["blockNumber"] is None
    assert int(pending_tx["gasPrice"], 16) == cap  # geth: the cap while pending, not the tip
    assert int(pending_tx["maxPriorityFeePerGas"], 16) == tip

    latest = _result(node.url, "eth_getBlockByNumber", ["latest", False])
    pending = _result(node.url, "eth_getBlockByNumber", ["pending", False])
    assert int(pending["number"], 16) == int(latest["number"], 16) + 1
    assert pending["parentHash"] == latest["hash"]
    assert pending["transactions"] == [tx_hash]
    assert pending["hash"] is None and pending["miner"] is None and pending["nonce"] is None
    assert int(pending["gasUsed"], 16) == 21_000
    full = _result(node.url, "eth_getBlockByNumber", ["pending", True])
    assert [t["hash"] for t in full["transactions"]] == [tx_hash]
    assert int(full["transactions"][0]["gasPrice"], 16) == cap
    assert _result(node.url, "eth_getBlockTransactionCountByNumber", ["pending"]) == "0x1"
    assert _result(node.url, "eth_getTransactionByBlockNumberAndIndex", ["pending", "0x0"])["hash"] == tx_hash
    assert _result(node.url, "eth_getRawTransactionByBlockNumberAndIndex", ["pending", "0x0"]) == raw
    assert _result(node.url, "eth_getTransactionByBlockNumberAndIndex", ["pending", "0x1"]) is None
    assert _result(node.url, "eth_blockNumber", []) == latest["number"]  # nothing was sealed or written


def test_conformance_same_nonce_replacement_is_underpriced(funded_node: NodeProcess, anvil: str | None) -> None:
    key = funded_node.dev_keys["accounts"][1]["privateKey"]
    first = {"nonce": 0, "to": Account.create().address, "gas": 21_000}
    replacement = {**first, "to": Account.create().address, "chainId": CHAIN_ID, "value": 0, "gasPrice": 0}
    raw = "0x" + bytes(Account.sign_transaction(replacement, key).raw_transaction).hex()
    urls = [funded_node.url]
    with anvil_process(binary=ANVIL, extra_args=("--no-mining",)) if anvil else _nothing() as anvil_url:
        if anvil_url:  # anvil, not mining, so the first stays pending as it does on our interval node
            urls.append(anvil_url)
        for url in urls:
            _send(url, key, first)
            error = _error(url, "eth_sendRawTransaction", [raw])
            assert "replacement transaction underpriced" in error["message"], (url, error)
    ours = _error(funded_node.url, "eth_sendRawTransaction", [raw])
    assert ours["code"] == -32000 and ours["message"].startswith("replacement transaction underpriced")


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


COUNTER = "0x600054600101806000556000526020" + "6000f3"  # slot0 += 1; return slot0
REVERTS = "0x60006000fd"


def test_conformance_simulate_v1_blocks_carry_state(shared_node: NodeProcess, anvil: str | None) -> None:
    counter, reverter = "0x" + "c0" * 20, "0x" + "de" * 20
    sender = shared_node.dev_keys["accounts"][3]["address"]
    options = {
        "blockStateCalls": [
            {
                "stateOverrides": {counter: {"code": COUNTER}, reverter: {"code": REVERTS}},
                "calls": [
                    {"from": sender, "to": counter},
                    {"from": sender, "to": counter},
                    {"from": sender, "to": reverter},
                ],
            },
            {"blockOverrides": {"time": hex(4_000_000_000)}, "calls": [{"from": sender, "to": counter}]},
        ]
    }
    answers = {}
    for url in _urls(shared_node, anvil):
        head = int(_result(url, "eth_blockNumber", []), 16)
        blocks = _result(url, "eth_simulateV1", [options, "latest"])
        numbers = [int(b["number"], 16) for b in blocks]
        assert numbers[1] == numbers[0] + 1, url
        if url == shared_node.url:  # (anvil 1.x numbers the first one as the head, and leaves parentHash zero)
            assert numbers == [head + 1, head + 2] and blocks[1]["parentHash"] == blocks[0]["hash"]
        assert int(blocks[1]["timestamp"], 16) == 4_000_000_000
        calls = [c for b in blocks for c in b["calls"]]
        assert [int(c["returnData"], 16) if c["returnData"] != "0x" else None for c in calls] == [1, 2, None, 3], url
        assert [c["status"] for c in calls] == ["0x1", "0x1", "0x0", "0x1"]
        assert "error" in calls[2] and (url != shared_node.url or calls[2]["error"]["code"] == 3), calls[2]  # geth: 3
        assert len(blocks[0]["transactions"]) == 3
        answers[url] = [(c["status"], c["returnData"], c["gasUsed"]) for c in calls]
        assert _result(url, "eth_blockNumber", []) == hex(head)  # nothing sealed or written
        assert _result(url, "eth_getCode", [counter, "latest"]) == "0x"
    assert len({json.dumps(a) for a in answers.values()}) == 1, answers  # node and anvil agree, gas included
    refused = _error(shared_node.url, "eth_simulateV1", [{**options, "validation": True}, "latest"])
    assert refused["code"] == -32602 and "validation" in refused["message"]
