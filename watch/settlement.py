"""Points for volunteers (issue 19): a JST day's active watch time, attested in batches exactly once.

**Active watch time.**
- A day is cut into 5-minute slots (JST).
- A volunteer's slot counts when one of their detectors had a batch accepted in it, during the
  hours the city sets (default 07:00–09:00 and 14:00–18:00, school journeys and after school).
  A detector only reports while watch mode is on.
- A batch whose sightings were all outside the city does not count.
- A volunteer with two detectors gets each slot once.
- The day's minutes are capped (the monthly cap is the programme's own, on-chain).

**Settlement.**
- One ``RewardProgrammes.attestBatch`` per 500 volunteers (``BATCH``). Each entry is the
  volunteer's address, the day's minutes as units, the hash of the day's evidence, and the claim
  id ``day << 160 | address``: unique per volunteer and day.
- The contract skips a claim id already used, so a rerun after a crash (before, during or after
  any transaction) pays nobody twice. It only fills in what is missing.
- Each volunteer-day's outcome is recorded here (``volunteer_days``): minutes, units, the
  transaction, or why it earned nothing. Volunteers see that in the app.

Nothing about wards is used or revealed: only detectors' batch times and the cities' box.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from ledger_client.jst import JST
from watch.store import BatchRecord, Device, VolunteerDay, WatchStore

SLOT_SECONDS = 300
BATCH = 500
DEFAULT_HOURS: tuple[tuple[int, int], ...] = ((7, 9), (14, 18))  # JST [start, end) hours


@dataclass(frozen=True)
class Rules:
    hours: tuple[tuple[int, int], ...] = DEFAULT_HOURS
    max_minutes_per_day: int = 240


def parse_hours(text: str) -> tuple[tuple[int, int], ...]:
    """``7-9,14-18`` as ((7, 9), (14, 18)): whole JST hours, each span start < end ≤ 24, no overlaps."""
    spans = []
    for part in text.split(","):
        try:
            start, end = (int(x) for x in part.strip().split("-"))
        except ValueError:
            raise ValueError(f"hours {text!r}: spans like 7-9,14-18") from None
        if not 0 <= start < end <= 24:
            raise ValueError(f"hours {text!r}: each span within 0-24, start before end")
        spans.append((start, end))
    spans.sort()
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)):
        raise ValueError(f"hours {text!r}: spans must not overlap")
    if len(spans) > 12:
        raise ValueError(f"hours {text!r}: at most 12 spans")
    return tuple(spans)


def format_hours(hours: tuple[tuple[int, int], ...]) -> str:
    return ",".join(f"{a}-{b}" for a, b in hours)


@dataclass
class VolunteerResult:
    address: str
    minutes: int
    devices: list[str] = field(default_factory=list)
    reason: str = ""  # why nothing was earned, when nothing was

    def claim_id(self, day: date) -> int:
        return (day_number(day) << 160) | int(self.address, 16)

    def evidence_hash(self, day: date) -> bytes:
        document = {"day": day.isoformat(), "minutes": self.minutes, "devices": sorted(self.devices)}
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).digest()


def day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def day_bounds(day: date) -> tuple[int, int]:
    start = int(datetime(day.year, day.month, day.day, tzinfo=JST).timestamp())
    return start, start + 86400


def compute_day(store: WatchStore, day: date, rules: Rules) -> list[VolunteerResult]:
    """Every volunteer's active minutes on ``day`` (JST), in address order; one query for the day's batches."""
    start, end = day_bounds(day)
    windows = [(start + a * 3600, start + b * 3600) for a, b in rules.hours]
    with store.sessions() as db:
        rows = db.execute(
            select(Device.owner_address, Device.id, BatchRecord.received_at, BatchRecord.sightings, BatchRecord.outside)
            .join(Device, Device.id == BatchRecord.device)
            .where(BatchRecord.received_at >= start, BatchRecord.received_at < end, BatchRecord.watching)
        ).all()
        owners = db.execute(select(Device.owner_address, Device.id)).all()
    slots: dict[str, set[int]] = defaultdict(set)
    devices: dict[str, set[str]] = defaultdict(set)
    for address, device, at, kept, outside in rows:
        if address is None:
            continue
        if outside and not kept:  # everything it heard was outside the city
            continue
        if any(a <= at < b for a, b in windows):
            slots[address].add(at // SLOT_SECONDS)
            devices[address].add(device)
    results = []
    for address in sorted({a for a, _ in owners if a is not None}):
        minutes = min(len(slots[address]) * SLOT_SECONDS // 60, rules.max_minutes_per_day)
        reason = "" if minutes else NOTHING_REASON
        results.append(VolunteerResult(address, minutes, sorted(devices[address]), reason))
    return results


NOTHING_REASON = "no batch from your detectors, with watch mode on, inside the city during the watch hours"


def minutes_so_far(store: WatchStore, owner: str, now: int, rules: Rules) -> int:
    """One volunteer's active minutes today (JST) up to ``now``, counted as settlement will count them."""
    today = datetime.fromtimestamp(now, JST).date()
    start, end = day_bounds(today)
    windows = [(start + a * 3600, start + b * 3600) for a, b in rules.hours]
    with store.sessions() as db:
        rows = db.execute(
            select(BatchRecord.received_at, BatchRecord.sightings, BatchRecord.outside)
            .join(Device, Device.id == BatchRecord.device)
            .where(
                Device.owner == owner,
                BatchRecord.received_at >= start,
                BatchRecord.received_at < end,
                BatchRecord.watching,
            )  # fmt: skip
        ).all()
    slots = {at // SLOT_SECONDS for at, kept, outside in rows
             if not (outside and not kept) and any(a <= at < b for a, b in windows)}  # fmt: skip
    return min(len(slots) * SLOT_SECONDS // 60, rules.max_minutes_per_day)


def settle_day(
    store: WatchStore,
    day: date,
    programme_id: int,
    results: Sequence[VolunteerResult],
    send: Callable[[list[tuple[str, int, bytes, int]]], dict[str, Any]],
) -> dict[str, int]:
    """Attests every volunteer with minutes, ``BATCH`` to a transaction; records each volunteer-day's outcome.

    ``send(items)`` sends one ``attestBatch(programme_id, items)`` and returns its receipt (with
    decoded ``Attested``/``AttestationSkipped`` per claim id, see :func:`outcomes`). Safe to rerun.
    """
    earning = [r for r in results if r.minutes > 0]
    sent = paid = skipped = 0
    for first in range(0, len(earning), BATCH):
        chunk = earning[first : first + BATCH]
        items = [(r.address, r.minutes, r.evidence_hash(day), r.claim_id(day)) for r in chunk]
        receipt = send(items)
        sent += 1
        granted = receipt.get("attested", {})
        passed = receipt.get("skipped", {})
        with store.sessions.begin() as db:
            for r in chunk:
                claim = r.claim_id(day)
                row = _day_row(db, r.address, day)
                row.minutes, row.units, row.tx_hash = r.minutes, r.minutes, str(receipt.get("transactionHash", ""))
                if claim in granted:
                    row.points, row.status, row.reason = int(granted[claim]), "paid", ""
                    paid += 1
                elif claim in passed:
                    # used already: paid by an earlier run (kept as it was), or refused (not an active resident)
                    if row.status != "paid":
                        row.status, row.reason = "skipped", passed[claim]
                    skipped += 1
    with store.sessions.begin() as db:
        for r in results:
            if r.minutes == 0:
                row = _day_row(db, r.address, day)
                row.minutes, row.units, row.points, row.status, row.reason = 0, 0, 0, "nothing", r.reason
    return {"volunteers": len(results), "earning": len(earning), "transactions": sent, "paid": paid,
            "skipped": skipped}  # fmt: skip


def _day_row(db: Any, address: str, day: date) -> VolunteerDay:
    row = db.scalar(select(VolunteerDay).where(VolunteerDay.address == address, VolunteerDay.day == day_number(day)))
    if row is None:
        row = VolunteerDay(address=address, day=day_number(day), minutes=0, units=0, points=0, status="pending",
                           reason="", tx_hash="")  # fmt: skip
        db.add(row)
    return row


def day_of(address: str, store: WatchStore, day: date) -> dict[str, Any] | None:
    """A volunteer's result for a day, as the app shows it."""
    with store.sessions() as db:
        row = db.scalar(
            select(VolunteerDay).where(VolunteerDay.address == address, VolunteerDay.day == day_number(day))
        )
    if row is None:
        return None
    return {"day": day.isoformat(), "minutes": row.minutes, "points": row.points, "status": row.status,
            "reason": row.reason}  # fmt: skip
