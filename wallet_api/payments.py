"""Merchant payments: the till's request (EIP-681 QR), paying it, charging a card or code, refunds, settlement.

A payment request is claimed in the database (``open`` → ``paying``) in the same
transaction that accepts the payment, so two phones paying the same QR at the same
moment cannot both be accepted; the contract's once-per-request rule backs this up
on-chain. A failed payment re-opens the request.

The QR carries the request's *reference* (``request_id`` in the database); the chain
records the payment under ``paymentRequestId(merchant, amount, reference)``, which
commits to the amount. A request becomes ``paid`` only when that record names this
payer and this amount; a record of anyone or anything else (someone holding a key
outside the wallet paid the printed reference first) holds the request for ``review``
and the till says so. A revert reason alone is never taken as proof of payment.

Charges by card or one-time code run under the merchant's own ``charge`` operation,
which the till can follow and retry under the same idempotency key; above the limit
the resident set for the card or code, the charge waits for the resident's
confirmation in the app (``confirming``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from eth_utils import keccak
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from ledger_client.payment_uri import PaymentRequest as UriRequest
from ledger_client.payment_uri import PaymentUriError, build_payment_uri, parse_payment_uri, payment_request_id
from wallet_api import pins
from wallet_api.auth import aware, now
from wallet_api.crypto.passwords import hash_secret
from wallet_api.db.models import Card, Operation, PaymentCode, PaymentRequest, User
from wallet_api.errors import ApiError
from wallet_api.ledger import Ledger
from wallet_api.notifier import mark_changed
from wallet_api.outbox import Outbox, find, request_hash
from wallet_api.settings import WalletSettings
from wallet_api.statuses import (
    OperationKind,
    OperationStatus,
    PaymentRequestStatus,
    Role,
)

CARD_PREFIX = "takasago-card:"
CODE_PREFIX = "takasago-pay:"
UNSETTLED = (PaymentRequestStatus.OPEN, PaymentRequestStatus.CONFIRMING, PaymentRequestStatus.PAYING)
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


def reference(request: PaymentRequest) -> bytes:
    """The 32 bytes printed in the QR (the ``bytes32`` argument of ``pay``)."""
    return bytes.fromhex(request.request_id[2:])


def chain_request_id(merchant_address: str, request: PaymentRequest) -> bytes:
    """The id the chain records this request's payment under (``paymentOf``, ``Paid``, ``refund``)."""
    return payment_request_id(merchant_address, request.amount, reference(request))


def current_status(request: PaymentRequest) -> str:
    expires = aware(request.expires_at)
    if request.status in (PaymentRequestStatus.OPEN, PaymentRequestStatus.CONFIRMING) and (
        expires is not None and expires <= now()
    ):
        return PaymentRequestStatus.EXPIRED
    return request.status


def _judge(request: PaymentRequest, payer_address: str | None, chain_payer: str | None, chain_amount: int) -> str:
    """``paid`` when the chain records ``payer_address`` paying the request's amount; else ``review``."""
    if chain_payer is None:
        return "unpaid"
    if payer_address and chain_payer.lower() == payer_address.lower() and chain_amount == request.amount:
        return "paid"
    return "review"


def _review_reason(chain_payer: str | None, chain_amount: int) -> str:
    return json.dumps({"chain_payer": chain_payer, "chain_amount": chain_amount})


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


class Payments:
    """The till's requests, paying them, charges by card or code, refunds and settlement."""

    def __init__(
        self, sessions: sessionmaker[DbSession], settings: WalletSettings, ledger: Ledger, outbox: Outbox
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.ledger = ledger
        self.outbox = outbox

    def create_request(
        self,
        merchant: User,
        amount: int,
        memo: str | None,
        db: DbSession | None = None,
        *,
        status: PaymentRequestStatus = PaymentRequestStatus.OPEN,
        payer_id: int | None = None,
    ) -> PaymentRequest:
        request = PaymentRequest(
            id=str(uuid.uuid4()),
            merchant_id=merchant.id,
            request_id="0x" + secrets.token_bytes(32).hex(),
            amount=amount,
            memo=memo,
            status=status,
            payer_id=payer_id,
            refunded=0,
            created_at=now(),
            expires_at=now() + timedelta(seconds=self.settings.payment_request_seconds),
        )
        if db is not None:
            db.add(request)
            return request
        with self.sessions.begin() as session:
            session.add(request)
        return request

    def request_uri(self, merchant: User, request: PaymentRequest) -> str:
        return build_payment_uri(
            UriRequest(
                token=self.ledger.deployment.address("RegionalPoints"),
                chain_id=self.ledger.chain_id,
                merchant=merchant.address or "",
                amount=request.amount,
                reference=reference(request),
            )
        )

    def inspect_payment(self, op: Operation) -> dict[str, Any]:
        """The chain's record of the request a ``pay`` operation paid: who paid it and how much (pipeline inspector)."""
        args = self.ledger.token.decode_function_input(op.calldata)[1]
        merchant, amount, ref = args["merchant"], int(args["amount"]), bytes(args["paymentReference"])
        payer, paid = self.ledger.payment_record(merchant, amount, ref)
        return {"chain_payer": payer, "chain_amount": paid}

    def _hold_if_paid_elsewhere(self, request: PaymentRequest, merchant: User, payer: User) -> None:
        """The ledger refused a payment as already paid before anything was stored: hold the request for review."""
        try:
            chain_payer, chain_amount = self.ledger.payment_record(
                merchant.address or "", request.amount, reference(request)
            )
        except (ConnectionError, OSError, TimeoutError):
            return
        verdict = _judge(request, payer.address, chain_payer, chain_amount)
        if verdict == "unpaid":
            return
        with self.sessions.begin() as db:
            row = db.get(PaymentRequest, request.id, with_for_update=True)
            if row is None or row.status not in UNSETTLED:
                return
            if verdict == "paid":
                row.status, row.paid_at, row.payer_id = PaymentRequestStatus.PAID, now(), payer.id
            else:
                row.status, row.review_reason = PaymentRequestStatus.REVIEW, _review_reason(chain_payer, chain_amount)
            mark_changed(db, row.id)

    def _pay(
        self,
        payer: User,
        merchant: User,
        request: PaymentRequest,
        key: str,
        body: dict[str, object],
        allowed: tuple[PaymentRequestStatus, ...] = (PaymentRequestStatus.OPEN,),
    ) -> Operation:
        """Pays ``request`` from ``payer``: claims the request and accepts the operation together."""
        if payer.role != Role.RESIDENT:
            raise ApiError("NOT_A_RESIDENT")
        target, calldata = self.ledger.calldata(
            "RegionalPoints", "pay", merchant.address, request.amount, reference(request)
        )

        def claim(db: DbSession, op: Operation) -> None:
            condition: ColumnElement[bool] = PaymentRequest.status.in_(allowed)
            if PaymentRequestStatus.CONFIRMING in allowed:  # a charge waiting for this resident only
                condition = and_(condition, PaymentRequest.payer_id == payer.id)
            result = db.execute(
                update(PaymentRequest)
                .where(PaymentRequest.id == request.id, condition, PaymentRequest.expires_at > now())
                .values(status=PaymentRequestStatus.PAYING, payer_id=payer.id, operation_id=op.id)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                latest = db.get(PaymentRequest, request.id)
                if latest is not None and current_status(latest) == PaymentRequestStatus.EXPIRED:
                    raise ApiError("PAYMENT_REQUEST_EXPIRED")
                raise ApiError("REQUEST_ALREADY_PAID")
            mark_changed(db, request.id)

        with self.sessions() as db:
            latest = db.get(PaymentRequest, request.id)
            existing = find(db, payer.id, key)
        status = current_status(latest) if latest is not None else PaymentRequestStatus.OPEN
        if existing is None:
            if status == PaymentRequestStatus.EXPIRED:
                raise ApiError("PAYMENT_REQUEST_EXPIRED")
            if status not in allowed:
                raise ApiError("REQUEST_ALREADY_PAID")
        try:
            return self.outbox.submit(
                payer,
                key,
                body,
                kind=OperationKind.PAY,
                sender=payer.address or "",
                target=target,
                calldata=calldata,
                summary={"payment_request": request.id, "merchant": merchant.public_id, "amount": request.amount},
                before_commit=claim,
            )
        except ApiError as exc:
            if exc.code == "REQUEST_ALREADY_PAID" and existing is None:
                self._hold_if_paid_elsewhere(request, merchant, payer)
            raise

    def _retry_of(self, user: User, key: str) -> Operation | None:
        with self.sessions() as db:
            return find(db, user.id, key)

    def resolve_uri(self, uri: str) -> tuple[PaymentRequest, User]:
        """The request and merchant a scanned EIP-681 URI names; refuses another chain, token or an altered QR."""
        try:
            parsed = parse_payment_uri(uri)
        except PaymentUriError as exc:
            raise ApiError("INVALID_PAYMENT_URI", {"reason": str(exc)}) from None
        if parsed.chain_id != self.ledger.chain_id:
            raise ApiError("WRONG_CHAIN", {"chain_id": parsed.chain_id, "expected": self.ledger.chain_id})
        if parsed.token.lower() != self.ledger.deployment.address("RegionalPoints").lower():
            raise ApiError("WRONG_TOKEN", {"token": parsed.token})
        with self.sessions() as db:
            request = db.scalar(
                select(PaymentRequest).where(PaymentRequest.request_id == "0x" + parsed.reference.hex())
            )
            merchant = db.get(User, request.merchant_id) if request is not None else None
        if request is None or merchant is None:
            raise ApiError("UNKNOWN_PAYMENT_REQUEST")
        if (merchant.address or "").lower() != parsed.merchant.lower() or parsed.amount != request.amount:
            raise ApiError("PAYMENT_REQUEST_MISMATCH")
        return request, merchant

    def pay_uri(self, payer: User, uri: str, key: str) -> Operation:
        """Pays a scanned EIP-681 request."""
        request, merchant = self.resolve_uri(uri)
        return self._pay(payer, merchant, request, key, {"uri": uri})

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
        op = self._retry_of(merchant, key)
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
        if payer.status != "active":
            raise ApiError("ACCOUNT_NOT_ACTIVE")
        needs_confirmation = limit is not None and amount > limit
        try:
            with self.sessions.begin() as db:
                request = self.create_request(
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
                    summary={"payment_request": request.id, "amount": amount, "operation": None},
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
            op = self._pay(payer, merchant, request, derived, {"charge": request.id, "amount": request.amount}, allowed)
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

    def charge_record(self, user: User, op_id: str) -> Operation | None:
        """The merchant's charge ``op_id`` if it is ``user``'s."""
        with self.sessions() as db:
            op = db.get(Operation, op_id)
        if op is None or op.user_id != user.id or op.kind != OperationKind.CHARGE:
            return None
        return op

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

    def refund(self, merchant: User, request_pk: str, amount: int, key: str) -> Operation:
        with self.sessions() as db:
            request = db.get(PaymentRequest, request_pk)
        if request is None or request.merchant_id != merchant.id:
            raise ApiError("NOT_FOUND")
        if request.status != PaymentRequestStatus.PAID:
            raise ApiError("NOT_REFUNDABLE", {"status": current_status(request)})
        target, calldata = self.ledger.calldata(
            "RegionalPoints", "refund", chain_request_id(merchant.address or "", request), amount
        )
        return self.outbox.submit(
            merchant,
            key,
            {"refund": request_pk, "amount": amount},
            kind=OperationKind.REFUND,
            sender=merchant.address or "",
            target=target,
            calldata=calldata,
            summary={"payment_request": request.id, "amount": amount},
        )

    def settle(self, merchant: User, amount: int, key: str) -> Operation:
        reference = keccak(text=f"settlement:{merchant.public_id}:{key}")
        target, calldata = self.ledger.calldata("RegionalPoints", "requestSettlement", amount, reference)
        return self.outbox.submit(
            merchant,
            key,
            {"settle": amount},
            kind=OperationKind.SETTLE,
            sender=merchant.address or "",
            target=target,
            calldata=calldata,
            summary={"amount": amount, "reference": "0x" + reference.hex()},
        )


# -- hooks: run by the pipeline in the transaction that settles an operation --------------
def on_pay(db: DbSession, op: Operation) -> None:
    """Settles the request from the chain's own record (``chain_payer``/``chain_amount``, read by the inspector)."""
    request = db.get(PaymentRequest, op.summary["payment_request"])
    if request is None or request.operation_id != op.id:
        return
    mark_changed(db, request.id)
    chain_payer = op.summary.get("chain_payer")
    chain_amount = int(op.summary.get("chain_amount") or 0)  # type: ignore[call-overload]
    verdict = _judge(request, op.sender, str(chain_payer) if chain_payer else None, chain_amount)
    if verdict == "paid":
        request.status = PaymentRequestStatus.PAID
        request.paid_at = now()
    elif verdict == "review" or op.status == OperationStatus.CONFIRMED:
        # the shop was paid by someone or something else (or a receipt without a matching record)
        request.status = PaymentRequestStatus.REVIEW
        request.review_reason = _review_reason(str(chain_payer) if chain_payer else None, chain_amount)
    elif request.memo == "charge":
        request.status = PaymentRequestStatus.CANCELLED  # a charge is never paid later by anyone else
    else:
        request.status = PaymentRequestStatus.OPEN
        request.payer_id = None
        request.operation_id = None


def on_refund(db: DbSession, op: Operation) -> None:
    if op.status == OperationStatus.CONFIRMED:
        request = db.get(PaymentRequest, op.summary["payment_request"])
        if request is not None:
            request.refunded += int(op.summary["amount"])  # type: ignore[call-overload]
            mark_changed(db, request.id)
