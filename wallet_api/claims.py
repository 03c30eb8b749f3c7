"""Thanks between residents, and residents' claims on reward programmes.

A claim (programme, units, evidence such as "cleaned the Takasago river bank on 3 May")
waits for a city officer; approval attests it on-chain from the service's verifier key,
with the claim's row id as the claim id, so the programme pays it at most once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import TYPE_CHECKING

from eth_utils import is_hex_address, keccak, to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from wallet_api.accounts import service_address
from wallet_api.auth import now
from wallet_api.db.models import Claim, Operation, User
from wallet_api.errors import ApiError

if TYPE_CHECKING:
    from wallet_api.services import Services

THANKS_CATEGORIES = ("thanks", "help", "community", "care", "environment", "other")
CLAIM_ID_BASE = 1 << 48  # wallet-API claims live above the CLI's batch<<32|line ids


def find_member(services: Services, who: str) -> User:
    """A resident or merchant by short code or address."""
    who = who.strip().removeprefix("takasago-member:")
    with services.sessions() as db:
        if is_hex_address(who):
            user = db.scalar(select(User).where(User.address == to_checksum_address(who)))
        else:
            user = db.scalar(select(User).where(User.short_code == who.upper()))
    if user is None or user.role not in ("resident", "merchant"):
        raise ApiError("UNKNOWN_RECIPIENT")
    return user


def memo_hash(message: str, salt: bytes) -> bytes:
    """The on-chain ``memoHash`` of a thanks message: HMAC-SHA256 keyed by a random per-message salt.

    A plain hash of a short message ("ありがとう") is guessed by hashing candidates; the
    salt stays off-chain with the message (in the wallet's database, shown to sender and
    recipient), so whoever holds both can check them against the chain and nobody else
    can test guesses.
    """
    return hmac.new(salt, message.encode(), hashlib.sha256).digest()


def thanks_notes(db: DbSession, tx_hashes: set[str]) -> dict[str, dict[str, str]]:
    """The off-chain message and salt of thanks sent through this wallet, by transaction hash."""
    if not tx_hashes:
        return {}
    rows = db.scalars(select(Operation).where(Operation.tx_hash.in_(tx_hashes), Operation.kind == "thank")).all()
    notes: dict[str, dict[str, str]] = {}
    for op in rows:
        message, salt = op.summary.get("message"), op.summary.get("message_salt")
        if op.tx_hash and isinstance(message, str) and message and isinstance(salt, str):
            notes[op.tx_hash] = {"message": message, "message_salt": salt}
    return notes


def thank(services: Services, sender: User, to: str, amount: int, category: str, message: str, key: str) -> Operation:
    recipient = find_member(services, to)
    salt = secrets.token_bytes(16)
    memo = memo_hash(message, salt) if message else b"\0" * 32
    target, calldata = services.ledger.calldata(
        "RegionalPoints", "thank", recipient.address, amount, category.encode().ljust(32, b"\0"), memo
    )
    return services.submit(
        sender,
        key,
        {"to": recipient.public_id, "amount": amount, "category": category, "message": message},
        kind="thank",
        sender=sender.address or "",
        target=target,
        calldata=calldata,
        summary={
            "to": recipient.short_code,
            "amount": amount,
            "category": category,
            "message": message,
            **({"message_salt": "0x" + salt.hex()} if message else {}),
        },
    )


def submit_claim(services: Services, user: User, programme_id: int, units: int, evidence: str) -> Claim:
    try:
        count = int(services.ledger.programmes.functions.programmeCount().call())
    except (ConnectionError, OSError):
        raise ApiError("NODE_UNAVAILABLE") from None
    if not 1 <= programme_id <= count:
        raise ApiError("UNKNOWN_PROGRAMME", {"programme_id": programme_id})
    claim = Claim(
        public_id=str(uuid.uuid4()),
        user_id=user.id,
        programme_id=programme_id,
        units=units,
        evidence=evidence,
        status="pending",
        created_at=now(),
    )
    with services.sessions.begin() as db:
        db.add(claim)
    return claim


def decide_claim(
    services: Services, officer: User, public_id: str, approve: bool, key: str
) -> tuple[Claim, Operation | None]:
    with services.sessions() as db:
        claim = db.scalar(select(Claim).where(Claim.public_id == public_id))
        claimant = db.get(User, claim.user_id) if claim is not None else None
    if claim is None or claimant is None:
        raise ApiError("NOT_FOUND")
    if claim.status != "pending":
        raise ApiError("CLAIM_NOT_PENDING", {"status": claim.status})
    if not approve:
        with services.sessions.begin() as db:
            row = db.get(Claim, claim.id)
            assert row is not None
            row.status = "rejected"
            row.decided_by = officer.id
        claim.status = "rejected"
        return claim, None
    operator = service_address(services)
    target, calldata = services.ledger.calldata(
        "RewardProgrammes",
        "attest",
        claim.programme_id,
        claimant.address,
        claim.units,
        keccak(text=f"claim:{claim.public_id}:{claim.evidence}"),
        CLAIM_ID_BASE + claim.id,
    )

    def mark(db: DbSession, op: Operation) -> None:
        row = db.get(Claim, claim.id, with_for_update=True)
        if row is None or row.status != "pending":
            raise ApiError("CLAIM_NOT_PENDING")
        row.status = "approving"
        row.decided_by = officer.id
        row.operation_id = op.id

    op = services.submit(
        officer,
        key,
        {"claim": public_id},
        kind="attest",
        sender=operator,
        target=target,
        calldata=calldata,
        summary={"claim": claim.id},
        before_commit=mark,
    )
    with services.sessions() as db:
        latest = db.get(Claim, claim.id)
    return latest or claim, op


def _on_attest(db: DbSession, op: Operation) -> None:
    claim = db.get(Claim, op.summary["claim"])
    if claim is None:
        return
    claim.status = "granted" if op.status == "confirmed" else "failed"


def register_hooks(services: Services) -> None:
    services.pipeline.hooks["attest"] = _on_attest
