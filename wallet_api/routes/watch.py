"""Watch-over for residents (issue 19): ``/v1/watch/…``, forwarded to the watch service as this resident.

Families: their wards, sightings, missing alerts, live sightings. Volunteers: nearby notices and
their settled days. The watch service decides everything (``wallet_api.watch_gateway``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from wallet_api.deps import Resident, ServicesDep

router = APIRouter(prefix="/v1/watch", tags=["watch"])
WardId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]


class WardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    consent: StrictBool = Field(description="The ward's (or their guardian's) consent, recorded")


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Annotated[StrictStr, Field(min_length=1, max_length=200, description="Shown to volunteers nearby")]


def _answer(status: int, body: object) -> Response:
    return Response(status_code=204) if status == 204 else JSONResponse(body, status_code=status)


@router.get("/wards")
def wards(user: Resident, svc: ServicesDep) -> Response:
    """My wards, each with where and when last seen and whether an alert is open."""
    return _answer(*svc.watch.call(user.short_code, "GET", "/v1/families/wards"))


@router.post("/wards", status_code=201)
def register_ward(body: WardIn, user: Resident, svc: ServicesDep) -> Response:
    """Registers a ward's tag (consent required); the tag's secret is shown this once, to program the tag."""
    return _answer(*svc.watch.call(user.short_code, "POST", "/v1/families/wards", {"consent": body.consent}))


@router.get("/wards/{ward}/sightings")
def sightings(
    ward: WardId, user: Resident, svc: ServicesDep, hours: Annotated[int, Query(ge=1, le=720)] = 72
) -> Response:
    """Where and when my ward was seen (to about 100 m), newest first."""
    return _answer(*svc.watch.call(user.short_code, "GET", f"/v1/families/wards/{ward}/sightings?hours={hours}"))


@router.post("/wards/{ward}/alert", status_code=201)
def raise_alert(ward: WardId, body: AlertIn, user: Resident, svc: ServicesDep) -> Response:
    """Raises a missing alert: volunteers nearby see the description, never who it is."""
    path = f"/v1/families/wards/{ward}/alert"
    return _answer(*svc.watch.call(user.short_code, "POST", path, {"description": body.description}))


@router.delete("/wards/{ward}/alert", status_code=204)
def clear_alert(ward: WardId, user: Resident, svc: ServicesDep) -> Response:
    """Clears the alert (recorded)."""
    return _answer(*svc.watch.call(user.short_code, "DELETE", f"/v1/families/wards/{ward}/alert"))


@router.get("/wards/{ward}/events")
def events(ward: WardId, user: Resident, svc: ServicesDep) -> StreamingResponse:
    """New sightings of my ward as they arrive (server-sent events)."""
    chunks = svc.watch.stream(user.short_code, f"/v1/families/wards/{ward}/events")
    return StreamingResponse(chunks, media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.get("/notices")
def notices(user: Resident, svc: ServicesDep) -> Response:
    """Missing alerts near where my detectors last reported (what the family shared, never who)."""
    return _answer(*svc.watch.call(user.short_code, "GET", "/v1/volunteers/notices"))


@router.get("/days")
def days(user: Resident, svc: ServicesDep) -> Response:
    """My settled watch days: minutes, points, and why a day earned nothing."""
    return _answer(*svc.watch.call(user.short_code, "GET", "/v1/volunteers/days"))
