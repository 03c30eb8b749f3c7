"""The merchant's till: payment requests and their QR, live status, charges, refunds, takings, settlement."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from wallet_api import payments, qr, queries
from wallet_api.auth import aware
from wallet_api.db.models import PaymentRequest, User
from wallet_api.deps import AnyUser, IdempotencyKey, Merchant, ServicesDep, operation_response
from wallet_api.errors import ApiError
from wallet_api.schemas import (
    ChargeIn,
    PaymentOut,
    PaymentRequestIn,
    PaymentRequestOut,
    RefundIn,
    SettlementIn,
    TakingsOut,
)
from wallet_api.services import Services
from wallet_api.shops import method_of, shops_of
from wallet_api.statuses import FINAL_REQUEST, PaymentRequestStatus

router = APIRouter(prefix="/v1", tags=["merchant"])
JST = timezone(timedelta(hours=9))
RequestId = Annotated[str, Path(max_length=36)]
RECHECK_SECONDS = 1.0  # event streams re-read this often besides being woken (other workers' changes)


class TakingOut(PaymentRequestOut):
    """A paid request in the day's takings, with how it was paid, so the right sale is refunded."""

    method: str = Field(description="qr (the till's QR), static (the shop's printed QR) or charge (card or code)")


class TakingsDayOut(TakingsOut):
    requests: list[TakingOut]  # type: ignore[assignment]


def request_out(svc: Services, merchant: User, request: PaymentRequest) -> PaymentRequestOut:
    paid = aware(request.paid_at)
    return PaymentRequestOut(
        id=request.id,
        request_id=request.request_id,
        chain_request_id="0x" + payments.chain_request_id(merchant.address or "", request).hex(),
        amount=request.amount,
        status=payments.current_status(request),
        uri=svc.payments.request_uri(merchant, request),
        merchant=merchant.address or "",
        merchant_name=merchant.display_name,
        expires_at=aware(request.expires_at).isoformat(),  # type: ignore[union-attr]
        paid_at=paid.isoformat() if paid else None,
        refunded=request.refunded,
        review=json.loads(request.review_reason)
        if request.status == PaymentRequestStatus.REVIEW and request.review_reason
        else None,
    )


def _visible_request(svc: Services, user: User, request_pk: str) -> tuple[PaymentRequest, User]:
    with svc.sessions() as db:
        found = queries.request_and_merchant(db, request_pk)
    if found is None or user.id not in (found[0].merchant_id, found[0].payer_id):
        raise ApiError("NOT_FOUND")
    return found


@router.post("/payment-requests", response_model=PaymentRequestOut, status_code=201)
def create_request(body: PaymentRequestIn, user: Merchant, svc: ServicesDep) -> PaymentRequestOut:
    """A payment request for the till: show its QR (``/qr.png`` or ``/qr.svg``) to the customer."""
    request = svc.payments.create_request(user, body.amount, body.memo)
    return request_out(svc, user, request)


@router.get("/payment-requests/{request_pk}", response_model=PaymentRequestOut)
def get_request(request_pk: RequestId, user: AnyUser, svc: ServicesDep) -> PaymentRequestOut:
    request, merchant = _visible_request(svc, user, request_pk)
    if request.operation_id is not None and request.status == PaymentRequestStatus.PAYING:
        svc.outbox.confirm(request.operation_id)
        request, merchant = _visible_request(svc, user, request_pk)
    return request_out(svc, merchant, request)


@router.post("/payment-requests/{request_pk}/cancel", response_model=PaymentRequestOut)
def cancel_request(request_pk: RequestId, user: Merchant, svc: ServicesDep) -> PaymentRequestOut:
    """The till's 戻る: cancels the shop's own open request, so a QR left on screen can no longer be paid.

    Cancelling twice answers the cancelled request again. A request being paid or paid is
    refused with ``REQUEST_NOT_CANCELLABLE`` (``detail.status`` says which: the till shows
    "paid" when the customer was quicker); another shop's request is ``NOT_FOUND``.
    """
    request = svc.payments.cancel_request(user, request_pk)
    return request_out(svc, user, request)


@router.get("/payment-requests/{request_pk}/qr.{fmt}", response_class=Response)
def request_qr(
    request_pk: RequestId,
    fmt: Annotated[str, Path(pattern="^(png|svg)$")],
    user: Merchant,
    svc: ServicesDep,
    scale: Annotated[int, Query(ge=1, le=40)] = 8,
) -> Response:
    request, merchant = _visible_request(svc, user, request_pk)
    content, media_type = qr.render(svc.payments.request_uri(merchant, request), fmt, scale)
    return Response(content, media_type=media_type, headers={"Cache-Control": "no-store"})


@router.get("/payment-requests/{request_pk}/events", response_class=StreamingResponse)
async def request_events(request: Request, request_pk: RequestId, user: AnyUser, svc: ServicesDep) -> StreamingResponse:
    """Server-sent events: the request's status each time it changes, until it is final (paid, review, expired, …).

    Pushed: the pipeline wakes the stream when this process changes the request. A
    change made by another worker process is read on the next slow re-check
    (:data:`RECHECK_SECONDS`), which also drives a payment's receipt while it is paying.
    """
    await run_in_threadpool(_visible_request, svc, user, request_pk)

    async def stream() -> AsyncIterator[str]:
        subscription = svc.notifier.subscribe(request_pk)  # before the first read: no change is missed
        last = None
        idle = 0.0
        try:
            while not await request.is_disconnected():
                current, merchant = await run_in_threadpool(_visible_request, svc, user, request_pk)
                if current.status == PaymentRequestStatus.PAYING and current.operation_id:
                    await run_in_threadpool(svc.outbox.confirm, current.operation_id)
                    current, merchant = await run_in_threadpool(_visible_request, svc, user, request_pk)
                status = payments.current_status(current)
                if status != last:  # the whole answer (URI, derived request id) only when it is sent
                    last = status
                    idle = 0.0
                    out = request_out(svc, merchant, current)
                    yield f"event: status\ndata: {json.dumps(out.model_dump())}\n\n"
                    if status in FINAL_REQUEST:
                        return
                elif idle >= 15:
                    idle = 0.0
                    yield ": keep-alive\n\n"
                started = asyncio.get_running_loop().time()
                await subscription.wait(RECHECK_SECONDS)
                idle += asyncio.get_running_loop().time() - started
        finally:
            subscription.close()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.post("/merchant/charges", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def charge(request: Request, body: ChargeIn, user: Merchant, key: IdempotencyKey, svc: ServicesDep) -> JSONResponse:
    """Charges a resident who shows a one-time code, or a printed card with the PIN typed at the till.

    The answer's ``operation`` is the merchant's own charge: poll it at
    ``GET /v1/operations/{id}`` (or follow the payment request) and retry a charge that
    timed out under the same Idempotency-Key, which never charges twice. Above the
    resident's limit for the card or code the charge is ``awaiting_confirmation`` until
    the resident approves it in the app.
    """
    if (body.card is None) == (body.code is None):
        raise ApiError("VALIDATION_ERROR", {"card": "give either card (with pin) or code"})
    payment_request, op = svc.charges.charge(user, body.amount, key, card=body.card, pin=body.pin, code=body.code)
    return operation_response(request, op, {"payment_request": request_out(svc, user, payment_request).model_dump()})


@router.post("/merchant/refunds", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def refund(request: Request, body: RefundIn, user: Merchant, key: IdempotencyKey, svc: ServicesDep) -> JSONResponse:
    """Refunds (part of) a paid request to the resident who paid it."""
    op = svc.payments.refund(user, body.payment_request_id, body.amount, key)
    return operation_response(request, op)


@router.post("/merchant/settlements", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def settle(request: Request, body: SettlementIn, user: Merchant, key: IdempotencyKey, svc: ServicesDep) -> JSONResponse:
    """Asks the city to pay ``amount`` points out in yen (the points are burned on-chain)."""
    op = shops_of(svc).settle(user, body.amount, key)  # recorded, so the till can follow it to "paid"
    return operation_response(request, op)


@router.get("/merchant/takings", response_model=TakingsDayOut)
def takings(
    user: Merchant,
    svc: ServicesDep,
    day: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="JST date; today by default")] = None,
) -> TakingsDayOut:
    """The day's paid requests (JST) with time, method and request id, and their totals."""
    try:
        start_local = datetime.fromisoformat(day).replace(tzinfo=JST) if day else datetime.now(JST)
    except ValueError:
        raise ApiError("VALIDATION_ERROR", {"day": "a real date, YYYY-MM-DD"}) from None
    start_jst = start_local.replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = start_jst.astimezone(UTC), (start_jst + timedelta(days=1)).astimezone(UTC)
    with svc.sessions() as db:
        rows = queries.paid_requests(db, user.id, start, end)
    out = [TakingOut(**request_out(svc, user, r).model_dump(), method=method_of(r)) for r in rows]
    return TakingsDayOut(
        date=start_jst.date().isoformat(),
        payments=len(out),
        total=sum(r.amount for r in out),
        refunded=sum(r.refunded for r in out),
        requests=out,
    )
