"""Merchant payments: the till's request (EIP-681 QR), paying it, charging a card or code, refunds, settlement.

A payment request is claimed in the database (``open`` → ``paying``) in the same
transaction that accepts the payment, so two phones paying the same QR at the same
moment cannot both be accepted; the contract's once-per-request rule backs this up
on-chain. A failed payment re-opens the request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from eth_utils import keccak
from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from contracts.payment_uri import PaymentRequest as UriRequest
from contracts.payment_uri import PaymentUriError, build_payment_uri, parse_payment_uri
from wallet_api.auth import aware, now
from wallet_api.crypto.passwords import hash_secret, verify_secret
from wallet_api.db.models import Card, Operation, PaymentCode, PaymentRequest, User
from wallet_api.errors import ApiError

if TYPE_CHECKING:
    from wallet_api.services import Services

CARD_PREFIX = "takasago-card:"
CODE_PREFIX = "takasago-pay:"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- the till's request ------------------------------------------------------------------
def create_request(services: Services, merchant: User, amount: int, memo: str | None) -> PaymentRequest:
    request = PaymentRequest(
        id=str(uuid.uuid4()),
        merchant_id=merchant.id,
        request_id="0x" + secrets.token_bytes(32).hex(),
        amount=amount,
        memo=memo,
        status="open",
        refunded=0,
        created_at=now(),
        expires_at=now() + timedelta(seconds=services.settings.payment_request_seconds),
    )
    with services.sessions.begin() as db:
        db.add(request)
    return request


def request_uri(services: Services, merchant: User, request: PaymentRequest) -> str:
    return build_payment_uri(
        UriRequest(
            token=services.ledger.deployment.address("RegionalPoints"),
            chain_id=services.ledger.chain_id,
            merchant=merchant.address or "",
            amount=request.amount,
            request_id=bytes.fromhex(request.request_id[2:]),
        )
    )


def current_status(request: PaymentRequest) -> str:
    expires = aware(request.expires_at)
    if request.status == "open" and expires is not None and expires <= now():
        return "expired"
    return request.status


def _pay(
    services: Services, payer: User, merchant: User, request: PaymentRequest, key: str, body: dict[str, object]
) -> Operation:
    """Pays ``request`` from ``payer``: claims the request and accepts the operation together."""
    if payer.role != "resident":
        raise ApiError("NOT_A_RESIDENT")
    target, calldata = services.ledger.calldata(
        "RegionalPoints", "pay", merchant.address, request.amount, bytes.fromhex(request.request_id[2:])
    )

    def claim(db: DbSession, op: Operation) -> None:
        result = db.execute(
            update(PaymentRequest)
            .where(PaymentRequest.id == request.id, PaymentRequest.status == "open", PaymentRequest.expires_at > now())
            .values(status="paying", payer_id=payer.id, operation_id=op.id)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            latest = db.get(PaymentRequest, request.id)
            if latest is not None and current_status(latest) == "expired":
                raise ApiError("PAYMENT_REQUEST_EXPIRED")
            raise ApiError("REQUEST_ALREADY_PAID")

    with services.sessions() as db:
        latest = db.get(PaymentRequest, request.id)
        status = current_status(latest) if latest is not None else "open"
    existing = _retry_of(services, payer, key)
    if existing is None:
        if status == "expired":
            raise ApiError("PAYMENT_REQUEST_EXPIRED")
        if status != "open":
            raise ApiError("REQUEST_ALREADY_PAID")
    return services.submit(
        payer,
        key,
        body,
        kind="pay",
        sender=payer.address or "",
        target=target,
        calldata=calldata,
        summary={"payment_request": request.id, "merchant": merchant.public_id, "amount": request.amount},
        before_commit=claim,
    )


def _retry_of(services: Services, user: User, key: str) -> Operation | None:
    with services.sessions() as db:
        return services.pipeline.find(db, user.id, key)


def resolve_uri(services: Services, uri: str) -> tuple[PaymentRequest, User]:
    """The payment request and merchant a scanned EIP-681 URI names; refuses another chain, token or an altered QR."""
    try:
        parsed = parse_payment_uri(uri)
    except PaymentUriError as exc:
        raise ApiError("INVALID_PAYMENT_URI", {"reason": str(exc)}) from None
    if parsed.chain_id != services.ledger.chain_id:
        raise ApiError("WRONG_CHAIN", {"chain_id": parsed.chain_id, "expected": services.ledger.chain_id})
    if parsed.token.lower() != services.ledger.deployment.address("RegionalPoints").lower():
        raise ApiError("WRONG_TOKEN", {"token": parsed.token})
    with services.sessions() as db:
        request = db.scalar(select(PaymentRequest).where(PaymentRequest.request_id == "0x" + parsed.request_id.hex()))
        merchant = db.get(User, request.merchant_id) if request is not None else None
    if request is None or merchant is None:
        raise ApiError("UNKNOWN_PAYMENT_REQUEST")
    if (merchant.address or "").lower() != parsed.merchant.lower() or parsed.amount != request.amount:
        raise ApiError("PAYMENT_REQUEST_MISMATCH")
    return request, merchant


def pay_uri(services: Services, payer: User, uri: str, key: str) -> Operation:
    """Pays a scanned EIP-681 request."""
    request, merchant = resolve_uri(services, uri)
    return _pay(services, payer, merchant, request, key, {"uri": uri})


# -- merchant-initiated charges: printed card + PIN, or the app's one-time code ----------------
def issue_card(services: Services, user: User, pin: str) -> str:
    """A new card token (printed as a QR) with a PIN; replaces any earlier card."""
    token = CARD_PREFIX + secrets.token_urlsafe(18)
    with services.sessions.begin() as db:
        card = db.get(Card, user.id)
        if card is None:
            card = Card(user_id=user.id, card_hash="", pin_hash="", failed_pins=0, issued_at=now())
            db.add(card)
        card.card_hash = _digest(token)
        card.pin_hash = hash_secret(pin)
        card.failed_pins = 0
        card.locked_until = None
        card.issued_at = now()
    return token


def issue_code(services: Services, user: User) -> tuple[str, int]:
    """A single-use payment code valid for ``payment_code_seconds``."""
    code = CODE_PREFIX + secrets.token_urlsafe(18)
    with services.sessions.begin() as db:
        db.add(
            PaymentCode(
                code_hash=_digest(code),
                user_id=user.id,
                expires_at=now() + timedelta(seconds=services.settings.payment_code_seconds),
            )
        )
    return code, services.settings.payment_code_seconds


def _card_holder(services: Services, card_token: str, pin: str) -> User:
    with services.sessions() as db:
        card = db.scalar(select(Card).where(Card.card_hash == _digest(card_token)))
        if card is None:
            raise ApiError("CARD_UNKNOWN")
        locked = aware(card.locked_until)
        if locked is not None and locked > now():
            raise ApiError("CARD_LOCKED", {"retry_after_seconds": int((locked - now()).total_seconds()) + 1})
        ok = verify_secret(card.pin_hash, pin)
        user_id = card.user_id
    with services.sessions.begin() as db:
        card = db.get(Card, user_id, with_for_update=True)
        if card is None:
            raise ApiError("CARD_UNKNOWN")
        if ok:
            card.failed_pins = 0
            holder = db.get(User, user_id)
            assert holder is not None
            return holder
        card.failed_pins += 1
        remaining = services.settings.pin_failures_before_lock - card.failed_pins
        if remaining <= 0:
            card.failed_pins = 0
            card.locked_until = now() + timedelta(seconds=services.settings.pin_lock_seconds)
    if remaining <= 0:
        raise ApiError("CARD_LOCKED", {"retry_after_seconds": services.settings.pin_lock_seconds})
    raise ApiError("PIN_INCORRECT", {"attempts_left": remaining})


def _code_holder(services: Services, code: str) -> User:
    with services.sessions.begin() as db:
        result = db.execute(
            update(PaymentCode)
            .where(
                PaymentCode.code_hash == _digest(code), PaymentCode.used_at.is_(None), PaymentCode.expires_at > now()
            )
            .values(used_at=now())
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise ApiError("CODE_INVALID")
        row = db.get(PaymentCode, _digest(code))
        holder = db.get(User, row.user_id) if row is not None else None
    if holder is None:
        raise ApiError("CODE_INVALID")
    return holder


def charge(
    services: Services, merchant: User, amount: int, key: str, *, card: str | None, pin: str | None, code: str | None
) -> tuple[PaymentRequest, Operation]:
    """A merchant-initiated payment from a resident's card + PIN or one-time code."""
    existing = _retry_of(services, merchant, key)
    if existing is not None:
        with services.sessions() as db:
            request = db.scalar(select(PaymentRequest).where(PaymentRequest.id == existing.summary["payment_request"]))
        assert request is not None
        return request, services.pipeline.wait(existing.id, services.settings.confirm_wait_seconds) or existing
    if card is not None:
        if not card.startswith(CARD_PREFIX) or pin is None:
            raise ApiError("CARD_UNKNOWN" if pin is not None else "VALIDATION_ERROR", {"pin": "required with a card"})
        payer = _card_holder(services, card, pin)
    elif code is not None and code.startswith(CODE_PREFIX):
        payer = _code_holder(services, code)
    else:
        raise ApiError("CODE_INVALID")
    if payer.status != "active":
        raise ApiError("ACCOUNT_NOT_ACTIVE")
    request = create_request(services, merchant, amount, "charge")
    # The merchant's idempotency key names the charge; the payment itself runs under the payer's
    # account with a key derived from it, so a retried charge finds the same payment.
    derived = "charge:" + hmac.new(str(merchant.id).encode(), key.encode(), "sha256").hexdigest()[:64]
    op = _pay(services, payer, merchant, request, derived, {"charge": request.id, "amount": amount})
    with services.sessions.begin() as db:
        # a retry of this charge by the merchant's key finds the payer's operation
        db.add(
            Operation(
                id=str(uuid.uuid4()),
                user_id=merchant.id,
                idempotency_key=key,
                request_hash=op.id,
                kind="charge",
                sender=op.sender,
                target=op.target,
                calldata=b"",
                summary={"payment_request": request.id, "operation": op.id},
                status="confirmed",
                attempts=0,
                created_at=now(),
                updated_at=now(),
            )
        )
        latest = db.get(PaymentRequest, request.id)
    return latest or request, op


# -- refunds and settlement ------------------------------------------------------------------
def refund(services: Services, merchant: User, request_pk: str, amount: int, key: str) -> Operation:
    with services.sessions() as db:
        request = db.get(PaymentRequest, request_pk)
    if request is None or request.merchant_id != merchant.id:
        raise ApiError("NOT_FOUND")
    if request.status != "paid":
        raise ApiError("NOT_REFUNDABLE", {"status": current_status(request)})
    target, calldata = services.ledger.calldata(
        "RegionalPoints", "refund", bytes.fromhex(request.request_id[2:]), amount
    )
    return services.submit(
        merchant,
        key,
        {"refund": request_pk, "amount": amount},
        kind="refund",
        sender=merchant.address or "",
        target=target,
        calldata=calldata,
        summary={"payment_request": request.id, "amount": amount},
    )


def settle(services: Services, merchant: User, amount: int, key: str) -> Operation:
    reference = keccak(text=f"settlement:{merchant.public_id}:{key}")
    target, calldata = services.ledger.calldata("RegionalPoints", "requestSettlement", amount, reference)
    return services.submit(
        merchant,
        key,
        {"settle": amount},
        kind="settle",
        sender=merchant.address or "",
        target=target,
        calldata=calldata,
        summary={"amount": amount, "reference": "0x" + reference.hex()},
    )


# -- hooks ---------------------------------------------------------------------------------
def _on_pay(db: DbSession, op: Operation) -> None:
    request = db.get(PaymentRequest, op.summary["payment_request"])
    if request is None or request.operation_id != op.id:
        return
    if op.status == "confirmed":
        request.status = "paid"
        request.paid_at = now()
    elif op.error_code == "REQUEST_ALREADY_PAID":
        request.status = "paid"
    else:
        request.status = "open"
        request.payer_id = None
        request.operation_id = None


def _on_refund(db: DbSession, op: Operation) -> None:
    if op.status == "confirmed":
        request = db.get(PaymentRequest, op.summary["payment_request"])
        if request is not None:
            request.refunded += int(op.summary["amount"])  # type: ignore[call-overload]


def register_hooks(services: Services) -> None:
    services.pipeline.hooks["pay"] = _on_pay
    services.pipeline.hooks["refund"] = _on_refund
