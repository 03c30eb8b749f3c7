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
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from eth_utils import keccak
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from ledger_client.payment_uri import PaymentRequest as UriRequest
from ledger_client.payment_uri import PaymentUriError, build_payment_uri, parse_payment_uri, payment_request_id
from wallet_api import pins
from wallet_api.auth import aware, now
from wallet_api.crypto.passwords import hash_secret
from wallet_api.db.models import Card, Operation, PaymentCode, PaymentRequest, User
from wallet_api.errors import ApiError
from wallet_api.pipeline import CHANGED_REQUESTS, request_hash

if TYPE_CHECKING:
    from wallet_api.services import Services

CARD_PREFIX = "takasago-card:"
CODE_PREFIX = "takasago-pay:"
FINAL_REQUEST = ("paid", "expired", "review", "declined", "cancelled")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def changed(db: DbSession, request_pk: str) -> None:
    """Marks a payment request as changed: its event streams wake once ``db`` commits."""
    db.info.setdefault(CHANGED_REQUESTS, set()).add(request_pk)


# -- the till's request ------------------------------------------------------------------
def create_request(
    services: Services,
    merchant: User,
    amount: int,
    memo: str | None,
    db: DbSession | None = None,
    *,
    status: str = "open",
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
        expires_at=now() + timedelta(seconds=services.settings.payment_request_seconds),
    )
    if db is not None:
        db.add(request)
        return request
    with services.sessions.begin() as session:
        session.add(request)
    return request


def reference(request: PaymentRequest) -> bytes:
    """The 32 bytes printed in the QR (the ``bytes32`` argument of ``pay``)."""
    return bytes.fromhex(request.request_id[2:])


def chain_request_id(merchant_address: str, request: PaymentRequest) -> bytes:
    """The id the chain records this request's payment under (``paymentOf``, ``Paid``, ``refund``)."""
    return payment_request_id(merchant_address, request.amount, reference(request))


def request_uri(services: Services, merchant: User, request: PaymentRequest) -> str:
    return build_payment_uri(
        UriRequest(
            token=services.ledger.deployment.address("RegionalPoints"),
            chain_id=services.ledger.chain_id,
            merchant=merchant.address or "",
            amount=request.amount,
            reference=reference(request),
        )
    )


def current_status(request: PaymentRequest) -> str:
    expires = aware(request.expires_at)
    if request.status in ("open", "confirming") and expires is not None and expires <= now():
        return "expired"
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


def inspect_payment(services: Services, op: Operation) -> dict[str, Any]:
    """The chain's record of the request a ``pay`` operation paid: who paid it and how much (pipeline inspector)."""
    args = services.ledger.token.decode_function_input(op.calldata)[1]
    merchant, amount, ref = args["merchant"], int(args["amount"]), bytes(args["paymentReference"])
    payer, paid = services.ledger.payment_record(merchant, amount, ref)
    return {"chain_payer": payer, "chain_amount": paid}


def _hold_if_paid_elsewhere(services: Services, request: PaymentRequest, merchant: User, payer: User) -> None:
    """The ledger refused a payment as already paid before anything was stored: hold the request for review."""
    try:
        chain_payer, chain_amount = services.ledger.payment_record(
            merchant.address or "", request.amount, reference(request)
        )
    except (ConnectionError, OSError, TimeoutError):
        return
    verdict = _judge(request, payer.address, chain_payer, chain_amount)
    if verdict == "unpaid":
        return
    with services.sessions.begin() as db:
        row = db.get(PaymentRequest, request.id, with_for_update=True)
        if row is None or row.status not in ("open", "confirming", "paying"):
            return
        if verdict == "paid":
            row.status, row.paid_at, row.payer_id = "paid", now(), payer.id
        else:
            row.status, row.review_reason = "review", _review_reason(chain_payer, chain_amount)
        changed(db, row.id)


def _pay(
    services: Services,
    payer: User,
    merchant: User,
    request: PaymentRequest,
    key: str,
    body: dict[str, object],
    allowed: tuple[str, ...] = ("open",),
) -> Operation:
    """Pays ``request`` from ``payer``: claims the request and accepts the operation together."""
    if payer.role != "resident":
        raise ApiError("NOT_A_RESIDENT")
    target, calldata = services.ledger.calldata(
        "RegionalPoints", "pay", merchant.address, request.amount, reference(request)
    )

    def claim(db: DbSession, op: Operation) -> None:
        condition: ColumnElement[bool] = PaymentRequest.status.in_(allowed)
        if "confirming" in allowed:  # a charge waiting for this resident only
            condition = and_(condition, PaymentRequest.payer_id == payer.id)
        result = db.execute(
            update(PaymentRequest)
            .where(PaymentRequest.id == request.id, condition, PaymentRequest.expires_at > now())
            .values(status="paying", payer_id=payer.id, operation_id=op.id)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            latest = db.get(PaymentRequest, request.id)
            if latest is not None and current_status(latest) == "expired":
                raise ApiError("PAYMENT_REQUEST_EXPIRED")
            raise ApiError("REQUEST_ALREADY_PAID")
        changed(db, request.id)

    with services.sessions() as db:
        latest = db.get(PaymentRequest, request.id)
        existing = services.pipeline.find(db, payer.id, key)
    status = current_status(latest) if latest is not None else "open"
    if existing is None:
        if status == "expired":
            raise ApiError("PAYMENT_REQUEST_EXPIRED")
        if status not in allowed:
            raise ApiError("REQUEST_ALREADY_PAID")
    try:
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
    except ApiError as exc:
        if exc.code == "REQUEST_ALREADY_PAID" and existing is None:
            _hold_if_paid_elsewhere(services, request, merchant, payer)
        raise


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
        request = db.scalar(select(PaymentRequest).where(PaymentRequest.request_id == "0x" + parsed.reference.hex()))
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
def issue_card(services: Services, user: User, pin: str, max_amount: int | None = None) -> str:
    """A new card token (printed as a QR) with a PIN and an optional limit per charge; replaces any earlier card."""
    pins.require_new_pin(pin)  # six digits for new cards (issue 15, finding 14)
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
        card.max_amount = max_amount
    return token


def set_card_limit(services: Services, user: User, max_amount: int | None) -> None:
    """The most one card charge may take without the resident's confirmation (None: no limit)."""
    with services.sessions.begin() as db:
        card = db.get(Card, user.id, with_for_update=True)
        if card is None:
            raise ApiError("CARD_UNKNOWN")
        card.max_amount = max_amount


def card_limit(services: Services, user: User) -> tuple[bool, int | None]:
    """(has a card, its limit)."""
    with services.sessions() as db:
        card = db.get(Card, user.id)
    return (card is not None, card.max_amount if card is not None else None)


def issue_code(services: Services, user: User, max_amount: int | None = None) -> tuple[str, int]:
    """A single-use payment code valid for ``payment_code_seconds``, with an optional limit."""
    code = CODE_PREFIX + secrets.token_urlsafe(18)
    with services.sessions.begin() as db:
        db.add(
            PaymentCode(
                code_hash=_digest(code),
                user_id=user.id,
                expires_at=now() + timedelta(seconds=services.settings.payment_code_seconds),
                max_amount=max_amount,
            )
        )
    return code, services.settings.payment_code_seconds


def _card_holder(services: Services, card_token: str, pin: str) -> tuple[User, int | None]:
    # counted before checking, under the row lock (issue 15, finding 14): see wallet_api/pins.py
    return pins.card_holder(services, _digest(card_token), pin)


def _code_holder(services: Services, code: str) -> tuple[User, int | None]:
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
        limit = row.max_amount if row is not None else None
    if holder is None:
        raise ApiError("CODE_INVALID")
    return holder, limit


def charge_digest(amount: int, card: str | None, code: str | None) -> str:
    """What a charge asks for (the PIN is a credential, not part of the request)."""
    return request_hash(
        {
            "kind": "charge",
            "amount": amount,
            "card": _digest(card) if card else None,
            "code": _digest(code) if code else None,
        }
    )


def _existing_charge(services: Services, merchant: User, key: str, digest: str) -> Operation | None:
    op = _retry_of(services, merchant, key)
    if op is not None and (op.kind != "charge" or op.request_hash != digest):
        raise ApiError("IDEMPOTENCY_KEY_REUSED", {"kind": op.kind})
    return op


def charge(
    services: Services, merchant: User, amount: int, key: str, *, card: str | None, pin: str | None, code: str | None
) -> tuple[PaymentRequest, Operation]:
    """A merchant-initiated payment from a resident's card + PIN or one-time code.

    The merchant's ``charge`` operation (stored under the merchant's idempotency key
    before anything is paid) is what the till follows and retries; the payment itself
    runs under the payer's account with a key derived from it.
    """
    digest = charge_digest(amount, card, code)
    existing = _existing_charge(services, merchant, key, digest)
    if existing is not None:
        return charge_state(services, existing, wait=services.settings.confirm_wait_seconds)
    if card is not None:
        if not card.startswith(CARD_PREFIX) or pin is None:
            raise ApiError("CARD_UNKNOWN" if pin is not None else "VALIDATION_ERROR", {"pin": "required with a card"})
        payer, limit = _card_holder(services, card, pin)
    elif code is not None and code.startswith(CODE_PREFIX):
        payer, limit = _code_holder(services, code)
    else:
        raise ApiError("CODE_INVALID")
    if payer.status != "active":
        raise ApiError("ACCOUNT_NOT_ACTIVE")
    needs_confirmation = limit is not None and amount > limit
    try:
        with services.sessions.begin() as db:
            request = create_request(
                services,
                merchant,
                amount,
                "charge",
                db,
                status="confirming" if needs_confirmation else "open",
                payer_id=payer.id if needs_confirmation else None,
            )
            record = Operation(
                id=str(uuid.uuid4()),
                user_id=merchant.id,
                idempotency_key=key,
                request_hash=digest,
                kind="charge",
                sender=payer.address or "",
                target=services.ledger.deployment.address("RegionalPoints"),
                calldata=b"",
                summary={"payment_request": request.id, "amount": amount, "operation": None},
                status="linked",  # follows its payment; never picked up by the outbox worker
                attempts=0,
                created_at=now(),
                updated_at=now(),
            )
            db.add(record)
            db.flush()
            if needs_confirmation:
                request.operation_id = record.id  # the charge the resident's confirmation completes
    except IntegrityError:  # the same key accepted at the same moment by a concurrent retry
        existing = _existing_charge(services, merchant, key, digest)
        if existing is None:
            raise
        return charge_state(services, existing, wait=services.settings.confirm_wait_seconds)
    if needs_confirmation:
        return charge_state(services, record)
    _run_charge(services, record, request, payer, merchant, ("open",))
    return charge_state(services, record)


def _run_charge(
    services: Services,
    record: Operation,
    request: PaymentRequest,
    payer: User,
    merchant: User,
    allowed: tuple[str, ...],
) -> Operation:
    """Pays the charge ``record`` from ``payer``; a refusal fails the charge (and its request) for good."""
    derived = (
        "charge:" + hmac.new(str(merchant.id).encode(), record.idempotency_key.encode(), "sha256").hexdigest()[:64]
    )
    try:
        op = _pay(
            services, payer, merchant, request, derived, {"charge": request.id, "amount": request.amount}, allowed
        )
    except ApiError as exc:
        with services.sessions.begin() as db:
            latest = db.get(PaymentRequest, request.id, with_for_update=True)
            if latest is not None and latest.status in ("open", "confirming"):
                # refused before any payment claimed the request: the charge is over
                latest.status = "cancelled"
                changed(db, latest.id)
                row = db.get(Operation, record.id)
                if row is not None and row.status == "linked":
                    row.status = "failed"
                    row.error_code = exc.code
                    row.error_detail = json.dumps(exc.detail)[:500]
                    row.updated_at = now()
            # else a concurrent attempt (a double tap) claimed it: the charge follows that payment
        raise
    with services.sessions.begin() as db:
        row = db.get(Operation, record.id)
        if row is not None:
            row.summary = {**row.summary, "operation": op.id}
            row.updated_at = now()
    return op


def charge_state(services: Services, record: Operation, wait: float = 0.0) -> tuple[PaymentRequest, Operation]:
    """The charge as the merchant sees it: its own id, with the state of the payment it started.

    A transient :class:`Operation` (never stored): status and transaction of the
    payer's payment once there is one, ``awaiting_confirmation`` while the resident
    has not confirmed a charge above their limit, ``failed`` if declined or expired.
    """
    with services.sessions() as db:
        stored = db.get(Operation, record.id) or record
        request = db.get(PaymentRequest, stored.summary["payment_request"])
    assert request is not None
    view = Operation(
        id=stored.id,
        kind="charge",
        status=stored.status,
        tx_hash=None,
        block_number=None,
        error_code=stored.error_code,
        error_detail=stored.error_detail,
        summary={},
    )
    linked = stored.summary.get("operation")
    if not linked and request.operation_id and request.operation_id != stored.id:
        linked = request.operation_id  # the payment claimed the request (before the charge noted it)
    if stored.status == "failed":
        pass
    elif linked:
        op = services.pipeline.wait(str(linked), wait) if wait else services.pipeline.confirm(str(linked))
        if op is not None:
            view.status, view.tx_hash, view.block_number = op.status, op.tx_hash, op.block_number
            view.error_code, view.error_detail = op.error_code, op.error_detail
        with services.sessions() as db:
            request = db.get(PaymentRequest, request.id) or request
    else:
        status = current_status(request)
        if status == "confirming":
            view.status = "awaiting_confirmation"
        elif status in ("open", "paying"):
            view.status = "accepted"
        else:
            code = {"declined": "CHARGE_DECLINED", "expired": "PAYMENT_REQUEST_EXPIRED"}.get(status, "NOT_FOUND")
            view.status, view.error_code, view.error_detail = "failed", code, "{}"
    view.summary = {
        "payment_request": request.id,
        "amount": request.amount,
        "request_status": current_status(request),
        "operation": linked,
    }
    return request, view


def charge_record(services: Services, user: User, op_id: str) -> Operation | None:
    """The merchant's charge ``op_id`` if it is ``user``'s."""
    with services.sessions() as db:
        op = db.get(Operation, op_id)
    if op is None or op.user_id != user.id or op.kind != "charge":
        return None
    return op


# -- the resident confirms a charge above their limit ---------------------------------------
def awaiting_confirmation(services: Services, user: User) -> list[tuple[PaymentRequest, User]]:
    """Charges above ``user``'s limits that wait for them, newest first."""
    with services.sessions() as db:
        rows = db.scalars(
            select(PaymentRequest)
            .where(
                PaymentRequest.payer_id == user.id,
                PaymentRequest.status == "confirming",
                PaymentRequest.expires_at > now(),
            )
            .order_by(PaymentRequest.created_at.desc())
            .limit(20)
        ).all()
        merchants = {m.id: m for m in db.scalars(select(User).where(User.id.in_({r.merchant_id for r in rows})))}
    return [(r, merchants[r.merchant_id]) for r in rows if r.merchant_id in merchants]


def decide_charge(
    services: Services, user: User, request_pk: str, approve: bool
) -> tuple[PaymentRequest, Operation | None]:
    """The resident approves (pays) or declines a charge that waits for them; approving twice pays once."""
    with services.sessions() as db:
        request = db.get(PaymentRequest, request_pk)
        merchant = db.get(User, request.merchant_id) if request is not None else None
        record = db.get(Operation, request.operation_id) if request is not None and request.operation_id else None
    if request is None or merchant is None or request.payer_id != user.id or request.memo != "charge":
        raise ApiError("NOT_FOUND")
    if record is not None and record.kind == "pay":  # already approved: the same payment
        return request, services.pipeline.confirm(record.id)
    status = current_status(request)
    if status != "confirming" or record is None:
        raise ApiError("CHARGE_NOT_AWAITING_CONFIRMATION", {"status": status})
    if not approve:
        with services.sessions.begin() as db:
            row = db.get(PaymentRequest, request.id, with_for_update=True)
            if row is None or row.status != "confirming":
                raise ApiError("CHARGE_NOT_AWAITING_CONFIRMATION")
            row.status = "declined"
            changed(db, row.id)
        with services.sessions() as db:
            return db.get(PaymentRequest, request.id) or request, None
    try:
        op = _run_charge(services, record, request, user, merchant, ("confirming",))
    except ApiError as exc:
        with services.sessions() as db:
            latest = db.get(PaymentRequest, request.id)
            claimed = db.get(Operation, latest.operation_id) if latest is not None and latest.operation_id else None
        if exc.code != "REQUEST_ALREADY_PAID" or claimed is None or claimed.user_id != user.id:
            raise
        op = claimed  # approved twice at once: the same payment
    with services.sessions() as db:
        return db.get(PaymentRequest, request.id) or request, op


# -- refunds and settlement ------------------------------------------------------------------
def refund(services: Services, merchant: User, request_pk: str, amount: int, key: str) -> Operation:
    with services.sessions() as db:
        request = db.get(PaymentRequest, request_pk)
    if request is None or request.merchant_id != merchant.id:
        raise ApiError("NOT_FOUND")
    if request.status != "paid":
        raise ApiError("NOT_REFUNDABLE", {"status": current_status(request)})
    target, calldata = services.ledger.calldata(
        "RegionalPoints", "refund", chain_request_id(merchant.address or "", request), amount
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
    """Settles the request from the chain's own record (``chain_payer``/``chain_amount``, read by the inspector)."""
    request = db.get(PaymentRequest, op.summary["payment_request"])
    if request is None or request.operation_id != op.id:
        return
    changed(db, request.id)
    chain_payer = op.summary.get("chain_payer")
    chain_amount = int(op.summary.get("chain_amount") or 0)  # type: ignore[call-overload]
    verdict = _judge(request, op.sender, str(chain_payer) if chain_payer else None, chain_amount)
    if verdict == "paid":
        request.status = "paid"
        request.paid_at = now()
    elif verdict == "review" or op.status == "confirmed":
        # the shop was paid by someone or something else (or a receipt without a matching record)
        request.status = "review"
        request.review_reason = _review_reason(str(chain_payer) if chain_payer else None, chain_amount)
    elif request.memo == "charge":
        request.status = "cancelled"  # a charge is never paid later by anyone else
    else:
        request.status = "open"
        request.payer_id = None
        request.operation_id = None


def _on_refund(db: DbSession, op: Operation) -> None:
    if op.status == "confirmed":
        request = db.get(PaymentRequest, op.summary["payment_request"])
        if request is not None:
            request.refunded += int(op.summary["amount"])  # type: ignore[call-overload]
            changed(db, request.id)


def register_hooks(services: Services) -> None:
    services.pipeline.hooks["pay"] = _on_pay
    services.pipeline.hooks["refund"] = _on_refund
    services.pipeline.inspectors["pay"] = lambda op: inspect_payment(services, op)
