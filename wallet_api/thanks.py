"""Thanks between neighbours: points with a category and an optional message, within the daily limits.

The message stays off-chain (in this wallet's outbox row, shown to sender and recipient);
the chain records only ``memoHash``, an HMAC of the message under a random per-message
salt kept beside it, so whoever holds both can check them against the chain and nobody
else can test guesses.

The daily caps (issue 21) are stated, not only enforced: :meth:`Thanks.allowance` tells the
limit, what was sent today and when it resets (midnight JST), the thanks screen shows it, and
a thanks over the cap is refused before anything is sent with those figures in ``detail``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from web3.exceptions import Web3RPCError

from wallet_api.accounts import Accounts
from wallet_api.db.models import Operation, User
from wallet_api.errors import ApiError
from wallet_api.ledger import Ledger
from wallet_api.outbox import Outbox
from wallet_api.statuses import OperationKind

THANKS_CATEGORIES = ("thanks", "help", "community", "care", "environment", "other")
JST_OFFSET = timedelta(hours=9)


def next_jst_midnight(moment: datetime) -> datetime:
    """When the thanks caps reset: the next 00:00 in Japan (the contract counts JST days), in UTC."""
    local = moment.astimezone(UTC) + JST_OFFSET
    return datetime(local.year, local.month, local.day, tzinfo=UTC) + timedelta(days=1) - JST_OFFSET


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

    def allowance(self, user: User) -> dict[str, Any]:
        """Today's caps on thanks and what ``user`` sent today (JST), and when the caps reset."""
        per_day, points_per_day = self.ledger.thanks_limits()
        count, points = self.ledger.token.functions.thanksSentToday(user.address).call()
        return {
            "per_day": per_day, "points_per_day": points_per_day, "sent_today": int(count),
            "points_today": int(points), "resets_at": next_jst_midnight(datetime.now(UTC)).isoformat(),
        }  # fmt: skip

    def thank(self, sender: User, to: str, amount: int, category: str, message: str, key: str) -> Operation:
        """Sends ``amount`` thank-you points to the member ``to`` (short code or address).

        Over today's cap it is refused at once (``THANKS_DAILY_CAP``, nothing sent) with the
        limits, today's figures and the reset time; the contract enforces the same caps.
        """
        recipient = self.accounts.find_member(to)
        if self.outbox.find(sender, key) is None:  # a retry of an accepted thanks is answered as it was
            self._refuse_over_cap(sender, amount)
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

    def _refuse_over_cap(self, sender: User, amount: int) -> None:
        try:
            allowance = self.allowance(sender)
        except (Web3RPCError, ConnectionError, OSError, TimeoutError, ValueError):
            return  # the ledger cannot be asked now: the contract still enforces the caps
        if (
            allowance["sent_today"] >= allowance["per_day"]
            or allowance["points_today"] + amount > allowance["points_per_day"]
        ):
            raise ApiError("THANKS_DAILY_CAP", {**allowance, "amount": amount})
