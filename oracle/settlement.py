"""Settling a period: per-household results → a Merkle report signed by k of n operators →
``OracleReports.submitReport`` → grants in multiproof batches, each household exactly once.

**Exactly once**: the contract accepts one report per (programme, period) — a second
submission reverts with ``ReportAlreadyAccepted``, which we accept when its root is ours —
and the programme pays each (period, leaf index) claim once, skipping any already paid. So
re-running a period, a crash half-way through the grants, or two operators posting at the
same time never mints twice: the rerun simply pays what is left.

**Privacy**: meters, readings and household ids never leave the oracle. A household is
published only as ``keccak256(salt ‖ household id)``; its leaf on-chain carries the
resident's custodial address (already pseudonymous) and the grams of CO2. Leaves are
ordered by salted hash, so every operator builds the same tree from the same data.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import is_hex_address, keccak, to_checksum_address

from ledger_client.merkle import StandardMerkleTree
from ledger_client.pipeline import TransactionPipeline
from ledger_client.transactions import Sender, TransactionFailed
from oracle.columnar_readings import ReadingColumns, Source, read_month
from oracle.columnar_verify import verify_all
from oracle.readings import Reading
from oracle.reduction import EmissionFactor, baseline, reduce
from oracle.verify import Verdict, verify_household

LEAF_TYPES = ["uint256", "address", "uint256"]
REPORT_FIELDS = ("programmeId", "period", "merkleRoot", "households", "totalUnits")
REPORT_TYPES = ("uint256", "uint256", "bytes32", "uint256", "uint256")


class SettlementError(Exception):
    pass


@dataclass(frozen=True)
class Household:
    household_id: str
    meters: tuple[str, ...]
    address: str
    salt: str

    @cached_property
    def salted_hash(self) -> str:
        return "0x" + keccak(bytes.fromhex(self.salt) + self.household_id.encode()).hex()


def load_households(text: str, source: str = "households.csv") -> dict[str, Household]:
    """``household_id,meter_ids,address,salt`` (meters separated by ``;``; salt: 32 hex bytes)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    households: dict[str, Household] = {}
    owners: dict[str, str] = {}  # meter → household: a meter belongs to one household
    for number, row in enumerate(rows, start=2):
        where = f"{source}:{number}"
        try:
            meters = tuple(m.strip() for m in (row.get("meter_ids") or "").split(";") if m.strip())
            address, salt, hid = (
                row.get("address") or "",
                (row.get("salt") or "").removeprefix("0x"),
                row.get("household_id") or "",
            )
        except AttributeError:
            raise SettlementError(f"{where}: malformed row") from None
        if not hid or not meters:
            raise SettlementError(f"{where}: household_id and meter_ids are required")
        if not is_hex_address(address):
            raise SettlementError(f"{where}: {address!r} is not an address")
        if len(salt) != 64 or any(c not in "0123456789abcdefABCDEF" for c in salt):
            raise SettlementError(f"{where}: the salt must be 32 bytes of hex")
        if hid in households:
            raise SettlementError(f"{where}: household {hid} is listed twice")
        meters = tuple(dict.fromkeys(meters))
        shared = [m for m in meters if m in owners]
        if shared:
            raise SettlementError(f"{where}: meter {shared[0]} is already listed for household {owners[shared[0]]}")
        owners.update(dict.fromkeys(meters, hid))
        households[hid] = Household(hid, meters, to_checksum_address(address), salt)
    return households


@dataclass
class HouseholdResult:
    salted_hash: str
    address: str
    consumption_wh: int | None
    baseline_wh: int | None
    baseline_source: str
    reduction_wh: int
    co2_g: int
    reason: str | None
    detail: str = ""


def _result(
    household: Household,
    verdict: Verdict,
    history: dict[str, dict[tuple[int, int], int]],
    year: int,
    month: int,
    factor: EmissionFactor,
) -> HouseholdResult:
    result = HouseholdResult(
        household.salted_hash, household.address, verdict.consumption_wh, None, "", 0, 0, verdict.reason, verdict.detail
    )
    if verdict.ok:
        base = baseline(history.get(household.household_id, {}), year, month)
        if base is None:
            result.reason, result.detail = "NO_BASELINE", "no verified history for this household"
        else:
            reduction = reduce(verdict.consumption_wh or 0, base, factor)
            result.baseline_wh, result.baseline_source = reduction.baseline_wh, reduction.baseline_source
            result.reduction_wh, result.co2_g = reduction.reduction_wh, reduction.co2_g
    return result


def compute_period(
    households: dict[str, Household],
    readings: Sequence[Reading],
    history: dict[str, dict[tuple[int, int], int]],
    year: int,
    month: int,
    start: int,
    end: int,
    factor: EmissionFactor,
) -> list[HouseholdResult]:
    """Verifies every household and computes its reduction; excluded ones carry a reason code.

    The row-by-row reference (kept for tests and small runs); :func:`settle_month` is the
    same computation on a month's columns.
    """
    by_meter: dict[str, list[Reading]] = {}
    for reading in readings:
        by_meter.setdefault(reading.meter_id, []).append(reading)
    results = []
    for household in households.values():
        rows = [r for meter in household.meters for r in by_meter.get(meter, [])]
        verdict = verify_household(household.salted_hash, rows, start, end)
        results.append(_result(household, verdict, history, year, month, factor))
    return sorted(results, key=lambda r: r.salted_hash)


def meter_indices(households: dict[str, Household]) -> dict[str, int]:
    """Every household's meters, numbered in the order the households list them."""
    indices: dict[str, int] = {}
    for household in households.values():
        for meter in household.meters:
            indices.setdefault(meter, len(indices))
    return indices


HOUSEHOLDS_PER_BUCKET = 2_000
"""A month's rows are kept in buckets of about this many households (~3 million readings),
verified one bucket at a time: memory holds the month's rows once plus one bucket's work."""


@dataclass
class Month:
    """A verified month: each household's verdict and result, and what was left aside while reading."""

    verdicts: dict[str, Verdict]  # by household id
    results: list[HouseholdResult]
    columns: ReadingColumns


def settle_month(
    households: dict[str, Household],
    sources: Iterable[Source],
    history: dict[str, dict[tuple[int, int], int]],
    year: int,
    month: int,
    start: int,
    end: int,
    factor: EmissionFactor,
    now: float | None = None,
) -> Month:
    """:func:`compute_period` for a whole city: the month read in columns and verified at once."""
    meters = meter_indices(households)
    bucket_count = max(1, len(households) // HOUSEHOLDS_PER_BUCKET)
    buckets = [0] * len(meters)
    for number, household in enumerate(households.values()):
        for meter in household.meters:
            buckets[meters[meter]] = number * bucket_count // len(households)
    columns = read_month(sources, meters, start, end, now, buckets)
    verdicts = verify_all(
        columns, [(h.salted_hash, [meters[m] for m in h.meters]) for h in households.values()], start, end
    )
    by_id = {h.household_id: v for h, v in zip(households.values(), verdicts, strict=True)}
    results = [_result(h, by_id[h.household_id], history, year, month, factor) for h in households.values()]
    return Month(by_id, sorted(results, key=lambda r: r.salted_hash), columns)


@dataclass
class Report:
    programme_id: int
    period: int
    leaves: list[tuple[int, str, int]]  # (index, address, grams of CO2)
    salted_hashes: list[str]
    totals: dict[str, int] = field(default_factory=dict)

    @cached_property
    def tree(self) -> StandardMerkleTree:
        """Built once: a city's report has ~30,000 leaves, and the root is asked for by the
        signatures, the submission, the JSON and every grant's multiproof."""
        return StandardMerkleTree([list(leaf) for leaf in self.leaves], LEAF_TYPES)

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def total_units(self) -> int:
        return sum(units for _, _, units in self.leaves)

    def as_tuple(self) -> tuple[int, int, bytes, int, int]:
        return (self.programme_id, self.period, self.root, len(self.leaves), self.total_units)

    def to_json(self) -> str:
        """The public report: totals and leaves by salted hash (no meter, reading or id)."""
        return json.dumps(
            {
                "programmeId": self.programme_id, "period": self.period, "merkleRoot": "0x" + self.root.hex(),
                "households": len(self.leaves), "totalUnits": self.total_units, "totals": self.totals,
                "leaves": [
                    {"index": i, "household": h, "address": a, "units": u}
                    for (i, a, u), h in zip(self.leaves, self.salted_hashes, strict=True)
                ],
            },
            indent=1,
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Report:
        document = json.loads(text)
        leaves = [
            (int(x["index"]), str(to_checksum_address(x["address"])), int(x["units"])) for x in document["leaves"]
        ]
        report = cls(
            int(document["programmeId"]),
            int(document["period"]),
            leaves,
            [x["household"] for x in document["leaves"]],
            document.get("totals", {}),
        )
        if "0x" + report.root.hex() != document["merkleRoot"]:
            raise SettlementError("the report's leaves do not match its Merkle root")
        return report


def build_report(results: Sequence[HouseholdResult], programme_id: int, period: int) -> Report:
    granted = [r for r in results if r.reason is None and r.co2_g > 0]
    if not granted:
        raise SettlementError("no household has a verified reduction this period: nothing to report")
    leaves = [(index, r.address, r.co2_g) for index, r in enumerate(granted)]
    reasons: dict[str, int] = {}
    for r in results:
        if r.reason:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
    totals = {
        "households_verified": sum(1 for r in results if r.reason is None),
        "households_excluded": sum(1 for r in results if r.reason),
        "reduction_wh": sum(r.reduction_wh for r in granted),
        "co2_g": sum(r.co2_g for r in granted),
        **{f"excluded_{k}": v for k, v in sorted(reasons.items())},
    }
    return Report(programme_id, period, leaves, [r.salted_hash for r in granted], totals)


def typed_report(report: Report, chain_id: int, contract: str) -> SignableMessage:
    message = dict(zip(REPORT_FIELDS, report.as_tuple(), strict=True))
    return encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
                ],
                "Report": [{"name": n, "type": t} for n, t in zip(REPORT_FIELDS, REPORT_TYPES, strict=True)],
            },
            "primaryType": "Report",
            "domain": {
                "name": "TakasagoOracleReports", "version": "1", "chainId": chain_id, "verifyingContract": contract,
            },
            "message": message,
        }
    )  # fmt: skip


def sign_report(
    report: Report, operators: Sequence[LocalAccount], chain_id: int, contract: str
) -> list[tuple[str, bytes]]:
    message = typed_report(report, chain_id, contract)
    return [(op.address, bytes(op.sign_message(message).signature)) for op in operators]


@dataclass
class PostResult:
    accepted_now: bool
    batches: int
    granted_points: int
    transactions: int = 0


GRANT_SIGNATURE = "grant(uint256,uint256,(uint256,address,uint256)[],bytes32[],bool[])"
GRANT_SELECTOR = keccak(text=GRANT_SIGNATURE)[:4]
BATCH_GRANTED_TOPIC = "0x" + keccak(text="ReportBatchGranted(uint256,uint256,uint256,uint256)").hex()
GRANT_GAS_PER_LEAF = 100_000  # a first-time grant costs ~65k (docs/benchmarks.md, "Gas of the point contracts")
GRANT_GAS_BASE = 300_000
GRANTS_IN_FLIGHT = 4


def _grant_calldata(report: Report, tree: StandardMerkleTree, indices: list[int]) -> bytes:
    """``grant`` encoded with eth_abi directly: web3's encoder takes ~0.3 s per 1,000 leaves."""
    proof = tree.multiproof(indices)
    leaves = [report.leaves[i] for i in proof.leaf_indices]
    args = (report.programme_id, report.period, leaves, list(proof.proof), list(proof.proof_flags))
    return GRANT_SELECTOR + abi_encode(
        ["uint256", "uint256", "(uint256,address,uint256)[]", "bytes32[]", "bool[]"], args
    )


def post(
    sender: Sender,
    reports: Any,
    report: Report,
    signatures: Sequence[tuple[str, bytes]],
    batch_size: int = 50,
    max_batches: int | None = None,
    on_batch: Callable[[int], None] | None = None,
    in_flight: int = GRANTS_IN_FLIGHT,
) -> PostResult:
    """Submits the report (if not yet accepted) and grants every leaf not yet paid.

    The grants are signed ahead with consecutive nonces and kept ``in_flight`` at a time
    (``ledger_client.pipeline``), so the node executes one while the next is on its way;
    each grant pays each leaf at most once whatever order they land in, so a grant that
    fails leaves the others valid and a rerun pays what is left.
    """
    ordered = [sig for _, sig in sorted(signatures, key=lambda item: int(item[0], 16))]
    accepted_now = True
    transactions = 0
    try:
        sender.call_function(reports.functions.submitReport(report.as_tuple(), ordered))
        transactions += 1
    except TransactionFailed as exc:
        if exc.error is None or exc.error.name != "ReportAlreadyAccepted":
            raise
        theirs = bytes(exc.error.args["merkleRoot"])
        if theirs != report.root:
            raise SettlementError(
                f"period {report.period} already has a different report (root 0x{theirs.hex()})"
            ) from None
        accepted_now = False
    tree = report.tree
    order = tree.value_order()  # runs of neighbouring leaves: small multiproofs
    batches_of = [order[first : first + batch_size] for first in range(0, len(order), batch_size)]
    if max_batches is not None:
        batches_of = batches_of[:max_batches]
    pipeline = TransactionPipeline(sender)
    pending: list[tuple[str, int]] = []  # (hash, leaves)
    granted = batches = 0

    def settle_first() -> None:
        nonlocal granted, batches
        found = pipeline.wait_first([h for h, _ in pending])
        while pending and pending[0][0] in found:
            tx_hash, _ = pending.pop(0)
            receipt = found[tx_hash]
            if int(receipt["status"], 16) != 1:
                raise TransactionFailed(f"grant {tx_hash} reverted; run the settlement again to pay what is left")
            for log in receipt["logs"]:
                if log["topics"] and log["topics"][0] == BATCH_GRANTED_TOPIC:
                    granted += int(log["data"][2 + 64 : 2 + 128], 16)
            batches += 1
            if on_batch is not None:
                on_batch(batches)

    for indices in batches_of:
        gas = GRANT_GAS_BASE + GRANT_GAS_PER_LEAF * len(indices)
        tx_hash, raw = pipeline.sign(reports.address, _grant_calldata(report, tree, indices), gas)
        (refused,) = pipeline.send([raw])
        if refused is not None:
            raise refused
        pending.append((tx_hash, len(indices)))
        transactions += 1
        while len(pending) >= in_flight:
            settle_first()
    while pending:
        settle_first()
    return PostResult(accepted_now, batches, granted, transactions)


def proof_of(report: Report, salted_hash: str) -> dict[str, Any]:
    """A household's own leaf and Merkle proof (to check its entry against the on-chain root)."""
    try:
        index = report.salted_hashes.index(salted_hash)
    except ValueError:
        raise SettlementError("this household is not in the report (excluded, or no reduction)") from None
    leaf = report.leaves[index]
    return {
        "programmeId": report.programme_id, "period": report.period, "merkleRoot": "0x" + report.root.hex(),
        "leaf": {"index": leaf[0], "address": leaf[1], "units": leaf[2]},
        "proof": ["0x" + p.hex() for p in report.tree.proof(index)],
    }  # fmt: skip


def report_path(directory: Path, programme_id: int, period: int) -> Path:
    return directory / f"report-{programme_id}-{period}.json"


def load(directory: Path, programme_id: int, period: int) -> Report | None:
    """The saved report of a period, or None if the oracle has not settled it."""
    path = report_path(directory, programme_id, period)
    return Report.from_json(path.read_text(encoding="utf-8")) if path.exists() else None


def save(report: Report, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = report_path(directory, report.programme_id, report.period)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(report.to_json(), encoding="utf-8")
    temporary.replace(path)
    return path
