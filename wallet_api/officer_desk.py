"""An officer's working day (issue 20): the desk's account list, decisions with reasons, suspension and unlocking.

* **The list**: members by status (pending, approving, active, suspended, rejected), oldest first
  by account id, so a list re-read after a decision keeps its order; filtered by member code
  (short code, a prefix is enough). Real names are shown only through
  :meth:`Accounts.personal_records` (each opening recorded with the officer's reason).
* **Decisions**: approve and reject take the officer's reason; both are written to ``counter_log``
  (which officer, whose account, what, why) in the decision's transaction. A rejection's reason is
  also the applicant's: it goes into the sign-up-decided notice (:func:`notices.signup_rejected`).
* **Suspension**: the registry's ``setStatus`` needs REGISTRAR, an officer's own key; the wallet's
  service key holds only ENROLLER and COMMUNITY_VERIFIER. So the desk marks the member
  ``suspended`` in the wallet at once (log-ins, sessions and payments refused:
  :data:`wallet_api.auth.INACTIVE`) and answers with the ``takasago account suspend <address>``
  command a registrar officer runs; reactivation likewise (``takasago account reactivate``). The
  wallet's follower of the registry (:mod:`wallet_api.reconcile`) keeps both in step afterwards,
  and ``takasago wallet reconcile`` lists a member suspended here but not yet on-chain.
* **Unlocking**: clears the member's ``failed_logins`` and ``locked_until``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api.accounts import Accounts
from wallet_api.auth import aware, now
from wallet_api.db.models import CounterLogEntry, User
from wallet_api.errors import ApiError
from wallet_api.statuses import CHAIN_MEMBER_ROLES, MEMBER_ROLES, AccountStatus

LISTED = (
    AccountStatus.PENDING,
    AccountStatus.APPROVING,
    AccountStatus.ACTIVE,
    AccountStatus.SUSPENDED,
    AccountStatus.REJECTED,
)
UNDECIDED = (AccountStatus.PENDING, AccountStatus.APPROVING)
DESK_ROLES = CHAIN_MEMBER_ROLES
"""Who the desk lists, suspends, reactivates and unlocks: members, and businesses (issue 21) once decided
(a business's application is decided in its own part of the desk: ``Business.approve_account``)."""


def log_action(db: DbSession, officer: User, user: User | None, action: str, reason: str) -> None:
    """One line of ``counter_log`` in the caller's transaction (as :meth:`wallet_api.counter.Counter.log`)."""
    db.add(CounterLogEntry(at=now(), officer_id=officer.id, user_id=user.id if user else None,
                           action=action[:32], reason=reason[:200]))  # fmt: skip


@dataclass(frozen=True)
class StatusChange:
    """What the desk did, and the command a registrar officer runs to do the same on-chain (None: nothing)."""

    user: User
    status: AccountStatus
    command: str | None


def registrar_command(verb: str, address: str | None) -> str | None:
    return f"takasago account {verb} {address}" if address else None


class OfficerDesk:
    def __init__(self, sessions: sessionmaker[DbSession], accounts: Accounts) -> None:
        self.sessions = sessions
        self.accounts = accounts

    # -- the list ---------------------------------------------------------------------------
    def members(
        self, officer: User, status: AccountStatus, code: str | None, limit: int, reason: str
    ) -> list[dict[str, Any]]:
        """Members in ``status`` (by member code prefix), oldest account first, each with the record opened."""
        if status not in LISTED:
            raise ApiError("VALIDATION_ERROR", {"status": "pending, approving, active, suspended or rejected"})
        with self.sessions() as db:
            roles = MEMBER_ROLES if status in UNDECIDED else DESK_ROLES
            query = select(User).where(User.status == status, User.role.in_(roles))
            if code:
                query = query.where(User.short_code.startswith(code.strip().upper(), autoescape=True))
            rows: Sequence[User] = db.scalars(query.order_by(User.id).limit(limit)).all()
        records = self.accounts.personal_records(rows, officer, reason)
        listed = [row_of(u, r) for u, r in zip(rows, records, strict=True)]
        for user, row in zip(rows, listed, strict=True):
            # one person, one account: a sign-up that looks like someone already here (same name and birth date,
            # or same name and address, compared as keyed hashes) is flagged for the officer deciding it
            if user.status in UNDECIDED:
                row["duplicates"] = [d.short_code for d in self.accounts.likely_duplicates(user)]
        return listed

    # -- decisions ---------------------------------------------------------------------------
    def approved(self, officer: User, public_id: str, reason: str) -> None:
        """Records the officer's approval (the registration itself is :meth:`Accounts.approve`)."""
        with self.sessions.begin() as db:
            log_action(db, officer, self._member(db, public_id), "approve", reason)

    def reject(self, officer: User, public_id: str, reason: str) -> None:
        self.accounts.reject(officer, public_id, reason)

    # -- suspension and unlocking --------------------------------------------------------------
    def suspend(self, officer: User, public_id: str, reason: str) -> StatusChange:
        """Suspends an active member in the wallet at once; the registrar's command to do it on-chain."""
        with self.sessions.begin() as db:
            user = self._member(db, public_id, lock=True)
            if user.status not in (AccountStatus.ACTIVE, AccountStatus.SUSPENDED):
                raise ApiError("ACCOUNT_NOT_ACTIVE", {"status": user.status})
            user.status = AccountStatus.SUSPENDED
            log_action(db, officer, user, "suspend", reason)
        return StatusChange(user, AccountStatus.SUSPENDED, registrar_command("suspend", user.address))

    def reactivate(self, officer: User, public_id: str, reason: str) -> StatusChange:
        """Lets a suspended member in again; the registrar's command to reactivate on-chain too."""
        with self.sessions.begin() as db:
            user = self._member(db, public_id, lock=True)
            if user.status not in (AccountStatus.SUSPENDED, AccountStatus.ACTIVE):
                raise ApiError("ACCOUNT_NOT_ACTIVE", {"status": user.status})
            user.status = AccountStatus.ACTIVE
            log_action(db, officer, user, "reactivate", reason)
        return StatusChange(user, AccountStatus.ACTIVE, registrar_command("reactivate", user.address))

    def unlock(self, officer: User, public_id: str, reason: str) -> User:
        """Clears the member's failed log-ins and lock."""
        with self.sessions.begin() as db:
            user = self._member(db, public_id, lock=True)
            user.failed_logins, user.locked_until = 0, None
            log_action(db, officer, user, "unlock", reason)
        return user

    def member(self, public_id: str) -> User:
        with self.sessions() as db:
            return self._member(db, public_id)

    @staticmethod
    def _member(db: DbSession, public_id: str, lock: bool = False) -> User:
        query = select(User).where(User.public_id == public_id, User.role.in_(DESK_ROLES))
        user = db.scalar(query.with_for_update() if lock else query)
        if user is None:
            raise ApiError("NOT_FOUND")
        return user


def row_of(user: User, record: dict[str, Any]) -> dict[str, Any]:
    locked = aware(user.locked_until)
    return {
        "id": user.public_id,
        "short_code": user.short_code,
        "address": user.address,
        "login": user.login,
        "role": user.role.value,
        "status": user.status.value,
        "display_name": user.display_name,
        "name": record.get("name"),
        # checked against the ID document before a decision; an active member's list shows the name only
        "date_of_birth": record.get("date_of_birth") if user.status in UNDECIDED else None,
        "postal_address": record.get("address") if user.status in UNDECIDED else None,
        "failed_logins": user.failed_logins or 0,
        "locked": bool(user.failed_logins) or (locked is not None and locked > now()),
        "created_at": aware(user.created_at).isoformat(),  # type: ignore[union-attr]
    }
