"""What the routes read from the wallet's database, as functions of an open session.

Routes shape answers; the SQL they need lives here, named for what it finds, so a reader
of a route sees the question and a reader of this module sees every read the API makes
(the domain modules keep the reads and writes of their own rules). Each function takes
the caller's session: one request's reads share one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session, aliased

from wallet_api.db.models import Claim, OfficerRead, Operation, PaymentRequest, User
from wallet_api.statuses import MEMBER_ROLES, AccountStatus, ClaimStatus, PaymentRequestStatus


def user_by_public_id(db: Session, public_id: str) -> User | None:
    return db.scalar(select(User).where(User.public_id == public_id))


def users_by_address(db: Session, addresses: set[str]) -> dict[str, User]:
    """The wallet's users among ``addresses`` (history names its counterparties)."""
    if not addresses:
        return {}
    return {u.address: u for u in db.scalars(select(User).where(User.address.in_(addresses))) if u.address}


def members_by_status(db: Session, status: AccountStatus, limit: int) -> Sequence[User]:
    """Residents and merchants in ``status``, oldest first (the officer's verification queue)."""
    return db.scalars(
        select(User).where(User.status == status, User.role.in_(MEMBER_ROLES)).order_by(User.id).limit(limit)
    ).all()


def record_reads(db: Session, limit: int) -> Sequence[Row[OfficerRead, User, User]]:
    """The newest reads of sealed personal records: (read, officer or None for the CLI, account)."""
    reader, account = aliased(User), aliased(User)
    return db.execute(
        select(OfficerRead, reader, account)
        .join(account, account.id == OfficerRead.account_id)
        .outerjoin(reader, reader.id == OfficerRead.officer_id)
        .order_by(OfficerRead.id.desc())
        .limit(limit)
    ).all()


def claims_by_status(db: Session, status: ClaimStatus, limit: int) -> Sequence[Row[Claim, str | None]]:
    """Claims in ``status`` with the claimant's address, oldest first (the officer's queue)."""
    return db.execute(
        select(Claim, User.address)
        .join(User, User.id == Claim.user_id)
        .where(Claim.status == status)
        .order_by(Claim.id)
        .limit(limit)
    ).all()


def claims_of(db: Session, user_id: int, limit: int = 200) -> Sequence[Claim]:
    """A resident's own claims, newest first."""
    return db.scalars(select(Claim).where(Claim.user_id == user_id).order_by(Claim.id.desc()).limit(limit)).all()


_REQUEST_WITH_MERCHANT = select(PaymentRequest, User).join(User, User.id == PaymentRequest.merchant_id)
# built once (every payment starts with it): not a new statement, compiled and cache-keyed, per call
_SCANNED_REQUEST = _REQUEST_WITH_MERCHANT.where(PaymentRequest.request_id == bindparam("request_id"))


def request_and_merchant(db: Session, request_pk: str | None) -> tuple[PaymentRequest, User] | None:
    """A payment request with the merchant it belongs to, in one query (every payment's answer reads it)."""
    if not request_pk:
        return None
    row = db.execute(_REQUEST_WITH_MERCHANT.where(PaymentRequest.id == request_pk)).first()
    return None if row is None else (row[0], row[1])


def scanned_request_and_merchant(db: Session, request_id: str) -> tuple[PaymentRequest, User] | None:
    """The payment request a scanned QR names (its ``request_id``) with its merchant, in one query."""
    row = db.execute(_SCANNED_REQUEST, {"request_id": request_id}).first()
    return None if row is None else (row[0], row[1])


def paid_requests(db: Session, merchant_id: int, start: datetime, end: datetime) -> Sequence[PaymentRequest]:
    """A merchant's requests paid in [start, end), newest first (the day's takings)."""
    return db.scalars(
        select(PaymentRequest)
        .where(
            PaymentRequest.merchant_id == merchant_id,
            PaymentRequest.status == PaymentRequestStatus.PAID,
            PaymentRequest.paid_at >= start,
            PaymentRequest.paid_at < end,
        )
        .order_by(PaymentRequest.paid_at.desc())
    ).all()


def operation(db: Session, operation_id: str) -> Operation | None:
    return db.get(Operation, operation_id)
