"""Programmes, claims with evidence and event QR check-in (issue 21) for residents, organisers and officers.

Residents list what they can join (with the rules in plain words and their progress against
caps), upload a photo and claim, follow their claims (submitted → approved → paid, or
rejected with the officer's reason) and check in at events by scanning the organiser's QR.
Officers set a programme's words and evidence rule, look at a claim's photo (each showing
recorded) and decide with a reason. Officers and organisers (coordinators) create events
and show their rotating QR. Every privileged route names its role in its signature.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Literal

from eth_utils import keccak
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from wallet_api import qr
from wallet_api.checkin import QR_ROTATE_SECONDS, CheckIns
from wallet_api.db.models import Claim, Operation, User
from wallet_api.db.models_programmes import (
    ClaimDecision,
    ClaimPhoto,
    ClaimPhotoView,
    EventCheckin,
    EvidenceRule,
    ProgrammeCategory,
    ProgrammeEvent,
)
from wallet_api.deps import Coordinator, IdempotencyKey, Officer, Resident, ServicesDep, operation_response
from wallet_api.errors import ApiError
from wallet_api.ledger import Ledger
from wallet_api.programmes import Programmes, ProgrammeView
from wallet_api.programmes_schemas import (
    CheckinIn,
    CityProgrammeOut,
    ClaimDecisionIn,
    EventIn,
    EventOut,
    EventQrOut,
    OfficerClaimOut,
    PhotoOut,
    PhotoViewOut,
    ProgrammeClaimIn,
    ProgrammeClaimOut,
    ProgrammeRulesIn,
    ResidentEventOut,
)
from wallet_api.services import Services
from wallet_api.statuses import ClaimStatus, Role

router = APIRouter(prefix="/v1", tags=["programmes"])
log = logging.getLogger("wallet_api.programmes")
PublicId = Annotated[str, Path(min_length=36, max_length=36)]
Stage = Literal["submitted", "approved", "paid", "rejected", "failed"]
STAGES: dict[ClaimStatus, Stage] = {
    ClaimStatus.PENDING: "submitted",
    ClaimStatus.APPROVING: "approved",
    ClaimStatus.GRANTED: "paid",
    ClaimStatus.REJECTED: "rejected",
    ClaimStatus.FAILED: "failed",
}
ATTESTED = "0x" + keccak(text="Attested(uint256,address,uint256,uint256,uint256,bytes32)").hex()


@dataclass
class Feature:
    """This feature's parts, built once per process from the services (nothing new in the wiring)."""

    programmes: Programmes
    checkins: CheckIns


_features: dict[int, tuple[Services, Feature]] = {}


def feature(svc: ServicesDep) -> Feature:
    """This process's parts, built once from ``svc`` and kept with it: a later :class:`Services` that
    happens to get the same ``id`` (tests building several apps) never receives parts bound to a closed engine."""
    found = _features.get(id(svc))
    if found is None or found[0] is not svc:
        programmes = Programmes(svc.sessions, svc.ledger, svc.accounts.service_address,
                                svc.settings.help_bonus_programme)  # fmt: skip
        checkins = CheckIns(svc.sessions, svc.ledger, svc.outbox, programmes, svc.accounts.service_address,
                            svc.keyring.token_secret)  # fmt: skip
        found = _features[id(svc)] = (svc, Feature(programmes, checkins))
    return found[1]


FeatureDep = Annotated[Feature, Depends(feature)]


def programme_out(view: ProgrammeView) -> CityProgrammeOut:
    p = view.programme
    return CityProgrammeOut(
        id=p.id, name=p.name, category=view.category, evidence=view.evidence, description=view.description,
        rules=view.rules, claimable=view.claimable, open=view.open, reward_points=p.reward_points,
        reward_units=p.reward_units, cap=p.cap, cap_period=p.cap_period, granted_this_period=view.granted_this_period,
        left_this_period=view.left_this_period, starts_at=p.starts_at, ends_at=p.ends_at,
        budget_left=max(0, p.budget - p.issued),
    )  # fmt: skip


def event_out(event: ProgrammeEvent, checkins: int = 0) -> EventOut:
    return EventOut(id=event.public_id, programme_id=event.programme_id, title=event.title, points=event.points,
                    starts_at=event.starts_at, ends_at=event.ends_at, checkins=checkins)  # fmt: skip


def points_arrived(ledger: Ledger, tx_hashes: list[str]) -> dict[str, int]:
    """Points each attestation really granted (after the cap), from its ``Attested`` log; one batched read."""
    if not tx_hashes:
        return {}
    try:
        receipts = ledger.rpc.batch([("eth_getTransactionReceipt", [h]) for h in tx_hashes])
    except (ConnectionError, OSError, RuntimeError):
        return {}  # shown without the number; the status is the wallet's own
    address = ledger.programmes.address.lower()
    found: dict[str, int] = {}
    for tx_hash, receipt in zip(tx_hashes, receipts, strict=True):
        for entry in (receipt or {}).get("logs", []):
            if entry["address"].lower() == address and entry["topics"] and entry["topics"][0] == ATTESTED:
                found[tx_hash] = int(entry["data"][2 + 64 : 2 + 128], 16)
    return found


def claims_out(svc: Services, claims: list[Claim], officer_view: bool = False) -> list[ProgrammeClaimOut]:
    """Claims with their stage, reason, photo, event and the points that arrived."""
    ids = [c.id for c in claims]
    with svc.sessions() as db:
        reasons = {
            d.claim_id: d.reason for d in db.scalars(select(ClaimDecision).where(ClaimDecision.claim_id.in_(ids)))
        }
        photos = set(db.scalars(select(ClaimPhoto.claim_id).where(ClaimPhoto.claim_id.in_(ids))))
        attended = (
            select(EventCheckin.claim_id, ProgrammeEvent.title)
            .join(ProgrammeEvent, ProgrammeEvent.id == EventCheckin.event_id)
            .where(EventCheckin.claim_id.in_(ids))
        )
        events = {claim_id: title for claim_id, title in db.execute(attended).tuples()}
        paid = (
            select(Claim.id, Operation.tx_hash)
            .join(Operation, Operation.id == Claim.operation_id)
            .where(Claim.id.in_(ids), Claim.status == ClaimStatus.GRANTED)
        )
        hashes = {claim_id: tx for claim_id, tx in db.execute(paid).tuples()}
        members: dict[int, str] = {}
        views: dict[int, list[PhotoViewOut]] = {}
        if officer_view:
            codes = select(User.id, User.short_code).where(User.id.in_({c.user_id for c in claims}))
            members = {user_id: code for user_id, code in db.execute(codes).tuples()}
            shown = (
                select(ClaimPhotoView, User.login)
                .join(User, User.id == ClaimPhotoView.officer_id)
                .where(ClaimPhotoView.claim_id.in_(ids))
                .order_by(ClaimPhotoView.id)
            )
            for view, login in db.execute(shown).tuples():
                views.setdefault(view.claim_id, []).append(PhotoViewOut(officer=login, at=view.viewed_at.isoformat()))
    arrived = points_arrived(svc.ledger, [h for h in hashes.values() if h])
    out: list[ProgrammeClaimOut] = []
    for c in claims:
        base = ProgrammeClaimOut(
            id=c.public_id, programme_id=c.programme_id, units=c.units, evidence=c.evidence, status=c.status,
            stage=STAGES[c.status], reason=reasons.get(c.id) or None, has_photo=c.id in photos,
            points=arrived.get(hashes.get(c.id) or ""), event=events.get(c.id), created_at=c.created_at.isoformat(),
        )  # fmt: skip
        if officer_view:
            base = OfficerClaimOut(
                **base.model_dump(), resident=members.get(c.user_id), photo_views=views.get(c.id, [])
            )
        out.append(base)
    return out


# -- residents ------------------------------------------------------------------------------------
@router.get("/programmes", response_model=list[CityProgrammeOut])
def list_programmes(user: Resident, part: FeatureDep) -> list[CityProgrammeOut]:
    """What is open to me, with the rules in plain words and my points against each cap this period."""
    return [programme_out(v) for v in part.programmes.catalogue(user)]


@router.post(
    "/claim-photos",
    response_model=PhotoOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/jpeg", "image/png", "image/webp")
            },  # fmt: skip
        }
    },
)
async def upload_photo(request: Request, user: Resident, svc: ServicesDep) -> PhotoOut:
    """A photo for a claim (JPEG, PNG or WebP, the request's whole body); sealed, shown only to the deciding officer."""
    data = await request.body()
    declared = request.headers.get("content-type", "")
    photo = await run_in_threadpool(svc.claims.evidence.store, user, data, declared, svc.settings.max_body_bytes)
    return PhotoOut(id=photo.id, media_type=photo.media_type, size=photo.size)


@router.post("/programme-claims", response_model=ProgrammeClaimOut, status_code=201)
def claim(body: ProgrammeClaimIn, user: Resident, svc: ServicesDep) -> ProgrammeClaimOut:
    """Claims a programme's points with a note (and a photo where its rules ask for one); an officer decides."""
    made = svc.claims.submit(user, body.programme_id, body.units, body.evidence, body.photo_id)
    with svc.sessions() as db:
        row = db.get(Claim, made.id)
    assert row is not None
    return claims_out(svc, [row])[0]


@router.get("/programme-claims", response_model=list[ProgrammeClaimOut])
def my_claims(
    user: Resident, svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[ProgrammeClaimOut]:
    """My claims and check-ins, newest first: submitted → approved → paid (with the points), or rejected and why."""
    with svc.sessions() as db:
        rows = list(db.scalars(select(Claim).where(Claim.user_id == user.id).order_by(Claim.id.desc()).limit(limit)))
    return claims_out(svc, rows)


@router.get("/events", response_model=list[ResidentEventOut])
def upcoming_events(
    user: Resident, part: FeatureDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[ResidentEventOut]:
    """Events not yet over, soonest first: where to go to check in, and whether I already did."""
    return [
        ResidentEventOut(**event_out(event).model_dump(), checked_in=done)
        for event, done in part.checkins.upcoming(user, limit)
    ]


@router.post("/checkins", responses={200: {}, 202: {}})
def check_in(request: Request, body: CheckinIn, user: Resident, key: IdempotencyKey, part: FeatureDep) -> JSONResponse:
    """Records my attendance from the event's QR; its points are granted once per person and event."""
    event, op = part.checkins.check_in(user, body.code, key)
    return operation_response(request, op, {"event": event_out(event).model_dump(mode="json")})


# -- officers ---------------------------------------------------------------------------------------
@router.put("/officer/programmes/{programme_id}/rules", response_model=CityProgrammeOut)
def set_rules(
    programme_id: Annotated[int, Path(gt=0, le=2**32)], body: ProgrammeRulesIn, officer: Officer, part: FeatureDep
) -> CityProgrammeOut:
    """The programme's kind, description and whether claims need a photo (recorded with the officer)."""
    view = part.programmes.set_rules(officer, programme_id, ProgrammeCategory(body.category),
                                     EvidenceRule(body.evidence), body.description_ja, body.description_en)  # fmt: skip
    log.info("officer %s (%s) set the rules of programme %d", officer.login, officer.public_id, programme_id)
    return programme_out(view)


@router.get("/officer/programme-claims", response_model=list[OfficerClaimOut])
def officer_claims(
    officer: Officer,
    svc: ServicesDep,
    status: Annotated[Literal["pending", "approving", "granted", "rejected", "failed"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ProgrammeClaimOut]:
    """Claims in ``status``, oldest first, with the member code, whether a photo is attached and who saw it."""
    with svc.sessions() as db:
        rows = list(
            db.scalars(select(Claim).where(Claim.status == ClaimStatus(status)).order_by(Claim.id).limit(limit))
        )
    return claims_out(svc, rows, officer_view=True)


@router.get(
    "/officer/programme-claims/{claim_id}/photo",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def claim_photo(claim_id: PublicId, officer: Officer, svc: ServicesDep) -> Response:
    """The claim's photo, for the officer deciding it; each showing is recorded before it is opened."""
    data, media_type = svc.claims.evidence.show(officer, claim_id)
    return Response(
        data, media_type=media_type, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    )


@router.post("/officer/programme-claims/{claim_id}/decision", response_model=OfficerClaimOut)
def decide(
    claim_id: PublicId, body: ClaimDecisionIn, officer: Officer, key: IdempotencyKey, svc: ServicesDep
) -> ProgrammeClaimOut:
    """Approve (the attestation is sent; paid once on-chain) or reject with a reason the resident sees."""
    reason = body.reason.strip()
    if not body.approve and not reason:
        raise ApiError("REJECT_REASON_REQUIRED")
    try:
        decided, _ = svc.claims.decide(officer, claim_id, body.approve, key, reason)
    except ApiError as exc:
        log.info("officer %s (%s) could not decide claim %s: %s", officer.login, officer.public_id, claim_id, exc.code)
        raise
    log.info("officer %s (%s) %s claim %s", officer.login, officer.public_id,
             "approved" if body.approve else "rejected", claim_id)  # fmt: skip
    with svc.sessions() as db:
        row = db.get(Claim, decided.id)
    assert row is not None
    return claims_out(svc, [row], officer_view=True)[0]


# -- officers and organisers: events ----------------------------------------------------------------
@router.get("/organiser/programmes", response_model=list[CityProgrammeOut])
def organiser_programmes(organiser: Coordinator, part: FeatureDep) -> list[CityProgrammeOut]:
    """Every programme not closed (claimable ones can carry events and claims), for the desk's choices."""
    return [programme_out(v) for v in part.programmes.catalogue(None)]


@router.post("/organiser/events", response_model=EventOut, status_code=201)
def create_event(body: EventIn, organiser: Coordinator, part: FeatureDep) -> EventOut:
    """An event on a programme the wallet can attest: its points per attendance and its time."""
    event = part.checkins.create_event(organiser, body.programme_id, body.title, body.points, body.starts_at,
                                       body.ends_at)  # fmt: skip
    log.info("%s (%s) created event %s on programme %d", organiser.login, organiser.public_id, event.public_id,
             event.programme_id)  # fmt: skip
    return event_out(event)


def organised_by(organiser: User) -> int | None:
    """Whose events an organiser sees: a coordinator only those they created, an officer every one."""
    return None if organiser.role == Role.OFFICER else organiser.id


@router.get("/organiser/events", response_model=list[EventOut])
def list_events(
    organiser: Coordinator, part: FeatureDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[EventOut]:
    """Recent events, newest first, with how many checked in (a coordinator's own events; an officer's desk: all)."""
    return [event_out(e, n) for e, n in part.checkins.events(limit, organised_by(organiser))]


@router.get("/organiser/events/{event_id}/qr", response_model=EventQrOut)
def event_qr(event_id: PublicId, organiser: Coordinator, part: FeatureDep) -> EventQrOut:
    """The event's QR now (signed, good for 90 s) with how many checked in so far; the screen asks again
    every minute. A coordinator is shown only the events they created (another's is ``UNKNOWN_EVENT``)."""
    event, code, expires = part.checkins.code(event_id, organised_by(organiser))
    svg, _ = qr.render(code, "svg", scale=6)
    return EventQrOut(event=event_out(event, part.checkins.attendance(event)), code=code, expires_at=expires,
                      rotate_seconds=QR_ROTATE_SECONDS, svg=svg.decode())  # fmt: skip
