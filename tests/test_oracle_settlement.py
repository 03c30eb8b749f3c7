"""Settling CO2 periods on the real node: a signed report, grants exactly once across reruns,
a crash half-way, and two operators at once; households check their own entry by Merkle proof."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger_client.merkle import leaf_hash, node_hash
from ledger_client.transactions import Sender
from oracle.generator import JST, generate, write_jsonl
from oracle.readings import read_file
from oracle.reduction import EmissionFactor
from oracle.settlement import (
    LEAF_TYPES,
    Household,
    Report,
    SettlementError,
    build_report,
    compute_period,
    post,
    proof_of,
    sign_report,
    typed_report,
)
from tests.points import CAP_MONTH, ORACLE, ORACLE_ROLE, QUORUM_REPORTER_ROLE, PointsSystem
from tests.wallet_support import shared_points

# the worker's shared chain (no deployment of its own): each test its own programme, operators and residents
points = shared_points

FACTOR = EmissionFactor(2026, 350, "Kansai Electric Power FY2018 basic emission factor, 0.35 kg-CO2/kWh")
START = int(datetime(2026, 4, 1, tzinfo=JST).timestamp())
END = int(datetime(2026, 5, 1, tzinfo=JST).timestamp())


def operators(points: PointsSystem, n: int) -> list[LocalAccount]:
    accounts = [points.new_account() for _ in range(n)]
    points.register(ORACLE, *accounts)
    for account in accounts:
        points.grant(ORACLE_ROLE, account)
    return accounts


def period(
    points: PointsSystem, tmp_path: Path, households: int, faults: dict[int, set[str]] | None = None
) -> tuple[Report, dict[str, Any]]:
    """A generated April for ``households`` homes (resident accounts), with last April as the baseline."""
    homes = generate(households, 2026, 4, seed=secrets.randbelow(10_000), faults=faults)
    readings, errors = read_file(write_jsonl(homes, tmp_path / "april.jsonl"), now=time.time() + 10**9)
    assert not errors
    residents = [points.resident() for _ in homes]
    registry = {
        h.household_id: Household(h.household_id, (h.meter_id, h.meter_id + "-NEW"), r.address, secrets.token_hex(32))
        for h, r in zip(homes, residents, strict=True)
    }
    # last April each home used 5 % more than now (so every verified home saved something)
    history = {h.household_id: {(2025, 4): h.true_wh * 105 // 100} for h in homes}
    results = compute_period(registry, readings, history, 2026, 4, START, END, FACTOR)
    programme = points.create_programme(
        name="CO2 reduction, April 2026", verifierRole=QUORUM_REPORTER_ROLE, rewardPoints=10, rewardUnits=1000,
        capPerPeriod=100_000, capPeriod=CAP_MONTH, budget=10**9,
    )  # fmt: skip
    report = build_report(results, programme, 202604)
    return report, {"homes": homes, "residents": residents, "registry": registry, "results": results}


def expected_points(report: Report) -> dict[str, int]:
    return {address: units * 10 // 1000 for _, address, units in report.leaves}


def test_a_period_settles_once_with_k_of_n_signatures(points: PointsSystem, tmp_path: Path) -> None:
    ops = operators(points, 3)
    report, ctx = period(points, tmp_path, 6, faults={1: {"gaps"}, 4: {"conflict"}})
    reasons = {r.reason for r in ctx["results"]}
    assert reasons == {None, "INCOMPLETE", "CONFLICTING_DUPLICATE"}
    assert len(report.leaves) == 4 and report.totals["households_excluded"] == 2
    chain_id, contract = points.w3.eth.chain_id, points.reports.address
    # the local EIP-712 digest is the contract's
    message = typed_report(report, chain_id, contract)
    local_digest = keccak(b"\x19" + message.version + message.header + message.body)
    assert points.reports.functions.reportDigest(report.as_tuple()).call() == local_digest
    one = sign_report(report, ops[:1], chain_id, contract)
    with pytest.raises(Exception, match="QuorumNotReached"):
        post(points.sender(ops[0]), points.reports, report, one)
    signatures = sign_report(report, ops[:2], chain_id, contract)
    result = post(points.sender(ops[0]), points.reports, report, signatures, batch_size=3)
    assert result.accepted_now and result.batches == 2
    expected = expected_points(report)
    assert {a: points.balance(a) for a in expected} == expected
    # re-running the whole period mints nothing more
    again = post(points.sender(ops[1]), points.reports, report, signatures, batch_size=3)
    assert not again.accepted_now and again.granted_points == report.total_units  # re-sent, skipped by claim id
    assert {a: points.balance(a) for a in expected} == expected
    # a different report for the same period is refused
    other = Report(report.programme_id, report.period, [(0, report.leaves[0][1], 1)], [report.salted_hashes[0]])
    with pytest.raises(SettlementError, match="different report"):
        post(points.sender(ops[0]), points.reports, other, sign_report(other, ops[:2], chain_id, contract))


def test_a_crash_half_way_and_two_operators_at_once(points: PointsSystem, tmp_path: Path) -> None:
    ops = operators(points, 3)
    report, _ = period(points, tmp_path, 9)
    chain_id, contract = points.w3.eth.chain_id, points.reports.address
    signatures = sign_report(report, ops, chain_id, contract)
    first = post(points.sender(ops[0]), points.reports, report, signatures, batch_size=2, max_batches=1)  # "crash"
    assert first.batches == 1
    with ThreadPoolExecutor(max_workers=2) as pool:  # two operators finish the period at the same moment
        results = list(
            pool.map(lambda op: post(Sender(points.w3, op), points.reports, report, signatures, batch_size=2), ops[1:])
        )
    assert sum(r.accepted_now for r in results) == 0
    expected = expected_points(report)
    assert {a: points.balance(a) for a in expected} == expected
    granted = points.programmes.functions.programme(report.programme_id).call()
    assert granted[10] == sum(expected.values())  # the programme's issued total: each household once


def test_a_household_checks_its_own_entry(points: PointsSystem, tmp_path: Path) -> None:
    ops = operators(points, 2)
    report, ctx = period(points, tmp_path, 3)
    post(
        points.sender(ops[0]),
        points.reports,
        report,
        sign_report(report, ops, points.w3.eth.chain_id, points.reports.address),
    )
    household = next(iter(ctx["registry"].values()))
    mine = proof_of(report, household.salted_hash)
    leaf = mine["leaf"]
    node = leaf_hash(LEAF_TYPES, [leaf["index"], leaf["address"], leaf["units"]])
    for sibling in mine["proof"]:
        node = node_hash(node, bytes.fromhex(sibling[2:]))
    on_chain = points.reports.functions.reportOf(report.programme_id, report.period).call()
    assert "0x" + node.hex() == mine["merkleRoot"] == "0x" + bytes(on_chain[0]).hex()
    assert household.household_id not in report.to_json() and household.meters[0] not in report.to_json()
    assert Report.from_json(report.to_json()).root == report.root
    with pytest.raises(SettlementError, match="not in the report"):
        proof_of(report, "0x" + "00" * 32)
