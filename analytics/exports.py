"""Researchers' exports: every published table as Parquet and CSV, one folder per month.

Only figures that passed the k-rule leave (suppressed cells are empty), and they are coarsened
as ``docs/data-platform.md`` documents: people counts to the nearest multiple of 5, points to
the nearest 100. Layout ``DIR/<table>/month=YYYY-MM/data.parquet`` and ``data.csv`` (UTF-8 with
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
    return {"circulation": circulation, "participation": participation, "velocity": velocity}


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
                casts = ", ".join(
                    f"CAST({c} AS {'VARCHAR' if c in ('district', 'measure', 'age_band') else 'DOUBLE'}) AS {c}"
                    for c in arrays
                )
                connection.execute(f"COPY (SELECT {casts} FROM part) TO '{target}' (FORMAT PARQUET)")
            finally:
                connection.close()
            written += [folder / "data.csv", folder / "data.parquet"]
    return written
