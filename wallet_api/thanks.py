"""Thanks between neighbours: points with a category and an optional message, within the daily limits.

The message stays off-chain (in this wallet's outbox row, shown to sender and recipient);
the chain records only ``memoHash``, an HMAC of the message under a random per-message
salt kept beside it, so whoever holds both can check them against the chain and nobody
else can test guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from wallet_api.accounts import Accounts
from wallet_api.db.models import Operation, User
from wallet_api.ledger import Ledger
from wallet_api.outbox import Outbox
from wallet_api.statuses import OperationKind

THANKS_CATEGORIES = ("thanks", "help", "community", "care", "environment", "other")


def memo_hash(message: str, salt: bytes) -> bytes:
    """The on-chain ``memoHash`` of a thanks message: HMAC-SHA256 keyed by a random per-message salt.

    A plain hash of a short message ("ありがとう") is guessed by hashing candidates; the
    salt stays off-chain with the message, so only its holders can check it.
    """
    return hmac.new(salt, message.encode(), hashlib.sha256).digest()


def thanks_notes(db: DbSession, tx_hashes: set[str]) -> dict[str, dict[str, str]]:
    """The off-chain message and salt of thanks sent through this wallet, by transaction hash."""
    if not tx_hashes:
        return {}
    rows = db.scalars(
        select(Operation).where(Operation.tx_hash.in_(tx_hashes), Operation.kind == OperationKind.THANK)
    ).all()
    notes: dict[str, dict[str, str]] = {}
    for op in rows:
        message, salt = op.summary.get("message"), op.summary.get("message_salt")
        if op.tx_hash and isinstance(message, str) and message and isinstance(salt, str):
            notes[op.tx_hash] = {"message": message, "message_salt": salt}
    return notes


class Thanks:
    def __init__(self, ledger: Ledger, outbox: Outbox, accounts: Accounts) -> None:
        self.ledger = ledger
        self.outbox = outbox
        self.accounts = accounts

    def thank(self, sender: User, to: str, amount: int, category: str, message: str, key: str) -> Operation:
        """Sends ``amount`` thank-you points to the member ``to`` (short code or address)."""
        recipient = self.accounts.find_member(to)
        salt = secrets.token_bytes(16)
        memo = memo_hash(message, salt) if message else b"\0" * 32
        target, calldata = self.ledger.calldata(
            "RegionalPoints", "thank", recipient.address, amount, category.encode().ljust(32, b"\0"), memo
        )
        return self.outbox.submit(
            sender,
            key,
            {"to": recipient.public_id, "amount": amount, "category": category, "message": message},
            kind=OperationKind.THANK,
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
