"""Differential test: the same signed transactions on anvil (reference EVM) and on our node.

See tests/differential for the sequence and what is compared. Skipped only when
no anvil binary is available.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account

from tests.differential import (
    CHAIN_ID,
    Chain,
    Report,
    Step,
    anvil_process,
    compare_step,
    encoder,
    find_anvil,
    format_report,
    run_sequence,
)

ANVIL = find_anvil()
pytestmark = pytest.mark.skipif(
    ANVIL is None,
    reason="anvil binary not found (node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil, $ANVIL_BIN or PATH); "
    "run `npm install` to get @foundry-rs/anvil-linux-amd64",
)

INSUFFICIENT_BALANCE = "0xe450d38c"  # ERC20InsufficientBalance(address,uint256,uint256)
INSUFFICIENT_ALLOWANCE = "0xfb8f41b2"  # ERC20InsufficientAllowance(address,uint256,uint256)
INVALID_RECEIVER = "0xec442f05"  # ERC20InvalidReceiver(address)
PROBE_FAILED_7 = "0x8d41f44f" + "00" * 31 + "07"  # ProbeFailed(7)
ERROR_STRING = "0x08c379a0"  # Error(string)
PANIC_1 = "0x4e487b71" + "00" * 31 + "01"  # Panic(0x01)


@pytest.fixture(scope="module")
def report(shared_node: Any) -> Iterator[Report]:
    keys = shared_node.dev_keys
    with anvil_process(binary=ANVIL) as anvil_url:
        result = run_sequence(
            shared_node.url, anvil_url, keys["admin"]["privateKey"], keys["accounts"][0]["privateKey"]
        )
    print(format_report(result))
    yield result


def _by_step(report: Report) -> dict[str, Any]:
    return {r.step: r for r in report.node_results}


def test_sequence_really_exercises_reverts_and_logs(report: Report) -> None:
    assert len(report.node_results) >= 25
    reverted = set(report.reverted_steps)
    for name in (
        "transfer > balance reverts",
        "transferFrom over allowance reverts",
        "probe.fail(7)",
        "probe.failWithMessage()",
        "probe.panic()",
        "deploy TestToken(holder=0) reverts",
        "probe.burnGas(200) out of gas",
    ):
        assert name in reverted, (name, sorted(reverted))
    with_logs = set(report.steps_with_logs)
    for name in (
        "deploy TestToken",
        "transfer alice 1000",
        "approve spender 500",
        "transferFrom carol 200",
        "probe.set(42)",
    ):
        assert name in with_logs, (name, sorted(with_logs))

    steps = _by_step(report)
    expected_prefixes = {
        "transfer > balance reverts": INSUFFICIENT_BALANCE,
        "transferFrom over allowance reverts": INSUFFICIENT_ALLOWANCE,
        "transfer to 0 reverts": INVALID_RECEIVER,
        "deploy TestToken(holder=0) reverts": INVALID_RECEIVER,
        "probe.fail(7)": PROBE_FAILED_7,
        "probe.failWithMessage()": ERROR_STRING,
        "probe.panic()": PANIC_1,
    }
    for name, prefix in expected_prefixes.items():
        error = steps[name].call.get("error")
        assert error is not None and error["code"] == 3, (name, steps[name].call)
        assert (error.get("data") or "").lower().startswith(prefix), (name, error)
    assert "probe: failure" in steps["probe.failWithMessage()"].call["error"]["message"]


def test_execution_matches_anvil(report: Report) -> None:
    """Receipts (status, gasUsed, logs, bloom, addresses), eth_call results and revert data, views, final state."""
    differences = [d for d in report.differences if not d.field.startswith("eth_estimateGas")]
    assert not differences, "\n" + "\n".join(map(str, differences)) + "\n\n" + format_report(report)


def test_estimate_gas_matches_anvil(report: Report) -> None:
    """eth_estimateGas succeeds where anvil's does, fails with the same revert data, and is sufficient."""
    differences = [d for d in report.differences if d.field.startswith("eth_estimateGas")]
    assert not differences, "\n" + "\n".join(map(str, differences))


def test_comparison_detects_a_difference(report: Report) -> None:
    """The comparison itself is not vacuous: a doctored receipt or revert payload is reported."""
    node, anvil = report.node_results[4], report.anvil_results[4]
    step = Step(node.step, b"", "@token")
    fresh = Report()
    compare_step(step, node, anvil, fresh)
    assert not [d for d in fresh.differences if not d.field.startswith("eth_estimateGas")]

    doctored = copy.deepcopy(anvil)
    doctored.receipt["gasUsed"] = hex(int(doctored.receipt["gasUsed"], 16) + 1)
    doctored.receipt["logs"][0]["data"] = "0x" + "00" * 32
    fresh = Report()
    compare_step(step, node, doctored, fresh)
    fields = {d.field for d in fresh.differences}
    assert {"receipt.gasUsed", "receipt.logs"} <= fields, fields

    steps = {r.step: i for i, r in enumerate(report.node_results)}
    i = steps["probe.fail(7)"]
    doctored = copy.deepcopy(report.anvil_results[i])
    doctored.call["error"]["data"] = "0x8d41f44f" + "00" * 31 + "08"
    fresh = Report()
    compare_step(Step("probe.fail(7)", b"", "@probe", expect_success=False), report.node_results[i], doctored, fresh)
    assert "eth_call.error.data" in {d.field for d in fresh.differences}


def test_gas_limit_below_calldata_floor_is_not_mined(shared_node: Any) -> None:
    """EIP-7623 (Prague): a gas limit below the calldata floor makes the transaction invalid.

    Probe.echo("hello takasago") to an EOA costs 21_000 + 4*zero + 16*nonzero = 22_468 by the
    old rule but 21_000 + 10 * tokens = 22_600 by the floor. With gas 22_468 geth rejects it
    ("insufficient gas for floor data gas cost") and anvil drops it; it must never be mined
    (and certainly never with gasUsed above its gas limit).
    """
    key = shared_node.dev_keys["accounts"][1]["privateKey"]
    account = Account.from_key(key)
    data = bytes.fromhex(encoder("Probe").encode_abi("echo", [b"hello takasago"])[2:])
    with anvil_process(binary=ANVIL) as anvil_url:
        outcomes = {}
        for chain in (Chain("node", shared_node.url), Chain("anvil", anvil_url)):
            nonce = int(chain.call("eth_getTransactionCount", [account.address, "pending"]), 16)
            tx = {"to": "0x" + "77" * 20, "data": data, "gas": 22_468, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0,
                  "nonce": nonce, "chainId": CHAIN_ID, "type": 2}  # fmt: skip
            response = chain.raw("eth_sendRawTransaction", ["0x" + account.sign_transaction(tx).raw_transaction.hex()])
            receipt = None
            if "result" in response:
                deadline = time.monotonic() + 3
                while receipt is None and time.monotonic() < deadline:
                    receipt = chain.call("eth_getTransactionReceipt", [response["result"]])
                    time.sleep(0.05)
            outcomes[chain.name] = (response, receipt)
    assert outcomes["anvil"][1] is None, outcomes["anvil"]
    response, receipt = outcomes["node"]
    assert receipt is None, f"node mined a below-floor transaction: {receipt} (send response {response})"
