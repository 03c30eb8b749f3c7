"""Card PINs: six digits for new cards, and failure counting that a parallel burst cannot outrun.

Issue 15, finding 14. The attempt is counted *before* the PIN is checked, in the card
row under its lock (``SELECT … FOR UPDATE`` on PostgreSQL, the write lock on SQLite),
and the lock state is re-checked in that same transaction; so however many charges
arrive at once, at most ``pin_failures_before_lock`` guesses are ever evaluated. The
PIN itself is checked outside any transaction (finding 9). A right PIN clears the count.
Cards issued before six digits were required keep their 4- or 5-digit PINs.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api.auth import aware, now
from wallet_api.crypto.passwords import verify_secret
from wallet_api.db.models import Card, User
from wallet_api.errors import ApiError
from wallet_api.settings import WalletSettings

PIN_DIGITS = 6


def require_new_pin(pin: str) -> None:
    """A new card's PIN: exactly six digits (a clear PIN_TOO_SHORT otherwise)."""
    if len(pin) != PIN_DIGITS or not pin.isdigit():
        raise ApiError("PIN_TOO_SHORT", {"pin": f"{PIN_DIGITS} digits"})


def card_holder(
    sessions: sessionmaker[DbSession], settings: WalletSettings, card_token_hash: str, pin: str
) -> tuple[User, int | None]:
    """The holder of the card (and its per-charge limit) if ``pin`` is right; counts every attempt."""
    retry_after, remaining = 0, settings.pin_failures_before_lock
    with sessions.begin() as db:
        card = db.scalar(select(Card).where(Card.card_hash == card_token_hash).with_for_update())
        if card is None:
            raise ApiError("CARD_UNKNOWN")
        if card.blocked_at is not None:  # reported lost: refused before any PIN is tried
            raise ApiError("CARD_BLOCKED")
        locked = aware(card.locked_until)
        if locked is not None and locked > now():
            retry_after = int((locked - now()).total_seconds()) + 1
        else:
            if locked is not None:  # a lock that has run out starts a fresh count
                card.failed_pins, card.locked_until = 0, None
            card.failed_pins += 1
            remaining = settings.pin_failures_before_lock - card.failed_pins
            if remaining <= 0:
                card.locked_until = now() + timedelta(seconds=settings.pin_lock_seconds)
        user_id, pin_hash = card.user_id, card.pin_hash
    if retry_after:
        raise ApiError("CARD_LOCKED", {"retry_after_seconds": retry_after})
    if not verify_secret(pin_hash, pin):
        if remaining <= 0:
            raise ApiError("CARD_LOCKED", {"retry_after_seconds": settings.pin_lock_seconds})
        raise ApiError("PIN_INCORRECT", {"attempts_left": remaining})
    with sessions.begin() as db:
        card = db.get(Card, user_id, with_for_update=True)
        if card is None or card.pin_hash != pin_hash:  # replaced meanwhile: this PIN no longer opens it
            raise ApiError("CARD_UNKNOWN")
        if card.blocked_at is not None:
            raise ApiError("CARD_BLOCKED")
        card.failed_pins, card.locked_until = 0, None
        limit = card.max_amount
        holder = db.get(User, user_id)
    if holder is None:
        raise ApiError("CARD_UNKNOWN")
    return holder, limit
