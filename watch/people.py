"""Families and volunteers (issue 19): wards, their sightings, missing alerts, and what volunteers may see.

Every call names the resident it is for by member code (``member``): the resident the wallet
authenticated and forwards (``watch.app`` accepts it only with the service token). A family
sees only its own wards (another family's ward is "not found", never "forbidden", so its
existence is not confirmed). A volunteer sees an alert near where their detectors last
reported, by its description and rough place only — never the ward, the family or the tag.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from watch.batches import BatchRefused, distance_m
from watch.store import Alert, Device, SightingRow, VolunteerDay, Ward, WatchStore

NEAR_METRES = 2000.0  # volunteers within this of the ward's last sighting get the notice
NOTICE_HOURS = 6


class NotFound(Exception):
    """No such ward for this family (or no such alert)."""


@dataclass(frozen=True)
class NewWard:
    ward: str
    secret: bytes  # shown once, to program the tag; sealed in the store


def register(store: WatchStore, member: str, consent: bool, now: int) -> NewWard:
    """A ward's tag for ``member``'s family; the family must have recorded the ward's (or guardian's) consent."""
    if not consent:
        raise BatchRefused("CONSENT_REQUIRED", "the ward's consent (or their guardian's) must be recorded")
    secret = secrets.token_bytes(32)
    return NewWard(store.register_ward(member, secret, now), secret)


def wards(store: WatchStore, member: str) -> list[dict[str, Any]]:
    """The family's wards, each with its last sighting and whether an alert is open."""
    with store.sessions() as db:
        rows = db.scalars(select(Ward).where(Ward.family == member, Ward.active).order_by(Ward.registered_at)).all()
        out = []
        for ward in rows:
            last = last_sighting(db, ward.id)
            alert = _open_alert(db, ward.id)
            out.append({"id": ward.id, "registered_at": ward.registered_at,
                        "last_seen": {"at": last[0], "lat": last[1], "lon": last[2]} if last else None,
                        "alert": {"id": alert.id, "raised_at": alert.raised_at} if alert else None})  # fmt: skip
    return out


def sightings(store: WatchStore, member: str, ward: str, since: int) -> list[dict[str, Any]]:
    _own(store, member, ward)
    return [{"at": at, "lat": lat, "lon": lon} for at, lat, lon in store.sightings_of(ward, since)]


def raise_alert(store: WatchStore, member: str, ward: str, description: str, now: int, share: bool = False) -> str:
    """Opens a missing alert (one at a time per ward; raising again returns the open one).

    ``share``: the family allows the city to share this alert's sightings with others it names (the police).
    """
    _own(store, member, ward)
    with store.sessions.begin() as db:
        alert = _open_alert(db, ward)
        if alert is None:
            alert = Alert(id=str(uuid.uuid4()), ward=ward, description=description, raised_by=member, raised_at=now,
                          share_outside=share)  # fmt: skip
            db.add(alert)
        elif share and not alert.share_outside:
            alert.share_outside = True
        return alert.id


def clear_alert(store: WatchStore, member: str, ward: str, now: int) -> None:
    _own(store, member, ward)
    with store.sessions.begin() as db:
        alert = _open_alert(db, ward)
        if alert is None:
            raise NotFound(ward)
        alert.cleared_by, alert.cleared_at = member, now


def notices(store: WatchStore, member: str, now: int) -> list[dict[str, Any]]:
    """Open alerts near where this volunteer's detectors last reported: description and rough place only."""
    with store.sessions() as db:
        spots = db.execute(
            select(Device.last_lat, Device.last_lon).where(
                Device.owner == member, Device.active, Device.watching, Device.last_at >= now - NOTICE_HOURS * 3600
            )  # fmt: skip
        ).all()
        found = []
        for alert in db.scalars(select(Alert).where(Alert.cleared_at.is_(None))).all():
            last = last_sighting(db, alert.ward)
            if last is None:
                continue
            if any(lat is not None and lon is not None and distance_m(lat, lon, last[1], last[2]) <= NEAR_METRES
                   for lat, lon in spots):  # fmt: skip
                # an opaque notice: the alert's own id, what the family shared, where and when last seen (~100 m)
                found.append({"notice": alert.id, "description": alert.description, "raised_at": alert.raised_at,
                              "last_seen": {"at": last[0], "lat": last[1], "lon": last[2]}})  # fmt: skip
    return found


def nearby_members(store: WatchStore, alert_id: str, now: int) -> list[str]:
    """The volunteers (member codes) to tell about an open alert: a watching detector of theirs reported within
    ``NEAR_METRES`` of the ward's last sighting in the last ``NOTICE_HOURS``. The family raising it is left out."""
    with store.sessions() as db:
        alert = db.get(Alert, alert_id)
        if alert is None or alert.cleared_at is not None:
            raise NotFound(alert_id)
        last = last_sighting(db, alert.ward)
        if last is None:
            return []
        rows = db.execute(
            select(Device.owner, Device.last_lat, Device.last_lon).where(
                Device.active,
                Device.watching,
                Device.owner_address.is_not(None),
                Device.last_at >= now - NOTICE_HOURS * 3600,
            )  # fmt: skip
        ).all()
    near = {owner for owner, lat, lon in rows if lat is not None and lon is not None
            and distance_m(lat, lon, last[1], last[2]) <= NEAR_METRES}  # fmt: skip
    near.discard(alert.raised_by)
    return sorted(near)


def volunteer_days(store: WatchStore, member: str, limit: int = 31) -> list[dict[str, Any]]:
    """This volunteer's settled days, newest first: minutes, points, and why a day earned nothing."""
    with store.sessions() as db:
        addresses = {a for (a,) in db.execute(select(Device.owner_address).where(Device.owner == member)) if a}
        rows = db.scalars(
            select(VolunteerDay)
            .where(VolunteerDay.address.in_(addresses))
            .order_by(VolunteerDay.day.desc())
            .limit(limit)
        ).all()
    return [{"day": r.day, "minutes": r.minutes, "points": r.points, "status": r.status, "reason": r.reason}
            for r in rows]  # fmt: skip


# -- a volunteer's detectors -------------------------------------------------------------------
def enrol(store: WatchStore, member: str, address: str, key: str, label: str, now: int) -> str:
    """Enrols a detector (the volunteer's phone app or home/shop detector) by its public key; its new id.

    The key pair is made on the device; only the public half comes here. Points for its watch time
    go to ``address``, the volunteer's account, given by the wallet that authenticated them.
    """
    if len(store_devices(store, member)) >= MAX_DEVICES:
        raise BatchRefused("TOO_MANY_DEVICES", f"at most {MAX_DEVICES} detectors a volunteer")
    device = "P-" + secrets.token_hex(5).upper()
    store.enrol_device(device, member, key, now, address, label)
    return device


MAX_DEVICES = 5


def store_devices(store: WatchStore, member: str) -> list[Device]:
    with store.sessions() as db:
        return list(db.scalars(select(Device).where(Device.owner == member).order_by(Device.enrolled_at)).all())


def devices(store: WatchStore, member: str) -> list[dict[str, Any]]:
    """The volunteer's detectors: watch mode, whether enabled, when each last reported."""
    return [{"id": d.id, "label": d.label, "watching": d.watching, "active": d.active, "enrolled_at": d.enrolled_at,
             "last_report_at": d.last_at} for d in store_devices(store, member)]  # fmt: skip


def set_watching(store: WatchStore, member: str, device: str, on: bool) -> None:
    """Watch mode on or off: batches sent while it is off still find wards, but earn no points."""
    with store.sessions.begin() as db:
        row = db.get(Device, device)
        if row is None or row.owner != member:
            raise NotFound(device)
        row.watching = on


def retire(store: WatchStore, member: str, device: str) -> None:
    """Disables a detector for good (a lost or replaced phone): its key is refused from now on."""
    with store.sessions.begin() as db:
        row = db.get(Device, device)
        if row is None or row.owner != member:
            raise NotFound(device)
        row.active, row.watching = False, False


def _own(store: WatchStore, member: str, ward: str) -> None:
    with store.sessions() as db:
        row = db.get(Ward, ward)
    if row is None or row.family != member or not row.active:
        raise NotFound(ward)


def last_sighting(db: Any, ward: str) -> Any:
    """The ward's latest (at, lat, lon), or None."""
    return db.execute(
        select(SightingRow.at, SightingRow.lat, SightingRow.lon)
        .where(SightingRow.ward == ward)
        .order_by(SightingRow.at.desc())
        .limit(1)
    ).first()


def _open_alert(db: Any, ward: str) -> Alert | None:
    return db.scalar(select(Alert).where(Alert.ward == ward, Alert.cleared_at.is_(None)))  # type: ignore[no-any-return]
