"""Comparing two chains' answers step by step, and the report that collects the differences.

Compared per step: ``eth_call`` before sending (result, or revert code and data),
``eth_estimateGas`` (success and revert data; the estimate only has to be sufficient, since
estimators legitimately differ), the receipt (status, gasUsed, cumulativeGasUsed,
contractAddress, type, effectiveGasPrice, logsBloom, logs) and the views read afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.differential.chain import StepResult
from tests.differential.sequence import Step

EXECUTION_REVERTED = 3


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


def compare_step(step: Step, node: StepResult, anvil: StepResult, report: Report) -> None:
    """Appends to ``report`` every difference between the two chains' answers for ``step``.

    Also reports a status other than ``step.expect_success`` and an estimate below gasUsed on
    either chain: not a difference between the chains, but a failure all the same.
    """
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


def _describe(result: StepResult) -> str:
    err = result.call.get("error")
    if err:
        data = err.get("data") or ""
        return f"revert {data[:18]}{'...' if len(data) > 18 else ''}"
    ret = result.call.get("result") or "0x"
    return f"ok {ret[:18]}{'...' if len(ret) > 18 else ''}"


def format_report(report: Report) -> str:
    """A table of the steps (status, gasUsed, logs, eth_call outcome) and the differences found."""
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
