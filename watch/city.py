"""The city's side of watch-over (issue 19): alerts and their sightings, shares, coverage, rules, the trail.

Officers reach this through the wallet's officer desk, which authenticates them and forwards
their code (``X-Watch-Officer``) with the service token. Everything an officer opens here is
recorded in ``access_log`` with who, what and why — the families' sightings most of all.

- **Alerts.** The city sees every missing alert (the family's pseudonym, the description they
  shared, where and when the ward was last seen). The sightings that belong to an alert (from
  six hours before it was raised until it was cleared) are opened one alert at a time, with a
  reason.
- **Shares.** When the family allowed it on raising the alert, an officer can share that alert's
  sightings with someone outside the city's staff (e.g. the police): a link with a token shown
  once, valid for a few hours and never after the alert is cleared. Each read is recorded.
- **Coverage.** Which districts were watched at which hours of the day, over recent days, as the
  number of volunteers whose detectors reported there with watch mode on. A cell of fewer than
  ten volunteers is published as "fewer than 10", never as its number (``MIN_PEOPLE``), so no
  statistic points at a person. Fixed detectors belong to the city and are counted apart.
- **Rules.** The watch hours, the daily cap of minutes and the reward programme settlement uses.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from watch.batches import BatchRefused
from watch.people import NotFound, last_sighting
from watch.settlement import DEFAULT_HOURS, Rules, format_hours, parse_hours
from watch.store import AccessEntry, Alert, BatchRecord, Device, RulesRow, Share, SightingRow, WatchStore

MIN_PEOPLE = 10  # a published statistic covers at least this many people
BEFORE_ALERT_SECONDS = 6 * 3600  # an alert's sightings start this long before it was raised
MAX_SHARE_HOURS = 72


def record(db: Session, actor: str, action: str, target: str, reason: str, now: int) -> None:
    db.add(AccessEntry(at=now, actor=actor[:100], action=action, target=target[:64], reason=reason[:200]))


# -- rules ------------------------------------------------------------------------------------
def current_rules(store: WatchStore) -> tuple[Rules, int | None]:
    """The rules settlement uses, and the programme id (None until the city sets one)."""
    with store.sessions() as db:
        row = db.get(RulesRow, 1)
    if row is None:
        return Rules(), None
    return Rules(parse_hours(row.hours), row.max_minutes_per_day), row.programme_id


def rules_view(store: WatchStore) -> dict[str, Any]:
    with store.sessions() as db:
        row = db.get(RulesRow, 1)
    if row is None:
        return {"hours": format_hours(DEFAULT_HOURS), "max_minutes_per_day": Rules().max_minutes_per_day,
                "programme_id": None, "updated_by": None, "updated_at": None}  # fmt: skip
    return {"hours": row.hours, "max_minutes_per_day": row.max_minutes_per_day, "programme_id": row.programme_id,
            "updated_by": row.updated_by, "updated_at": row.updated_at}  # fmt: skip


def set_rules(
    store: WatchStore, officer: str, hours: str, max_minutes: int, programme_id: int | None, now: int
) -> dict[str, Any]:
    """Sets the rules for the days settled from now on (a day already settled keeps its outcome)."""
    try:
        spans = parse_hours(hours)
    except ValueError as exc:
        raise BatchRefused("BAD_RULES", str(exc)) from None
    if not 1 <= max_minutes <= 1440:
        raise BatchRefused("BAD_RULES", "max_minutes_per_day: 1 to 1440")
    with store.sessions.begin() as db:
        row = db.get(RulesRow, 1)
        if row is None:
            row = RulesRow(id=1)
            db.add(row)
        row.hours, row.max_minutes_per_day, row.programme_id = format_hours(spans), max_minutes, programme_id
        row.updated_by, row.updated_at = officer, now
        record(db, f"officer:{officer}", "set_rules", "rules",
               f"hours {row.hours}; {max_minutes} min/day; programme {programme_id or '-'}", now)  # fmt: skip
    return rules_view(store)


# -- alerts -----------------------------------------------------------------------------------
def alerts(store: WatchStore, officer: str, now: int, days: int = 7) -> list[dict[str, Any]]:
    """Open alerts, and those cleared in the last ``days``; newest first."""
    with store.sessions.begin() as db:
        rows = db.scalars(
            select(Alert)
            .where((Alert.cleared_at.is_(None)) | (Alert.cleared_at >= now - days * 86400))
            .order_by(Alert.raised_at.desc())
        ).all()
        out = []
        for alert in rows:
            last = last_sighting(db, alert.ward)
            since = db.scalar(
                select(func.count()).select_from(SightingRow)
                .where(SightingRow.ward == alert.ward, SightingRow.at >= alert.raised_at)
            )  # fmt: skip
            out.append({"id": alert.id, "family": alert.raised_by, "description": alert.description,
                        "raised_at": alert.raised_at, "cleared_at": alert.cleared_at,
                        "cleared_by": alert.cleared_by, "share_allowed": alert.share_outside,
                        "sightings_since_raised": int(since or 0),
                        "last_seen": {"at": last[0], "lat": last[1], "lon": last[2]} if last else None})  # fmt: skip
        record(db, f"officer:{officer}", "list_alerts", "alerts", "", now)
    return out


def _alert(db: Session, alert_id: str) -> Alert:
    alert = db.get(Alert, alert_id)
    if alert is None:
        raise NotFound(alert_id)
    return alert


def _alert_sightings(db: Session, alert: Alert, now: int) -> list[dict[str, Any]]:
    end = alert.cleared_at if alert.cleared_at is not None else now
    rows = db.execute(
        select(SightingRow.at, SightingRow.lat, SightingRow.lon)
        .where(
            SightingRow.ward == alert.ward,
            SightingRow.at >= alert.raised_at - BEFORE_ALERT_SECONDS,
            SightingRow.at <= end,
        )  # fmt: skip
        .order_by(SightingRow.at.desc())
    ).all()
    return [{"at": int(at), "lat": float(lat), "lon": float(lon)} for at, lat, lon in rows]


def alert_sightings(store: WatchStore, officer: str, alert_id: str, reason: str, now: int) -> dict[str, Any]:
    """The sightings belonging to one alert, opened with a reason (recorded)."""
    if len(reason.strip()) < 2:
        raise BatchRefused("REASON_REQUIRED", "say why this alert's sightings are opened")
    with store.sessions.begin() as db:
        alert = _alert(db, alert_id)
        found = _alert_sightings(db, alert, now)
        record(db, f"officer:{officer}", "read_sightings", alert.id, reason.strip(), now)
    return {"alert": alert_id, "description": alert.description, "raised_at": alert.raised_at,
            "cleared_at": alert.cleared_at, "sightings": found}  # fmt: skip


def share(store: WatchStore, officer: str, alert_id: str, granted_to: str, hours: int, now: int) -> dict[str, Any]:
    """A link for ``granted_to`` to read this alert's sightings, if the family allowed it; the token shown once."""
    if not 1 <= hours <= MAX_SHARE_HOURS:
        raise BatchRefused("MALFORMED", f"hours: 1 to {MAX_SHARE_HOURS}")
    token = secrets.token_urlsafe(24)
    with store.sessions.begin() as db:
        alert = _alert(db, alert_id)
        if not alert.share_outside:
            raise BatchRefused("SHARE_NOT_ALLOWED", "the family did not allow sharing this alert outside the city")
        if alert.cleared_at is not None:
            raise BatchRefused("ALERT_CLEARED", "the alert is cleared: its sightings are no longer shared")
        entry = Share(id=str(uuid.uuid4()), token_hash=_digest(token), alert=alert.id, granted_to=granted_to,
                      granted_by=officer, granted_at=now, expires_at=now + hours * 3600)  # fmt: skip
        db.add(entry)
        record(db, f"officer:{officer}", "share", alert.id, f"to {granted_to} for {hours} h", now)
    return {"share": entry.id, "token": token, "granted_to": granted_to, "expires_at": entry.expires_at}


def shared(store: WatchStore, token: str, now: int) -> dict[str, Any]:
    """What a share's holder sees: the alert's description and its sightings; recorded. Gone once cleared."""
    with store.sessions.begin() as db:
        entry = db.scalar(select(Share).where(Share.token_hash == _digest(token)))
        if entry is None or entry.expires_at < now:
            raise NotFound("share")
        alert = _alert(db, entry.alert)
        if alert.cleared_at is not None:
            raise NotFound("share")
        found = _alert_sightings(db, alert, now)
        record(db, f"share:{entry.granted_to}", "read_shared", alert.id, f"share {entry.id}", now)
    return {"description": alert.description, "raised_at": alert.raised_at, "expires_at": entry.expires_at,
            "sightings": found}  # fmt: skip


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- coverage ---------------------------------------------------------------------------------
def coverage(store: WatchStore, officer: str, now: int, days: int = 7) -> dict[str, Any]:
    """Volunteers (and the city's fixed detectors) that watched each district at each JST hour, last ``days``.

    A volunteer cell under ``MIN_PEOPLE`` is published as ``None`` with ``"fewer_than": 10``.
    """
    since = now - days * 86400
    with store.sessions.begin() as db:
        people = db.execute(
            select(BatchRecord.district, BatchRecord.hour, func.count(distinct(Device.owner)))
            .join(Device, Device.id == BatchRecord.device)
            .where(
                BatchRecord.received_at >= since,
                BatchRecord.district.is_not(None),
                BatchRecord.watching,
                Device.owner_address.is_not(None),
            )  # fmt: skip
            .group_by(BatchRecord.district, BatchRecord.hour)
        ).all()
        fixed = db.execute(
            select(BatchRecord.district, BatchRecord.hour, func.count(distinct(Device.id)))
            .join(Device, Device.id == BatchRecord.device)
            .where(
                BatchRecord.received_at >= since, BatchRecord.district.is_not(None), Device.owner_address.is_(None)
            )  # fmt: skip
            .group_by(BatchRecord.district, BatchRecord.hour)
        ).all()
        record(db, f"officer:{officer}", "coverage", "coverage", f"last {days} days", now)
    cells: dict[tuple[str | None, int | None], dict[str, Any]] = {}
    for district, hour, count in people:
        cells[(district, hour)] = {"district": district, "hour": hour, "fixed_detectors": 0,
                                   "volunteers": int(count) if count >= MIN_PEOPLE else None}  # fmt: skip
    for district, hour, count in fixed:
        cell = cells.setdefault((district, hour), {"district": district, "hour": hour, "volunteers": 0,
                                                   "fixed_detectors": 0})  # fmt: skip
        cell["fixed_detectors"] = int(count)
    return {
        "days": days,
        "min_people": MIN_PEOPLE,
        "districts": [{"code": d.code, "name_ja": d.name_ja, "name_en": d.name_en} for d in store.districts],
        "cells": sorted(cells.values(), key=lambda c: (c["district"], c["hour"])),
    }


def trail(store: WatchStore, limit: int = 100) -> list[dict[str, Any]]:
    """The city side's access trail, newest first."""
    with store.sessions() as db:
        rows = db.scalars(select(AccessEntry).order_by(AccessEntry.id.desc()).limit(limit)).all()
    return [{"at": r.at, "actor": r.actor, "action": r.action, "target": r.target, "reason": r.reason} for r in rows]
