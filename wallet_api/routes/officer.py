"""City officers: verify pending accounts (real-name check) and decide programme claims.

Every decision is logged with the officer's identity, and every opening of a sealed
personal record is recorded (who read whose record, why, when) and listed on the desk.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from wallet_api import queries
from wallet_api.auth import aware
from wallet_api.db.models import User
from wallet_api.deps import IdempotencyKey, Officer, ServicesDep, operation_out, operation_response
from wallet_api.errors import ApiError, preferred_language
from wallet_api.officer_desk import OfficerDesk, StatusChange
from wallet_api.schemas import (
    AccountDecisionOut,
    ClaimOut,
    HelpActionOut,
    HelpCaseOut,
    HelpRemoveIn,
    HelpReportOut,
    HelpResolveIn,
    HelpSuspendIn,
    PaymentOut,
    PendingAccountOut,
    RecordReadOut,
)
from wallet_api.statuses import AccountStatus, ClaimStatus, HelpStatus

router = APIRouter(prefix="/v1/officer", tags=["officer"])
PublicId = Annotated[str, Path(max_length=36)]
log = logging.getLogger("wallet_api.officer")
Reason = Annotated[str, Query(min_length=1, max_length=80, description="Why the records are opened (audited)")]


def _decision(officer: User, what: str, target: str, outcome: str) -> None:
    log.info("officer %s (%s) %s %s: %s", officer.login, officer.public_id, what, target, outcome)


@router.get("/accounts", response_model=list[PendingAccountOut])
def list_accounts(
    officer: Officer,
    svc: ServicesDep,
    status: Annotated[Literal["pending", "approving", "active", "rejected"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    reason: Reason = "identity verification",
) -> list[PendingAccountOut]:
    """Accounts by status, with the real-name record the officer checks against an ID document.

    Each record shown is an audited read (``GET /v1/officer/reads``).
    """
    with svc.sessions() as db:
        rows = queries.members_by_status(db, AccountStatus(status), limit)
    records = svc.accounts.personal_records(rows, officer, reason)
    return [
        PendingAccountOut(
            id=u.public_id,
            login=u.login,
            role=u.role,
            status=u.status,
            address=u.address,
            display_name=u.display_name,
            created_at=aware(u.created_at).isoformat(),  # type: ignore[union-attr]
            record=record,
        )
        for u, record in zip(rows, records, strict=True)
    ]


@router.get("/reads", response_model=list[RecordReadOut])
def record_reads(
    officer: Officer, svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[RecordReadOut]:
    """The trail of personal-record reads, newest first: which officer read whose record, why, when."""
    with svc.sessions() as db:
        rows = queries.record_reads(db, limit)
    return [
        RecordReadOut(
            officer=r.login if r is not None else "(command line)",
            officer_name=r.display_name if r is not None else None,
            account=a.public_id,
            account_login=a.login,
            reason=read.reason,
            read_at=aware(read.read_at).isoformat(),  # type: ignore[union-attr]
        )
        for read, r, a in rows
    ]


class DecisionIn(BaseModel):
    """Why the officer decides so (recorded with the officer; a rejection's reason is shown to the applicant)."""

    reason: str = Field(min_length=1, max_length=200)


class MemberRowOut(BaseModel):
    """One member on the desk's list: member code, address, the real name (an audited read)."""

    id: str
    short_code: str
    address: str | None
    login: str
    role: str
    status: str
    display_name: str | None
    name: str | None
    date_of_birth: str | None = Field(default=None, description="Only while the sign-up awaits a decision")
    postal_address: str | None = Field(default=None, description="Only while the sign-up awaits a decision")
    failed_logins: int
    locked: bool
    created_at: str
    duplicates: list[str] = Field(
        default_factory=list, description="Member codes of likely duplicates (same name and birth date, or address)"
    )


class StatusChangeOut(BaseModel):
    """The member's status in the wallet now, and the command a registrar officer runs to do the same on-chain."""

    id: str
    status: str
    registrar_command: str | None = Field(
        default=None,
        description="The wallet's service key may not change an account's on-chain status (REGISTRAR only)",
    )


def _desk(svc: ServicesDep) -> OfficerDesk:
    return OfficerDesk(svc.sessions, svc.accounts)


@router.get("/members", response_model=list[MemberRowOut])
def members(
    officer: Officer,
    svc: ServicesDep,
    status: Annotated[Literal["pending", "approving", "active", "suspended", "rejected"], Query()] = "active",
    code: Annotated[
        str | None, Query(max_length=12, pattern=r"^[0-9A-Za-z]*$", description="Member code (prefix)")
    ] = None,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="Reserved for paging (0)")] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    reason: Reason = "identity verification",
) -> list[MemberRowOut]:
    """Members by status with member code, address and real name, oldest first (a stable order).

    Each name shown is an audited read (``GET /v1/officer/reads``) with ``reason``.
    """
    rows = _desk(svc).members(officer, AccountStatus(status), code or None, limit, reason)
    return [MemberRowOut(**r) for r in rows]


def _change_out(change: StatusChange) -> StatusChangeOut:
    return StatusChangeOut(id=change.user.public_id, status=change.status, registrar_command=change.command)


@router.post("/accounts/{public_id}/suspend", response_model=StatusChangeOut)
def suspend(public_id: PublicId, body: DecisionIn, officer: Officer, svc: ServicesDep) -> StatusChangeOut:
    """Suspends the member in the wallet at once (log-ins and payments refused); on-chain needs a registrar."""
    change = _desk(svc).suspend(officer, public_id, body.reason)
    _decision(officer, "suspended account", public_id, f"in the wallet; on-chain: {change.command}")
    return _change_out(change)


@router.post("/accounts/{public_id}/reactivate", response_model=StatusChangeOut)
def reactivate(public_id: PublicId, body: DecisionIn, officer: Officer, svc: ServicesDep) -> StatusChangeOut:
    """Lets a suspended member in again; on-chain needs a registrar (the command shown)."""
    change = _desk(svc).reactivate(officer, public_id, body.reason)
    _decision(officer, "reactivated account", public_id, f"in the wallet; on-chain: {change.command}")
    return _change_out(change)


@router.post("/accounts/{public_id}/unlock", response_model=StatusChangeOut)
def unlock(public_id: PublicId, body: DecisionIn, officer: Officer, svc: ServicesDep) -> StatusChangeOut:
    """Clears the member's failed log-ins and log-in lock."""
    user = _desk(svc).unlock(officer, public_id, body.reason)
    _decision(officer, "unlocked account", public_id, "unlocked")
    return StatusChangeOut(id=public_id, status=user.status)


@router.post("/accounts/{public_id}/approve", response_model=AccountDecisionOut)
def approve(
    request: Request,
    public_id: PublicId,
    officer: Officer,
    key: IdempotencyKey,
    svc: ServicesDep,
    body: DecisionIn | None = None,
) -> AccountDecisionOut:
    """Registers the verified person's account on-chain; it is active once the registration confirms.

    The officer's reason (what was checked) is recorded with the decision.
    """
    reason = body.reason if body is not None else "approved"
    try:
        op = svc.accounts.approve(officer, public_id, key)
    except ApiError as exc:
        if exc.code != "ACCOUNT_ALREADY_REGISTERED":
            _decision(officer, "could not approve account", public_id, exc.code)
            raise
        svc.accounts.mark_active(public_id)
        _desk(svc).approved(officer, public_id, reason)
        _decision(officer, "approved account", public_id, "already registered on-chain; active")
        return AccountDecisionOut(id=public_id, status=AccountStatus.ACTIVE)
    _desk(svc).approved(officer, public_id, reason)  # recorded once the registration is accepted
    _decision(officer, "approved account", public_id, f"registration {op.status} (operation {op.id})")
    with svc.sessions() as db:
        user = queries.user_by_public_id(db, public_id)
    language = preferred_language(request.headers.get("accept-language"))
    return AccountDecisionOut(
        id=public_id, status=user.status if user else "unknown", operation=operation_out(op, language)
    )


@router.post("/accounts/{public_id}/reject", response_model=AccountDecisionOut)
def reject(
    public_id: PublicId, officer: Officer, svc: ServicesDep, body: DecisionIn | None = None
) -> AccountDecisionOut:
    """Rejects a pending sign-up; the reason is recorded and shown to the applicant in the sign-up notice."""
    try:
        svc.accounts.reject(officer, public_id, body.reason if body is not None else None)
    except ApiError as exc:
        _decision(officer, "could not reject account", public_id, exc.code)
        raise
    _decision(officer, "rejected account", public_id, "rejected")
    return AccountDecisionOut(id=public_id, status=AccountStatus.REJECTED)


@router.get("/claims", response_model=list[ClaimOut])
def list_claims(
    officer: Officer,
    svc: ServicesDep,
    status: Annotated[Literal["pending", "approving", "granted", "rejected", "failed"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ClaimOut]:
    with svc.sessions() as db:
        rows = queries.claims_by_status(db, ClaimStatus(status), limit)
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
    try:
        claim, _ = svc.claims.decide(officer, public_id, decision == "approve", key)
    except ApiError as exc:
        _decision(officer, f"could not {decision} claim", public_id, exc.code)
        raise
    _decision(officer, f"{decision}d claim", public_id, claim.status)
    return ClaimOut.of(claim)


@router.get("/help/actions", response_model=list[HelpActionOut])
def help_actions(
    officer: Officer, svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[HelpActionOut]:
    """Help matching's trail, newest first: who acted for which resident (member code), on which request, when."""
    return [
        HelpActionOut(
            actor=actor.login,
            actor_name=actor.display_name or "",
            actor_role=actor.role.value,
            resident=resident.short_code if resident is not None else None,
            request=action.request_id,
            action=action.action,
            note=action.note,
            at=aware(action.at).isoformat(),  # type: ignore[union-attr]
        )
        for action, actor, resident in svc.coordination.trail(limit)
    ]


@router.get("/help/requests", response_model=list[HelpCaseOut])
def help_cases(
    officer: Officer,
    svc: ServicesDep,
    status: Annotated[HelpStatus, Query(description="disputed (default), open, matched, …")] = HelpStatus.DISPUTED,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[HelpCaseOut]:
    """Help requests for moderation, newest first: public part, the parties' member codes, and their trail."""
    return [HelpCaseOut(**case) for case in svc.help.cases(status, limit)]


@router.post("/help/requests/{request_id}/resolve", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def help_resolve(
    request: Request, request_id: PublicId, body: HelpResolveIn, officer: Officer, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Decides a dispute: ``to_helper`` points go to the helper and the rest back to the requester (recorded)."""
    _decision(officer, "resolves help request", request_id, f"{body.to_helper} pt to the helper")
    return operation_response(request, svc.help.resolve(officer, request_id, body.to_helper, body.decision, key))


@router.post("/help/requests/{request_id}/remove", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def help_remove(
    request: Request, request_id: PublicId, body: HelpRemoveIn, officer: Officer, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Takes an open or matched request down (its thanks return to the requester); the reason is recorded."""
    _decision(officer, "removes help request", request_id, "removed")
    return operation_response(request, svc.help.remove(officer, request_id, body.reason, key))


@router.post("/help/suspensions", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def help_suspend(
    request: Request, body: HelpSuspendIn, officer: Officer, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Suspends a resident from help matching, or readmits them (``suspended: false``); the reason is recorded."""
    member = svc.accounts.find_member(body.member)
    _decision(officer, "help suspension of", member.public_id, str(body.suspended))
    return operation_response(request, svc.help.suspend(officer, member, body.suspended, body.reason, key))


@router.get("/help/reports", response_model=list[HelpReportOut])
def help_reports(
    officer: Officer, svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[HelpReportOut]:
    """Residents' reports not yet handled, newest first (member codes only)."""
    return [HelpReportOut(**r) for r in svc.safety.reports(limit)]  # type: ignore[arg-type]


@router.post("/help/reports/{report_id}/handled", status_code=204)
def help_report_handled(
    report_id: Annotated[int, Path(ge=1, le=2**31 - 1)], officer: Officer, svc: ServicesDep
) -> Response:
    """Marks a report as looked at (what was decided goes on the trail through resolve, remove or suspend)."""
    svc.safety.handle(officer, report_id)
    _decision(officer, "handled help report", str(report_id), "handled")
    return Response(status_code=204)
