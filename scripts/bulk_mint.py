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

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from ledger_client.pipeline import TransactionPipeline
from ledger_client.transactions import Sender, TransactionFailed
from scripts.audit_log import AuditLog
from scripts.mint_csv import MintRow, RowProblem
from scripts.programme_fields import programme_fields
from scripts.registry_names import KIND_NAMES, STATUS_NAMES

ROW_GAS = 90_000  # measured ≤ 80k per first-time beneficiary (docs/benchmarks.md), with room
BATCH_OVERHEAD_GAS = 400_000
DEFAULT_BATCH_SIZE = 400  # when the block gas limit is not known; see batch_size_for_gas
TXS_PER_BLOCK = 3
MAX_IN_FLIGHT = 6


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


def check_programme(officer: MintSession, programme_id: int, batch: bool = False) -> Any:
    """The programme's fields, if it is open now and the signer may attest for it: a city
    programme's verifier role, or for a business's own programme that business (one claim at a
    time: the contract refuses business programmes in a batch)."""
    p = programme_fields(officer, programme_id)
    closed, starts, ends, verifier_role = p[6], p[7], p[8], p[11]
    now = int(officer.w3.eth.get_block("latest")["timestamp"])
    if closed:
        raise MintCheckError(f"programme {programme_id} ({p[12]}) is closed")
    if not starts <= now <= ends:
        raise MintCheckError(f"programme {programme_id} ({p[12]}) is outside its validity window")
    funder = officer.programmes.functions.funderOf(programme_id).call()  # checksummed, as the signer's address
    if int(funder, 16) != 0:
        if batch:
            raise MintCheckError(
                f"programme {programme_id} ({p[12]}) is a business's own programme, paid from its points one"
                f" claim at a time: grant each with `takasago mint ADDRESS UNITS --programme {programme_id}`"
                " / 事業者独自のプログラムは1件ずつ付与します（takasago mint ADDRESS UNITS --programme）"
            )
        if funder != officer.address:
            raise MintCheckError(
                f"programme {programme_id} ({p[12]}) is business {funder}'s own programme: only its key"
                " grants from it (--keystore) / この事業者のプログラムは、その事業者の鍵でのみ付与できます"
            )
        return p
    if not officer.registry.functions.hasRole(verifier_role, officer.address).call():
        raise LacksVerifierRole(programme_id, officer.address, verifier_role)
    return p


ACTIVE_KINDS_SELECTOR = keccak(text="activeKindsOfBatch(address[])")[:4]
KINDS_PER_CALL = 1000  # the node gives an eth_call 5 s; 1,000 take ~0.4 s


def active_kinds(officer: MintSession, addresses: list[str]) -> list[int]:
    """``activeKindsOfBatch`` for ``addresses``, encoded and decoded with eth_abi directly
    (web3's contract encoder took ~0.3 s per 1,000 addresses: 12 s of a 40,000-row run)."""
    kinds: list[int] = []
    target = officer.registry.address
    for chunk in _chunks(addresses, KINDS_PER_CALL):
        data = ACTIVE_KINDS_SELECTOR + abi_encode(["address[]"], [chunk])
        answer = officer.w3.eth.call({"to": target, "data": data})  # type: ignore[typeddict-item]
        kinds.extend(abi_decode(["uint8[]"], bytes(answer))[0])
    return kinds


def check_accounts(officer: MintSession, rows: list[MintRow]) -> list[RowProblem]:
    """Rows whose address is not an active resident (unknown, suspended, revoked, or a shop)."""
    problems = []
    kinds = active_kinds(officer, [r.address for r in rows])
    for row, kind in zip(rows, kinds, strict=True):
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
    """(rows granted, rows skipped, points granted) from a receipt's programme events; the
    receipt as the node's JSON (hex strings) or as web3 formats it."""
    attested = skipped = points = 0
    target = programmes_address.lower()
    for entry in receipt["logs"]:
        if str(entry["address"]).lower() != target or not entry["topics"]:
            continue
        topic = _bytes(entry["topics"][0])
        if topic == ATTESTED_TOPIC:
            attested += 1
            points += int.from_bytes(_bytes(entry["data"])[32:64], "big")  # data: units, points, evidenceHash
        elif topic == SKIPPED_TOPIC:
            skipped += 1
    return attested, skipped, points


def _bytes(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


@dataclass
class BatchResult:
    tx: str
    block: int
    granted: int
    skipped: int
    points: int


def batch_size_for_gas(block_gas: int, row_gas: int = ROW_GAS, per_block: int = TXS_PER_BLOCK) -> int:
    """Rows per transaction so that ``per_block`` batches fit in one block at ``row_gas`` a row.

    The node packs a block by each transaction's gas limit, so the limit we sign decides how
    many batches one block executes; fewer, fuller blocks spend less on state roots and sealing.
    """
    return max(1, (block_gas // per_block - BATCH_OVERHEAD_GAS) // row_gas)


def submit(
    officer: MintSession,
    plan: MintPlan,
    batch_size: int | None = None,
    on_batch: Callable[[int, BatchResult], None] | None = None,
    on_sent: Callable[[list[str]], None] | None = None,
) -> list[BatchResult]:
    """Sends the pending rows in batches, pipelined; returns one result per batch, in order.

    Up to MAX_IN_FLIGHT transactions are signed ahead with consecutive nonces and sent in one
    JSON-RPC batch; their receipts are polled in one JSON-RPC batch and settled oldest
    first. ``batch_size`` None chooses it by gas (:func:`batch_size_for_gas`). Raises
    TransactionFailed on a refusal or a revert, naming the batch's lines; the batches
    settled before it stand. Exactly once does not depend on this process: each row's claim
    id is paid at most once on chain, so a batch sent before a crash and mined after it
    (or sent again by a resumed run) cannot mint a row twice. ``on_sent`` (tests) sees the
    hashes of each JSON-RPC batch once the node accepted it.
    """
    target = officer.programmes.address
    pipeline = TransactionPipeline(officer.sender)
    block_gas = int(officer.w3.eth.get_block("latest")["gasLimit"])
    size = batch_size or batch_size_for_gas(block_gas)
    batches = list(_chunks(plan.pending, size))
    in_flight: list[tuple[str, list[MintRow]]] = []
    results: list[BatchResult] = []

    def lines(rows: list[MintRow]) -> str:
        return f"{rows[0].line}-{rows[-1].line}"

    def refuse(rows: list[MintRow], exc: TransactionFailed) -> TransactionFailed:
        details = {"programme": plan.programme_id, "batch": plan.batch_id, "lines": lines(rows)}
        officer.audit.record("mint batch", details, {"status": "refused", "error": str(exc), "tx": exc.tx_hash})
        return TransactionFailed(f"lines {lines(rows)}: {exc}", exc.error, exc.tx_hash)

    def settle(tx_hash: str, rows: list[MintRow], receipt: dict[str, Any]) -> None:
        block = int(receipt["blockNumber"], 16)
        if int(receipt["status"], 16) != 1:
            raise refuse(rows, TransactionFailed(f"transaction {tx_hash} reverted in block {block}", tx_hash=tx_hash))
        attested, skipped, points = count_attestations(receipt, target)
        result = BatchResult(tx_hash, block, attested, skipped, points)
        details = {"programme": plan.programme_id, "batch": plan.batch_id,
                   "lines": lines(rows), "rows": len(rows), "points": result.points}  # fmt: skip
        outcome = {"status": "done", "tx": tx_hash, "block": result.block,
                   "granted": result.granted, "skipped": result.skipped}  # fmt: skip
        officer.audit.record("mint batch", details, outcome)
        results.append(result)
        if on_batch is not None:
            on_batch(len(rows), result)

    def settle_ready() -> None:
        found = pipeline.wait_first([h for h, _ in in_flight])
        while in_flight and in_flight[0][0] in found:
            tx_hash, rows = in_flight.pop(0)
            settle(tx_hash, rows, found[tx_hash])

    next_batch = 0
    while next_batch < len(batches) or in_flight:
        signed: list[tuple[str, bytes, list[MintRow]]] = []
        while next_batch < len(batches) and len(in_flight) + len(signed) < MAX_IN_FLIGHT:
            rows = batches[next_batch]
            data = encode_attest_batch(plan.programme_id, rows, plan.batch_id)
            gas = min(block_gas, BATCH_OVERHEAD_GAS + ROW_GAS * len(rows))
            tx_hash, raw = pipeline.sign(target, data, gas)
            signed.append((tx_hash, raw, rows))
            next_batch += 1
        refusals = pipeline.send([raw for _, raw, _ in signed])
        for (tx_hash, _, rows), refusal in zip(signed, refusals, strict=True):
            if refusal is not None:
                # Later nonces of this batch cannot be mined before this one: settle what was
                # accepted before it, then stop. A re-run signs from the node's pending nonce.
                while in_flight:
                    settle_ready()
                raise refuse(rows, refusal)
            in_flight.append((tx_hash, rows))
        if on_sent is not None and signed:
            on_sent([h for h, _, _ in signed])
        if in_flight:
            settle_ready()
    return results
