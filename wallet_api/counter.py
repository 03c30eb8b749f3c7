"""The city counter (窓口, issue 20): everything a resident without a smartphone needs, done by an officer.

- **Search** by name, date of birth, member code or card (scanned). Names and birth dates are
  compared as keyed hashes (:mod:`wallet_api.people_index`); only the matching records are
  opened, and each opening is recorded with the officer and the reason.
- **Sign-up on the resident's behalf** after the officer checked an ID document: no app, no
  e-mail. The account is approved in the same step (the ID was checked at the desk), and a
  likely duplicate (same name and birth date, or same name and address) is shown first.
- **Cards and PINs.** A card is issued (or reissued, replacing a lost one: the balance is on the
  account, not the card) only once the resident has typed a PIN twice on the PIN pad: the pad
  posts the PIN straight to the server against a one-time entry the officer opened, so the
  officer's screen never holds it. A lost card is blocked at once and refused at every till.
- **A forgotten app password**: a one-time code printed on paper (24 hours, used once), which the
  resident types with their log-in ID in the app to set a new password.
- **A balance slip**: balance and when points expire, printed at the desk.

Every action is written to ``counter_log`` (officer, resident, action, reason) in the same
transaction as the change.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api import pins
from wallet_api.accounts import SHORT_CODE_ALPHABET, Accounts, check_birth_date
from wallet_api.auth import aware, now
from wallet_api.charges import CARD_PREFIX, Charges
from wallet_api.crypto.passwords import hash_secret
from wallet_api.db.models import Card, CounterLogEntry, Operation, PersonKeys, PinEntry, ResetCode, User
from wallet_api.db.models import Session as LoginSession
from wallet_api.errors import ApiError
from wallet_api.ledger import Ledger
from wallet_api.statuses import MEMBER_ROLES, AccountStatus, Role

PIN_ENTRY_SECONDS = 300
RESET_CODE_HOURS = 24
RESET_CODE_LENGTH = 10
SEARCH_LIMIT = 20


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normal_code(code: str) -> str:
    """A code typed from paper: spaces and hyphens dropped, upper case."""
    return code.replace("-", "").replace(" ", "").replace("\u3000", "").upper()


@dataclass(frozen=True)
class CounterSignup:
    user: User
    operation: Operation
    duplicates: list[User]


class Counter:
    def __init__(self, sessions: sessionmaker[DbSession], accounts: Accounts, charges: Charges, ledger: Ledger) -> None:
        self.sessions = sessions
        self.accounts = accounts
        self.charges = charges
        self.ledger = ledger

    @staticmethod
    def log(db: DbSession, officer: User, user: User | None, action: str, reason: str) -> None:
        db.add(CounterLogEntry(at=now(), officer_id=officer.id, user_id=user.id if user else None, action=action,
                               reason=reason[:200]))  # fmt: skip

    def member(self, public_id: str) -> User:
        with self.sessions() as db:
            user = db.scalar(select(User).where(User.public_id == public_id, User.role.in_(MEMBER_ROLES)))
        if user is None:
            raise ApiError("NOT_FOUND")
        return user

    # -- search -------------------------------------------------------------------------------
    def search(
        self,
        officer: User,
        reason: str,
        *,
        name: str | None = None,
        date_of_birth: date | None = None,
        member_code: str | None = None,
        card: str | None = None,
    ) -> list[dict[str, Any]]:
        """Members matching every criterion given, with their records (each opening recorded)."""
        people = self.accounts.people
        condition = []
        if name:
            condition.append(PersonKeys.name_key == people.name_key(name))
        if date_of_birth:
            condition.append(PersonKeys.dob_key == people.dob_key(date_of_birth))
        if name and date_of_birth:
            condition = [PersonKeys.name_dob_key == people.name_dob_key(name, date_of_birth)]
        with self.sessions() as db:
            query = select(User).where(User.role.in_(MEMBER_ROLES))
            if condition:
                query = query.join(PersonKeys, PersonKeys.user_id == User.id).where(*condition)
            if member_code:
                query = query.where(User.short_code == normal_code(member_code))
            if card:
                query = query.join(Card, Card.user_id == User.id).where(Card.card_hash == _digest(card.strip()))
            if not (condition or member_code or card):
                raise ApiError("SEARCH_EMPTY")
            users = list(db.scalars(query.order_by(User.id).limit(SEARCH_LIMIT)).all())
            cards = {c.user_id: c for c in db.scalars(select(Card).where(Card.user_id.in_([u.id for u in users])))}
        records = self.accounts.personal_records(users, officer, f"窓口検索: {reason}")
        if users:
            with self.sessions.begin() as db:
                self.log(db, officer, None, "search", f"{len(users)} found; {reason}")
        return [self._view(u, r, cards.get(u.id)) for u, r in zip(users, records, strict=True)]

    @staticmethod
    def _view(user: User, record: dict[str, Any], card: Card | None) -> dict[str, Any]:
        return {
            "id": user.public_id,
            "short_code": user.short_code,
            "login": user.login,
            "role": user.role.value,
            "status": user.status.value,
            "address": user.address,
            "record": record,
            "card": None
            if card is None
            else {"issued_at": aware(card.issued_at), "blocked": card.blocked_at is not None},
        }

    # -- sign-up at the desk ------------------------------------------------------------------
    def signup(
        self,
        officer: User,
        key: str,
        *,
        full_name: str,
        postal_address: str,
        date_of_birth: date,
        display_name: str | None,
        id_document: str,
    ) -> CounterSignup:
        """A resident signed up and approved by the officer who checked their ID; no app or e-mail needed.

        The log-in ID is made here (``c-`` and the member code), with an unusable password: the
        resident who wants the app later gets a reset code at the counter.
        """
        check_birth_date(date_of_birth)
        user = self.accounts.signup(
            login=f"c-{secrets.token_hex(4)}",
            password=secrets.token_urlsafe(32),
            role=Role.RESIDENT.value,
            full_name=full_name,
            postal_address=postal_address,
            date_of_birth=date_of_birth,
            display_name=display_name,
        )
        with self.sessions.begin() as db:
            row = db.get(User, user.id)
            assert row is not None
            row.login = f"c-{row.short_code.lower()}"
            self.log(db, officer, row, "signup", f"本人確認書類: {id_document}")
            user = row
        duplicates = self.accounts.likely_duplicates(user)
        operation = self.accounts.approve(officer, user.public_id, key)
        return CounterSignup(user, operation, duplicates)

    # -- cards and PINs -----------------------------------------------------------------------
    def open_pin_entry(self, officer: User, public_id: str, purpose: str) -> str:
        """A one-time PIN pad entry for a new card (``new_card``) or a new PIN on the same card (``reset_pin``)."""
        user = self.member(public_id)
        if user.status != AccountStatus.ACTIVE:
            raise ApiError("ACCOUNT_NOT_ACTIVE", {"status": user.status})
        with self.sessions.begin() as db:
            if purpose == "reset_pin" and db.get(Card, user.id) is None:
                raise ApiError("NO_CARD")
            entry = PinEntry(id=str(uuid.uuid4()), user_id=user.id, officer_id=officer.id, purpose=purpose,
                             created_at=now(), expires_at=now() + timedelta(seconds=PIN_ENTRY_SECONDS))  # fmt: skip
            db.add(entry)
            self.log(db, officer, user, f"pin_pad_{purpose}", "")
        return entry.id

    def enter_pin(self, officer: User, entry_id: str, pin: str, pin_again: str) -> str | None:
        """The PIN typed on the pad: a new card's token (to print), or None when only the PIN changed."""
        if pin != pin_again:
            raise ApiError("PIN_MISMATCH")
        pins.require_new_pin(pin)
        with self.sessions.begin() as db:
            taken = db.execute(
                update(PinEntry)
                .where(
                    PinEntry.id == entry_id,
                    PinEntry.officer_id == officer.id,
                    PinEntry.done_at.is_(None),
                    PinEntry.expires_at > now(),
                )  # fmt: skip
                .values(done_at=now())
            )
            if not taken.rowcount:  # type: ignore[attr-defined]
                raise ApiError("PIN_ENTRY_INVALID")
            entry = db.get(PinEntry, entry_id)
            assert entry is not None
            user = db.get(User, entry.user_id)
            assert user is not None
            if entry.purpose == "reset_pin":
                card = db.get(Card, user.id, with_for_update=True)
                if card is None:
                    raise ApiError("NO_CARD")
                card.pin_hash, card.failed_pins, card.locked_until = hash_secret(pin), 0, None
                self.log(db, officer, user, "pin_reset", "")
                return None
            self.log(db, officer, user, "card_issued", "")
        return self.charges.issue_card(user, pin, self.charges.card_limit(user)[1])  # a new card keeps the limit

    def block_card(self, actor: User, public_id: str, reason: str) -> None:
        """Blocks the member's card at once (lost or stolen); every till refuses it from now on."""
        user = self.member(public_id)
        with self.sessions.begin() as db:
            card = db.get(Card, user.id, with_for_update=True)
            if card is None:
                raise ApiError("NO_CARD")
            if card.blocked_at is None:
                card.blocked_at = now()
            self.log(db, actor, user, "card_blocked", reason)

    # -- app password -------------------------------------------------------------------------
    def reset_code(self, officer: User, public_id: str) -> tuple[str, str]:
        """A one-time code to print for the resident (and their log-in ID); earlier unused codes stop working."""
        user = self.member(public_id)
        code = "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(RESET_CODE_LENGTH))
        with self.sessions.begin() as db:
            db.execute(
                update(ResetCode).where(ResetCode.user_id == user.id, ResetCode.used_at.is_(None)).values(used_at=now())
            )
            db.add(ResetCode(code_hash=_digest(code), user_id=user.id, officer_id=officer.id, created_at=now(),
                             expires_at=now() + timedelta(hours=RESET_CODE_HOURS)))  # fmt: skip
            self.log(db, officer, user, "reset_code", "")
        return user.login, code

    def slip(self, officer: User, public_id: str, reason: str) -> dict[str, Any]:
        """What the balance slip prints: name, member code, balance, and when points expire."""
        user = self.member(public_id)
        record = self.accounts.personal_record(user, officer, f"残高票: {reason}")
        balance, buckets = self.ledger.balance(user.address) if user.address else (0, [])
        with self.sessions.begin() as db:
            self.log(db, officer, user, "balance_slip", reason)
        return {"name": record.get("name", ""), "short_code": user.short_code, "login": user.login,
                "balance": balance, "buckets": [{"expires_at": e, "amount": a} for e, a in buckets],
                "printed_at": now()}  # fmt: skip

    def trail(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.sessions() as db:
            rows = db.execute(
                select(CounterLogEntry, User.login)
                .join(User, User.id == CounterLogEntry.officer_id)
                .order_by(CounterLogEntry.id.desc())
                .limit(limit)
            ).all()
            members = {
                u.id: u.short_code
                for u in db.scalars(select(User).where(User.id.in_([e.user_id for e, _ in rows if e.user_id])))
            }
        return [{"at": aware(e.at), "officer": login, "member": members.get(e.user_id) if e.user_id else None,
                 "action": e.action, "reason": e.reason} for e, login in rows]  # fmt: skip


def redeem_reset_code(sessions: sessionmaker[DbSession], login: str, code: str, new_password: str) -> None:
    """Sets a new app password with a counter's one-time code; unlocks the log-in and ends other sessions."""
    digest = _digest(normal_code(code))
    with sessions.begin() as db:
        user = db.scalar(select(User).where(User.login == login.strip().lower()))
        row = db.get(ResetCode, digest, with_for_update=True)
        if user is None or row is None or row.user_id != user.id:
            raise ApiError("RESET_CODE_INVALID")
        if row.used_at is not None:
            raise ApiError("RESET_CODE_USED")
        expires = aware(row.expires_at)
        if expires is not None and expires <= now():
            raise ApiError("RESET_CODE_EXPIRED")
        row.used_at = now()
        user.password_hash = hash_secret(new_password)
        user.failed_logins, user.locked_until = 0, None
        db.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
            .values(revoked_at=now(), revoked_reason="password_reset")
        )


__all__ = ["CARD_PREFIX", "Counter", "CounterSignup", "redeem_reset_code"]
