"""Every method, fed odd parameters, answers with a precise error — never -32603."""

from __future__ import annotations

import random
from typing import Any

import requests

from node.rpc.method_table import METHODS
from tests.conftest import NodeProcess

ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, 2**300, "", "0x", "0xzz", "0x0", "0x1", "latest", "pending", "earliest",
    "0x" + "ff" * 20, "0x" + "ff" * 32, "0x" + "00" * 33, "0x" + "f" * 70, "a" * 5000, "0x" + "ab" * 5000,
    {}, [], [[[]]], {"to": 5}, {"from": "0x1"}, {"blockHash": "0x12"}, {"blockNumber": []},
    {"fromBlock": "0x0", "toBlock": "0xffffffffffffffff"}, {"address": [1, 2]}, {"topics": [[None, 5]]},
    {"data": "0x5b600056", "gas": "0x1"}, {"to": "0x" + "00" * 20, "value": "0x" + "ff" * 40},
    ["0x" + "00" * 20, "latest"], {"accessList": [{"address": 1}]}, {"input": "0x00", "data": "0x01"},
]  # fmt: skip


def _methods() -> list[str]:
    return sorted(METHODS) + ["eth_subscribe", "eth_unsubscribe"]


def test_odd_parameters_never_cause_internal_errors(shared_node: NodeProcess) -> None:
    rng = random.Random(1337)
    session = requests.Session()
    methods = _methods()
    assert "eth_getLogs" in methods and "eth_sendRawTransaction" in methods
    requests_sent = 0
    for method in methods:
        batch = []
        for i in range(24):
            arity = rng.randrange(0, 4)
            params: Any = [rng.choice(ODD_VALUES) for _ in range(arity)]
            if i == 0:
                params = rng.choice([None, {}, "x", 5])  # not even an array
            batch.append({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        response = session.post(shared_node.url, json=batch, timeout=60)
        assert response.status_code == 200, (method, response.status_code)
        for item in response.json():
            requests_sent += 1
            if "error" in item:
                error = item["error"]
                assert error["code"] != -32603, (method, batch[item["id"]]["params"], error)
                assert "Traceback" not in error["message"]
                assert isinstance(error["message"], str) and error["message"]
    assert requests_sent == 24 * len(methods)
    assert session.post(shared_node.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).json()["result"]
    log = shared_node.log_path.read_text() if shared_node.log_path else ""
    assert "internal error" not in log and "Traceback" not in log
