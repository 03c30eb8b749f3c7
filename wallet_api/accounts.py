"""Sign-up under a real name, the officer's verification, and the service's own key.

A resident or merchant signs up with their real name, address and date of birth; these
are sealed (envelope encryption, bound to the user) and never leave the service. A key
pair is generated server-side. The account stays ``pending`` until a city officer
verifies the person; approval registers the address on-chain (from the service's
registrar key) with only a salted hash of the record, so nothing personal is on-chain.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from eth_account import Account
from eth_utils import is_hex_address, keccak, to_checksum_address
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api import notices
from wallet_api.auth import now
from wallet_api.crypto.passwords import hash_secret
from wallet_api.db.models import CounterLogEntry, OfficerRead, Operation, PersonKeys, ServiceKey, User
from wallet_api.errors import ApiError
from wallet_api.keyring import Keyring
from wallet_api.ledger import Ledger
from wallet_api.outbox import Outbox
from wallet_api.people_index import PeopleIndex
from wallet_api.statuses import MEMBER_ROLES, AccountStatus, OperationKind, OperationStatus, Role

log = logging.getLogger("wallet_api.officer")
KIND_OF_ROLE = {Role.RESIDENT: 1, Role.MERCHANT: 2}  # AccountRegistry kinds
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or typed from paper


def new_short_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(8))


def personal_context(public_id: str) -> bytes:
    return b"personal:" + public_id.encode()


OLDEST_YEARS = 120


def check_birth_date(born: date, today: date | None = None) -> None:
    """Refuses a birth date in the future or more than 120 years ago (BIRTH_DATE_IMPOSSIBLE)."""
    today = today or now().date()
    if born > today:
        raise ApiError("BIRTH_DATE_IMPOSSIBLE", {"date_of_birth": "in the future"})
    if born < date(today.year - OLDEST_YEARS, today.month, min(today.day, 28)):
        raise ApiError("BIRTH_DATE_IMPOSSIBLE", {"date_of_birth": f"more than {OLDEST_YEARS} years ago"})


class Accounts:
    """People and the service's own key: what sign-up, the officer desk and the CLI ask of accounts."""

    def __init__(self, sessions: sessionmaker[DbSession], keyring: Keyring, ledger: Ledger, outbox: Outbox) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.ledger = ledger
        self.outbox = outbox
        self.people = PeopleIndex(keyring.token_secret)

    def signup(
        self,
        *,
        login: str,
        password: str,
        role: str,
        full_name: str,
        postal_address: str,
        date_of_birth: date,
        display_name: str | None,
    ) -> User:
        """Creates a pending account with a fresh custodial key; LOGIN_TAKEN if the login exists."""
        if role not in KIND_OF_ROLE:
            raise ApiError("VALIDATION_ERROR", {"role": "must be resident or merchant"})
        check_birth_date(date_of_birth)
        account = Account.create()
        public_id = str(uuid.uuid4())
        salt = secrets.token_hex(16)
        personal = {
            "name": full_name,
            "address": postal_address,
            "date_of_birth": date_of_birth.isoformat(),
            "salt": salt,
        }
        canonical = json.dumps(personal, sort_keys=True, ensure_ascii=False).encode()
        user = User(
            public_id=public_id,
            login=login.strip().lower(),
            role=Role(role),
            status=AccountStatus.PENDING,
            password_hash=hash_secret(password),
            address=account.address,
            sealed_key=self.keyring.seal_private_key(account.address, account),
            sealed_personal=self.keyring.seal(canonical, personal_context(public_id)),
            record_hash="0x" + keccak(canonical).hex(),
            display_name=display_name,
            short_code=new_short_code(),
            failed_logins=0,
            created_at=now(),
        )
        return self._insert(user, (full_name, postal_address, date_of_birth))

    def _insert(self, user: User, person: tuple[str, str, date] | None = None) -> User:
        """Stores a new user (and a person's search keys); LOGIN_TAKEN if the log-in exists (also when two race)."""
        try:
            with self.sessions.begin() as db:
                if db.scalar(select(User.id).where(User.login == user.login)) is not None:
                    raise ApiError("LOGIN_TAKEN")
                db.add(user)
                if person is not None:
                    db.flush()
                    self.people.store(db, user.id, *person)
        except IntegrityError:
            raise ApiError("LOGIN_TAKEN") from None
        return user

    def likely_duplicates(self, user: User) -> list[User]:
        """Other members with the same name and birth date, or the same name and address (keys compared only)."""
        with self.sessions() as db:
            keys = db.get(PersonKeys, user.id)
            if keys is None:
                return []
            rows = db.scalars(
                select(User)
                .join(PersonKeys, PersonKeys.user_id == User.id)
                .where(
                    User.id != user.id,
                    User.status != AccountStatus.REJECTED,
                    (PersonKeys.name_dob_key == keys.name_dob_key)
                    | (PersonKeys.name_address_key == keys.name_address_key),
                )  # fmt: skip
                .order_by(User.id)
            ).all()
        return list(rows)

    def index_people(self) -> int:
        """Search keys for members signed up before they existed (opening each record once, recorded); how many."""
        with self.sessions() as db:
            missing = db.scalars(
                select(User).outerjoin(PersonKeys, PersonKeys.user_id == User.id)
                .where(PersonKeys.user_id.is_(None), User.sealed_personal.is_not(None))
            ).all()  # fmt: skip
        if not missing:
            return 0
        records = self.personal_records(missing, None, "search keys for the counter (issue 20)")
        with self.sessions.begin() as db:
            for user, record in zip(missing, records, strict=True):
                born = date.fromisoformat(record.get("date_of_birth", "1900-01-01"))
                self.people.store(db, user.id, record.get("name", ""), record.get("address", ""), born)
        return len(missing)

    def create_officer(self, login: str, password: str, display_name: str, role: Role = Role.OFFICER) -> User:
        """A city officer, or a help-matching coordinator (``Role.COORDINATOR``); neither has an on-chain key
        (officers act through the service's registrar key, coordinators with the consenting resident's)."""
        if role not in (Role.OFFICER, Role.COORDINATOR):
            raise ValueError(f"not a staff role: {role}")
        user = User(
            public_id=str(uuid.uuid4()),
            login=login.strip().lower(),
            role=role,
            status=AccountStatus.ACTIVE,
            password_hash=hash_secret(password),
            display_name=display_name,
            short_code=new_short_code(),
            failed_logins=0,
            created_at=now(),
        )
        return self._insert(user)

    def find_member(self, who: str) -> User:
        """A resident or merchant by short code or address (UNKNOWN_RECIPIENT otherwise)."""
        who = who.strip().removeprefix("takasago-member:")
        with self.sessions() as db:
            if is_hex_address(who):
                user = db.scalar(select(User).where(User.address == to_checksum_address(who)))
            else:
                user = db.scalar(select(User).where(User.short_code == who.upper()))
        if user is None or user.role not in MEMBER_ROLES:
            raise ApiError("UNKNOWN_RECIPIENT")
        return user

    # -- personal records ------------------------------------------------------------
    def personal_records(self, users: Sequence[User], reader: User | None, reason: str) -> list[dict[str, Any]]:
        """The decrypted real-name records, each read recorded first (who read whose record, why, when).

        The audit rows are committed before anything is decrypted, so no record is ever
        shown without its trail (issue 15); the officer desk lists the trail. ``reader`` is
        None for the command line (``takasago wallet pending``, run by an operator).
        """
        sealed = [u for u in users if u.sealed_personal is not None]
        if sealed:
            moment = now()
            with self.sessions.begin() as db:
                db.add_all(
                    OfficerRead(
                        officer_id=reader.id if reader else None, account_id=u.id, reason=reason[:80], read_at=moment
                    )
                    for u in sealed
                )
            who = f"{reader.role.value} {reader.login} ({reader.public_id})" if reader else "the command line"
            log.info("%s opened %d personal record(s): %s", who, len(sealed), reason[:80])
        records = []
        for user in users:
            record: dict[str, Any] = {}
            if user.sealed_personal is not None:
                record = json.loads(self.keyring.open(user.sealed_personal, personal_context(user.public_id)))
                record.pop("salt", None)
            records.append(record)
        return records

    def personal_record(
        self, user: User, reader: User | None = None, reason: str = "command line: takasago wallet pending"
    ) -> dict[str, Any]:
        """One decrypted real-name record (audited like :meth:`personal_records`; never logged)."""
        return self.personal_records([user], reader, reason)[0]

    # -- the service's key and the officer's decisions ----------------------------------
    def service_address(self, create: bool = False) -> str:
        """The service's registrar/verifier account (created, sealed, on first use when ``create``)."""
        with self.sessions.begin() as db:
            key = db.get(ServiceKey, "operator")
            if key is None:
                if not create:
                    raise RuntimeError("the wallet service has no operator key yet: run `takasago wallet init`")
                account = Account.create()
                key = ServiceKey(
                    name="operator",
                    address=account.address,
                    sealed_key=self.keyring.seal_private_key(account.address, account),
                )
                db.add(key)
            return key.address

    def approve(self, officer: User, public_id: str, key: str) -> Operation:
        """Registers a pending account on-chain; the account becomes active when the registration confirms."""
        with self.sessions() as db:
            user = db.scalar(select(User).where(User.public_id == public_id, User.role.in_(MEMBER_ROLES)))
        if user is None:
            raise ApiError("NOT_FOUND")
        if user.status not in (AccountStatus.PENDING, AccountStatus.APPROVING):
            raise ApiError("ACCOUNT_NOT_PENDING", {"status": user.status})
        operator = self.service_address()
        target, calldata = self.ledger.calldata(
            "AccountRegistry",
            "register",
            user.address,
            KIND_OF_ROLE[user.role],
            bytes.fromhex(user.record_hash[2:]),  # type: ignore[index]
        )

        def mark(db: DbSession, op: Operation) -> None:
            row = db.get(User, user.id, with_for_update=True)
            if row is None or row.status != AccountStatus.PENDING:
                raise ApiError("ACCOUNT_NOT_PENDING")
            row.status = AccountStatus.APPROVING
            row.decided_by = officer.id

        return self.outbox.submit(
            officer,
            key,
            {"approve": public_id},
            kind=OperationKind.REGISTER,
            sender=operator,
            target=target,
            calldata=calldata,
            summary={"user": public_id},
            before_commit=mark,
        )

    def reject(self, officer: User, public_id: str, reason: str | None = None) -> None:
        """Rejects a pending sign-up; the officer's reason (if given) is logged and shown to the applicant."""
        with self.sessions.begin() as db:
            user = db.scalar(select(User).where(User.public_id == public_id, User.role.in_(MEMBER_ROLES)))
            if user is None:
                raise ApiError("NOT_FOUND")
            if user.status != AccountStatus.PENDING:
                raise ApiError("ACCOUNT_NOT_PENDING", {"status": user.status})
            user.status = AccountStatus.REJECTED
            user.decided_by = officer.id
            user.decided_at = now()
            notices.signup_rejected(db, user, reason)
            db.add(CounterLogEntry(at=now(), officer_id=officer.id, user_id=user.id, action="reject",
                                   reason=(reason or "")[:200]))  # fmt: skip

    def mark_active(self, public_id: str) -> None:
        """The account is already registered on-chain (a retried approval): record it as active."""
        with self.sessions.begin() as db:
            user = db.scalar(select(User).where(User.public_id == public_id))
            if user is not None and user.status in (AccountStatus.PENDING, AccountStatus.APPROVING):
                user.status = AccountStatus.ACTIVE
                user.decided_at = now()


def on_register(db: DbSession, op: Operation) -> None:
    """A registration settled: the account is active, or back to pending for the officer to retry."""
    user = db.scalar(select(User).where(User.public_id == op.summary["user"]))
    if user is None:
        return
    if op.status == OperationStatus.CONFIRMED or op.error_code == "ACCOUNT_ALREADY_REGISTERED":
        user.status = AccountStatus.ACTIVE
        user.decided_at = now()
    elif user.status == AccountStatus.APPROVING:
        user.status = AccountStatus.PENDING
