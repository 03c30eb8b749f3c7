"""Synthetic household load profiles and their meter readings, for tests and benchmarks.

Each household gets a size (1–5 people), a seasonal curve (winter heating and summer
cooling peaks, as in Hyogo), a daily shape (morning and evening peaks), weekends a little
higher, and noise — all from a seeded generator, so a run is reproducible and its true
consumption is known to the watt-hour. Faults can be injected per household: gaps,
a meter swap, a spike, duplicates, out-of-order rows, a conflicting duplicate, a counter
reset, and a counter near its wrap-around.

Meters report in units of 0.01 kWh (0xE1 = 0x02, coefficient 1, 6 digits), so every
half hour is a whole number of 10-Wh counts.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

JST = timezone(timedelta(hours=9))
UNIT_CODE, COEFFICIENT, DIGITS, WH_PER_COUNT = 0x02, 1, 6, 10
FAULTS = ("gaps", "meter_swap", "spike", "duplicates", "out_of_order", "conflict", "reset", "wrap")


@dataclass
class Household:
    household_id: str
    meter_id: str
    size: int
    faults: set[str] = field(default_factory=set)
    true_wh: int = 0
    rows: list[dict[str, object]] = field(default_factory=list)


def _shape(hour: float) -> float:
    morning = math.exp(-((hour - 7.5) ** 2) / 2)
    evening = 1.6 * math.exp(-((hour - 19.5) ** 2) / 4)
    return 0.35 + morning + evening


def _season(month: int) -> float:
    return 1.0 + 0.35 * math.cos((month - 1.5) / 12 * 2 * math.pi) ** 2 + (0.25 if month in (7, 8) else 0.0)


def generate(
    households: int, year: int, month: int, seed: int = 1, faults: dict[int, set[str]] | None = None, scale: float = 1.0
) -> list[Household]:
    """Readings for ``households`` homes over one JST calendar month (the closing reading included)."""
    rng = random.Random(seed)
    start = datetime(year, month, 1, tzinfo=JST)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=JST)
    steps = int((end - start).total_seconds()) // 1800
    result = []
    for i in range(households):
        home = Household(f"H{i:05d}", f"M{seed:03d}{i:05d}", rng.randint(1, 5), set((faults or {}).get(i, set())))
        counts = rng.randint(0, 400_000) if "wrap" not in home.faults else 10**DIGITS - 300
        meter = home.meter_id
        base = (90 + 45 * home.size) * scale  # Wh per half hour at the daily shape's floor
        swap_at = steps // 2 if "meter_swap" in home.faults else -1
        for step in range(steps + 1):
            moment = start + timedelta(minutes=30 * step)
            if step == swap_at:  # the old meter's last reading, then a new meter from zero
                home.rows.append(_row(meter, moment, counts))
                meter, counts = meter + "-NEW", 0
                continue
            if step > 0:
                hour = moment.hour + moment.minute / 60
                weekend = 1.1 if moment.weekday() >= 5 else 1.0
                wh = base * _shape(hour) * _season(month) * weekend * rng.uniform(0.8, 1.2)
                if "spike" in home.faults and step == steps // 3:
                    wh = 9_000
                used = int(wh) // WH_PER_COUNT
                if not (step == swap_at + 1 and swap_at > 0):  # the swap's half hour is not metered
                    home.true_wh += used * WH_PER_COUNT
                counts = (counts + used) % 10**DIGITS
            if "gaps" in home.faults and step % 9 == 4:
                continue
            home.rows.append(_row(meter, moment, counts))
        if "reset" in home.faults:
            home.rows[len(home.rows) // 2]["count"] = 0
        if "duplicates" in home.faults:
            home.rows.extend(dict(r) for r in home.rows[10:14])
        if "conflict" in home.faults:
            home.rows.append({**home.rows[20], "count": int(home.rows[20]["count"]) + 7})  # type: ignore[call-overload]
        if "out_of_order" in home.faults:
            home.rows[30], home.rows[31] = home.rows[31], home.rows[30]
        result.append(home)
    return result


def _row(meter: str, moment: datetime, counts: int) -> dict[str, object]:
    return {
        "meter_id": meter, "timestamp": moment.isoformat(), "count": counts,
        "coefficient": COEFFICIENT, "unit": f"0x{UNIT_CODE:02X}", "digits": DIGITS,
    }  # fmt: skip


def write_jsonl(homes: list[Household], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for home in homes:
            for row in home.rows:
                out.write(json.dumps(row) + "\n")
    return path


def write_csv(homes: list[Household], path: Path, encoding: str = "utf-8") -> Path:
    lines = [
        "計器ID,日時,積算値,係数,単位,有効桁数"
        if encoding == "cp932"
        else "meter_id,timestamp,count,coefficient,unit,digits"
    ]
    for home in homes:
        lines += [
            f"{r['meter_id']},{r['timestamp']},{r['count']},{r['coefficient']},{r['unit']},{r['digits']}"
            for r in home.rows
        ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


@dataclass
class Month:
    """A generated month written to disk: who is in it and what each home truly used."""

    households: list[tuple[str, tuple[str, ...]]]  # (household id, its meter ids)
    true_wh: dict[str, int]
    faults: dict[str, set[str]]
    rows: int
    chunk_ends: list[int] = field(default_factory=list)  # byte offset after each chunk of homes


def write_month_csv(
    path: Path, households: int, year: int, month: int, seed: int = 1, fault_rate: float = 0.1, chunk: int = 2_000
) -> Month:
    """A city-sized month as one CSV file, generated column-wise (numpy) for speed.

    Homes without a fault follow the same load model as :func:`generate` (size, season,
    daily shape, weekends, noise), vectorised; homes with a fault (one of ``FAULTS`` each,
    ``fault_rate`` of them) are made by :func:`generate` itself, so every fault kind is the
    one the tests know. Memory stays at one chunk of homes.
    """
    import numpy as np
    import polars as pl

    rng = random.Random(seed)
    start = datetime(year, month, 1, tzinfo=JST)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=JST)
    steps = int((end - start).total_seconds()) // 1800
    moments = [start + timedelta(minutes=30 * step) for step in range(steps + 1)]
    stamps = pl.Series([m.isoformat() for m in moments])
    shape = np.array([_shape(m.hour + m.minute / 60) * (1.1 if m.weekday() >= 5 else 1.0) for m in moments[1:]])
    faulty = {i: {rng.choice(FAULTS)} for i in range(households) if rng.random() < fault_rate}
    result = Month([], {}, {}, 0)
    numbers = np.random.default_rng(seed)
    with path.open("wb") as out:
        out.write(b"meter_id,timestamp,count,coefficient,unit,digits\n")
        for first in range(0, households, chunk):
            ids = [i for i in range(first, min(first + chunk, households)) if i not in faulty]
            if ids:
                sizes = numbers.integers(1, 6, size=len(ids))
                base = (90 + 45 * sizes)[:, None] * _season(month) * shape[None, :]
                used = (base * numbers.uniform(0.8, 1.2, size=base.shape)).astype(np.int64) // WH_PER_COUNT
                counts = np.concatenate([numbers.integers(0, 400_000, size=(len(ids), 1)), used], axis=1)
                counts = np.cumsum(counts, axis=1) % 10**DIGITS
                meters = [f"M{seed:03d}{i:06d}" for i in ids]
                frame = pl.DataFrame(
                    {
                        "meter_id": pl.Series(meters).gather(np.repeat(np.arange(len(ids)), steps + 1)),
                        "timestamp": stamps.gather(np.tile(np.arange(steps + 1), len(ids))),
                        "count": counts.reshape(-1),
                        "coefficient": COEFFICIENT, "unit": f"0x{UNIT_CODE:02X}", "digits": DIGITS,
                    }
                )  # fmt: skip
                frame.write_csv(out, include_header=False)
                for i, meter, total in zip(ids, meters, used.sum(axis=1), strict=True):
                    result.households.append((f"H{i:06d}", (meter,)))
                    result.true_wh[f"H{i:06d}"] = int(total) * WH_PER_COUNT
                result.rows += frame.height
            odd = {i - first: faulty[i] for i in range(first, min(first + chunk, households)) if i in faulty}
            if odd:
                kinds_of = list(odd.items())
                homes = generate(
                    len(kinds_of),
                    year,
                    month,
                    seed=seed + 1 + first,
                    faults={j: k for j, (_, k) in enumerate(kinds_of)},
                )
                lines = []
                for home, (offset, kinds) in zip(homes, kinds_of, strict=True):
                    hid, meter = f"H{first + offset:06d}", f"M{seed:03d}{first + offset:06d}"
                    for row in home.rows:
                        name = str(row["meter_id"]).replace(home.meter_id, meter)
                        lines.append(
                            f"{name},{row['timestamp']},{row['count']},{row['coefficient']},{row['unit']},{row['digits']}"
                        )
                    result.households.append((hid, (meter, meter + "-NEW")))
                    result.true_wh[hid] = home.true_wh
                    result.faults[hid] = set(kinds)
                    result.rows += len(home.rows)
                out.write(("\n".join(lines) + "\n").encode())
            result.chunk_ends.append(out.tell())
    return result
