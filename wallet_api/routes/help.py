"""Help matching routes (issue 18): ``/v1/help/…`` for residents; the chain's side is ``HelpBoard``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from ledger_client.jst import JST
from wallet_api.db.models import User
from wallet_api.deps import AnyUser, IdempotencyKey, Resident, ServicesDep, operation_response
from wallet_api.errors import ApiError
from wallet_api.help import MAX_PAGE_SIZE, PAGE_SIZE, HelpQuery, public_view
from wallet_api.schemas import (
    CoordinatorOut,
    HelpChooseIn,
    HelpCompleteIn,
    HelpConsentIn,
    HelpDisputeIn,
    HelpMemberIn,
    HelpOfferIn,
    HelpPageOut,
    HelpReportIn,
    HelpRequestIn,
    HelpRequestOut,
    HelpTaskOut,
    PaymentOut,
)
from wallet_api.services import Services

router = APIRouter(prefix="/v1/help", tags=["help"])


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ApiError("VALIDATION_ERROR", {"time": "give a time zone, e.g. 2026-12-05T10:00:00+09:00"})
    return moment.astimezone(UTC)


@router.post("/requests", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def post_request(
    request: Request, body: HelpRequestIn, user: Resident, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Posts a request for help; the thanks are held in escrow on the ledger until it is completed or withdrawn."""
    return post_for(request, svc, user, key, body, actor=None)


def post_for(
    request: Request, svc: Services, user: User, key: str, body: HelpRequestIn, actor: User | None
) -> JSONResponse:
    """Posts ``body`` as ``user``'s request (``actor``: the coordinator doing it for them)."""
    posted, op = svc.help.post(
        user,
        key,
        task_type=body.task_type,
        district=body.district.strip(),
        starts_at=_aware(body.starts_at),
        ends_at=_aware(body.ends_at),
        thanks=body.thanks,
        details=body.details,
        place=body.place,
        actor=actor,
    )
    view = {**public_view(posted), "role": "requester"} if posted is not None else None
    return operation_response(request, op, {"help_request": view})


@router.get("/tasks", response_model=list[HelpTaskOut])
def task_types(user: AnyUser, svc: ServicesDep) -> list[HelpTaskOut]:
    """The kinds of help one can ask for, with the city's suggested range of thanks (0 shopping … 8 other)."""
    return [HelpTaskOut(**t) for t in svc.help.task_types()]  # type: ignore[arg-type]


@router.get("/requests", response_model=HelpPageOut)
def open_requests(
    user: Resident,
    svc: ServicesDep,
    district: Annotated[str | None, Query(max_length=40)] = None,
    task_type: Annotated[int | None, Query(ge=0, le=8)] = None,
    day: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="JST day, YYYY-MM-DD")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
) -> HelpPageOut:
    """Open requests of neighbours (district, task, window and thanks only), soonest first."""
    start = None
    if day is not None:
        try:
            start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=JST)
        except ValueError:
            raise ApiError("VALIDATION_ERROR", {"day": "a date like 2026-12-05"}) from None
    query = HelpQuery(district=district or None, task_type=task_type, day=start, page=page, size=size)
    rows, total = svc.help.open_requests(user, query)
    return HelpPageOut(items=[HelpRequestOut(**public_view(r)) for r in rows], total=total, page=page, size=size)


@router.get("/mine", response_model=list[HelpRequestOut])
def my_requests(user: Resident, svc: ServicesDep) -> list[HelpRequestOut]:
    """Requests this resident posted or was chosen to help with."""
    return [HelpRequestOut(**view) for view in svc.help.mine_views(user)]


@router.get("/requests/{request_id}", response_model=HelpRequestOut)
def request_detail(request_id: str, user: Resident, svc: ServicesDep) -> HelpRequestOut:
    """One request: details, exact place and the other person's name only for the requester and the chosen helper."""
    return HelpRequestOut(**svc.help.view(user, request_id, real_names=True))


@router.post("/requests/{request_id}/offers", status_code=201)
def offer(request_id: str, body: HelpOfferIn, user: Resident, svc: ServicesDep) -> dict[str, str]:
    """Offers to help with an open request (the requester sees the offer and may choose you)."""
    svc.help.offer(user, request_id, body.message)
    return {"status": "offered"}


@router.post("/requests/{request_id}/choose", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def choose(
    request: Request, request_id: str, body: HelpChooseIn, user: Resident, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Chooses one of the neighbours who offered; only they can be paid from this request's escrow."""
    return operation_response(request, svc.help.choose(user, request_id, body.helper, key))


@router.post("/requests/{request_id}/complete", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def complete(
    request: Request,
    request_id: str,
    user: Resident,
    key: IdempotencyKey,
    svc: ServicesDep,
    body: HelpCompleteIn | None = None,
) -> JSONResponse:
    """Confirms the help was given: the escrowed thanks go to the chosen helper (with an optional thank-you
    message they see, and a rating only the city sees)."""
    body = body or HelpCompleteIn()
    return operation_response(request, svc.help.complete(user, request_id, key, None, body.message, body.rating))


@router.post("/requests/{request_id}/cancel", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def cancel(request: Request, request_id: str, user: Resident, key: IdempotencyKey, svc: ServicesDep) -> JSONResponse:
    """Cancels a matched request before its time starts: the escrowed thanks return."""
    return operation_response(request, svc.help.cancel(user, request_id, key))


@router.post("/requests/{request_id}/step-back", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def step_back(request: Request, request_id: str, user: Resident, key: IdempotencyKey, svc: ServicesDep) -> JSONResponse:
    """The chosen helper cannot come after all: the request reopens for others (or returns, if its time is over)."""
    return operation_response(request, svc.help.step_back(user, request_id, key))


@router.post("/requests/{request_id}/dispute", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def dispute(
    request: Request, request_id: str, body: HelpDisputeIn, user: Resident, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Asks the city to decide (the requester or the chosen helper): the thanks stay held until it does."""
    return operation_response(request, svc.help.dispute(user, request_id, body.reason, key))


@router.post("/requests/{request_id}/expire", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def expire(request: Request, request_id: str, user: Resident, key: IdempotencyKey, svc: ServicesDep) -> JSONResponse:
    """Takes back the thanks of a request whose time ended with nobody chosen."""
    return operation_response(request, svc.help.expire(user, request_id, key))


@router.post("/requests/{request_id}/withdraw", responses={200: {"model": PaymentOut}, 202: {"model": PaymentOut}})
def withdraw(request: Request, request_id: str, user: Resident, key: IdempotencyKey, svc: ServicesDep) -> JSONResponse:
    """Takes back a request nobody was chosen for: the escrowed thanks return."""
    return operation_response(request, svc.help.withdraw(user, request_id, key))


# -- the resident's consent to coordinators ------------------------------------------------
@router.get("/coordinators", response_model=list[CoordinatorOut])
def my_coordinators(user: Resident, svc: ServicesDep) -> list[CoordinatorOut]:
    """Who may post and confirm help requests for me (each with how and when I agreed)."""
    return [
        CoordinatorOut(
            id=c.public_id,
            member=c.short_code,
            name=c.display_name or "",
            consent=link.consent.value,
            consented_at=link.consented_at.isoformat(),
        )  # fmt: skip
        for c, link in svc.coordination.coordinators(user)
    ]


@router.post("/coordinators", response_model=CoordinatorOut, status_code=201)
def consent_to_coordinator(body: HelpConsentIn, user: Resident, svc: ServicesDep) -> CoordinatorOut:
    """Lets the coordinator with this code post and confirm help requests for me, with my points."""
    coordinator, linked = svc.coordination.link_in_app(user, body.coordinator)
    return CoordinatorOut(id=coordinator.public_id, member=coordinator.short_code, name=coordinator.display_name or "",
                          consent=linked.consent.value, consented_at=linked.consented_at.isoformat())  # fmt: skip


@router.delete("/coordinators/{coordinator_id}", status_code=204)
def end_consent(coordinator_id: str, user: Resident, svc: ServicesDep) -> Response:
    """Ends my consent: this coordinator can no longer act for me."""
    found = [c for c, _ in svc.coordination.coordinators(user) if c.public_id == coordinator_id]
    if not found:
        raise ApiError("HELP_NOT_LINKED")
    svc.coordination.unlink(user, found[0].id, user.id)
    return Response(status_code=204)


# -- safety: blocking and reporting -----------------------------------------------------------
@router.get("/blocks", response_model=list[HelpMemberIn])
def my_blocks(user: Resident, svc: ServicesDep) -> list[HelpMemberIn]:
    """The people I blocked (member codes)."""
    return [HelpMemberIn(member=u.short_code) for u in svc.safety.blocked(user)]


@router.post("/blocks", status_code=204)
def block(body: HelpMemberIn, user: Resident, svc: ServicesDep) -> Response:
    """Blocks a person: neither of us sees the other's requests, and neither can offer to the other."""
    svc.safety.block(user, body.member)
    return Response(status_code=204)


@router.delete("/blocks/{member}", status_code=204)
def unblock(member: Annotated[str, Path(max_length=64)], user: Resident, svc: ServicesDep) -> Response:
    """Ends a block I made."""
    svc.safety.unblock(user, member)
    return Response(status_code=204)


@router.post("/reports", status_code=201)
def report(body: HelpReportIn, user: Resident, svc: ServicesDep) -> dict[str, str]:
    """Tells the city about a person (and a request, if it is about one); they are not told who reported."""
    svc.safety.report(user, body.member, body.request_id, body.reason)
    return {"status": "reported"}
