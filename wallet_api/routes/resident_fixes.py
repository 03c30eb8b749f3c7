"""Answers the residents' app needed for two of issue 21's first-run fixes.

- ``POST /v1/me/payment-codes/state``: what became of the one-time code on screen — still
  waiting, expired, or charged by a shop (which shop, how much, paying / paid / waiting for my
  approval), so the "show code" screen changes when the till charges it instead of showing a
  stale code.
- ``GET /v1/me/thanks/limits``: the daily thanks caps, what I sent today and when the caps
  reset (midnight JST), shown on the thanks screen and in its refusal.

The code is posted, not put in the path: it is a bearer secret until used, and paths are logged.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlalchemy import select
from web3.exceptions import Web3RPCError

from wallet_api.auth import aware, now
from wallet_api.db.models import PaymentCode, PaymentRequest, User
from wallet_api.deps import Resident, ServicesDep
from wallet_api.errors import ApiError
from wallet_api.payments import current_status

router = APIRouter(prefix="/v1", tags=["wallet"])
CHARGE_MARGIN = timedelta(seconds=5)  # the charge's request is made just after the code is marked used


class CodeStateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[StrictStr, Field(min_length=10, max_length=100, description="The one-time code on screen")]


class CodeStateOut(BaseModel):
    state: Literal["waiting", "expired", "used", "charged"] = Field(
        description="waiting: not used yet; used: a shop scanned it (no payment yet); charged: see status"
    )
    status: str | None = Field(description="the charge's payment: paying, paid, confirming (my approval), …")
    amount: int | None
    merchant_name: str | None


class ThanksLimitsOut(BaseModel):
    per_day: int = Field(description="thanks one resident may send per JST day")
    points_per_day: int = Field(description="points one resident may send as thanks per JST day")
    sent_today: int
    points_today: int
    resets_at: str = Field(description="when the counts start again: the next midnight in Japan (ISO 8601, UTC)")


@router.post("/me/payment-codes/state", response_model=CodeStateOut)
def code_state(body: CodeStateIn, user: Resident, svc: ServicesDep) -> CodeStateOut:
    """What became of my one-time code: waiting, expired, or charged (by which shop, how much, in what state)."""
    digest = hashlib.sha256(body.code.strip().encode()).hexdigest()
    with svc.sessions() as db:
        code = db.get(PaymentCode, digest)
        if code is None or code.user_id != user.id:  # another's code tells nothing
            raise ApiError("NOT_FOUND")
        used = aware(code.used_at)
        if used is None:
            expires = aware(code.expires_at)
            state: Literal["waiting", "expired"] = "expired" if expires is not None and expires <= now() else "waiting"
            return CodeStateOut(state=state, status=None, amount=None, merchant_name=None)
        found = db.execute(
            select(PaymentRequest, User)
            .join(User, User.id == PaymentRequest.merchant_id)
            .where(PaymentRequest.payer_id == user.id, PaymentRequest.created_at >= used - CHARGE_MARGIN)
            .order_by(PaymentRequest.created_at)
            .limit(1)
        ).first()
    if found is None:
        return CodeStateOut(state="used", status=None, amount=None, merchant_name=None)
    request, merchant = found
    return CodeStateOut(
        state="charged",
        status=str(current_status(request)),
        amount=request.amount,
        merchant_name=merchant.display_name or merchant.short_code,
    )


@router.get("/me/thanks/limits", response_model=ThanksLimitsOut)
def thanks_limits(user: Resident, svc: ServicesDep) -> ThanksLimitsOut:
    """The daily thanks caps, what I sent today, and when they reset (midnight JST)."""
    try:
        return ThanksLimitsOut(**svc.thanks.allowance(user))
    except (Web3RPCError, ConnectionError, OSError, TimeoutError):
        raise ApiError("NODE_UNAVAILABLE", status=503) from None
