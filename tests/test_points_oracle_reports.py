"""Oracle reports: a quorum of EIP-712 signatures, then grants by Merkle multiproof, exactly once."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from ledger_client.merkle import StandardMerkleTree, verify_multiproof
from tests.conftest import REPO
from tests.points import CAP_MONTH, ORACLE, ORACLE_ROLE, QUORUM_REPORTER_ROLE, PointsSystem

LEAF_TYPES = ["uint256", "address", "uint256"]


def make_oracles(p: PointsSystem, n: int) -> list[LocalAccount]:
    oracles = [p.new_account() for _ in range(n)]
    p.register(ORACLE, *oracles)
    for oracle in oracles:
        p.grant(ORACLE_ROLE, oracle)
    return sorted(oracles, key=lambda a: int(a.address, 16))


def typed_report(p: PointsSystem, report: tuple[Any, ...]) -> Any:
    return encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Report": [
                    {"name": "programmeId", "type": "uint256"},
                    {"name": "period", "type": "uint256"},
                    {"name": "merkleRoot", "type": "bytes32"},
                    {"name": "households", "type": "uint256"},
                    {"name": "totalUnits", "type": "uint256"},
                ],
            },
            "primaryType": "Report",
            "domain": {
                "name": "TakasagoOracleReports",
                "version": "1",
                "chainId": p.w3.eth.chain_id,
                "verifyingContract": p.reports.address,
            },
            "message": dict(
                zip(["programmeId", "period", "merkleRoot", "households", "totalUnits"], report, strict=True)
            ),
        }
    )


def sign(p: PointsSystem, report: tuple[Any, ...], signers: list[LocalAccount]) -> list[bytes]:
    message = typed_report(p, report)
    return [bytes(s.sign_message(message).signature) for s in signers]


@pytest.fixture(scope="module")
def co2(points: PointsSystem) -> dict[str, Any]:
    """A CO2 programme fed by reports (10 points per kg, units in grams; cap 3,000 a month)."""
    programme = points.create_programme(
        name="CO2 reduction, FY2026",
        verifierRole=QUORUM_REPORTER_ROLE,
        rewardPoints=10,
        rewardUnits=1000,
        capPerPeriod=3000,
        capPeriod=CAP_MONTH,
        budget=5_000_000,
    )
    return {"programme": programme, "oracles": make_oracles(points, 3)}


def build_report(p: PointsSystem, programme: int, period: int, households: list[str], grams: list[int]):  # type: ignore[no-untyped-def]
    values = [(i, h, g) for i, (h, g) in enumerate(zip(households, grams, strict=True))]
    tree = StandardMerkleTree(values, LEAF_TYPES)
    report = (programme, period, tree.root, len(values), sum(grams))
    return tree, report


def test_python_eip712_digest_matches_the_contract(points: PointsSystem, co2: dict[str, Any]) -> None:
    report = (co2["programme"], 202610, b"\x11" * 32, 3, 1234)
    message = typed_report(points, report)
    from eth_account.messages import _hash_eip191_message

    assert _hash_eip191_message(message) == points.reports.functions.reportDigest(report).call()


def test_report_needs_a_quorum_of_distinct_ordered_oracle_signatures(points: PointsSystem, co2: dict[str, Any]) -> None:
    oracles = co2["oracles"]
    households = [points.resident().address for _ in range(3)]
    tree, report = build_report(points, co2["programme"], 202601, households, [100_000, 50_000, 0])
    submit = points.reports.functions.submitReport
    anyone = points.resident()
    error = points.reverts(anyone, submit(report, sign(points, report, oracles[:1])), "QuorumNotReached")
    assert (error.args["validSignatures"], error.args["quorum"]) == (1, 2)
    twice = sign(points, report, [oracles[0], oracles[0]])
    points.reverts(anyone, submit(report, twice), "SignersNotAscending")
    descending = sign(points, report, [oracles[1], oracles[0]])
    points.reverts(anyone, submit(report, descending), "SignersNotAscending")
    outsider = points.new_account()
    pair = sorted([oracles[0], outsider], key=lambda a: int(a.address, 16))
    error = points.reverts(anyone, submit(report, sign(points, report, pair)), "NotAnOracleOperator")
    assert error.args["signer"] == outsider.address
    tampered = (report[0], report[1], report[2], report[3], report[4] + 1)
    # Signatures over another report recover to strangers.
    points.reverts(anyone, submit(tampered, sign(points, report, oracles[:2])), "NotAnOracleOperator")
    receipt = points.send(anyone, submit(report, sign(points, report, oracles[:2])))
    (event,) = points.events(receipt, points.reports, "ReportAccepted")
    assert event["args"]["merkleRoot"] == tree.root and event["args"]["signers"] == [o.address for o in oracles[:2]]
    error = points.reverts(anyone, submit(report, sign(points, report, oracles[1:])), "ReportAlreadyAccepted")
    assert error.args["merkleRoot"] == tree.root


def test_suspended_oracle_signatures_do_not_count(points: PointsSystem, co2: dict[str, Any]) -> None:
    oracles = make_oracles(points, 2)
    points.send(points.admin, points.registry.functions.setStatus(oracles[0].address, 2))
    _, report = build_report(points, co2["programme"], 202602, [points.resident().address], [1000])
    points.reverts(
        points.resident(),
        points.reports.functions.submitReport(report, sign(points, report, oracles)),
        "NotAnOracleOperator",
    )


def test_grants_by_multiproof_exactly_once(points: PointsSystem, co2: dict[str, Any]) -> None:
    oracles = co2["oracles"]
    residents = [points.resident() for _ in range(9)]
    merchant = points.merchant()
    households = [r.address for r in residents] + [merchant.address]
    grams = [120_000, 80_000, 500_000, 0, 1_000, 999, 42_000, 7_000, 300_000, 5_000]
    period = 202603
    tree, report = build_report(points, co2["programme"], period, households, grams)
    anyone = points.resident()
    points.send(anyone, points.reports.functions.submitReport(report, sign(points, report, oracles[1:])))
    grant = points.reports.functions.grant
    first = tree.multiproof(range(0, 5))
    leaves = [tree.values[i] for i in first.leaf_indices]
    receipt = points.send(anyone, grant(co2["programme"], period, leaves, first.proof, first.proof_flags))
    granted = {
        e["args"]["beneficiary"]: e["args"]["points"] for e in points.events(receipt, points.programmes, "Attested")
    }
    assert granted == {households[i]: min(grams[i] * 10 // 1000, 3000) for i in range(5)}
    # Two operators sending overlapping batches: nothing is granted twice.
    second = tree.multiproof(range(3, 10))
    leaves2 = [tree.values[i] for i in second.leaf_indices]
    receipt = points.send(anyone, grant(co2["programme"], period, leaves2, second.proof, second.proof_flags))
    attested = {e["args"]["beneficiary"] for e in points.events(receipt, points.programmes, "Attested")}
    assert attested == set(households[5:9])
    skipped = {
        e["args"]["beneficiary"]: e["args"]["reason"]
        for e in points.events(receipt, points.programmes, "AttestationSkipped")
    }
    assert skipped == {households[3]: 1, households[4]: 1, merchant.address: 2}
    for i, resident in enumerate(residents):
        assert points.balance(resident) == min(grams[i] * 10 // 1000, 3000)
    # A single leaf with an ordinary proof works too, and re-sending mints nothing.
    single = tree.multiproof([8])
    receipt = points.send(anyone, grant(co2["programme"], period, [tree.values[8]], single.proof, single.proof_flags))
    assert points.events(receipt, points.programmes, "Attested") == []


def test_invalid_grants_are_refused(points: PointsSystem, co2: dict[str, Any]) -> None:
    oracles = co2["oracles"]
    households = [points.resident().address for _ in range(4)]
    period = 202604
    tree, report = build_report(points, co2["programme"], period, households, [1000, 2000, 3000, 4000])
    anyone = points.resident()
    grant = points.reports.functions.grant
    proof = tree.multiproof([0])
    points.reverts(
        anyone, grant(co2["programme"], period, [tree.values[0]], proof.proof, proof.proof_flags), "UnknownReport"
    )
    points.send(anyone, points.reports.functions.submitReport(report, sign(points, report, oracles[:2])))
    inflated = (0, households[0], 10**9)
    points.reverts(
        anyone, grant(co2["programme"], period, [inflated], proof.proof, proof.proof_flags), "InvalidMerkleProof"
    )
    out_of_range = (7, households[0], 1000)
    error = points.reverts(
        anyone, grant(co2["programme"], period, [out_of_range], proof.proof, proof.proof_flags), "LeafIndexOutOfRange"
    )
    assert (error.args["index"], error.args["households"]) == (7, 4)


def test_quorum_is_set_by_the_admin(points: PointsSystem) -> None:
    resident = points.resident()
    points.reverts(resident, points.reports.functions.setQuorum(1), "AccessControlUnauthorizedAccount")
    points.reverts(points.admin, points.reports.functions.setQuorum(0), "InvalidQuorum")
    receipt = points.send(points.admin, points.reports.functions.setQuorum(2))
    assert points.events(receipt, points.reports, "QuorumChanged")[0]["args"]["newQuorum"] == 2


def test_merkle_multiproofs_match_openzeppelins_javascript_library(tmp_path: Any) -> None:
    values = [(i, Account.create().address, (i * 7919) % 100_003) for i in range(37)]
    tree = StandardMerkleTree(values, LEAF_TYPES)
    indices = [3, 4, 5, 20, 36]
    multi = tree.multiproof(indices)
    script = (
        "const {StandardMerkleTree} = require('@openzeppelin/merkle-tree');"
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const t = StandardMerkleTree.of(input.values, ['uint256','address','uint256']);"
        "const m = t.getMultiProof(input.indices);"
        "console.log(JSON.stringify({root: t.root, proof: m.proof, flags: m.proofFlags, leaves: m.leaves}));"
    )
    payload = json.dumps({"values": [[str(i), a, str(u)] for i, a, u in values], "indices": indices})
    out = subprocess.run(["node", "-e", script], input=payload, capture_output=True, text=True, cwd=REPO, check=True)
    js = json.loads(out.stdout)
    assert js["root"] == "0x" + tree.root.hex()
    assert js["proof"] == ["0x" + h.hex() for h in multi.proof]
    assert js["flags"] == multi.proof_flags
    assert [[int(v[0]), v[1], int(v[2])] for v in js["leaves"]] == [list(tree.values[i]) for i in multi.leaf_indices]
    from ledger_client.merkle import leaf_hash

    assert verify_multiproof(
        tree.root, [leaf_hash(LEAF_TYPES, tree.values[i]) for i in multi.leaf_indices], multi.proof, multi.proof_flags
    )
