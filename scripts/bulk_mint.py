"""Minting administrative points in bulk: on-chain checks, then batched, resumable submission.

Each row becomes an attestation in a programme whose verifier role the officer holds,
with claim id ``batch_id << 32 | line`` (the row's line in the file). The programme pays
a claim id at most once, so a run that is interrupted (Ctrl-C, a crash, the node
restarting) and started again with the same file and batch id mints every remaining
row exactly once and nothing twice. Before sending, one call per 256 rows reads which
claim ids are already paid, so a resumed run only sends what is left.

A library, not a command: it needs a :class:`MintSession` (the CLI's officer is one) and
reports refused checks as :class:`MintCheckError`, which the ``mint`` command turns into
its messages and exit codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from ledger_client.transactions import Sender, TransactionFailed
from scripts.audit_log import AuditLog
from scripts.mint_csv import MintRow, RowProblem
from scripts.programme_fields import programme_fields
from scripts.registry_names import KIND_NAMES, STATUS_NAMES

ROW_GAS = 90_000  # measured ≤ 80k per first-time beneficiary (docs/benchmarks.md), with room
BATCH_OVERHEAD_GAS = 400_000
DEFAULT_BATCH_SIZE = 400
MAX_IN_FLIGHT = 4


class MintSession(Protocol):
    """What minting needs: the chain, the contracts, the signer and the audit log."""

    @property
    def w3(self) -> Web3: ...

    @property
    def registry(self) -> Contract: ...

    @property
    def programmes(self) -> Contract: ...

    @property
    def address(self) -> str: ...

    @property
    def sender(self) -> Sender: ...

    @property
    def audit(self) -> AuditLog: ...


class MintCheckError(ValueError):
    """A check before sending refused the mint (closed programme, budget); nothing was sent."""


class LacksVerifierRole(MintCheckError):
    """The signer does not hold the role that attests for the programme."""

    def __init__(self, programme_id: int, account: str, role_id: bytes) -> None:
        super().__init__(f"{account} does not hold the role that attests for programme {programme_id}")
        self.account = account
        self.role_id = bytes(role_id)


def claim_id(batch_id: int, line: int) -> int:
    return (batch_id << 32) | line


def evidence_hash(row: MintRow) -> bytes:
    """What the attestation records as evidence: a hash of the row (the note stays off-chain)."""
    return keccak(text=f"{row.line}|{row.address}|{row.amount}|{row.note}")


@dataclass
class MintPlan:
    programme_id: int
    batch_id: int
    rows: list[MintRow]
    done: set[int] = field(default_factory=set)  # lines already paid
    points_per_unit: tuple[int, int] = (1, 1)

    @property
    def pending(self) -> list[MintRow]:
        return [r for r in self.rows if r.line not in self.done]

    def points(self, row: MintRow) -> int:
        reward_points, reward_units = self.points_per_unit
        return row.amount * reward_points // reward_units


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def check_programme(officer: MintSession, programme_id: int) -> Any:
    """The programme's fields, if it is open now and the signer may attest for it."""
    p = programme_fields(officer, programme_id)
    closed, starts, ends, verifier_role = p[6], p[7], p[8], p[11]
    now = int(officer.w3.eth.get_block("latest")["timestamp"])
    if closed:
        raise MintCheckError(f"programme {programme_id} ({p[12]}) is closed")
    if not starts <= now <= ends:
        raise MintCheckError(f"programme {programme_id} ({p[12]}) is outside its validity window")
    if not officer.registry.functions.hasRole(verifier_role, officer.address).call():
        raise LacksVerifierRole(programme_id, officer.address, verifier_role)
    return p


def check_accounts(officer: MintSession, rows: list[MintRow]) -> list[RowProblem]:
    """Rows whose address is not an active resident (unknown, suspended, revoked, or a shop)."""
    problems = []
    for chunk in _chunks(rows, 1000):
        kinds = officer.registry.functions.activeKindsOfBatch([r.address for r in chunk]).call()
        for row, kind in zip(chunk, kinds, strict=True):
            if kind == 1:
                continue
            if kind != 0:
                problems.append(RowProblem(row.line, f"{row.address} is a {KIND_NAMES[kind]}, not a resident"))
                continue
            account_kind, status, _ = officer.registry.functions.accountOf(row.address).call()
            what = STATUS_NAMES[status] if account_kind != 0 else "not registered"
            problems.append(RowProblem(row.line, f"{row.address} is {what}; only active residents receive points"))
    return problems


def already_paid(officer: MintSession, programme_id: int, batch_id: int, rows: list[MintRow]) -> set[int]:
    """Lines of ``rows`` whose claim id the programme already paid (one call per 256 × 1000 lines)."""
    if not rows:
        return set()
    lines = sorted(r.line for r in rows)
    first_word = claim_id(batch_id, lines[0]) >> 8
    last_word = claim_id(batch_id, lines[-1]) >> 8
    words: list[int] = []
    for start in range(first_word, last_word + 1, 1000):
        count = min(1000, last_word + 1 - start)
        words.extend(officer.programmes.functions.claimedWords(programme_id, start, count).call())
    done = set()
    for line in lines:
        cid = claim_id(batch_id, line)
        if (words[(cid >> 8) - first_word] >> (cid & 0xFF)) & 1:
            done.add(line)
    return done


def check_budget(plan: MintPlan, programme: Any) -> None:
    budget, issued = programme[9], programme[10]
    needed = sum(plan.points(r) for r in plan.pending)
    if needed > budget - issued:
        raise MintCheckError(
            f"programme {plan.programme_id} has {budget - issued:,} points of budget left;"
            f" the remaining rows need {needed:,}"
        )


ATTEST_BATCH_SELECTOR = keccak(text="attestBatch(uint256,(address,uint256,bytes32,uint256)[])")[:4]
ATTESTED_TOPIC = keccak(text="Attested(uint256,address,uint256,uint256,uint256,bytes32)")
SKIPPED_TOPIC = keccak(text="AttestationSkipped(uint256,address,uint256,uint8)")


def encode_attest_batch(programme_id: int, rows: list[MintRow], batch_id: int) -> bytes:
    """Calldata of ``attestBatch`` (eth_abi directly: web3's contract encoder takes ~20x longer
    on thousands of rows)."""
    items = [(r.address, r.amount, evidence_hash(r), claim_id(batch_id, r.line)) for r in rows]
    return ATTEST_BATCH_SELECTOR + abi_encode(["uint256", "(address,uint256,bytes32,uint256)[]"], [programme_id, items])


def count_attestations(receipt: Any, programmes_address: str) -> tuple[int, int, int]:
    """(rows granted, rows skipped, points granted) from a receipt's programme events."""
    attested = skipped = points = 0
    for entry in receipt["logs"]:
        if entry["address"].lower() != programmes_address.lower() or not entry["topics"]:
            continue
        topic = bytes(entry["topics"][0])
        if topic == ATTESTED_TOPIC:
            attested += 1
            points += int.from_bytes(bytes(entry["data"])[32:64], "big")  # data: units, points, evidenceHash
        elif topic == SKIPPED_TOPIC:
            skipped += 1
    return attested, skipped, points


@dataclass
class BatchResult:
    tx: str
    block: int
    granted: int
    skipped: int
    points: int


def submit(
    officer: MintSession,
    plan: MintPlan,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[int, BatchResult], None] | None = None,
) -> list[BatchResult]:
    """Sends the pending rows in batches, up to MAX_IN_FLIGHT transactions ahead of the
    receipts; returns one result per batch. Raises on a refusal (the batches before it stand)."""
    sender = officer.sender
    target = officer.programmes.address
    nonce = int(officer.w3.eth.get_transaction_count(sender.address, "pending"))
    in_flight: list[tuple[str, list[MintRow]]] = []
    results: list[BatchResult] = []

    def settle_oldest() -> None:
        tx_hash, rows = in_flight.pop(0)
        receipt = sender.wait(tx_hash)
        attested, skipped, points = count_attestations(receipt, target)
        result = BatchResult(tx_hash, int(receipt["blockNumber"]), attested, skipped, points)
        details = {"programme": plan.programme_id, "batch": plan.batch_id,
                   "lines": f"{rows[0].line}-{rows[-1].line}", "rows": len(rows), "points": result.points}  # fmt: skip
        outcome = {"status": "done", "tx": tx_hash, "block": result.block,
                   "granted": result.granted, "skipped": result.skipped}  # fmt: skip
        officer.audit.record("mint batch", details, outcome)
        results.append(result)
        if on_batch is not None:
            on_batch(len(rows), result)

    block_gas = int(officer.w3.eth.get_block("latest")["gasLimit"])
    for rows in _chunks(plan.pending, batch_size):
        data = encode_attest_batch(plan.programme_id, rows, plan.batch_id)
        gas = min(block_gas, BATCH_OVERHEAD_GAS + ROW_GAS * len(rows))
        try:
            tx_hash = sender.submit(target, data, gas=gas, nonce=nonce)
        except TransactionFailed as exc:
            officer.audit.record("mint batch", {"programme": plan.programme_id, "batch": plan.batch_id},
                                 {"status": "refused", "error": str(exc)})  # fmt: skip
            raise
        nonce += 1
        in_flight.append((tx_hash, rows))
        if len(in_flight) >= MAX_IN_FLIGHT:
            settle_oldest()
    while in_flight:
        settle_oldest()
    return results
