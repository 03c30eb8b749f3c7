"""Watch-over through the wallet (issue 19), forwarded to the watch service as this resident or officer.

``/v1/watch/…`` — families: their wards, sightings, missing alerts, live sightings; volunteers:
their detectors (enrolled from the phone app by public key), watch mode, today's watch time,
nearby notices and settled days. ``/v1/officer/watch/…`` — the city's desk: alerts and the
sightings that belong to them (opened with a reason), shares with the police where the family
allowed it, coverage by district and hour, the rules settlement uses, and the trail of all of
it. ``/v1/watch/shared/{token}`` — a share's holder reads an alert's sightings, no log-in.
The watch service decides everything and records every reading (``wallet_api.watch_gateway``).
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from sqlalchemy import select

from wallet_api import notices as notice_centre
from wallet_api.db.models import User
from wallet_api.deps import Officer, Resident, ServicesDep
from wallet_api.errors import ApiError
from wallet_api.services import Services

router = APIRouter(tags=["watch"])
log = logging.getLogger("wallet_api.watch")
WardId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
AlertId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
DeviceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
Days = Annotated[int, Query(ge=1, le=90)]


class WardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    consent: StrictBool = Field(description="The ward's (or their guardian's) consent, recorded")


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Annotated[StrictStr, Field(min_length=1, max_length=200, description="Shown to volunteers nearby")]
    share_outside: StrictBool = Field(
        False, description="The city may share this alert's sightings with others it names, e.g. the police"
    )


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public_key: Annotated[
        StrictStr, Field(min_length=40, max_length=64, description="The detector's Ed25519 public key, base64 raw")
    ]
    label: Annotated[StrictStr, Field(max_length=40, description="My own name for it")] = ""


class WatchingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: StrictBool


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hours: Annotated[StrictStr, Field(min_length=3, max_length=100, description="JST hours, e.g. 7-9,14-18")]
    max_minutes_per_day: Annotated[StrictInt, Field(ge=1, le=1440)]
    programme_id: Annotated[StrictInt | None, Field(ge=1, le=2**63 - 1)] = None


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200, description="Why (recorded)")]


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    granted_to: Annotated[StrictStr, Field(min_length=2, max_length=80, description="e.g. 高砂警察署")]
    hours: Annotated[StrictInt, Field(ge=1, le=72)] = 24


def _answer(status: int, body: object) -> Response:
    return Response(status_code=204) if status == 204 else JSONResponse(body, status_code=status)


def _officer(officer: User) -> str:
    """The officer as the watch service's trail names them: their log-in, or their code if it has other characters."""
    return officer.login if re.fullmatch(r"[A-Za-z0-9._@-]{1,64}", officer.login or "") else officer.short_code


# -- families ---------------------------------------------------------------------------------
@router.get("/v1/watch/wards")
def wards(user: Resident, svc: ServicesDep) -> Response:
    """My wards, each with where and when last seen and whether an alert is open."""
    return _answer(*svc.watch.call(user.short_code, "GET", "/v1/families/wards"))


@router.post("/v1/watch/wards", status_code=201)
def register_ward(body: WardIn, user: Resident, svc: ServicesDep) -> Response:
    """Registers a ward's tag (consent required); the tag's secret is shown this once, to program the tag."""
    return _answer(*svc.watch.call(user.short_code, "POST", "/v1/families/wards", {"consent": body.consent}))


@router.get("/v1/watch/wards/{ward}/sightings")
def sightings(
    ward: WardId, user: Resident, svc: ServicesDep, hours: Annotated[int, Query(ge=1, le=720)] = 72
) -> Response:
    """Where and when my ward was seen (to about 100 m), newest first."""
    return _answer(*svc.watch.call(user.short_code, "GET", f"/v1/families/wards/{ward}/sightings?hours={hours}"))


@router.post("/v1/watch/wards/{ward}/alert", status_code=201)
def raise_alert(ward: WardId, body: AlertIn, user: Resident, svc: ServicesDep) -> Response:
    """Raises a missing alert: volunteers nearby see the description, never who it is, and get a notice."""
    path = f"/v1/families/wards/{ward}/alert"
    status, answer = svc.watch.call(user.short_code, "POST", path, body.model_dump())
    if status == 201:
        _notify_nearby(svc, str(answer["alert"]), body.description)
    return _answer(status, answer)


def _notify_nearby(svc: Services, alert: str, description: str) -> None:
    """A notice for each volunteer watching near the last sighting; the alert stands even if this fails."""
    try:
        status, answer = svc.watch.call("", "GET", f"/v1/service/alerts/{alert}/nearby")
    except ApiError:
        log.warning("watch-over: volunteers near alert could not be listed; no notices sent")
        return
    if status != 200 or not answer.get("members"):
        return
    with svc.sessions.begin() as db:
        ids = db.scalars(select(User.id).where(User.short_code.in_(answer["members"]))).all()
        for user_id in ids:
            notice_centre.watch_nearby(db, user_id, description, alert)


@router.delete("/v1/watch/wards/{ward}/alert", status_code=204)
def clear_alert(ward: WardId, user: Resident, svc: ServicesDep) -> Response:
    """Clears the alert (recorded)."""
    return _answer(*svc.watch.call(user.short_code, "DELETE", f"/v1/families/wards/{ward}/alert"))


@router.get("/v1/watch/wards/{ward}/events")
def events(ward: WardId, user: Resident, svc: ServicesDep) -> StreamingResponse:
    """New sightings of my ward as they arrive (server-sent events)."""
    chunks = svc.watch.stream(user.short_code, f"/v1/families/wards/{ward}/events")
    return StreamingResponse(chunks, media_type="text/event-stream", headers={"Cache-Control": "no-store"})


# -- volunteers -------------------------------------------------------------------------------
@router.post("/v1/watch/devices", status_code=201)
def enrol_device(body: DeviceIn, user: Resident, svc: ServicesDep) -> Response:
    """Enrols my detector by its public key (the phone app makes the key pair); answers the device id to sign as.

    Its watch points go to my account.
    """
    payload = {"public_key": body.public_key, "label": body.label, "address": user.address}
    return _answer(*svc.watch.call(user.short_code, "POST", "/v1/volunteers/devices", payload))


@router.get("/v1/watch/devices")
def devices(user: Resident, svc: ServicesDep) -> Response:
    """My detectors: watch mode, and when each last reported."""
    return _answer(*svc.watch.call(user.short_code, "GET", "/v1/volunteers/devices"))


@router.put("/v1/watch/devices/{device}/watching", status_code=204)
def set_watching(device: DeviceId, body: WatchingIn, user: Resident, svc: ServicesDep) -> Response:
    """Watch mode on or off; time with it off earns no points."""
    path = f"/v1/volunteers/devices/{device}/watching"
    return _answer(*svc.watch.call(user.short_code, "PUT", path, {"on": body.on}))


@router.delete("/v1/watch/devices/{device}", status_code=204)
def retire_device(device: DeviceId, user: Resident, svc: ServicesDep) -> Response:
    """Disables a lost or replaced detector for good."""
    return _answer(*svc.watch.call(user.short_code, "DELETE", f"/v1/volunteers/devices/{device}"))


@router.get("/v1/watch/today")
def today(user: Resident, svc: ServicesDep) -> Response:
    """Today's watch minutes so far, the day's cap and the city's watch hours."""
    return _answer(*svc.watch.call(user.short_code, "GET", "/v1/volunteers/today"))


@router.get("/v1/watch/notices")
def notices(user: Resident, svc: ServicesDep) -> Response:
    """Missing alerts near where my detectors last reported (what the family shared, never who)."""
    return _answer(*svc.watch.call(user.short_code, "GET", "/v1/volunteers/notices"))


@router.get("/v1/watch/days")
def days(user: Resident, svc: ServicesDep) -> Response:
    """My settled watch days: minutes, points, and why a day earned nothing."""
    return _answer(*svc.watch.call(user.short_code, "GET", "/v1/volunteers/days"))


@router.get("/v1/watch/shared/{token}")
def shared(token: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$")], svc: ServicesDep) -> Response:
    """An alert's sightings shared by the city (e.g. with the police): no log-in, the link's token is the key.

    Ends when the share expires or the alert is cleared; every reading is recorded.
    """
    return _answer(*svc.watch.call("SHARE", "GET", f"/v1/shared/{token}"))


# -- the city's desk --------------------------------------------------------------------------
@router.get("/v1/officer/watch/alerts", tags=["officer"])
def city_alerts(officer: Officer, svc: ServicesDep, days: Days = 7) -> Response:
    """Open missing alerts, and those cleared in the last ``days`` (the reading is recorded)."""
    return _answer(*svc.watch.call("", "GET", f"/v1/city/alerts?days={days}", officer=_officer(officer)))


@router.post("/v1/officer/watch/alerts/{alert}/sightings", tags=["officer"])
def city_alert_sightings(alert: AlertId, body: ReasonIn, officer: Officer, svc: ServicesDep) -> Response:
    """The sightings belonging to one alert, opened with a reason (recorded)."""
    path = f"/v1/city/alerts/{alert}/sightings"
    return _answer(*svc.watch.call("", "POST", path, body.model_dump(), officer=_officer(officer)))


@router.post("/v1/officer/watch/alerts/{alert}/shares", status_code=201, tags=["officer"])
def city_share(alert: AlertId, body: ShareIn, officer: Officer, svc: ServicesDep) -> Response:
    """Shares an alert's sightings with someone the family allowed (the police); the link's token is shown once."""
    path = f"/v1/city/alerts/{alert}/shares"
    return _answer(*svc.watch.call("", "POST", path, body.model_dump(), officer=_officer(officer)))


@router.get("/v1/officer/watch/coverage", tags=["officer"])
def city_coverage(officer: Officer, svc: ServicesDep, days: Days = 7) -> Response:
    """Volunteers watching each district at each hour; a cell of fewer than 10 people is not published."""
    return _answer(*svc.watch.call("", "GET", f"/v1/city/coverage?days={days}", officer=_officer(officer)))


@router.get("/v1/officer/watch/rules", tags=["officer"])
def city_rules(officer: Officer, svc: ServicesDep) -> Response:
    """The watch hours, the daily cap and the reward programme settlement uses."""
    return _answer(*svc.watch.call("", "GET", "/v1/city/rules", officer=_officer(officer)))


@router.put("/v1/officer/watch/rules", tags=["officer"])
def city_set_rules(body: RulesIn, officer: Officer, svc: ServicesDep) -> Response:
    """Sets the rules for the days settled from now on (recorded)."""
    return _answer(*svc.watch.call("", "PUT", "/v1/city/rules", body.model_dump(), officer=_officer(officer)))


@router.get("/v1/officer/watch/trail", tags=["officer"])
def city_trail(officer: Officer, svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Response:
    """Who opened or changed what in watch-over on the city's side, newest first."""
    return _answer(*svc.watch.call("", "GET", f"/v1/city/trail?limit={limit}", officer=_officer(officer)))
