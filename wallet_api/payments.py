"""Merchant payments: the till's request (EIP-681 QR), paying it, refunds, settlement.

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

Charges by card or one-time code (:mod:`wallet_api.charges`) pay a request through
:meth:`Payments.pay_request` like a scanned QR.
"""

from __future__ import annotations

import functools
import json
import secrets
import uuid
from datetime import timedelta
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address
from sqlalchemy import ColumnElement, Table, Update, and_, bindparam, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from ledger_client.payment_uri import PaymentRequest as UriRequest
from ledger_client.payment_uri import PaymentUriError, build_payment_uri, parse_payment_uri, payment_request_id
from wallet_api import queries
from wallet_api.auth import aware, now
from wallet_api.db.engine import reads
from wallet_api.db.models import Operation, PaymentRequest, User
from wallet_api.errors import ApiError
from wallet_api.ledger import Ledger
from wallet_api.notifier import mark_changed
from wallet_api.outbox import Outbox, find
from wallet_api.settings import WalletSettings
from wallet_api.statuses import OperationKind, OperationStatus, PaymentRequestStatus, Role

UNSETTLED = (PaymentRequestStatus.OPEN, PaymentRequestStatus.CONFIRMING, PaymentRequestStatus.PAYING)
PAID_TOPIC = "0x" + keccak(text="Paid(address,address,bytes32,uint256)").hex()


def reference(request: PaymentRequest) -> bytes:
    """The 32 bytes printed in the QR (the ``bytes32`` argument of ``pay``)."""
    return bytes.fromhex(request.request_id[2:])


def chain_request_id(merchant_address: str, request: PaymentRequest) -> bytes:
    """The id the chain records this request's payment under (``paymentOf``, ``Paid``, ``refund``)."""
    return payment_request_id(merchant_address, request.amount, reference(request))


def _paid_event(receipt: dict[str, Any], token: str, merchant: str, request_id: bytes) -> tuple[str, int] | None:
    """(payer, amount) of the token's ``Paid(merchant, payer, requestId, amount)`` in a raw receipt, if there."""
    wanted = [PAID_TOPIC, _word(merchant), "0x" + request_id.hex()]
    for entry in receipt.get("logs") or []:
        topics = [str(t).lower() for t in entry.get("topics") or []]
        if str(entry.get("address", "")).lower() != token.lower() or len(topics) != 4:
            continue
        if [topics[0], topics[1], topics[3]] == wanted:
            return to_checksum_address("0x" + topics[2][-40:]), int(str(entry.get("data") or "0x0"), 16)
    return None


def _word(address: str) -> str:
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


def current_status(request: PaymentRequest) -> str:
    expires = aware(request.expires_at)
    if request.status in (PaymentRequestStatus.OPEN, PaymentRequestStatus.CONFIRMING) and (
        expires is not None and expires <= now()
    ):
        return PaymentRequestStatus.EXPIRED
    return request.status


def refusal(status: str) -> str | None:
    """The error a resident paying a request in ``status`` (as :func:`current_status` gives it) gets; None: payable."""
    if status == PaymentRequestStatus.OPEN:
        return None
    if status == PaymentRequestStatus.EXPIRED:
        return "PAYMENT_REQUEST_EXPIRED"
    if status in (PaymentRequestStatus.CANCELLED, PaymentRequestStatus.DECLINED):
        return "PAYMENT_REQUEST_CANCELLED"
    if status in (PaymentRequestStatus.PAYING, PaymentRequestStatus.CONFIRMING):
        return "PAYMENT_IN_PROGRESS"
    return "REQUEST_ALREADY_PAID"  # paid, or held for review because the chain records a payment


def _cancelled_by_till(request: PaymentRequest) -> bool:
    """A QR request the till cancelled (its 戻る); a charge's own ``cancelled`` keeps its old answer."""
    return request.status == PaymentRequestStatus.CANCELLED and request.memo != "charge"


def _judge(amount: int, payer_address: str | None, chain_payer: str | None, chain_amount: int) -> str:
    """``paid`` when the chain records ``payer_address`` paying the request's ``amount``; else ``review``."""
    if chain_payer is None:
        return "unpaid"
    if payer_address and chain_payer.lower() == payer_address.lower() and chain_amount == amount:
        return "paid"
    return "review"


def _review_reason(chain_payer: str | None, chain_amount: int) -> str:
    return json.dumps({"chain_payer": chain_payer, "chain_amount": chain_amount})


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

    def cancel_request(self, merchant: User, request_pk: str) -> PaymentRequest:
        """The till's 戻る: an open request of this merchant is cancelled and can no longer be paid.

        Claimed like a payment (``open`` → ``cancelled`` in one conditional update), so a
        cancel and a payment at the same moment cannot both win. Cancelling twice answers
        the cancelled request; one being paid or paid is refused (REQUEST_NOT_CANCELLABLE,
        with its status, so the till can show "paid" instead).
        """
        with self.sessions.begin() as db:
            result = db.execute(
                update(PaymentRequest)
                .where(
                    PaymentRequest.id == request_pk,
                    PaymentRequest.merchant_id == merchant.id,
                    PaymentRequest.status == PaymentRequestStatus.OPEN,
                )
                .values(status=PaymentRequestStatus.CANCELLED)
                .execution_options(synchronize_session=False)
            )
            latest = db.get(PaymentRequest, request_pk)
            if latest is None or latest.merchant_id != merchant.id:
                raise ApiError("NOT_FOUND")
            if result.rowcount:  # type: ignore[attr-defined]
                mark_changed(db, request_pk)
                db.refresh(latest)
            elif latest.status != PaymentRequestStatus.CANCELLED:
                raise ApiError("REQUEST_NOT_CANCELLABLE", {"status": current_status(latest)})
            db.expunge(latest)
        return latest

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

    def inspect_payment(self, op: Operation, receipt: dict[str, Any]) -> dict[str, Any]:
        """The chain's record of the request a ``pay`` operation paid: who paid it and how much (pipeline inspector).

        A successful receipt carries that record itself: the token's ``Paid`` event for this
        merchant and request id (which commits to the amount), naming the payer. Otherwise
        (a revert: someone else may have paid it) the token's ``paymentOf`` is read.
        """
        word, amount, ref = decode(["address", "uint256", "bytes32"], bytes(op.calldata)[4:])  # pay(...)
        merchant = to_checksum_address(word)
        if receipt.get("status") == 1:
            found = _paid_event(receipt, self.ledger.token.address, merchant, payment_request_id(merchant, amount, ref))
            if found is not None:
                return {"chain_payer": found[0], "chain_amount": found[1]}
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
        verdict = _judge(request.amount, payer.address, chain_payer, chain_amount)
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

    def pay_request(
        self,
        payer: User,
        merchant: User,
        request: PaymentRequest,
        key: str,
        body: dict[str, object],
        allowed: tuple[PaymentRequestStatus, ...] = (PaymentRequestStatus.OPEN,),
        *,
        read: tuple[PaymentRequest | None, Operation | None] | None = None,
        nonce_hint: int | None = None,
    ) -> Operation:
        """Pays ``request`` from ``payer``: claims the request and accepts the operation together.

        ``read``: the request as just read and the operation already under ``key`` (if any),
        when the caller read both in its own session (a scanned QR), so they are not read again;
        ``nonce_hint``: the payer's next nonce read there too (see :meth:`Outbox.submit`).
        """
        if payer.role != Role.RESIDENT:
            raise ApiError("NOT_A_RESIDENT")
        target, calldata = self.ledger.calldata(
            "RegionalPoints", "pay", merchant.address, request.amount, reference(request)
        )

        def claim(db: DbSession, op: Operation) -> None:
            # a charge (CONFIRMING allowed) waits for this resident only
            statement = _claim_statement(PaymentRequestStatus.CONFIRMING in allowed)
            result = db.connection().execute(  # no loaded copy in this session to refresh
                statement,
                {
                    "claim_id": request.id,
                    "claim_allowed": list(allowed),
                    "claim_payer": payer.id,
                    "claim_moment": now(),
                    "claim_operation": op.id,
                    "claim_status": PaymentRequestStatus.PAYING,
                },
            )
            if not result.rowcount:
                latest = db.get(PaymentRequest, request.id, populate_existing=True)  # as this batch left it
                if latest is not None and current_status(latest) == PaymentRequestStatus.EXPIRED:
                    raise ApiError("PAYMENT_REQUEST_EXPIRED")
                if latest is not None and _cancelled_by_till(latest):
                    raise ApiError("PAYMENT_REQUEST_CANCELLED")
                raise ApiError("REQUEST_ALREADY_PAID")
            mark_changed(db, request.id)

        if read is None:
            with self.sessions() as db:
                read = db.get(PaymentRequest, request.id), find(db, payer.id, key)
        latest, existing = read
        status = current_status(latest) if latest is not None else PaymentRequestStatus.OPEN
        if existing is None:
            if status == PaymentRequestStatus.EXPIRED:
                raise ApiError("PAYMENT_REQUEST_EXPIRED")
            if latest is not None and _cancelled_by_till(latest):
                raise ApiError("PAYMENT_REQUEST_CANCELLED")
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
                optimistic=True,  # the lunchtime rush: a refusal comes from the receipt (Outbox.submit)
                known_new=existing is None,
                nonce_hint=nonce_hint,
            )
        except ApiError as exc:
            if exc.code == "REQUEST_ALREADY_PAID" and existing is None:
                self._hold_if_paid_elsewhere(request, merchant, payer)
            raise

    def resolve_uri(self, uri: str) -> tuple[PaymentRequest, User]:
        """The request and merchant a scanned EIP-681 URI names; refuses another chain, token or an altered QR."""
        parsed = self._parse(uri)
        with self.sessions() as db:
            return self._resolved(db, parsed)

    def _parse(self, uri: str) -> UriRequest:
        try:
            parsed = parse_payment_uri(uri)
        except PaymentUriError as exc:
            raise ApiError("INVALID_PAYMENT_URI", {"reason": str(exc)}) from None
        if parsed.chain_id != self.ledger.chain_id:
            raise ApiError("WRONG_CHAIN", {"chain_id": parsed.chain_id, "expected": self.ledger.chain_id})
        if parsed.token.lower() != self.ledger.deployment.address("RegionalPoints").lower():
            raise ApiError("WRONG_TOKEN", {"token": parsed.token})
        return parsed

    def _resolved(self, db: DbSession, parsed: UriRequest) -> tuple[PaymentRequest, User]:
        found = queries.scanned_request_and_merchant(db, "0x" + parsed.reference.hex())
        if found is None:
            raise ApiError("UNKNOWN_PAYMENT_REQUEST")
        request, merchant = found
        if (merchant.address or "").lower() != parsed.merchant.lower() or parsed.amount != request.amount:
            raise ApiError("PAYMENT_REQUEST_MISMATCH")
        return request, merchant

    def pay_uri(self, payer: User, uri: str, key: str) -> Operation:
        """Pays a scanned EIP-681 request."""
        parsed = self._parse(uri)
        # the request and its shop, a retry's operation and the payer's nonce: one session, no transaction
        with reads(self.sessions) as db:
            request, merchant = self._resolved(db, parsed)
            existing = find(db, payer.id, key)
            nonce = self.outbox.pipeline.peek_nonce(db, payer.address) if payer.address else None
        return self.pay_request(payer, merchant, request, key, {"uri": uri}, read=(request, existing), nonce_hint=nonce)

    def refund(self, merchant: User, request_pk: str, amount: int, key: str) -> Operation:
        with self.sessions() as db:
            request = db.get(PaymentRequest, request_pk)
        if request is None or request.merchant_id != merchant.id:
            raise ApiError("NOT_FOUND")
        if request.status != PaymentRequestStatus.PAID:
            raise ApiError("NOT_REFUNDABLE", {"status": current_status(request)})
        if amount > request.amount - request.refunded:
            raise ApiError("REFUND_EXCEEDS_PAYMENT", {"refundable": request.amount - request.refunded})
        self._refundable_from_balance(merchant, amount)
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

    def _refundable_from_balance(self, merchant: User, amount: int) -> None:
        """A refund is paid from the shop's points: after a settlement sent them to the city, say so plainly.

        The contract takes a refund from the shop's balance; points already burned for a
        settlement are yen the city owes the shop, not points it holds, so a refund larger
        than the balance is refused here (``REFUND_AFTER_SETTLEMENT``, with the balance and
        what was settled) instead of as a bare "not enough points". An unreachable ledger
        leaves the check to the contract.
        """
        try:
            ledger = self.ledger.merchant_ledger(merchant.address or "")
        except Exception:  # noqa: BLE001 - any failure to read leaves the check to the contract
            return
        if ledger.get("balance", amount) < amount:
            detail = {"balance": ledger.get("balance"), "settled": ledger.get("settled"), "amount": amount}
            raise ApiError("REFUND_AFTER_SETTLEMENT" if ledger.get("settled") else "INSUFFICIENT_BALANCE", detail)

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


@functools.cache
def _claim_statement(for_payer_only: bool) -> Update:
    """The request's claim by a payment, built once (issue 17: it runs in the queue every write waits in).

    ``for_payer_only``: a charge, which only the resident it waits for may pay.
    """
    requests: Table = PaymentRequest.__table__  # type: ignore[assignment]
    condition: ColumnElement[bool] = requests.c.status.in_(bindparam("claim_allowed", expanding=True))
    if for_payer_only:
        condition = and_(condition, requests.c.payer_id == bindparam("claim_payer"))
    return (
        update(requests)
        .where(requests.c.id == bindparam("claim_id"), condition, requests.c.expires_at > bindparam("claim_moment"))
        .values(
            status=bindparam("claim_status"),
            payer_id=bindparam("claim_payer"),
            operation_id=bindparam("claim_operation"),
        )
    )


# -- hooks: run by the pipeline in the transaction that settles an operation --------------
_REQUESTS: Table = PaymentRequest.__table__  # type: ignore[assignment]
_SETTLING_REQUEST = select(
    _REQUESTS.c.id, _REQUESTS.c.merchant_id, _REQUESTS.c.amount, _REQUESTS.c.memo, _REQUESTS.c.operation_id
).where(_REQUESTS.c.id == bindparam("request_pk"))
_UPDATE_REQUEST = update(_REQUESTS).where(_REQUESTS.c.id == bindparam("request_pk"))  # SET: the keys passed


def on_pay(db: DbSession, op: Operation) -> None:
    """Settles the request from the chain's own record (``chain_payer``/``chain_amount``, read by the inspector).

    Core statements on the session's connection, not ORM loads (issue 17: the hook runs in the
    write queue every payment waits in); no loaded copy of the request is left to go stale.
    """
    connection = db.connection()
    request_pk = op.summary["payment_request"]
    request = connection.execute(_SETTLING_REQUEST, {"request_pk": request_pk}).first()
    if request is None or request.operation_id != op.id:
        return
    mark_changed(db, request.id)
    chain_payer = op.summary.get("chain_payer")
    chain_amount = int(op.summary.get("chain_amount") or 0)  # type: ignore[call-overload]
    verdict = _judge(request.amount, op.sender, str(chain_payer) if chain_payer else None, chain_amount)
    changes: dict[str, object]
    if verdict == "paid":
        changes = {"status": PaymentRequestStatus.PAID, "paid_at": now()}
        mark_changed(db, f"merchant:{request.merchant_id}")  # the till listening for any payment hears it
    elif verdict == "review" or op.status == OperationStatus.CONFIRMED:
        # the shop was paid by someone or something else (or a receipt without a matching record)
        changes = {
            "status": PaymentRequestStatus.REVIEW,
            "review_reason": _review_reason(str(chain_payer) if chain_payer else None, chain_amount),
        }
    elif request.memo == "charge":
        changes = {"status": PaymentRequestStatus.CANCELLED}  # a charge is never paid later by anyone else
    else:
        changes = {"status": PaymentRequestStatus.OPEN, "payer_id": None, "operation_id": None}
    connection.execute(_UPDATE_REQUEST, {"request_pk": request_pk, **changes})


def on_refund(db: DbSession, op: Operation) -> None:
    if op.status == OperationStatus.CONFIRMED:
        request = db.get(PaymentRequest, op.summary["payment_request"])
        if request is not None:
            request.refunded += int(op.summary["amount"])  # type: ignore[call-overload]
            mark_changed(db, request.id)
