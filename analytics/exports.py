"""Researchers' exports: every published table as Parquet and CSV, one folder per month.

Only figures that passed the k-rule leave (suppressed cells are empty), and they are coarsened
as ``docs/data-platform.md`` documents: counts (people, households, payments, sightings, hops) to
the nearest multiple of 5, amounts (points, Wh, g CO2) to the nearest 100. Tables counted and
suppressed at source (watch-over coverage, card payments) leave as ``publish`` holds them: the
source's hidden cells stay empty, with this platform's k and complementary suppression on top.
Layout ``DIR/<table>/month=YYYY-MM/data.parquet`` and ``data.csv`` (UTF-8 with
BOM), the Hive-style partitioning Spark, Trino and DuckDB read directly.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from analytics import privacy
from analytics.publish import MEASURES, Published

TEXT_COLUMNS = ("district", "measure", "age_band", "hours")


def rows_for_export(p: Published) -> dict[str, list[dict[str, Any]]]:
    """The export tables: long format, one row per (month, district[, age band], measure)."""
    circulation = []
    for measure in MEASURES:
        table = p.circulation[measure]
        for month in table.rows:
            for district in [*table.cols, privacy.TOTAL]:
                if (month, district) not in table.people:
                    continue
                circulation.append({
                    "month": str(month), "district": str(district), "measure": measure,
                    "people": privacy.coarse_count(table.shown(month, district)),  # type: ignore[arg-type]
                    "points": privacy.coarse_points(table.shown(month, district, "points")),
                })  # fmt: skip
    participation = []
    for month, table in p.participation.items():
        for district in [*table.rows, privacy.TOTAL]:
            for band in [*table.cols, privacy.TOTAL]:
                if (district, band) in table.people:
                    participation.append({
                        "month": month, "district": str(district), "age_band": str(band),
                        "active": privacy.coarse_count(table.shown(district, band)),  # type: ignore[arg-type]
                    })  # fmt: skip
    hops = {r["month"]: r for r in p.hops}
    velocity = [
        {"month": r["month"], "velocity": r.get("velocity"), "lm3": m.get("lm3"),
         "recirculated_share": m.get("recirculated_share"),
         "hops_points": privacy.coarse_points(hops.get(r["month"], {}).get("points"))}
        for r, m in zip(p.velocity, p.multiplier, strict=False)
    ]  # fmt: skip
    return {
        "circulation": circulation, "participation": participation, "velocity": velocity,
        "watch_coverage": _watch(p), "card_payments": _card_payments(p), "co2_reduction": _reduction(p),
        "local_hops": _hops(p),
    }  # fmt: skip


def _watch(p: Published) -> list[dict[str, Any]]:
    """Watch-over coverage: month × district × band of hours (``school``/``other``, totals ``Σ``)."""
    out = []
    for month, volunteers in p.watch.items():
        wards = p.watch_wards[month]
        for district in [*volunteers.rows, privacy.TOTAL]:
            for hours in [*volunteers.cols, privacy.TOTAL]:
                if (district, hours) in volunteers.people:
                    out.append({
                        "month": month, "district": str(district), "hours": str(hours),
                        "volunteers": privacy.coarse_count(volunteers.shown(district, hours)),  # type: ignore[arg-type]
                        "wards": privacy.coarse_count(wards.shown(district, hours)),  # type: ignore[arg-type]
                        "sightings": privacy.coarse_count(wards.shown(district, hours, "sightings")),  # type: ignore[arg-type]
                    })  # fmt: skip
    return out


def _by_month(table: privacy.Table, people: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """A month × district table with the month's total (``Σ``): one row per shown or hidden cell."""
    out = []
    for month in table.rows:
        for district in [*table.cols, privacy.TOTAL]:
            if (month, district) in table.people:
                row = {"month": str(month), "district": str(district),
                       people: privacy.coarse_count(table.shown(month, district))}  # type: ignore[arg-type]  # fmt: skip
                for column, (measure, coarsen) in values.items():
                    row[column] = coarsen(table.shown(month, district, measure))
                out.append(row)
    return out


def _card_payments(p: Published) -> list[dict[str, Any]]:
    """Card-and-PIN payments by month × payer's district: payers, payments, points."""
    return _by_month(p.card_payments, "payers", {
        "payments": ("payments", lambda v: privacy.coarse_count(None if v is None else int(v))),
        "points": ("points", privacy.coarse_points),
    })  # fmt: skip


def _reduction(p: Published) -> list[dict[str, Any]]:
    """The oracle's per-district rows by month: households with a reduction, Wh, g CO2 (small ones in "other")."""
    return _by_month(p.reduction_district, "households", {
        "wh": ("wh", privacy.coarse_points), "co2_g": ("grams", privacy.coarse_points),
    })  # fmt: skip


def _hops(p: Published) -> list[dict[str, Any]]:
    """The local hops by month (b2b payments, businesses' rewards): a month under k accounts shows only its name."""
    count = privacy.coarse_count
    return [
        {"month": r["month"], "accounts": count(r.get("people")), "hops": count(r.get("hops")),
         "b2b": count(r.get("b2b")), "rewards": count(r.get("rewards")),
         "points": privacy.coarse_points(r.get("points")), "b2b_points": privacy.coarse_points(r.get("b2b_points")),
         "reward_points": privacy.coarse_points(r.get("reward_points"))}
        for r in p.hops
    ]  # fmt: skip


def write(p: Published, directory: Path) -> list[Path]:
    """Writes every export table under ``directory``; returns the files written."""
    written: list[Path] = []
    for name, rows in rows_for_export(p).items():
        if not rows:
            continue
        columns = list(rows[0])
        for month in sorted({r["month"] for r in rows}):
            folder = directory / name / f"month={month}"
            folder.mkdir(parents=True, exist_ok=True)
            part = [r for r in rows if r["month"] == month]
            with open(folder / "data.csv", "w", encoding="utf-8-sig", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([c for c in columns if c != "month"])
                writer.writerows([["" if r[c] is None else r[c] for c in columns if c != "month"] for r in part])
            arrays = {c: np.array([r[c] for r in part], dtype=object) for c in columns if c != "month"}
            connection = duckdb.connect()
            try:
                connection.register("part", arrays)
                target = str(folder / "data.parquet").replace("'", "''")
                casts = ", ".join(f"CAST({c} AS {'VARCHAR' if c in TEXT_COLUMNS else 'DOUBLE'}) AS {c}" for c in arrays)
                connection.execute(f"COPY (SELECT {casts} FROM part) TO '{target}' (FORMAT PARQUET)")
            finally:
                connection.close()
            written += [folder / "data.csv", folder / "data.parquet"]
    return written
