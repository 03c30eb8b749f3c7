"""City officers: verify pending accounts (real-name check) and decide programme claims."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import select

from wallet_api import accounts, claims
from wallet_api.auth import aware
from wallet_api.db.models import Claim, User
from wallet_api.deps import IdempotencyKey, Officer, ServicesDep, operation_out
from wallet_api.errors import ApiError, preferred_language
from wallet_api.schemas import AccountDecisionOut, ClaimOut, PendingAccountOut

router = APIRouter(prefix="/v1/officer", tags=["officer"])
PublicId = Annotated[str, Path(max_length=36)]


@router.get("/accounts", response_model=list[PendingAccountOut])
def list_accounts(
    officer: Officer,
    svc: ServicesDep,
    status: Annotated[Literal["pending", "approving", "active", "rejected"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[PendingAccountOut]:
    """Accounts by status, with the real-name record the officer checks against an ID document."""
    with svc.sessions() as db:
        rows = db.scalars(
            select(User)
            .where(User.status == status, User.role.in_(("resident", "merchant")))
            .order_by(User.id)
            .limit(limit)
        ).all()
    return [
        PendingAccountOut(
            id=u.public_id,
            login=u.login,
            role=u.role,
            status=u.status,
            address=u.address,
            display_name=u.display_name,
            created_at=aware(u.created_at).isoformat(),  # type: ignore[union-attr]
            record=accounts.personal_record(svc, u),
        )
        for u in rows
    ]


@router.post("/accounts/{public_id}/approve", response_model=AccountDecisionOut)
def approve(
    request: Request, public_id: PublicId, officer: Officer, key: IdempotencyKey, svc: ServicesDep
) -> AccountDecisionOut:
    """Registers the verified person's account on-chain; it is active once the registration confirms."""
    try:
        op = accounts.approve(svc, officer, public_id, key)
    except ApiError as exc:
        if exc.code != "ACCOUNT_ALREADY_REGISTERED":
            raise
        accounts.mark_active(svc, public_id)
        return AccountDecisionOut(id=public_id, status="active")
    with svc.sessions() as db:
        user = db.scalar(select(User).where(User.public_id == public_id))
    language = preferred_language(request.headers.get("accept-language"))
    return AccountDecisionOut(
        id=public_id, status=user.status if user else "unknown", operation=operation_out(op, language)
    )


@router.post("/accounts/{public_id}/reject", response_model=AccountDecisionOut)
def reject(public_id: PublicId, officer: Officer, svc: ServicesDep) -> AccountDecisionOut:
    accounts.reject(svc, officer, public_id)
    return AccountDecisionOut(id=public_id, status="rejected")


@router.get("/claims", response_model=list[ClaimOut])
def list_claims(
    officer: Officer,
    svc: ServicesDep,
    status: Annotated[Literal["pending", "approving", "granted", "rejected", "failed"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ClaimOut]:
    with svc.sessions() as db:
        rows = db.execute(
            select(Claim, User.address)
            .join(User, User.id == Claim.user_id)
            .where(Claim.status == status)
            .order_by(Claim.id)
            .limit(limit)
        ).all()
    return [ClaimOut.of(c, a) for c, a in rows]


@router.post("/claims/{public_id}/{decision}", response_model=ClaimOut)
def decide(
    request: Request,
    public_id: PublicId,
    decision: Literal["approve", "reject"],
    officer: Officer,
    key: IdempotencyKey,
    svc: ServicesDep,
) -> ClaimOut:
    """Approving attests the claim on-chain (the programme pays it at most once)."""
    claim, _ = claims.decide_claim(svc, officer, public_id, decision == "approve", key)
    return ClaimOut.of(claim)
