"""A member's wallet: balance, history, thanks, paying a scanned QR, cards and one-time codes, claims."""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from typing import Annotated

from eth_utils import is_hex_address
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from web3.exceptions import Web3RPCError

from wallet_api import payments, qr, queries
from wallet_api.auth import aware
from wallet_api.db.engine import reads
from wallet_api.db.models import Operation, User
from wallet_api.deps import AnyUser, IdempotencyKey, Member, Resident, ServicesDep, operation_out, operation_response
from wallet_api.errors import ApiError, preferred_language
from wallet_api.routes.merchant import request_out
from wallet_api.schemas import (
    BalanceOut,
    Bucket,
    CardIn,
    CardLimitOut,
    CardOut,
    ClaimIn,
    ClaimOut,
    CodeOut,
    ConfirmationIn,
    ConfirmationOut,
    HistoryItem,
    HistoryOut,
    LimitIn,
    MemberOut,
    OperationOut,
    PayIn,
    PaymentOut,
    PaymentPreviewOut,
    ThanksIn,
)
from wallet_api.statuses import OperationKind, Role
from wallet_api.thanks import thanks_notes

router = APIRouter(prefix="/v1", tags=["wallet"])
log = logging.getLogger("wallet_api.wallet")

SOON_SECONDS = 60 * 86400
MEMBER_PREFIX = "takasago-member:"
_CURSOR = re.compile(r"^[0-9]{1,12}:[0-9]{1,6}$")

TEXTS = {
    "issued": ("Points issued by the city", "市からポイントが付与されました"),
    "thanks_received": ("Thanks from {name}", "{name} さんから「ありがとう」"),
    "thanks_sent": ("Thanks to {name}", "{name} さんへ「ありがとう」"),
    "paid": ("Paid at {name}", "{name} で支払い"),
    "payment_received": ("Payment from {name}", "{name} さんからの支払い"),
    "refund_received": ("Refund from {name}", "{name} からの返金"),
    "refund_sent": ("Refund to {name}", "{name} さんへ返金"),
    "settlement": ("Settlement to yen requested", "換金（精算）を申請"),
    "expired": ("Points expired", "ポイントの有効期限切れ"),
    "received": ("Received from {name}", "{name} から受け取り"),
    "sent": ("Sent to {name}", "{name} へ送付"),
}
OUTGOING = {"thanks_sent", "paid", "refund_sent", "settlement", "expired", "sent"}


def _name(user: User | None, address: str | None) -> str | None:
    if user is None:
        return (address[:6] + "…" + address[-4:]) if address else None
    return user.display_name or user.short_code


@router.get("/me/balance", response_model=BalanceOut)
def balance(user: Member, svc: ServicesDep) -> BalanceOut:
    """Spendable points now, and the months in which they expire (soonest first)."""
    amount, buckets = svc.ledger.balance(user.address or "")
    horizon = int(time.time()) + SOON_SECONDS
    merchant = svc.ledger.merchant_ledger(user.address or "") if user.role == Role.MERCHANT else None
    return BalanceOut(
        balance=amount if merchant is None else merchant["balance"],
        expiring_soon=sum(a for e, a in buckets if e <= horizon),
        buckets=[Bucket(expires_at=e, amount=a) for e, a in buckets],
        merchant=merchant,
    )


@router.get("/me/history", response_model=HistoryOut)
def history(
    request: Request,
    user: Member,
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[str | None, Query(max_length=20, description="next_cursor of the previous page")] = None,
) -> HistoryOut:
    """A page of movements, newest first; follow ``next_cursor`` (it may come with a short or empty page).

    Read from the node in bounded windows of blocks, so a page costs the same on a chain
    of any length; a node that refuses or fails the query is a 503, never a 500.
    """
    if before is not None and not _CURSOR.match(before):
        raise ApiError("VALIDATION_ERROR", {"before": "a cursor from next_cursor (block:index)"})
    position = tuple(int(x) for x in before.split(":")) if before is not None else None
    try:
        result = svc.ledger.history_page(user.address or "", position, limit)  # type: ignore[arg-type]
    except Web3RPCError as exc:
        log.warning("history: the node refused a log query: %s", str(exc)[:200])
        raise ApiError("HISTORY_UNAVAILABLE") from None
    except (ConnectionError, OSError, TimeoutError):
        raise ApiError("NODE_UNAVAILABLE", status=503) from None
    page = result.entries
    addresses = {e.counterparty for e in page if e.counterparty}
    thanks_txs = {e.tx_hash for e in page if e.kind in ("thanks_sent", "thanks_received")}
    with svc.sessions() as db:
        users = queries.users_by_address(db, addresses)
        notes = thanks_notes(db, thanks_txs)
    items = []
    for e in page:
        name = _name(users.get(e.counterparty or ""), e.counterparty) or ""
        english, japanese = TEXTS.get(e.kind, ("{name}", "{name}"))
        items.append(
            HistoryItem(
                kind=e.kind,
                amount=e.amount,
                direction="out" if e.kind in OUTGOING else "in",
                counterparty=e.counterparty,
                counterparty_name=name or None,
                text=english.format(name=name),
                text_ja=japanese.format(name=name),
                tx_hash=e.tx_hash,
                block=e.block,
                timestamp=e.timestamp,
                request_id=e.request_id,
                category=e.category,
                **notes.get(e.tx_hash, {}),
            )
        )
    next_cursor = f"{result.next_before[0]}:{result.next_before[1]}" if result.next_before is not None else None
    return HistoryOut(items=items, next_cursor=next_cursor)


@router.post("/thanks", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def send_thanks(
    request: Request, body: ThanksIn, user: Resident, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Sends thank-you points to a neighbour (by short code or address), within the daily limits."""
    op = svc.thanks.thank(user, member_code(body.to), body.amount, body.category, body.message, key)
    return operation_response(request, op)


def _spendable(svc: ServicesDep, user: User) -> int | None:
    """The resident's spendable points now, or None when the ledger cannot be asked."""
    try:
        return svc.ledger.balance(user.address or "")[0]
    except (Web3RPCError, ConnectionError, OSError, TimeoutError):
        return None


@router.post("/payments/preview", response_model=PaymentPreviewOut)
def preview_payment(body: PayIn, user: Resident, svc: ServicesDep) -> PaymentPreviewOut:
    """What a scanned QR asks for (shop, amount) and the resident's balance, to confirm before paying.

    Nothing is paid. What cannot be paid is refused at once, with the same codes paying would
    give (``REQUEST_ALREADY_PAID``, ``PAYMENT_IN_PROGRESS``, ``PAYMENT_REQUEST_EXPIRED``,
    ``PAYMENT_REQUEST_CANCELLED``, ``INSUFFICIENT_BALANCE``); their ``detail`` carries the
    shop, the amount, the status and the balance, so the app can still show what was asked.
    """
    request, merchant = svc.payments.resolve_uri(body.uri)
    status = payments.current_status(request)
    shop = merchant.display_name or merchant.short_code
    balance = _spendable(svc, user)
    detail = {"status": str(status), "amount": request.amount, "merchant_name": shop, "balance": balance}
    refused = payments.refusal(status)
    if refused is not None:
        raise ApiError(refused, detail)
    if balance is not None and balance < request.amount:
        raise ApiError("INSUFFICIENT_BALANCE", detail)
    return PaymentPreviewOut(
        payment_request_id=request.id,
        amount=request.amount,
        merchant=merchant.address or "",
        merchant_name=shop,
        memo=request.memo,
        status=status,
        balance=balance,
    )


def member_code(text: str) -> str:
    """A typed or scanned member code as stored: spaces, hyphens and case ignored (full-width too); an address kept."""
    text = unicodedata.normalize("NFKC", text).strip().removeprefix("takasago-member:").strip()
    if is_hex_address(text):
        return text
    return re.sub(r"[\s\-]", "", text).upper()


@router.get("/members/{code}", response_model=MemberOut)
def find_member(code: Annotated[str, Path(min_length=1, max_length=64)], user: Resident, svc: ServicesDep) -> MemberOut:
    """Whom a member code names, to ask "send 50 pt to …?" before thanks: the code and display name only.

    Never the real name (unless the member chose it as their display name). Spaces, hyphens
    and case in the code are ignored; an unknown code is ``UNKNOWN_RECIPIENT``.
    """
    found = svc.accounts.find_member(member_code(code))
    return MemberOut(short_code=found.short_code, display_name=found.display_name)


@router.get("/me/member-qr.{fmt}", response_class=Response)
def member_qr(fmt: Annotated[str, Path(pattern="^(png|svg)$")], user: Member) -> Response:
    """The QR a neighbour scans to send this resident thanks (it holds only the short code)."""
    content, media_type = qr.render(MEMBER_PREFIX + user.short_code, fmt, 8)
    return Response(content, media_type=media_type, headers={"Cache-Control": "no-store"})


@router.post("/payments", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def pay(request: Request, body: PayIn, user: Resident, key: IdempotencyKey, svc: ServicesDep) -> JSONResponse:
    """Pays a merchant's payment request scanned from its QR code (the EIP-681 URI)."""
    op = svc.payments.pay_uri(user, body.uri, key)
    return operation_response(request, op, {"payment_request": _request_of(svc, op)})


def _request_of(svc: ServicesDep, op: Operation) -> dict[str, object] | None:
    with reads(svc.sessions) as db:
        found = queries.request_and_merchant(db, str(op.summary.get("payment_request") or ""))
    if found is None:
        return None
    request, merchant = found
    return request_out(svc, merchant, request).model_dump()


@router.get("/operations/{operation_id}", response_model=OperationOut)
def operation(request: Request, operation_id: str, user: AnyUser, svc: ServicesDep) -> OperationOut:
    """The state of an accepted operation (poll this after a 202)."""
    if len(operation_id) > 36:
        raise ApiError("NOT_FOUND")
    with svc.sessions() as db:
        stored = queries.operation(db, operation_id)
    if stored is None or stored.user_id != user.id:  # ownership first: another's id touches nothing
        raise ApiError("NOT_FOUND")
    language = preferred_language(request.headers.get("accept-language"))
    if stored.kind == OperationKind.CHARGE:  # the till's own charge: the state of the payment it started
        return operation_out(svc.charges.charge_state(stored)[1], language)
    op = svc.outbox.confirm(operation_id)
    if op is None:
        raise ApiError("NOT_FOUND")
    return operation_out(op, language)


@router.post("/me/card", response_model=CardOut, status_code=201)
def issue_card(body: CardIn, user: Resident, svc: ServicesDep) -> CardOut:
    """Issues a printable QR card with a PIN (for paying without a smartphone); replaces the old card.

    ``max_amount``: a charge above it waits for the resident's confirmation in the app.
    """
    token = svc.charges.issue_card(user, body.pin, body.max_amount)
    svg, _ = qr.render(token, "svg", 4)
    return CardOut(card=token, qr_svg=svg.decode())


@router.get("/me/card", response_model=CardLimitOut)
def card_settings(user: Resident, svc: ServicesDep) -> CardLimitOut:
    """Whether the resident has a card, and its limit per charge (null: none)."""
    has_card, limit = svc.charges.card_limit(user)
    return CardLimitOut(has_card=has_card, max_amount=limit)


@router.put("/me/card/limit", response_model=CardLimitOut)
def set_card_limit(body: LimitIn, user: Resident, svc: ServicesDep) -> CardLimitOut:
    """Sets the most a shop may charge the card without the resident's confirmation (null: no limit)."""
    svc.charges.set_card_limit(user, body.max_amount)
    return CardLimitOut(has_card=True, max_amount=body.max_amount)


@router.post("/me/payment-codes", response_model=CodeOut, status_code=201)
def payment_code(user: Resident, svc: ServicesDep, body: LimitIn | None = None) -> CodeOut:
    """A one-time code for a shop to scan; it works once and expires after ``expires_in`` seconds.

    With ``max_amount``, a charge above it waits for the resident's confirmation in the app.
    """
    code, seconds = svc.charges.issue_code(user, body.max_amount if body is not None else None)
    svg, _ = qr.render(code, "svg", 4)
    return CodeOut(code=code, expires_in=seconds, qr_svg=svg.decode())


@router.get("/me/confirmations", response_model=list[ConfirmationOut])
def confirmations(user: Resident, svc: ServicesDep) -> list[ConfirmationOut]:
    """Charges above the resident's card or code limit that wait for their confirmation."""
    return [
        ConfirmationOut(
            payment_request_id=r.id,
            amount=r.amount,
            merchant=m.address or "",
            merchant_name=m.display_name or m.short_code,
            expires_at=aware(r.expires_at).isoformat(),  # type: ignore[union-attr]
        )
        for r, m in svc.charges.awaiting_confirmation(user)
    ]


@router.post(
    "/me/confirmations/{request_pk}",
    responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}},
)
def decide_confirmation(
    request: Request,
    request_pk: Annotated[str, Path(max_length=36)],
    body: ConfirmationIn,
    user: Resident,
    svc: ServicesDep,
) -> JSONResponse:
    """Approves (pays) or declines a shop's charge above the resident's limit; approving twice pays once."""
    payment_request, op = svc.charges.decide_charge(user, request_pk, body.approve)
    with svc.sessions() as db:
        found = queries.request_and_merchant(db, payment_request.id)
    assert found is not None
    merchant = found[1]
    extra: dict[str, object] = {"payment_request": request_out(svc, merchant, payment_request).model_dump()}
    if op is None:
        return JSONResponse(extra)
    return operation_response(request, op, extra)


@router.post("/claims", response_model=ClaimOut, status_code=201)
def submit_claim(body: ClaimIn, user: Resident, svc: ServicesDep) -> ClaimOut:
    """Claims a reward programme's points (e.g. for volunteering); an officer verifies it."""
    claim = svc.claims.submit(user, body.programme_id, body.units, body.evidence)
    return ClaimOut.of(claim)


@router.get("/claims", response_model=list[ClaimOut])
def my_claims(user: Resident, svc: ServicesDep) -> list[ClaimOut]:
    with svc.sessions() as db:
        rows = queries.claims_of(db, user.id)
    return [ClaimOut.of(c) for c in rows]
