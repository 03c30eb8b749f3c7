"""Charges the shop starts: a resident's printed card with its PIN, or the app's one-time code.

A charge runs under the merchant's own ``charge`` operation (stored under the merchant's
idempotency key before anything is paid), which the till follows and retries; the
payment itself is an ordinary payment of a payment request (:class:`~wallet_api.payments.Payments`)
from the resident's account, under a key derived from the merchant's. Above the limit the
resident set for the card or code, the charge waits for the resident's confirmation in
the app (``confirming``); approving twice pays once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api import pins
from wallet_api.auth import now
from wallet_api.crypto.passwords import hash_secret
from wallet_api.db.models import Card, Operation, PaymentCode, PaymentRequest, User
from wallet_api.errors import ApiError
from wallet_api.ledger import Ledger
from wallet_api.notifier import mark_changed
from wallet_api.outbox import Outbox, request_hash
from wallet_api.payments import Payments, current_status
from wallet_api.settings import WalletSettings
from wallet_api.statuses import AccountStatus, OperationKind, OperationStatus, PaymentRequestStatus

CARD_PREFIX = "takasago-card:"
CODE_PREFIX = "takasago-pay:"
AWAITING_CONFIRMATION = "awaiting_confirmation"  # a charge's state for the till; never stored


@dataclass
class ChargeView:
    """The till's charge as the API shows it (never stored): its own id, its payment's progress."""

    id: str
    status: str
    error_code: str | None
    error_detail: str | None
    tx_hash: str | None = None
    block_number: int | None = None
    summary: dict[str, object] = field(default_factory=dict)
    kind: str = OperationKind.CHARGE


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def charge_digest(amount: int, card: str | None, code: str | None) -> str:
    """What a charge asks for (the PIN is a credential, not part of the request)."""
    return request_hash(
        {
            "kind": OperationKind.CHARGE,
            "amount": amount,
            "card": _digest(card) if card else None,
            "code": _digest(code) if code else None,
        }
    )


class Charges:
    """Cards, one-time codes, and the charges the till makes with them."""

    def __init__(
        self,
        sessions: sessionmaker[DbSession],
        settings: WalletSettings,
        ledger: Ledger,
        outbox: Outbox,
        payments: Payments,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.ledger = ledger
        self.outbox = outbox
        self.payments = payments

    def issue_card(self, user: User, pin: str, max_amount: int | None = None) -> str:
        """A new card token (printed as a QR) with a PIN and an optional limit per charge; replaces any earlier card."""
        pins.require_new_pin(pin)  # six digits for new cards (issue 15, finding 14)
        token = CARD_PREFIX + secrets.token_urlsafe(18)
        with self.sessions.begin() as db:
            card = db.get(Card, user.id)
            if card is None:
                card = Card(user_id=user.id, card_hash="", pin_hash="", failed_pins=0, issued_at=now())
                db.add(card)
            card.card_hash = _digest(token)
            card.pin_hash = hash_secret(pin)
            card.failed_pins = 0
            card.locked_until = None
            card.blocked_at = None  # a new card replaces a lost one: the old token no longer matches
            card.issued_at = now()
            card.max_amount = max_amount
        return token

    def set_card_limit(self, user: User, max_amount: int | None) -> None:
        """The most one card charge may take without the resident's confirmation (None: no limit)."""
        with self.sessions.begin() as db:
            card = db.get(Card, user.id, with_for_update=True)
            if card is None:
                raise ApiError("CARD_UNKNOWN")
            card.max_amount = max_amount

    def card_limit(self, user: User) -> tuple[bool, int | None]:
        """(has a card, its limit)."""
        with self.sessions() as db:
            card = db.get(Card, user.id)
        return (card is not None, card.max_amount if card is not None else None)

    def issue_code(self, user: User, max_amount: int | None = None) -> tuple[str, int]:
        """A single-use payment code valid for ``payment_code_seconds``, with an optional limit."""
        code = CODE_PREFIX + secrets.token_urlsafe(18)
        with self.sessions.begin() as db:
            db.add(
                PaymentCode(
                    code_hash=_digest(code),
                    user_id=user.id,
                    expires_at=now() + timedelta(seconds=self.settings.payment_code_seconds),
                    max_amount=max_amount,
                )
            )
        return code, self.settings.payment_code_seconds

    def card_holder(self, card_token: str, pin: str) -> tuple[User, int | None]:
        """The card's holder if the PIN is right (every attempt counts towards the lock), and its limit."""
        return self._card_holder(card_token.strip(), pin)

    def _card_holder(self, card_token: str, pin: str) -> tuple[User, int | None]:
        # counted before checking, under the row lock (issue 15, finding 14): see wallet_api/pins.py
        return pins.card_holder(self.sessions, self.settings, _digest(card_token), pin)

    def _code_holder(self, code: str) -> tuple[User, int | None]:
        with self.sessions.begin() as db:
            result = db.execute(
                update(PaymentCode)
                .where(
                    PaymentCode.code_hash == _digest(code),
                    PaymentCode.used_at.is_(None),
                    PaymentCode.expires_at > now(),
                )
                .values(used_at=now())
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise ApiError("CODE_INVALID")
            row = db.get(PaymentCode, _digest(code))
            holder = db.get(User, row.user_id) if row is not None else None
            limit = row.max_amount if row is not None else None
        if holder is None:
            raise ApiError("CODE_INVALID")
        return holder, limit

    def _existing_charge(self, merchant: User, key: str, digest: str) -> Operation | None:
        op = self.outbox.find(merchant, key)
        if op is not None and (op.kind != OperationKind.CHARGE or op.request_hash != digest):
            raise ApiError("IDEMPOTENCY_KEY_REUSED", {"kind": op.kind})
        return op

    def charge(
        self, merchant: User, amount: int, key: str, *, card: str | None, pin: str | None, code: str | None
    ) -> tuple[PaymentRequest, ChargeView]:
        """A merchant-initiated payment from a resident's card + PIN or one-time code.

        The merchant's ``charge`` operation (stored under the merchant's idempotency key
        before anything is paid) is what the till follows and retries; the payment itself
        runs under the payer's account with a key derived from it.
        """
        digest = charge_digest(amount, card, code)
        existing = self._existing_charge(merchant, key, digest)
        if existing is not None:
            return self.charge_state(existing, wait=self.settings.confirm_wait_seconds)
        if card is not None:
            if not card.startswith(CARD_PREFIX) or pin is None:
                raise ApiError(
                    "CARD_UNKNOWN" if pin is not None else "VALIDATION_ERROR", {"pin": "required with a card"}
                )
            payer, limit = self._card_holder(card, pin)
        elif code is not None and code.startswith(CODE_PREFIX):
            payer, limit = self._code_holder(code)
        else:
            raise ApiError("CODE_INVALID")
        if payer.status != AccountStatus.ACTIVE:
            raise ApiError("ACCOUNT_NOT_ACTIVE")
        needs_confirmation = limit is not None and amount > limit
        try:
            with self.sessions.begin() as db:
                request = self.payments.create_request(
                    merchant,
                    amount,
                    "charge",
                    db,
                    status=PaymentRequestStatus.CONFIRMING if needs_confirmation else PaymentRequestStatus.OPEN,
                    payer_id=payer.id if needs_confirmation else None,
                )
                record = Operation(
                    id=str(uuid.uuid4()),
                    user_id=merchant.id,
                    idempotency_key=key,
                    request_hash=digest,
                    kind=OperationKind.CHARGE,
                    sender=payer.address or "",
                    target=self.ledger.deployment.address("RegionalPoints"),
                    calldata=b"",
                    # channel: how the resident paid (issue 22: the data platform counts card payments)
                    summary={
                        "payment_request": request.id,
                        "amount": amount,
                        "operation": None,
                        "channel": "card" if card is not None else "code",
                    },
                    status=OperationStatus.LINKED,  # follows its payment; never picked up by the outbox worker
                    attempts=0,
                    created_at=now(),
                    updated_at=now(),
                )
                db.add(record)
                db.flush()
                if needs_confirmation:
                    request.operation_id = record.id  # the charge the resident's confirmation completes
        except IntegrityError:  # the same key accepted at the same moment by a concurrent retry
            existing = self._existing_charge(merchant, key, digest)
            if existing is None:
                raise
            return self.charge_state(existing, wait=self.settings.confirm_wait_seconds)
        if needs_confirmation:
            return self.charge_state(record)
        self._run_charge(record, request, payer, merchant, (PaymentRequestStatus.OPEN,))
        return self.charge_state(record)

    def _run_charge(
        self,
        record: Operation,
        request: PaymentRequest,
        payer: User,
        merchant: User,
        allowed: tuple[PaymentRequestStatus, ...],
    ) -> Operation:
        """Pays the charge ``record`` from ``payer``; a refusal fails the charge (and its request) for good."""
        derived = (
            "charge:" + hmac.new(str(merchant.id).encode(), record.idempotency_key.encode(), "sha256").hexdigest()[:64]
        )
        try:
            op = self.payments.pay_request(
                payer, merchant, request, derived, {"charge": request.id, "amount": request.amount}, allowed
            )
        except ApiError as exc:
            with self.sessions.begin() as db:
                latest = db.get(PaymentRequest, request.id, with_for_update=True)
                if latest is not None and latest.status in (PaymentRequestStatus.OPEN, PaymentRequestStatus.CONFIRMING):
                    # refused before any payment claimed the request: the charge is over
                    latest.status = PaymentRequestStatus.CANCELLED
                    mark_changed(db, latest.id)
                    row = db.get(Operation, record.id)
                    if row is not None and row.status == OperationStatus.LINKED:
                        row.status = OperationStatus.FAILED
                        row.error_code = exc.code
                        row.error_detail = json.dumps(exc.detail)[:500]
                        row.updated_at = now()
                # else a concurrent attempt (a double tap) claimed it: the charge follows that payment
            raise
        with self.sessions.begin() as db:
            row = db.get(Operation, record.id)
            if row is not None:
                row.summary = {**row.summary, "operation": op.id}
                row.updated_at = now()
        return op

    def charge_state(self, record: Operation, wait: float = 0.0) -> tuple[PaymentRequest, ChargeView]:
        """The charge as the merchant sees it: its own id, with the state of the payment it started.

        Status and transaction of the payer's payment once there is one,
        ``awaiting_confirmation`` while the resident has not confirmed a charge above
        their limit, ``failed`` if declined or expired.
        """
        with self.sessions() as db:
            stored = db.get(Operation, record.id) or record
            request = db.get(PaymentRequest, stored.summary["payment_request"])
        assert request is not None
        view = ChargeView(
            id=stored.id, status=stored.status, error_code=stored.error_code, error_detail=stored.error_detail
        )
        linked = stored.summary.get("operation")
        if not linked and request.operation_id and request.operation_id != stored.id:
            linked = request.operation_id  # the payment claimed the request (before the charge noted it)
        if stored.status == OperationStatus.FAILED:
            pass
        elif linked:
            op = self.outbox.wait(str(linked), wait) if wait else self.outbox.confirm(str(linked))
            if op is not None:
                view.status, view.tx_hash, view.block_number = op.status, op.tx_hash, op.block_number
                view.error_code, view.error_detail = op.error_code, op.error_detail
            with self.sessions() as db:
                request = db.get(PaymentRequest, request.id) or request
        else:
            status = current_status(request)
            if status == PaymentRequestStatus.CONFIRMING:
                view.status = AWAITING_CONFIRMATION
            elif status in (PaymentRequestStatus.OPEN, PaymentRequestStatus.PAYING):
                view.status = OperationStatus.ACCEPTED
            else:
                code = {"declined": "CHARGE_DECLINED", "expired": "PAYMENT_REQUEST_EXPIRED"}.get(status, "NOT_FOUND")
                view.status, view.error_code, view.error_detail = OperationStatus.FAILED, code, "{}"
        view.summary = {
            "payment_request": request.id,
            "amount": request.amount,
            "request_status": current_status(request),
            "operation": linked,
        }
        return request, view

    def awaiting_confirmation(self, user: User) -> list[tuple[PaymentRequest, User]]:
        """Charges above ``user``'s limits that wait for them, newest first."""
        with self.sessions() as db:
            rows = db.scalars(
                select(PaymentRequest)
                .where(
                    PaymentRequest.payer_id == user.id,
                    PaymentRequest.status == PaymentRequestStatus.CONFIRMING,
                    PaymentRequest.expires_at > now(),
                )
                .order_by(PaymentRequest.created_at.desc())
                .limit(20)
            ).all()
            merchants = {m.id: m for m in db.scalars(select(User).where(User.id.in_({r.merchant_id for r in rows})))}
        return [(r, merchants[r.merchant_id]) for r in rows if r.merchant_id in merchants]

    def decide_charge(self, user: User, request_pk: str, approve: bool) -> tuple[PaymentRequest, Operation | None]:
        """The resident approves (pays) or declines a charge that waits for them; approving twice pays once."""
        with self.sessions() as db:
            request = db.get(PaymentRequest, request_pk)
            merchant = db.get(User, request.merchant_id) if request is not None else None
            record = db.get(Operation, request.operation_id) if request is not None and request.operation_id else None
        if request is None or merchant is None or request.payer_id != user.id or request.memo != "charge":
            raise ApiError("NOT_FOUND")
        if record is not None and record.kind == OperationKind.PAY:  # already approved: the same payment
            return request, self.outbox.confirm(record.id)
        status = current_status(request)
        if status != PaymentRequestStatus.CONFIRMING or record is None:
            raise ApiError("CHARGE_NOT_AWAITING_CONFIRMATION", {"status": status})
        if not approve:
            with self.sessions.begin() as db:
                row = db.get(PaymentRequest, request.id, with_for_update=True)
                if row is None or row.status != PaymentRequestStatus.CONFIRMING:
                    raise ApiError("CHARGE_NOT_AWAITING_CONFIRMATION")
                row.status = PaymentRequestStatus.DECLINED
                mark_changed(db, row.id)
            with self.sessions() as db:
                return db.get(PaymentRequest, request.id) or request, None
        try:
            op = self._run_charge(record, request, user, merchant, (PaymentRequestStatus.CONFIRMING,))
        except ApiError as exc:
            with self.sessions() as db:
                latest = db.get(PaymentRequest, request.id)
                claimed = db.get(Operation, latest.operation_id) if latest is not None and latest.operation_id else None
            if exc.code != "REQUEST_ALREADY_PAID" or claimed is None or claimed.user_id != user.id:
                raise
            op = claimed  # approved twice at once: the same payment
        with self.sessions() as db:
            return db.get(PaymentRequest, request.id) or request, op
