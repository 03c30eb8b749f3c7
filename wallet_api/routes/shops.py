"""Shops for residents (issue 21): the directory, a shop's page and its static QR; merchant
applications and settlement states.

Who may do what: anyone reads the directory and a listed shop's printed QR (shop names are
public business data); a resident pays by a static QR; a merchant account (even one still
waiting for the city) applies and keeps its profile; a verified merchant hears its payments
and follows its settlements; an officer decides applications, marks settlements paid and
exports them (each recorded on the counter's log).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StrictBool, StrictStr
from starlette.concurrency import run_in_threadpool

from wallet_api import qr, queries
from wallet_api.auth import aware, now
from wallet_api.db.models import User
from wallet_api.db.models_shops import Shop, ShopStatus
from wallet_api.deps import IdempotencyKey, Merchant, Officer, Resident, ServicesDep, operation_response, role
from wallet_api.errors import ApiError
from wallet_api.officer_desk import OfficerDesk
from wallet_api.routes.merchant import request_out
from wallet_api.schemas import PaymentRequestOut, Points
from wallet_api.services import Services
from wallet_api.shops import Listed, method_of, paid_since, settlement_state, shops_of, static_uri
from wallet_api.statuses import AccountStatus, Role

router = APIRouter(prefix="/v1", tags=["shops"])
AnyMerchant = Annotated[User, Depends(role(Role.MERCHANT, active=False))]
ShopCode = Annotated[str, Path(min_length=1, max_length=42, pattern=r"^[0-9A-Za-z]+$")]
PublicId = Annotated[str, Path(max_length=36)]
Text40 = Annotated[StrictStr, Field(min_length=1, max_length=40)]


class ShopOut(BaseModel):
    """A listed shop as residents see it (public business data only)."""

    code: str = Field(description="the shop's member code (its page: /v1/shops/{code})")
    name: str = Field(description="the registered name, as approved by the city")
    category: str
    district: str
    hours: str
    takes_cards: bool
    static_limit: int = Field(description="the most one static-QR payment may be (points)")
    address: str
    static_uri: str = Field(description="the text of the shop's printed QR (docs/payment-uri.md)")


class BankIn(BaseModel):
    bank: Text40
    branch: Text40
    account_type: Literal["普通", "当座", "ordinary", "current"]
    account_number: Annotated[StrictStr, Field(pattern=r"^[0-9]{4,8}$")]
    holder: Annotated[StrictStr, Field(min_length=1, max_length=60)]


class ShopIn(BaseModel):
    """The till's application or profile: a new name waits for the city; ``bank`` is needed the first time."""

    name: Annotated[StrictStr, Field(min_length=1, max_length=80)]
    category: Text40
    district: Text40
    hours: Annotated[StrictStr, Field(min_length=1, max_length=120)]
    takes_cards: StrictBool
    static_limit: Annotated[int, Field(ge=1, le=100_000, strict=True)]
    bank: BankIn | None = None


class ShopProfileOut(BaseModel):
    status: str = Field(description="pending (waiting for the city), approved, rejected")
    name: str | None = Field(description="the registered name (null until first approved)")
    requested_name: str
    category: str
    district: str
    hours: str
    takes_cards: bool
    static_limit: int
    reason: str | None
    bank_on_file: str = Field(description="the bank and the account's last digits, never the whole account")
    static_uri: str | None = Field(description="the printed QR's text once the shop is listed")


class ApplicationOut(BaseModel):
    id: str = Field(description="the merchant account's id")
    code: str
    status: str
    name: str | None
    requested_name: str
    category: str
    district: str
    hours: str
    takes_cards: bool
    static_limit: int
    account_status: str
    applied_at: str
    reason: str | None


class DecisionIn(BaseModel):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class ResolveIn(BaseModel):
    uri: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class AmountIn(BaseModel):
    amount: Points


class StaticPreviewOut(BaseModel):
    shop: ShopOut
    amount: int
    balance: int | None


class HeardOut(BaseModel):
    cursor: str = Field(description="pass as ``after`` next time")
    payments: list[PaymentRequestOut]
    methods: dict[str, str] = Field(description="payment request id → qr, static or charge")


class SettlementOut(BaseModel):
    id: str
    shop_name: str
    code: str
    amount: int
    status: str = Field(description="sending, requested (the city owes it), paid, failed")
    requested_at: str
    paid_at: str | None
    transfer_date: str | None
    transfer_reference: str | None
    reference: str


class PaidIn(BaseModel):
    transfer_date: Annotated[StrictStr, Field(pattern=r"^20[0-9]{2}-[01][0-9]-[0-3][0-9]$")]
    transfer_reference: Annotated[StrictStr, Field(min_length=1, max_length=40)]


def shop_out(svc: Services, listed: Listed) -> ShopOut:
    shop, merchant = listed.shop, listed.merchant
    return ShopOut(
        code=merchant.short_code,
        name=shop.name or "",
        category=shop.category,
        district=shop.district,
        hours=shop.hours,
        takes_cards=shop.takes_cards,
        static_limit=shop.static_limit,
        address=merchant.address or "",
        static_uri=static_uri(merchant.address or "", svc.ledger.chain_id),
    )


def application_out(shop: Shop, user: User) -> ApplicationOut:
    applied = aware(shop.applied_at)
    return ApplicationOut(
        id=user.public_id,
        code=user.short_code,
        status=shop.status,
        name=shop.name,
        requested_name=shop.requested_name,
        category=shop.category,
        district=shop.district,
        hours=shop.hours,
        takes_cards=shop.takes_cards,
        static_limit=shop.static_limit,
        account_status=user.status,
        applied_at=applied.isoformat() if applied else "",
        reason=shop.reason,
    )


# -- the directory (public) ----------------------------------------------------------------------
@router.get("/shops", response_model=list[ShopOut])
def directory(
    svc: ServicesDep,
    q: Annotated[str | None, Query(max_length=80, description="words in the name, category or district")] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    district: Annotated[str | None, Query(max_length=40)] = None,
) -> list[ShopOut]:
    """Participating shops (registered name, category, district, hours, cards), by name; no log-in needed."""
    return [shop_out(svc, r) for r in shops_of(svc).directory(q, category, district)]


@router.get("/shops/names", response_model=dict[str, str])
def names(svc: ServicesDep) -> dict[str, str]:
    """Every registered shop name by merchant address: what the explorer shows beside an address."""
    return shops_of(svc).names()


@router.get("/shops/{code}", response_model=ShopOut)
def shop_page(code: ShopCode, svc: ServicesDep) -> ShopOut:
    """A listed shop's page, with the text of its printed QR."""
    return shop_out(svc, shops_of(svc).listed(code))


@router.get("/shops/{code}/qr.{fmt}", response_class=Response)
def shop_qr(
    code: ShopCode,
    fmt: Annotated[str, Path(pattern="^(png|svg)$")],
    svc: ServicesDep,
    scale: Annotated[int, Query(ge=1, le=40)] = 8,
) -> Response:
    """The shop's printed QR (店舗掲示型): the resident scans it and types the amount."""
    listed = shops_of(svc).listed(code)
    content, media_type = qr.render(static_uri(listed.merchant.address or "", svc.ledger.chain_id), fmt, scale)
    return Response(content, media_type=media_type, headers={"Cache-Control": "no-cache"})


# -- paying by a static QR (residents) -----------------------------------------------------------
@router.post("/shops/resolve", response_model=ShopOut)
def resolve(body: ResolveIn, user: Resident, svc: ServicesDep) -> ShopOut:
    """The listed shop a scanned shop QR names (its registered name is shown before the amount is typed)."""
    return shop_out(svc, shops_of(svc).resolve(body.uri))


def _balance(svc: Services, user: User) -> int | None:
    try:
        return svc.ledger.balance(user.address or "")[0]
    except Exception:  # noqa: BLE001 - the balance is a courtesy; the payment itself is checked on-chain
        return None


@router.post("/shops/{code}/preview", response_model=StaticPreviewOut)
def preview(code: ShopCode, body: AmountIn, user: Resident, svc: ServicesDep) -> StaticPreviewOut:
    """What paying ``amount`` to this shop would be, to confirm: the shop's name and the balance. Nothing is paid.

    Over the shop's per-payment limit: ``STATIC_LIMIT_EXCEEDED`` (detail: limit, amount,
    merchant_name); more than the balance: ``INSUFFICIENT_BALANCE`` (detail: balance).
    """
    part = shops_of(svc)
    listed = part.listed(code)
    part.check_amount(listed, body.amount)
    balance = _balance(svc, user)
    if balance is not None and balance < body.amount:
        raise ApiError(
            "INSUFFICIENT_BALANCE", {"balance": balance, "amount": body.amount, "merchant_name": listed.shop.name}
        )
    return StaticPreviewOut(shop=shop_out(svc, listed), amount=body.amount, balance=balance)


@router.post("/shops/{code}/payments", responses={200: {"model": dict}, 202: {"model": dict}})
def pay(
    request: Request, code: ShopCode, body: AmountIn, user: Resident, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Pays ``amount`` to the shop by its static QR; retry under the same Idempotency-Key, which never pays twice."""
    op = shops_of(svc).pay_static(user, code, body.amount, key)
    with svc.sessions() as db:
        found = queries.request_and_merchant(db, str(op.summary.get("payment_request") or ""))
    extra: dict[str, object] = {"payment_request": request_out(svc, found[1], found[0]).model_dump()} if found else {}
    return operation_response(request, op, extra)


# -- the shop's own profile, what it hears, its settlements (till) --------------------------------
def _profile(svc: Services, user: User, shop: Shop) -> ShopProfileOut:
    bank = shops_of(svc).bank_of(user, shop)
    digits = str(bank.get("account_number", ""))
    return ShopProfileOut(
        status=shop.status,
        name=shop.name,
        requested_name=shop.requested_name,
        category=shop.category,
        district=shop.district,
        hours=shop.hours,
        takes_cards=shop.takes_cards,
        static_limit=shop.static_limit,
        reason=shop.reason,
        bank_on_file=f"{bank.get('bank', '')} ****{digits[-3:]}",
        static_uri=static_uri(user.address or "", svc.ledger.chain_id)
        if shop.name and user.status == AccountStatus.ACTIVE
        else None,
    )


@router.get("/merchant/shop", response_model=ShopProfileOut)
def my_shop(user: AnyMerchant, svc: ServicesDep) -> ShopProfileOut:
    """The shop's profile and application state (NOT_FOUND before the first application)."""
    shop = shops_of(svc).own(user)
    if shop is None:
        raise ApiError("NOT_FOUND")
    return _profile(svc, user, shop)


@router.put("/merchant/shop", response_model=ShopProfileOut)
def apply(body: ShopIn, user: AnyMerchant, svc: ServicesDep) -> ShopProfileOut:
    """Applies (the first time, with the bank account) or updates the profile; a new name waits for the city."""
    profile = body.model_dump(exclude={"bank"})
    shop = shops_of(svc).apply(user, profile, body.bank.model_dump() if body.bank else None)
    return _profile(svc, user, shop)


@router.get("/merchant/payments/heard", response_model=HeardOut)
async def heard(
    user: Merchant,
    svc: ServicesDep,
    after: Annotated[datetime | None, Query(description="the cursor of the last answer")] = None,
    wait: Annotated[int, Query(ge=0, le=5, description="seconds to wait for a payment")] = 0,
) -> HeardOut:
    """Long-poll: the shop's payments (any method) paid at or after ``after``, the moment one arrives.

    Without ``after``, nothing yet: the answer's ``cursor`` starts listening from now. Woken
    by the payment's settling in this process; another worker's payments are read on a
    1-second re-check.
    """
    started = now()
    try:
        since = aware(after).astimezone(UTC) if after is not None else None  # type: ignore[union-attr]
    except (OverflowError, ValueError):
        raise ApiError("VALIDATION_ERROR", {"after": "a cursor from an earlier answer"}) from None
    subscription = svc.notifier.subscribe(f"merchant:{user.id}")
    try:
        while True:
            found = []
            if since is not None:
                with svc.sessions() as db:
                    found = paid_since(db, user.id, since)
            elapsed = (now() - started).total_seconds()
            if found or since is None or elapsed >= wait:
                break
            await subscription.wait(min(1.0, wait - elapsed))
    finally:
        subscription.close()
    heard_at = [t for t in (aware(r.paid_at) for r in found) if t is not None]
    cursor = max(heard_at, default=since or started)
    return HeardOut(
        cursor=(cursor or started).isoformat(),
        payments=[request_out(svc, user, r) for r in found],
        methods={r.id: method_of(r) for r in found},
    )


def _settlement_out(row: tuple) -> SettlementOut:  # type: ignore[type-arg]
    settlement, op, merchant, shop = row
    requested, paid = aware(settlement.requested_at), aware(settlement.paid_at)
    return SettlementOut(
        id=settlement.id,
        shop_name=(shop.name if shop is not None else None) or merchant.display_name or merchant.short_code,
        code=merchant.short_code,
        amount=settlement.amount,
        status=settlement_state(settlement, op),
        requested_at=requested.isoformat() if requested else "",
        paid_at=paid.isoformat() if paid else None,
        transfer_date=settlement.transfer_date,
        transfer_reference=settlement.transfer_reference,
        reference=settlement.reference,
    )


@router.get("/merchant/settlements", response_model=list[SettlementOut])
def my_settlements(user: Merchant, svc: ServicesDep) -> list[SettlementOut]:
    """The shop's settlements, newest first: requested → paid by the city (transfer date and reference)."""
    return [_settlement_out(r) for r in shops_of(svc).settlements(user.id)]


# -- the city (officer desk) ------------------------------------------------------------------------
@router.get("/officer/shops", response_model=list[ApplicationOut])
def applications(
    officer: Officer,
    svc: ServicesDep,
    status: Annotated[Literal["pending", "approved", "rejected", "all"], Query()] = "pending",
) -> list[ApplicationOut]:
    """Shop applications by state (business details only; bank accounts are opened only by the export)."""
    rows = shops_of(svc).applications(None if status == "all" else ShopStatus(status))
    return [application_out(r.shop, r.merchant) for r in rows]


@router.post("/officer/shops/{public_id}/approve", response_model=ApplicationOut)
def approve(
    public_id: PublicId, body: DecisionIn, officer: Officer, key: IdempotencyKey, svc: ServicesDep
) -> ApplicationOut:
    """Approves the application: the name becomes the registered one; an account not yet on-chain is registered."""
    decided = shops_of(svc).decide(officer, public_id, True, body.reason)
    if decided.merchant.status == AccountStatus.PENDING:
        svc.accounts.approve(officer, public_id, key)  # the on-chain registration, as for any approved account
        OfficerDesk(svc.sessions, svc.accounts).approved(officer, public_id, body.reason)
    with svc.sessions() as db:
        user = db.get(User, decided.merchant.id)
        shop = db.get(Shop, decided.merchant.id)
        assert user is not None and shop is not None
        return application_out(shop, user)


@router.post("/officer/shops/{public_id}/reject", response_model=ApplicationOut)
def reject(public_id: PublicId, body: DecisionIn, officer: Officer, svc: ServicesDep) -> ApplicationOut:
    """Rejects the application with a reason the shop sees on the till (a listed shop keeps its old name)."""
    decided = shops_of(svc).decide(officer, public_id, False, body.reason)
    return application_out(decided.shop, decided.merchant)


@router.get("/officer/settlements", response_model=list[SettlementOut])
def settlements(
    officer: Officer,
    svc: ServicesDep,
    status: Annotated[Literal["sending", "requested", "paid", "failed", "all"], Query()] = "all",
) -> list[SettlementOut]:
    """Every shop's settlements, newest first, with the registered shop name."""
    rows = [_settlement_out(r) for r in shops_of(svc).settlements()]
    return [r for r in rows if status == "all" or r.status == status]


@router.post("/officer/settlements/{settlement_id}/paid", response_model=SettlementOut)
def mark_paid(
    settlement_id: Annotated[str, Path(max_length=36)], body: PaidIn, officer: Officer, svc: ServicesDep
) -> SettlementOut:
    """The city transferred the yen: the settlement becomes ``paid`` with the date and the bank's reference."""
    try:
        datetime.fromisoformat(body.transfer_date)
    except ValueError:
        raise ApiError("VALIDATION_ERROR", {"transfer_date": "a real date, YYYY-MM-DD"}) from None
    part = shops_of(svc)
    part.mark_paid(officer, settlement_id, body.transfer_date, body.transfer_reference)
    return next(_settlement_out(r) for r in part.settlements() if r[0].id == settlement_id)


@router.get("/officer/settlements.csv", response_class=Response)
async def export(
    officer: Officer,
    svc: ServicesDep,
    status: Annotated[Literal["sending", "requested", "paid", "failed", "all"], Query()] = "requested",
    encoding: Annotated[Literal["utf-8", "shift_jis"], Query()] = "utf-8",
) -> Response:
    """The settlements for municipal accounting (CSV: shop name, bank account, amounts, a totals row).

    UTF-8 with a BOM by default; ``encoding=shift_jis`` for systems that import Shift_JIS.
    """
    content = await run_in_threadpool(shops_of(svc).export_csv, officer, status, encoding)
    charset = "shift_jis" if encoding == "shift_jis" else "utf-8"
    stamp = now().strftime("%Y%m%d")
    return Response(
        content,
        media_type=f"text/csv; charset={charset}",
        headers={"Content-Disposition": f'attachment; filename="settlements-{stamp}.csv"', "Cache-Control": "no-store"},
    )
