"""Coordinator routes (issue 18): ``/v1/coordinator/…``, help matching for residents who consented.

A coordinator (or a city officer at the counter) acts only for residents linked to them
with the resident's consent (``wallet_api.help_coordination``); every action is the
resident's own (their points, their custodial key) and is recorded with who took it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from wallet_api.deps import Coordinator, IdempotencyKey, ServicesDep, operation_response
from wallet_api.errors import ApiError
from wallet_api.help_coordination import LinkedResident
from wallet_api.routes.help import post_for
from wallet_api.schemas import (
    ClaimOut,
    HelpChooseIn,
    HelpCompleteIn,
    HelpDisputeIn,
    HelpLinkIn,
    HelpRequestIn,
    HelpRequestOut,
    HelpVoucherIn,
    LinkedResidentOut,
    PaymentOut,
)

router = APIRouter(prefix="/v1/coordinator", tags=["help"])
OPERATION: dict[int | str, dict[str, Any]] = {200: {"model": PaymentOut}, 202: {"model": PaymentOut}}


def _out(linked: LinkedResident) -> LinkedResidentOut:
    user = linked.user
    return LinkedResidentOut(id=user.public_id, member=user.short_code, name=user.display_name or "",
                             consent=linked.consent.value, consented_at=linked.consented_at.isoformat())  # fmt: skip


@router.post("/links", response_model=LinkedResidentOut, status_code=201)
def link(body: HelpLinkIn, user: Coordinator, svc: ServicesDep) -> LinkedResidentOut:
    """Records a resident's consent given in person: their member code, their card and the PIN they type."""
    return _out(svc.coordination.link_with_card(user, body.member, body.card, body.pin))


@router.get("/residents", response_model=list[LinkedResidentOut])
def residents(user: Coordinator, svc: ServicesDep) -> list[LinkedResidentOut]:
    """The residents I may act for now."""
    return [_out(r) for r in svc.coordination.residents(user)]


@router.delete("/residents/{resident_id}", status_code=204)
def unlink(resident_id: str, user: Coordinator, svc: ServicesDep) -> Response:
    """Stops acting for this resident."""
    resident = svc.coordination.acting_for(user, resident_id)
    svc.coordination.unlink(user, user.id, resident.id)
    return Response(status_code=204)


@router.get("/residents/{resident_id}/help", response_model=list[HelpRequestOut])
def their_requests(resident_id: str, user: Coordinator, svc: ServicesDep) -> list[HelpRequestOut]:
    """The resident's help requests, as they would see them (offers, the chosen helper's name and place)."""
    resident = svc.coordination.acting_for(user, resident_id)
    return [HelpRequestOut(**view) for view in svc.help.mine_views(resident, posted_only=True)]


@router.post("/residents/{resident_id}/help/requests", responses=OPERATION)
def post_request(
    request: Request, resident_id: str, body: HelpRequestIn, user: Coordinator, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Posts a help request for the resident; their thanks go into escrow from their own points."""
    return post_for(request, svc, svc.coordination.acting_for(user, resident_id), key, body, actor=user)


@router.get("/residents/{resident_id}/help/requests/{request_id}", response_model=HelpRequestOut)
def request_detail(resident_id: str, request_id: str, user: Coordinator, svc: ServicesDep) -> HelpRequestOut:
    """One of the resident's requests, as they would see it."""
    resident = svc.coordination.acting_for(user, resident_id)
    return HelpRequestOut(**svc.help.view(resident, request_id, real_names=True, reader=user))


@router.post("/residents/{resident_id}/help/requests/{request_id}/choose", responses=OPERATION)
def choose(
    request: Request,
    resident_id: str,
    request_id: str,
    body: HelpChooseIn,
    user: Coordinator,
    key: IdempotencyKey,
    svc: ServicesDep,
) -> JSONResponse:
    """Chooses, for the resident, one of the neighbours who offered."""
    resident = svc.coordination.acting_for(user, resident_id)
    return operation_response(request, svc.help.choose(resident, request_id, body.helper, key, actor=user))


@router.post("/residents/{resident_id}/help/requests/{request_id}/complete", responses=OPERATION)
def complete(
    request: Request,
    resident_id: str,
    request_id: str,
    user: Coordinator,
    key: IdempotencyKey,
    svc: ServicesDep,
    body: HelpCompleteIn | None = None,
) -> JSONResponse:
    """Confirms, for the resident, that the help was given: the escrowed thanks go to the helper."""
    resident = svc.coordination.acting_for(user, resident_id)
    body = body or HelpCompleteIn()
    return operation_response(request, svc.help.complete(resident, request_id, key, user, body.message, body.rating))


@router.post("/residents/{resident_id}/help/requests/{request_id}/withdraw", responses=OPERATION)
def withdraw(
    request: Request, resident_id: str, request_id: str, user: Coordinator, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Takes back, for the resident, a request nobody was chosen for: the thanks return to them."""
    resident = svc.coordination.acting_for(user, resident_id)
    return operation_response(request, svc.help.withdraw(resident, request_id, key, actor=user))


@router.post("/residents/{resident_id}/help/requests/{request_id}/cancel", responses=OPERATION)
def cancel(
    request: Request, resident_id: str, request_id: str, user: Coordinator, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Cancels, for the resident, a matched request before its time starts: the thanks return to them."""
    resident = svc.coordination.acting_for(user, resident_id)
    return operation_response(request, svc.help.cancel(resident, request_id, key, actor=user))


@router.post("/residents/{resident_id}/help/requests/{request_id}/dispute", responses=OPERATION)
def dispute(
    request: Request,
    resident_id: str,
    request_id: str,
    body: HelpDisputeIn,
    user: Coordinator,
    key: IdempotencyKey,
    svc: ServicesDep,
) -> JSONResponse:
    """Asks the city, for the resident, to decide a matched request."""
    resident = svc.coordination.acting_for(user, resident_id)
    return operation_response(request, svc.help.dispute(resident, request_id, body.reason, key, actor=user))


@router.post("/residents/{resident_id}/help/requests/{request_id}/expire", responses=OPERATION)
def expire(
    request: Request, resident_id: str, request_id: str, user: Coordinator, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Takes back, for the resident, the thanks of a request whose time ended with nobody chosen."""
    resident = svc.coordination.acting_for(user, resident_id)
    return operation_response(request, svc.help.expire(resident, request_id, key, actor=user))


@router.post("/residents/{resident_id}/vouchers", response_model=ClaimOut, status_code=201)
def help_voucher(resident_id: str, body: HelpVoucherIn, user: Coordinator, svc: ServicesDep) -> ClaimOut:
    """Claims the city's help vouchers for a resident who cannot pay the thanks: an officer decides, like any claim;
    approved, the points are the resident's own to post requests with."""
    resident = svc.coordination.acting_for(user, resident_id)
    programme = svc.settings.help_voucher_programme
    if not programme:
        raise ApiError("HELP_NO_VOUCHERS")
    claim = svc.claims.submit(resident, programme, body.units, f"{body.evidence} (coordinator {user.login})")
    svc.coordination.record(user, resident, "voucher", f"{body.units} unit(s) on programme {programme}")
    return ClaimOut.of(claim, resident.address)
