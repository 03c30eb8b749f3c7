"""Statistics for the city's data platform (issue 22): watch-over coverage by district, school hours and month.

``GET /v1/stats/coverage?month=YYYY-MM`` (and ``GET /v1/stats/months``) answer only the read-only
statistics token (``X-Watch-Stats-Token``, its own 0600 file): it opens these aggregates and
nothing else, and the service token that opens families' data is neither needed nor accepted here.

A cell is one district (where the detector was, ``watch.districts``) × one band of hours: ``school``
(the city's watch hours, the school journeys — 登校・下校, default 07–09 and 14–18 JST, as settlement
counts them) or ``other``; plus the totals (``district`` or ``band`` ``"all"``). Per cell:

- ``volunteers``: distinct volunteers whose detectors had a batch accepted there with watch mode on;
- ``wards``: distinct wards seen there (from the sightings still held: 30-day retention);
- ``sightings``: sightings of wards kept there (batch counts, kept after the sightings are deleted);
- ``fixed_detectors``: the city's own detectors that reported there (devices, not people).

Nothing identifies a ward or a volunteer: counts only, and a count of people under ``MIN_PEOPLE``
is published as ``None`` — at source, with complementary suppression over the district × band
table and its totals (a line never holds exactly one hidden cell, so none is recovered by
subtraction). ``sightings`` is shown only where ``wards`` is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, select

from ledger_client.jst import JST
from watch.batches import BatchRefused
from watch.city import MIN_PEOPLE, current_rules
from watch.store import BatchRecord, Device, SightingRow, WatchStore

ALL = "all"
BANDS = ("school", "other")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

Cell = tuple[str, str]


def month_bounds(month: str) -> tuple[int, int]:
    """The JST month ``YYYY-MM`` as [start, end) unix seconds; :class:`BatchRefused` for anything else."""
    found = MONTH.match(month)
    if not found or not 2000 <= int(found.group(1)) <= 2999:
        raise BatchRefused("BAD_MONTH", f"month {month[:20]!r}: YYYY-MM, e.g. 2026-11")
    year, number = int(found.group(1)), int(found.group(2))
    start = datetime(year, number, 1, tzinfo=JST)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=JST)
    return int(start.timestamp()), int(end.timestamp())


def suppress(counts: dict[Cell, int], rows: list[str], k: int = MIN_PEOPLE) -> set[Cell]:
    """The cells to hide: 1 … k-1 people (primary), then complementary until no line has exactly one."""
    hidden = {cell for cell, n in counts.items() if 0 < n < k}
    lines = [[(r, b) for b in [*BANDS, ALL] if (r, b) in counts] for r in [*rows, ALL]]
    lines += [[(r, b) for r in [*rows, ALL] if (r, b) in counts] for b in [*BANDS, ALL]]
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(cell in hidden for cell in line) != 1:
                continue
            others = [c for c in line if c not in hidden and counts[c] > 0]
            if others:
                hidden.add(min(others, key=lambda c: (counts[c], c.count(ALL), c)))  # cells before totals
                changed = True
    return hidden


def _distinct(pairs: list[tuple[str, int, Any]], school: set[int]) -> dict[Cell, int]:
    """Distinct ids per (district, band), per district, per band and overall, from (district, hour, id) rows."""
    seen: dict[Cell, set[Any]] = defaultdict(set)
    for district, hour, who in pairs:
        band = "school" if hour in school else "other"
        for cell in ((district, band), (district, ALL), (ALL, band), (ALL, ALL)):
            seen[cell].add(who)
    return {cell: len(ids) for cell, ids in seen.items()}


def coverage(store: WatchStore, month: str, now: int) -> dict[str, Any]:
    """The month's coverage cells (see the module's docstring), suppressed at source.

    Not written to the city's access trail: the trail records who opened families' data, and these reads
    open none (the platform reads every few minutes; its entries would bury the officers' own)."""
    start, end = month_bounds(month)
    rules, _programme = current_rules(store)
    school = {h for a, b in rules.hours for h in range(a, b)}
    in_month = (BatchRecord.received_at >= start, BatchRecord.received_at < end, BatchRecord.district.is_not(None))
    with store.sessions() as db:
        volunteers = db.execute(
            select(BatchRecord.district, BatchRecord.hour, Device.owner).distinct()
            .join(Device, Device.id == BatchRecord.device)
            .where(*in_month, BatchRecord.watching, Device.owner_address.is_not(None))
        ).all()  # fmt: skip
        fixed = db.execute(
            select(BatchRecord.district, BatchRecord.hour, Device.id).distinct()
            .join(Device, Device.id == BatchRecord.device)
            .where(*in_month, Device.owner_address.is_(None))
        ).all()  # fmt: skip
        wards = db.execute(
            select(BatchRecord.district, BatchRecord.hour, SightingRow.ward).distinct()
            .join(SightingRow, SightingRow.batch == BatchRecord.id)
            .where(*in_month)
        ).all()  # fmt: skip
        sightings = db.execute(
            select(BatchRecord.district, BatchRecord.hour, func.sum(BatchRecord.resolved))
            .where(*in_month)
            .group_by(BatchRecord.district, BatchRecord.hour)
        ).all()  # fmt: skip
        batches = db.scalar(select(func.count(distinct(BatchRecord.id))).where(*in_month))
    people = _distinct([(str(d), int(h or 0), who) for d, h, who in volunteers], school)
    seen = _distinct([(str(d), int(h or 0), who) for d, h, who in wards], school)
    devices = _distinct([(str(d), int(h or 0), who) for d, h, who in fixed], school)
    kept: dict[Cell, int] = defaultdict(int)
    for district, hour, count in sightings:
        band = "school" if hour in school else "other"
        for cell in ((str(district), band), (str(district), ALL), (ALL, band), (ALL, ALL)):
            kept[cell] += int(count or 0)
    rows = [d.code for d in store.districts]
    hidden_people = suppress(people, rows)
    hidden_wards = suppress(seen, rows)
    cells = []
    for district in [*rows, ALL]:
        for band in [*BANDS, ALL]:
            cell = (district, band)
            if not any(cell in table for table in (people, seen, devices)) and not kept.get(cell):
                continue
            shown_wards = None if cell in hidden_wards else seen.get(cell, 0)
            # sightings only beside their wards (none once the wards' sightings are past retention)
            shown_sightings = (
                None if shown_wards is None or (shown_wards == 0 and kept.get(cell)) else kept.get(cell, 0)
            )
            cells.append({
                "district": district,
                "band": band,
                "volunteers": None if cell in hidden_people else people.get(cell, 0),
                "wards": shown_wards,
                "sightings": shown_sightings,
                "fixed_detectors": devices.get(cell, 0),
            })  # fmt: skip
    return {
        "month": month,
        "closed": now >= end,  # the month is over: its figures change no more (but for retention)
        "batches": int(batches or 0),
        "min_people": MIN_PEOPLE,
        "school_hours": [list(span) for span in rules.hours],
        "sightings_held_since": now - store.retention_days * 86400,
        "districts": [{"code": d.code, "name_ja": d.name_ja, "name_en": d.name_en} for d in store.districts],
        "cells": cells,
    }


def months(store: WatchStore) -> list[str]:
    """The JST months holding any accepted batch with a district, oldest first."""
    with store.sessions() as db:
        first = db.scalar(select(func.min(BatchRecord.received_at)).where(BatchRecord.district.is_not(None)))
        last = db.scalar(select(func.max(BatchRecord.received_at)).where(BatchRecord.district.is_not(None)))
    if first is None or last is None:
        return []
    out = []
    cursor = datetime.fromtimestamp(int(first), JST).replace(day=1, hour=0, minute=0, second=0)
    stop = datetime.fromtimestamp(int(last), JST)
    while cursor <= stop:
        out.append(f"{cursor.year:04d}-{cursor.month:02d}")
        cursor = cursor.replace(year=cursor.year + cursor.month // 12, month=cursor.month % 12 + 1)
    return out
