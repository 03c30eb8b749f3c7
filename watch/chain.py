"""The watch service's one transaction kind (issue 19): ``RewardProgrammes.attestBatch`` for volunteers' days.

Reached over JSON-RPC through the shared client library (``ledger_client``); the receipt is
read back into, per claim id, the points granted or the reason it was skipped.
"""

from __future__ import annotations

from typing import Any

from web3.contract import Contract
from web3.logs import DISCARD

from ledger_client.transactions import Sender

SKIP_REASONS = {1: "already paid for this day", 2: "not an active resident account"}


def attest_batch(
    sender: Sender, programmes: Contract, programme_id: int, items: list[tuple[str, int, bytes, int]]
) -> dict[str, Any]:
    """Sends one ``attestBatch``; ``{"transactionHash", "attested": {claim: points}, "skipped": {claim: why}}``."""
    receipt = sender.call_function(programmes.functions.attestBatch(programme_id, items))
    attested = {
        int(e.args.claimId): int(e.args.points)
        for e in programmes.events.Attested().process_receipt(receipt, errors=DISCARD)
    }
    skipped = {
        int(e.args.claimId): SKIP_REASONS.get(int(e.args.reason), f"skipped ({int(e.args.reason)})")
        for e in programmes.events.AttestationSkipped().process_receipt(receipt, errors=DISCARD)
    }
    return {"transactionHash": receipt["transactionHash"].hex(), "attested": attested, "skipped": skipped}
