"""Running the sequence on one chain and keeping every raw answer.

``Chain`` is deliberately not ``ledger_client.rpc.Rpc``: the comparison needs the raw JSON-RPC
error objects (code, message, revert data) exactly as each client sent them, not typed
exceptions.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import requests
from eth_account import Account
from eth_utils import to_checksum_address

from tests.differential.sequence import CHAIN_ID, Step, View


class RPCFailure(Exception):
    """A call the sequence relies on failed (not a difference: the run cannot go on)."""


class Chain:
    """One JSON-RPC endpoint, named for the report (``"node"``, ``"anvil"``)."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.session = requests.Session()

    def raw(self, method: str, params: list[Any]) -> dict[str, Any]:
        """The whole response object, ``error`` included."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        return self.session.post(self.url, json=body, timeout=60).json()  # type: ignore[no-any-return]

    def call(self, method: str, params: list[Any]) -> Any:
        response = self.raw(method, params)
        if "error" in response:
            raise RPCFailure(f"{self.name}: {method} {json.dumps(params)[:300]} -> {response['error']}")
        return response["result"]

    def wait_receipt(self, tx_hash: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            receipt = self.call("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                return receipt  # type: ignore[no-any-return]
            time.sleep(0.02)
        raise RPCFailure(f"{self.name}: no receipt for {tx_hash} after {timeout}s")


@dataclass
class StepResult:
    """What one chain answered for one step: before sending, the receipt, and the views after."""

    step: str
    chain: str
    call: dict[str, Any]
    estimate: dict[str, Any]
    tx_hash: str
    receipt: dict[str, Any]
    views: dict[str, Any]


def outcome(response: dict[str, Any]) -> dict[str, Any]:
    """``{"result": ...}`` or ``{"error": {code, data, message}}`` of a raw response."""
    if "error" in response:
        err = response["error"]
        return {"error": {"code": err.get("code"), "data": err.get("data"), "message": err.get("message")}}
    return {"result": response.get("result")}


class ChainRunner:
    """Signs and sends the steps on one chain, in order, tracking nonces and created contracts.

    ``keys`` maps the sequence's sender roles (``"main"``, ``"spender"``) to private keys.
    """

    def __init__(self, chain: Chain, keys: dict[str, str]) -> None:
        self.chain = chain
        self.accounts = {role: Account.from_key(key) for role, key in keys.items()}
        self.nonces = {
            role: int(chain.call("eth_getTransactionCount", [a.address, "latest"]), 16)
            for role, a in self.accounts.items()
        }
        self.contracts: dict[str, str] = {}

    def resolve(self, target: str | None) -> str | None:
        if target is None or not target.startswith("@"):
            return target
        if target not in self.contracts:
            raise RPCFailure(f"{target} was not deployed on {self.chain.name}")
        return self.contracts[target]

    def run_step(self, step: Step, views: list[View]) -> StepResult:
        chain = self.chain
        account = self.accounts[step.sender]
        to = self.resolve(step.to)
        call_obj: dict[str, Any] = {"from": account.address, "data": "0x" + step.data.hex(), "gas": hex(step.gas)}
        if to is not None:
            call_obj["to"] = to
        access_list = None
        if step.access_list is not None:
            access_list = [
                {"address": to_checksum_address(self.resolve(e["address"]) or ""), "storageKeys": e["storageKeys"]}
                for e in step.access_list
            ]
            call_obj["accessList"] = access_list
        call = outcome(chain.raw("eth_call", [call_obj, "latest"]))
        est_obj = {k: v for k, v in call_obj.items() if k != "gas"}
        estimate = outcome(chain.raw("eth_estimateGas", [est_obj]))

        tx: dict[str, Any] = {
            "nonce": self.nonces[step.sender],
            "gas": step.gas,
            "value": 0,
            "data": step.data,
            "chainId": CHAIN_ID,
        }
        if to is not None:
            tx["to"] = to_checksum_address(to)
        if step.tx_type == 0:
            tx["gasPrice"] = 0
        elif step.tx_type == 1:
            tx["gasPrice"] = 0
            tx["type"] = 1
        else:
            tx["maxFeePerGas"] = 0
            tx["maxPriorityFeePerGas"] = 0
            tx["type"] = 2
        if access_list is not None:
            tx["accessList"] = access_list
        signed = account.sign_transaction(tx)
        tx_hash = chain.call("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])
        self.nonces[step.sender] += 1
        receipt = chain.wait_receipt(tx_hash)
        if to is None and receipt.get("status") == "0x1" and receipt.get("contractAddress"):
            if step.name.startswith("deploy TestToken"):
                self.contracts.setdefault("@token", receipt["contractAddress"])
            elif step.name.startswith("deploy Probe"):
                self.contracts.setdefault("@probe", receipt["contractAddress"])
        view_results: dict[str, Any] = {}
        for label, target, data in views:
            if target in self.contracts:
                response = chain.raw("eth_call", [{"to": self.contracts[target], "data": "0x" + data.hex()}, "latest"])
                view_results[label] = outcome(response)
        return StepResult(step.name, chain.name, call, estimate, tx_hash, receipt, view_results)
