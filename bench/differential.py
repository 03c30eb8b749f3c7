"""Differential test: the same signed transactions on anvil and on a takasago node.

Both chains get byte-identical signed transactions (same keys, nonces, gas
limits, zero fees, chain id 1337), so transaction hashes and contract addresses
must match. For every step we compare, between the two chains:

* ``eth_call`` of the step against ``latest`` before sending (return data, or the
  revert error's code and data),
* ``eth_estimateGas`` outcome (success/failure and revert data; the estimate itself
  is only checked to be sufficient, since estimators legitimately differ),
* the receipt: status, gasUsed, cumulativeGasUsed, contractAddress, type,
  effectiveGasPrice, logsBloom and the logs (address, topics, data),
* a set of view calls afterwards (token balances, allowance, Probe.value),

and at the end the code of created contracts and the senders' nonces.

Usage::

    python -m bench.differential --node-url http://127.0.0.1:8545 --data-dir DIR   # starts anvil itself
    python -m bench.differential --node-url URL --anvil-url URL --key 0x... [--spender-key 0x...]

Exit status 1 on any difference.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_utils import to_checksum_address
from web3 import Web3

from contracts.artifacts import load_artifact

REPO = Path(__file__).resolve().parents[1]
CHAIN_ID = 1337
TOKEN_SUPPLY = 1_000_000 * 10**18
ALICE = to_checksum_address("0x" + "a1" * 20)
BOB = to_checksum_address("0x" + "b0" * 20)
CAROL = to_checksum_address("0x" + "c4" * 20)
ZERO = "0x" + "00" * 20
EXECUTION_REVERTED = 3


# --------------------------------------------------------------------------- anvil
def find_anvil() -> str | None:
    """Path of an anvil binary (node_modules first, then PATH), or None."""
    candidates = [
        os.environ.get("ANVIL_BIN", ""),
        str(REPO / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"),
        str(REPO / "node_modules" / ".bin" / "anvil"),
        shutil.which("anvil") or "",
    ]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def anvil_process(
    port: int | None = None, binary: str | None = None, timeout: float = 30, extra_args: tuple[str, ...] = ()
) -> Iterator[str]:
    """Runs anvil (Prague, chain 1337, zero base fee/gas price, automine); yields its URL."""
    binary = binary or find_anvil()
    if binary is None:
        raise FileNotFoundError("anvil binary not found (npm i @foundry-rs/anvil-linux-amd64 or put anvil on PATH)")
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        binary,
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--base-fee",
        "0",
        "--gas-price",
        "0",
        "--chain-id",
        str(CHAIN_ID),
        "--hardfork",
        "prague",
        "--silent",
        *extra_args,
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"anvil exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if "result" in _rpc_raw(url, "eth_chainId", [], timeout=1):
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("anvil did not start in time")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --------------------------------------------------------------------------- JSON-RPC
def _rpc_raw(url: str, method: str, params: list[Any], timeout: float = 60) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return requests.post(url, json=body, timeout=timeout).json()  # type: ignore[no-any-return]


class RPCFailure(Exception):
    pass


class Chain:
    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.session = requests.Session()

    def raw(self, method: str, params: list[Any]) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- sequence
@dataclass
class Step:
    name: str
    data: bytes
    to: str | None  # None: contract creation; "@token"/"@probe": a created contract
    sender: str = "main"  # "main" or "spender"
    gas: int = 500_000
    tx_type: int = 2
    access_list: list[dict[str, Any]] | None = None
    expect_success: bool = True


@dataclass
class StepResult:
    step: str
    chain: str
    call: dict[str, Any]
    estimate: dict[str, Any]
    tx_hash: str
    receipt: dict[str, Any]
    views: dict[str, Any]


@dataclass
class Difference:
    step: str
    field: str
    node: Any
    anvil: Any

    def __str__(self) -> str:
        return f"{self.step}: {self.field}: node={_short(self.node)} anvil={_short(self.anvil)}"


@dataclass
class Report:
    differences: list[Difference] = field(default_factory=list)
    node_results: list[StepResult] = field(default_factory=list)
    anvil_results: list[StepResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def reverted_steps(self) -> list[str]:
        return [r.step for r in self.node_results if r.receipt["status"] == "0x0"]

    @property
    def steps_with_logs(self) -> list[str]:
        return [r.step for r in self.node_results if r.receipt["logs"]]

    @property
    def call_reverts_with_data(self) -> list[str]:
        return [
            r.step for r in self.node_results if r.call.get("error") and r.call["error"].get("data") not in (None, "0x")
        ]


def _short(value: Any, limit: int = 140) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _encoder(name: str) -> Any:
    artifact = load_artifact(name)
    return Web3().eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)


def build_sequence(main: str, spender: str) -> list[Step]:
    token = _encoder("TestToken")
    probe = _encoder("Probe")

    def tok(fn: str, *args: Any) -> bytes:
        return bytes.fromhex(token.encode_abi(fn, list(args))[2:])

    def prb(fn: str, *args: Any) -> bytes:
        return bytes.fromhex(probe.encode_abi(fn, list(args))[2:])

    def create(contract: Any, *args: Any) -> bytes:
        return bytes.fromhex(contract.constructor(*args).data_in_transaction[2:])

    same_spender = spender.lower() == main.lower()
    big = b"\xff" * 4000  # calldata-heavy: the EIP-7623 floor price applies (Prague)
    bls_g1add_inf = b"\x00" * 256  # G1ADD(inf, inf) = inf: Prague precompile 0x0b
    steps = [
        Step("deploy TestToken", create(token, main, TOKEN_SUPPLY), None, gas=3_000_000),
        Step("deploy Probe", create(probe), None, gas=3_000_000),
        Step("deploy TestToken(holder=0) reverts", create(token, ZERO, 1), None, gas=3_000_000, expect_success=False),
        Step("deploy raw STOP initcode", b"\x00", None, gas=100_000),
        Step("transfer alice 1000", tok("transfer", ALICE, 1000), "@token"),
        Step("transfer bob 250 (legacy tx)", tok("transfer", BOB, 250), "@token", tx_type=0),
        Step("transfer > balance reverts", tok("transfer", ALICE, TOKEN_SUPPLY), "@token", expect_success=False),
        Step("transfer to 0 reverts", tok("transfer", ZERO, 1), "@token", expect_success=False),
        Step("approve spender 500", tok("approve", spender, 500), "@token"),
        Step("transferFrom carol 200", tok("transferFrom", main, CAROL, 200), "@token", sender="spender"),
        Step(
            "transferFrom over allowance reverts",
            tok("transferFrom", main, CAROL, 400),
            "@token",
            sender="spender",
            expect_success=False,
        ),
    ]
    if not same_spender:
        steps.append(
            Step(
                "spender transfer, no balance, reverts",
                tok("transfer", BOB, 1),
                "@token",
                sender="spender",
                expect_success=False,
            )
        )
    steps += [
        Step("probe.set(42)", prb("set", 42), "@probe"),
        Step("probe.set(42) again (no-op sstore)", prb("set", 42), "@probe"),
        Step("probe.set(0) (refund)", prb("set", 0), "@probe"),
        Step("probe.fail(7)", prb("fail", 7), "@probe", expect_success=False),
        Step("probe.failWithMessage()", prb("failWithMessage"), "@probe", expect_success=False),
        Step("probe.panic()", prb("panic"), "@probe", expect_success=False),
        Step("probe.burnGas(50)", prb("burnGas", 50), "@probe", gas=2_000_000),
        Step("probe.burnGas(50) again", prb("burnGas", 50), "@probe", gas=2_000_000),
        Step("probe.burnGas(200) out of gas", prb("burnGas", 200), "@probe", gas=200_000, expect_success=False),
        Step("probe.echo(small)", prb("echo", b"hello takasago"), "@probe"),
        Step("probe.echo(4000 bytes) calldata floor", prb("echo", big), "@probe", gas=1_000_000),
        Step("probe unknown selector reverts", bytes.fromhex("deadbeef"), "@probe", expect_success=False),
        Step(
            "probe.set(9) type-1 access list",
            prb("set", 9),
            "@probe",
            tx_type=1,
            access_list=[{"address": "@probe", "storageKeys": ["0x" + "00" * 32]}],
        ),
        Step(
            "probe.set(10) type-2 access list",
            prb("set", 10),
            "@probe",
            access_list=[
                {"address": "@probe", "storageKeys": ["0x" + "00" * 32, "0x" + "00" * 31 + "01"]},
                {"address": ALICE, "storageKeys": []},
            ],
        ),
        Step("value-0 transfer to EOA", b"", ALICE, gas=21_000),
        Step("value-0 call to EOA with data", b"\x00\x01hello", BOB, gas=30_000),
        Step("ecrecover precompile", b"\x00" * 128, "0x" + "00" * 19 + "01", gas=100_000),
        Step("sha256 precompile", b"abc", "0x" + "00" * 19 + "02", gas=100_000),
        Step("BLS12 G1ADD precompile (Prague)", bls_g1add_inf, "0x" + "00" * 19 + "0b", gas=100_000),
        Step("BLS12 G1ADD bad input fails", b"\x01" * 256, "0x" + "00" * 19 + "0b", gas=100_000, expect_success=False),
    ]
    return steps


def _views(main: str, spender: str) -> list[tuple[str, str, bytes]]:
    token = _encoder("TestToken")
    probe = _encoder("Probe")
    views: list[tuple[str, str, bytes]] = []
    for label, who in (("main", main), ("spender", spender), ("alice", ALICE), ("bob", BOB), ("carol", CAROL)):
        views.append((f"balanceOf({label})", "@token", bytes.fromhex(token.encode_abi("balanceOf", [who])[2:])))
    views.append(
        ("allowance(main,spender)", "@token", bytes.fromhex(token.encode_abi("allowance", [main, spender])[2:]))
    )
    views.append(("totalSupply()", "@token", bytes.fromhex(token.encode_abi("totalSupply", [])[2:])))
    views.append(("probe.value()", "@probe", bytes.fromhex(probe.encode_abi("value", [])[2:])))
    return views


# --------------------------------------------------------------------------- running
def _outcome(response: dict[str, Any]) -> dict[str, Any]:
    if "error" in response:
        err = response["error"]
        return {"error": {"code": err.get("code"), "data": err.get("data"), "message": err.get("message")}}
    return {"result": response.get("result")}


class _Runner:
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

    def run_step(self, step: Step, views: list[tuple[str, str, bytes]]) -> StepResult:
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
        call = _outcome(chain.raw("eth_call", [call_obj, "latest"]))
        est_obj = {k: v for k, v in call_obj.items() if k != "gas"}
        estimate = _outcome(chain.raw("eth_estimateGas", [est_obj]))

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
                view_results[label] = _outcome(response)
        return StepResult(step.name, chain.name, call, estimate, tx_hash, receipt, view_results)


def _norm_hex(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x"):
        return value.lower()
    return value


def _receipt_fields(receipt: dict[str, Any]) -> dict[str, Any]:
    logs = [
        {
            "address": _norm_hex(log.get("address")),
            "topics": [_norm_hex(t) for t in log.get("topics", [])],
            "data": _norm_hex(log.get("data")),
            "removed": log.get("removed"),
        }
        for log in receipt.get("logs", [])
    ]
    fields = {
        k: _norm_hex(receipt.get(k))
        for k in (
            "status",
            "gasUsed",
            "cumulativeGasUsed",
            "contractAddress",
            "type",
            "effectiveGasPrice",
            "logsBloom",
            "from",
            "to",
            "transactionHash",
        )
    }
    # Quantities compared numerically (leading zeros would be a shape bug, reported separately).
    for k in ("status", "gasUsed", "cumulativeGasUsed", "type", "effectiveGasPrice"):
        if isinstance(fields[k], str):
            fields[k] = int(fields[k], 16)
    fields["logs"] = logs
    fields["logIndexes"] = [int(log["logIndex"], 16) for log in receipt.get("logs", [])]
    return fields


def _compare_step(step: Step, node: StepResult, anvil: StepResult, report: Report) -> None:
    diffs = report.differences

    def diff(field_name: str, a: Any, b: Any) -> None:
        if a != b:
            diffs.append(Difference(step.name, field_name, a, b))

    # eth_call before sending
    if "result" in node.call or "result" in anvil.call:
        diff("eth_call.result", _norm_hex(node.call.get("result")), _norm_hex(anvil.call.get("result")))
    if "error" in node.call or "error" in anvil.call:
        ne, ae = node.call.get("error") or {}, anvil.call.get("error") or {}
        if EXECUTION_REVERTED in (ne.get("code"), ae.get("code")):
            # reverts are code 3 everywhere; other VM errors (out of gas, invalid input) differ by
            # client (geth -32000, anvil -32603), so for those only "it failed" is compared.
            diff("eth_call.error.code", ne.get("code"), ae.get("code"))
        diff("eth_call.error.data", _norm_hex(ne.get("data")), _norm_hex(ae.get("data")))
        if ne.get("message", "").startswith("execution reverted") != ae.get("message", "").startswith(
            "execution reverted"
        ):
            diff("eth_call.error.message", ne.get("message"), ae.get("message"))
    # eth_estimateGas
    diff("eth_estimateGas.ok", "result" in node.estimate, "result" in anvil.estimate)
    if "error" in node.estimate and "error" in anvil.estimate:
        if EXECUTION_REVERTED in (node.estimate["error"]["code"], anvil.estimate["error"]["code"]):
            diff("eth_estimateGas.error.code", node.estimate["error"]["code"], anvil.estimate["error"]["code"])
        diff(
            "eth_estimateGas.error.data",
            _norm_hex(node.estimate["error"].get("data")),
            _norm_hex(anvil.estimate["error"].get("data")),
        )
    # transaction and receipt
    diff("transactionHash", node.tx_hash.lower(), anvil.tx_hash.lower())
    nr, ar = _receipt_fields(node.receipt), _receipt_fields(anvil.receipt)
    for key in nr:
        diff(f"receipt.{key}", nr[key], ar[key])
    # sanity, not a difference between the chains but a failure all the same
    for result in (node, anvil):
        status = int(result.receipt["status"], 16)
        if status != int(step.expect_success):
            diffs.append(
                Difference(
                    step.name,
                    f"expected status {int(step.expect_success)} on {result.chain}",
                    node.receipt["status"],
                    anvil.receipt["status"],
                )
            )
        if status == 1 and "result" in result.estimate:
            est = int(result.estimate["result"], 16)
            if est < int(result.receipt["gasUsed"], 16):
                diffs.append(
                    Difference(step.name, f"eth_estimateGas < gasUsed on {result.chain}", node.estimate, anvil.estimate)
                )
    # views after the step
    for label in sorted(set(node.views) | set(anvil.views)):
        diff(f"view {label}", node.views.get(label), anvil.views.get(label))
    # shape notes (not differences): fields present on one side only
    missing = sorted(set(anvil.receipt) - set(node.receipt))
    if missing:
        note = f"receipt fields present on anvil but not on node: {missing}"
        if note not in report.notes:
            report.notes.append(note)


def run_differential_report(
    node_url: str,
    anvil_url: str,
    private_key: str,
    spender_key: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Runs the sequence on both chains; ``private_key`` deploys and sends most steps.

    ``spender_key`` (a second sender, registered on the node) is used for
    transferFrom; without it the main key approves and spends for itself.
    """
    keys = {"main": private_key, "spender": spender_key or private_key}
    node = Chain("node", node_url)
    anvil = Chain("anvil", anvil_url)
    report = Report()
    for chain in (node, anvil):
        cid = int(chain.call("eth_chainId", []), 16)
        if cid != CHAIN_ID:
            report.differences.append(Difference("setup", f"{chain.name} chainId", cid, CHAIN_ID))
    if report.differences:
        return report
    # Same nonces on both chains => same signed transactions => same contract addresses.
    for key in set(keys.values()):
        address = Account.from_key(key).address
        ours = int(node.call("eth_getTransactionCount", [address, "latest"]), 16)
        theirs = int(anvil.call("eth_getTransactionCount", [address, "latest"]), 16)
        if theirs > ours:
            raise RPCFailure(f"anvil nonce {theirs} of {address} is ahead of the node's {ours}; use a fresh anvil")
        if theirs < ours:
            anvil.call("anvil_setNonce", [address, hex(ours)])
        anvil.call("anvil_setBalance", [address, hex(10**21)])  # not needed at zero fees; harmless

    main_address = Account.from_key(keys["main"]).address
    spender_address = Account.from_key(keys["spender"]).address
    views = _views(main_address, spender_address)
    node_runner, anvil_runner = _Runner(node, keys), _Runner(anvil, keys)
    for step in build_sequence(main_address, spender_address):
        if progress:
            progress(step.name)
        n = node_runner.run_step(step, views)
        a = anvil_runner.run_step(step, views)
        report.node_results.append(n)
        report.anvil_results.append(a)
        _compare_step(step, n, a, report)

    # final state
    for label, address in sorted(node_runner.contracts.items()):
        other = anvil_runner.contracts.get(label)
        if other is None or other.lower() != address.lower():
            report.differences.append(Difference("final", f"address of {label}", address, other))
            continue
        node_code = node.call("eth_getCode", [address, "latest"])
        anvil_code = anvil.call("eth_getCode", [address, "latest"])
        if node_code.lower() != anvil_code.lower():
            report.differences.append(Difference("final", f"eth_getCode {label}", node_code, anvil_code))
        slot0 = [
            node.call("eth_getStorageAt", [address, "0x0", "latest"]),
            anvil.call("eth_getStorageAt", [address, "0x0", "latest"]),
        ]
        if int(slot0[0], 16) != int(slot0[1], 16):
            report.differences.append(Difference("final", f"eth_getStorageAt {label} slot 0", *slot0))
    for role, address in (("main", main_address), ("spender", spender_address)):
        n_nonce = node.call("eth_getTransactionCount", [address, "latest"])
        a_nonce = anvil.call("eth_getTransactionCount", [address, "latest"])
        if int(n_nonce, 16) != int(a_nonce, 16):
            report.differences.append(Difference("final", f"nonce of {role}", n_nonce, a_nonce))
    return report


def run_differential(
    node_url: str, anvil_url: str, private_key: str, spender_key: str | None = None
) -> list[Difference]:
    """The differences between the node and anvil over the sequence (empty = agreement)."""
    return run_differential_report(node_url, anvil_url, private_key, spender_key).differences


# --------------------------------------------------------------------------- output
def _describe(result: StepResult) -> str:
    err = result.call.get("error")
    if err:
        data = err.get("data") or ""
        return f"revert {data[:18]}{'...' if len(data) > 18 else ''}"
    ret = result.call.get("result") or "0x"
    return f"ok {ret[:18]}{'...' if len(ret) > 18 else ''}"


def format_report(report: Report) -> str:
    lines = []
    header = f"{'#':>2}  {'step':<42} {'status':>6} {'gasUsed':>9} {'logs':>4}  {'eth_call':<30} {'diff':<4}"
    lines.append(header)
    lines.append("-" * len(header))
    diff_steps = {d.step for d in report.differences}
    for i, (n, a) in enumerate(zip(report.node_results, report.anvil_results, strict=True)):
        status = f"{int(n.receipt['status'], 16)}/{int(a.receipt['status'], 16)}"
        n_gas, a_gas = int(n.receipt["gasUsed"], 16), int(a.receipt["gasUsed"], 16)
        gas = f"{n_gas}" if n_gas == a_gas else f"{n_gas}!={a_gas}"
        logs = f"{len(n.receipt['logs'])}"
        mark = "DIFF" if n.step in diff_steps else "ok"
        lines.append(f"{i:>2}  {n.step[:42]:<42} {status:>6} {gas:>9} {logs:>4}  {_describe(n)[:30]:<30} {mark:<4}")
    lines.append("")
    if report.differences:
        lines.append(f"{len(report.differences)} difference(s):")
        lines.extend(f"  - {d}" for d in report.differences)
    else:
        lines.append(
            f"no differences over {len(report.node_results)} transactions "
            f"({len(report.reverted_steps)} reverted, {len(report.steps_with_logs)} with logs)"
        )
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--node-url", required=True)
    parser.add_argument("--anvil-url", help="a fresh anvil (chain 1337, prague, zero fees); started if omitted")
    parser.add_argument("--key", help="sender key (registered on the node); default: admin from --data-dir")
    parser.add_argument("--spender-key", help="second registered sender; default: accounts[0] from --data-dir")
    parser.add_argument("--data-dir", type=Path, help="node data dir with dev-keys.json")
    args = parser.parse_args(argv)
    key, spender = args.key, args.spender_key
    if args.data_dir is not None:
        dev = json.loads((args.data_dir / "dev-keys.json").read_text())
        key = key or dev["admin"]["privateKey"]
        spender = spender or dev["accounts"][0]["privateKey"]
    if key is None:
        parser.error("--key or --data-dir is required")

    def go(anvil_url: str) -> Report:
        return run_differential_report(
            args.node_url, anvil_url, key, spender, progress=lambda s: print(f"  .. {s}", file=sys.stderr)
        )

    if args.anvil_url:
        report = go(args.anvil_url)
    else:
        with anvil_process() as url:
            report = go(url)
    print(format_report(report))
    return 1 if report.differences else 0


if __name__ == "__main__":
    sys.exit(main())
