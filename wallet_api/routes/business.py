"""Points that stay local (issue 21): shop-to-shop (B2B) payments, business rewards and business programmes.

The till (a shop's login) pays a supplier, rewards an employee or customer and runs its own
programme; a resident sees the rewards received; the officer desk registers businesses.
Every money-moving call takes an ``Idempotency-Key`` and answers with its operation (200
confirmed, 202 on its way, the refusal's status when the ledger refused it).
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from wallet_api.business import REWARD_CATEGORIES, business_of
from wallet_api.deps import IdempotencyKey, Merchant, Officer, Resident, ServicesDep, operation_response

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
def limits(user: Merchant, svc: ServicesDep) -> LimitsOut:
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
def supplier_preview(body: SupplierPreviewIn, user: Merchant, svc: ServicesDep) -> PartyOut:
    """The supplier's registered name (shown before confirming); a resident or an unknown code is refused."""
    return PartyOut(**business_of(svc).preview(user, body.to, body.amount))


@router.post("/business/payments", status_code=200)
def pay_supplier(
    request: Request, body: B2BPaymentIn, user: Merchant, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Pays a participating shop or business in points (B2B); nothing moves on a refusal."""
    return operation_response(request, business_of(svc).pay(user, body.to, body.amount, body.reference, key))


@router.post("/business/rewards/preview", response_model=PartyOut)
def reward_preview(body: RewardPreviewIn, user: Merchant, svc: ServicesDep) -> PartyOut:
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
def reward(request: Request, body: RewardIn, user: Merchant, key: IdempotencyKey, svc: ServicesDep) -> JSONResponse:
    """Rewards an employee or customer (a resident, by member code) from the shop's points."""
    return operation_response(request, business_of(svc).reward(user, body.member, body.amount, body.category, key))


@router.get("/business/transfers", response_model=list[TransferOut])
def transfers(user: Merchant, svc: ServicesDep) -> list[TransferOut]:
    """What the shop sent: B2B payments and rewards, newest first."""
    return [TransferOut(**t) for t in business_of(svc).history(user)]


@router.post("/business/programmes", status_code=200)
def create_programme(
    request: Request, body: ProgrammeIn, user: Merchant, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Starts a programme of the shop's own, paid from its points (e.g. 50 pt for cycling to work)."""
    op = business_of(svc).create_programme(user, body.name, body.points_per_claim, body.budget, key)
    return operation_response(request, op)


@router.get("/business/programmes", response_model=list[ProgrammeOut])
def programmes(user: Merchant, svc: ServicesDep) -> list[ProgrammeOut]:
    """The shop's programmes with what each has paid."""
    return [ProgrammeOut(**p) for p in business_of(svc).programmes(user)]


@router.post("/business/programmes/{programme_id}/claims", status_code=200)
def award(
    request: Request, programme_id: ProgrammeId, body: ClaimIn, user: Merchant, key: IdempotencyKey, svc: ServicesDep
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
