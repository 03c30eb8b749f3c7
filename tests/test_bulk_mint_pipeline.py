"""A pipelined bulk mint stopped after its transactions were sent but before any receipt was seen,
then resumed: every row minted exactly once.

The worst case is resumed on purpose: the second run does not ask the chain which claims are
paid (as if it had read the bitmap before the first run's batches were mined) and sends every
row again. The claim bitmap on chain is the record: the rows the first run's batches paid are
skipped (``AttestationSkipped``), the others are minted, and no resident gets points twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3
from web3.contract import Contract

from ledger_client.transactions import Sender
from scripts.audit_log import AuditLog
from scripts.bulk_mint import MAX_IN_FLIGHT, MintPlan, already_paid, batch_size_for_gas, submit
from scripts.event_logs import all_logs
from scripts.mint_csv import MintRow
from tests.points import RESIDENT, PointsSystem

ROWS = 1_200
BATCH_SIZE = 100  # 12 batches: the first JSON-RPC batch sends MAX_IN_FLIGHT of them


@dataclass
class Session:
    """A MintSession for the test's admin (who holds the programme's verifier role)."""

    w3: Web3
    registry: Contract
    programmes: Contract
    address: str
    sender: Sender
    audit: AuditLog


def test_pipelined_mint_interrupted_before_receipts_resumes_exactly_once(
    fresh_points: PointsSystem, tmp_path: Path
) -> None:
    p = fresh_points
    residents = [Account.create().address for _ in range(ROWS)]
    for start in range(0, ROWS, 500):
        chunk = residents[start : start + 500]
        p.send(p.admin, p.registry.functions.registerBatch(chunk, RESIDENT, [b"\0" * 32] * len(chunk)), gas=60_000_000)
    programme = p.create_programme(name="administrative points", budget=10**9)
    amounts = {address: 100 + i % 900 for i, address in enumerate(residents)}
    rows = [MintRow(i + 1, address, amounts[address], "") for i, address in enumerate(residents)]
    session = Session(p.w3, p.registry, p.programmes, p.admin.address, p.sender(p.admin),
                      AuditLog(tmp_path / "audit.log", "test"))  # fmt: skip

    sent: list[str] = []

    def crash_after_sending(hashes: list[str]) -> None:
        sent.extend(hashes)
        raise KeyboardInterrupt  # the process dies with its batches in the node's pool, unconfirmed

    first = MintPlan(programme, 7, rows)
    with pytest.raises(KeyboardInterrupt):
        submit(session, first, BATCH_SIZE, on_sent=crash_after_sending)
    assert len(sent) == MAX_IN_FLIGHT
    assert not (tmp_path / "audit.log").exists()  # no batch was confirmed

    resumed = MintPlan(programme, 7, rows)  # done = {}: sends every row again
    results = submit(session, resumed, BATCH_SIZE)
    first_rows = MAX_IN_FLIGHT * BATCH_SIZE
    assert sum(r.skipped for r in results) == first_rows
    assert sum(r.granted for r in results) == ROWS - first_rows
    for tx_hash in sent:  # the first run's batches were mined, before the resumed ones (lower nonces)
        assert p.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1  # type: ignore[arg-type]

    assert {a: p.balance(a) for a in residents} == amounts
    attested = all_logs(
        p.programmes.events.Attested, 0, p.w3.eth.block_number, argument_filters={"programmeId": programme}
    )
    assert len(attested) == ROWS and len({e["args"]["claimId"] for e in attested}) == ROWS
    assert already_paid(session, programme, 7, rows) == {r.line for r in rows}
    # A third run has nothing left: the CLI reads the bitmap and sends nothing.
    assert MintPlan(programme, 7, rows, done=already_paid(session, programme, 7, rows)).pending == []


def test_batch_size_follows_the_block_gas_limit() -> None:
    assert batch_size_for_gas(100_000_000) == (100_000_000 // 3 - 400_000) // 90_000
    assert batch_size_for_gas(30_000_000) < batch_size_for_gas(100_000_000)
    assert batch_size_for_gas(100_000) == 1
