"""Points that stay local (issue 21): shop-to-shop (B2B) payments, business rewards and business programmes.

The till (a shop's login) pays a supplier, rewards an employee or customer and runs its own
programme; a resident sees the rewards received; the officer desk registers businesses.
Every money-moving call takes an ``Idempotency-Key`` and answers with its operation (200
confirmed, 202 on its way, the refusal's status when the ledger refused it).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictStr

from wallet_api.business import REWARD_CATEGORIES, business_of
from wallet_api.db.models import User
from wallet_api.deps import IdempotencyKey, Officer, Resident, ServicesDep, ShopOrBusiness, operation_response, role
from wallet_api.errors import ApiError
from wallet_api.statuses import Role

router = APIRouter(prefix="/v1", tags=["business"])
log = logging.getLogger("wallet_api.business")

Points = Annotated[int, Field(ge=1, le=10**12, description="Whole points")]
Who = Annotated[str, Field(min_length=1, max_length=64, description="Member code (or business code) or 0x address")]
ProgrammeId = Annotated[str, Path(max_length=36)]


class LimitsOut(BaseModel):
    max_payment: int = Field(description="The city's cap on one B2B payment (0: closed)")
    max_reward: int = Field(description="The city's cap on one reward to a resident (0: closed)")
    shop_points_months: int = Field(description="Months ahead that points leaving a shop's ledger expire")
    balance: int = Field(description="The shop's points now")


class SupplierPreviewIn(BaseModel):
    to: Who
    amount: Points | None = None


class PartyOut(BaseModel):
    to: str = Field(description="The on-chain address")
    name: str = Field(description="The registered name, shown before confirming")
    kind: str = Field(description="merchant, business or resident")
    code: str | None = None
    limit: int
    balance: int
    amount: int | None = None


class B2BPaymentIn(BaseModel):
    to: Who
    amount: Points
    reference: Annotated[
        str, Field(max_length=32, pattern=r"^[A-Za-z0-9._/#-]*$", description="The shop's own invoice number")
    ] = ""


class RewardPreviewIn(BaseModel):
    member: Who


class RewardIn(BaseModel):
    member: Who
    amount: Points
    category: Literal["commute", "customer", "staff", "eco", "community", "other"] = "customer"


class ProgrammeIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=30)]
    points_per_claim: Points
    budget: Annotated[int, Field(ge=1, le=10**12)]


class ProgrammeOut(BaseModel):
    id: str
    name: str
    points_per_claim: int
    budget: int
    issued: int
    chain_id: int | None
    status: str


class ClaimIn(BaseModel):
    member: Who
    claim_id: Annotated[int | None, Field(ge=0, le=2**63 - 1, description="Pays once; the next number if omitted")] = (
        None
    )


class TransferOut(BaseModel):
    id: str
    kind: str = Field(description="b2b or reward")
    to: str
    name: str
    amount: int
    note: str
    claim_id: int | None
    status: str
    at: str


class ReceivedOut(TransferOut):
    from_: str = Field(alias="from", description="The shop that rewarded you")


class BusinessIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=80, description="The business's registered public name")]
    address: Annotated[str, Field(min_length=1, max_length=42, description="Its 0x address (it holds its own key)")]
    category: Annotated[str, Field(max_length=40)] = ""


class BusinessOut(BaseModel):
    code: str
    name: str
    address: str
    category: str
    status: str
    registered_at: str


assert set(REWARD_CATEGORIES) == set(RewardIn.model_fields["category"].annotation.__args__)  # type: ignore[union-attr]


@router.get("/business/limits", response_model=LimitsOut)
def limits(user: ShopOrBusiness, svc: ServicesDep) -> LimitsOut:
    """The city's caps on one B2B payment and one reward, and the shop's balance."""
    part = business_of(svc)
    c = part.limits()
    return LimitsOut(
        max_payment=c.max_payment,
        max_reward=c.max_reward,
        shop_points_months=c.shop_points_months,
        balance=part.balance(user),
    )


@router.post("/business/suppliers/preview", response_model=PartyOut)
def supplier_preview(body: SupplierPreviewIn, user: ShopOrBusiness, svc: ServicesDep) -> PartyOut:
    """The supplier's registered name (shown before confirming); a resident or an unknown code is refused."""
    return PartyOut(**business_of(svc).preview(user, body.to, body.amount))


@router.post("/business/payments", status_code=200)
def pay_supplier(
    request: Request, body: B2BPaymentIn, user: ShopOrBusiness, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Pays a participating shop or business in points (B2B); nothing moves on a refusal."""
    return operation_response(request, business_of(svc).pay(user, body.to, body.amount, body.reference, key))


@router.post("/business/rewards/preview", response_model=PartyOut)
def reward_preview(body: RewardPreviewIn, user: ShopOrBusiness, svc: ServicesDep) -> PartyOut:
    """The resident's display name before a reward; a shop or business is refused (use B2B)."""
    part = business_of(svc)
    party = part._resident(body.member)  # noqa: SLF001 - the same check the reward runs
    return PartyOut(
        to=party.address,
        name=party.name,
        kind="resident",
        code=party.code,
        limit=part.limits().max_reward,
        balance=part.balance(user),
    )


@router.post("/business/rewards", status_code=200)
def reward(
    request: Request, body: RewardIn, user: ShopOrBusiness, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Rewards an employee or customer (a resident, by member code) from the shop's points."""
    return operation_response(request, business_of(svc).reward(user, body.member, body.amount, body.category, key))


@router.get("/business/transfers", response_model=list[TransferOut])
def transfers(user: ShopOrBusiness, svc: ServicesDep) -> list[TransferOut]:
    """What the shop sent: B2B payments and rewards, newest first."""
    return [TransferOut(**t) for t in business_of(svc).history(user)]


@router.post("/business/programmes", status_code=200)
def create_programme(
    request: Request, body: ProgrammeIn, user: ShopOrBusiness, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Starts a programme of the shop's own, paid from its points (e.g. 50 pt for cycling to work)."""
    op = business_of(svc).create_programme(user, body.name, body.points_per_claim, body.budget, key)
    return operation_response(request, op)


@router.get("/business/programmes", response_model=list[ProgrammeOut])
def programmes(user: ShopOrBusiness, svc: ServicesDep) -> list[ProgrammeOut]:
    """The shop's programmes with what each has paid."""
    return [ProgrammeOut(**p) for p in business_of(svc).programmes(user)]


@router.post("/business/programmes/{programme_id}/claims", status_code=200)
def award(
    request: Request,
    programme_id: ProgrammeId,
    body: ClaimIn,
    user: ShopOrBusiness,
    key: IdempotencyKey,
    svc: ServicesDep,
) -> JSONResponse:
    """Pays one claim of the shop's programme to a resident; a claim id pays once; out of points is refused."""
    op = business_of(svc).award(user, programme_id, body.member, body.claim_id, key)
    return operation_response(request, op)


@router.get("/business/rewards/received", response_model=list[ReceivedOut])
def received(user: Resident, svc: ServicesDep) -> list[ReceivedOut]:
    """Rewards the resident received from shops and businesses, newest first."""
    return [ReceivedOut(**r) for r in business_of(svc).received(user)]


@router.post("/officer/businesses", status_code=200)
def register_business(
    request: Request, body: BusinessIn, user: Officer, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Registers a business (法人) on the ledger after the officer checked it; recorded with the officer."""
    op = business_of(svc).register_business(user, body.name.strip(), body.address.strip(), body.category.strip(), key)
    log.info("officer %s registered business %s (operation %s)", user.public_id, body.address.strip(), op.id)
    return operation_response(request, op)


@router.get("/officer/businesses", response_model=list[BusinessOut])
def businesses(user: Officer, svc: ServicesDep) -> list[BusinessOut]:
    """The businesses registered from the desk, with their code for paying shops."""
    return [BusinessOut(**b) for b in business_of(svc).businesses()]


# -- custodial business accounts: a business that is not a shop, at the till (issue 21) ----------------
BusinessUser = Annotated[User, Depends(role(Role.BUSINESS, active=False))]
PublicId = Annotated[str, Path(max_length=36)]


class BusinessApplicationIn(BaseModel):
    """A business (法人, not a shop) applies for a wallet account; the city checks it on the officer desk."""

    model_config = {"extra": "forbid"}
    login: Annotated[StrictStr, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._@+-]+$")]
    password: Annotated[StrictStr, Field(min_length=10, max_length=200)]
    name: Annotated[StrictStr, Field(min_length=1, max_length=80, description="The registered (public) name")]
    category: Annotated[StrictStr, Field(max_length=40)] = ""
    representative: Annotated[StrictStr, Field(min_length=1, max_length=100, description="Sealed, for the desk")]
    postal_address: Annotated[StrictStr, Field(min_length=1, max_length=300, description="Sealed, for the desk")]
    corporate_number: Annotated[
        StrictStr, Field(min_length=1, max_length=20, description="法人番号, 13 digits (hyphens and spaces ignored)")
    ]


class BusinessApplicationCreated(BaseModel):
    id: str
    status: str
    short_code: str


class BusinessAccountOut(BaseModel):
    name: str = Field(description="The registered name")
    category: str
    status: str = Field(description="pending (waiting for the city), approving, active, rejected, suspended")
    reason: str | None = Field(description="The desk's reason (shown when rejected)")
    code: str = Field(description="The code shops and businesses type to pay it")
    address: str


class BusinessApplicationOut(BaseModel):
    id: str
    code: str
    name: str
    category: str
    status: str
    address: str
    applied_at: str
    reason: str | None


class BusinessDecisionIn(BaseModel):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


@router.post("/business/applications", status_code=201, response_model=BusinessApplicationCreated)
def apply_business(body: BusinessApplicationIn, svc: ServicesDep) -> BusinessApplicationCreated:
    """A business applies (from the till site): a pending account with a custodial key; the city decides."""
    profile = {
        "name": _clean(body.name),
        "category": _clean(body.category),
        "representative": _clean(body.representative),
        "postal_address": _clean(body.postal_address),
        "corporate_number": re.sub(r"[\s\-]", "", _clean(body.corporate_number)),
    }
    for field in ("name", "representative", "postal_address"):
        if not profile[field]:
            raise ApiError("VALIDATION_ERROR", {field: "must not be blank"})
    for field, longest in (("name", 80), ("category", 40), ("representative", 100), ("postal_address", 300)):
        if len(profile[field]) > longest:  # NFKC can lengthen a string (㍻ → 平成)
            raise ApiError("VALIDATION_ERROR", {field: f"at most {longest} characters"})
    user = business_of(svc).apply(body.login, body.password, profile)
    log.info("business application %s (%s)", user.public_id, profile["name"])
    return BusinessApplicationCreated(id=user.public_id, status=user.status, short_code=user.short_code)


@router.get("/business/account", response_model=BusinessAccountOut)
def business_account(user: BusinessUser, svc: ServicesDep) -> BusinessAccountOut:
    """The business's own account: its registered name, state (and the desk's reason), its code."""
    return BusinessAccountOut(**business_of(svc).account(user))


@router.get("/officer/business-accounts", response_model=list[BusinessApplicationOut])
def business_applications(
    user: Officer,
    svc: ServicesDep,
    status: Annotated[Literal["pending", "approving", "active", "rejected", "suspended", "all"], Query()] = "pending",
) -> list[BusinessApplicationOut]:
    """Business accounts by state (public details only; the sealed representative stays sealed)."""
    return [BusinessApplicationOut(**a) for a in business_of(svc).applications(status)]


@router.post("/officer/business-accounts/{public_id}/approve", status_code=200)
def approve_business(
    request: Request,
    public_id: PublicId,
    body: BusinessDecisionIn,
    user: Officer,
    key: IdempotencyKey,
    svc: ServicesDep,
) -> JSONResponse:
    """Approves: the wallet registers the custodial address on-chain as kind Business (once per key)."""
    op = business_of(svc).approve_account(user, public_id, body.reason, key)
    log.info("officer %s approved business %s (operation %s)", user.public_id, public_id, op.id)
    return operation_response(request, op)


@router.post("/officer/business-accounts/{public_id}/reject", response_model=BusinessApplicationOut)
def reject_business(
    public_id: PublicId, body: BusinessDecisionIn, user: Officer, svc: ServicesDep
) -> BusinessApplicationOut:
    """Rejects the application with a reason the business sees at the till; nothing is registered."""
    part = business_of(svc)
    part.reject_account(user, public_id, body.reason)
    log.info("officer %s rejected business %s", user.public_id, public_id)
    return next(BusinessApplicationOut(**a) for a in part.applications("all") if a["id"] == public_id)
