"""What may be shown: every indicator's cells through the k-rule (``privacy.py``), in page-ready shape.

Tables by district add up (each person lives in one district and one age band), so they get row
and column totals and complementary suppression. Tables over months keep only the row totals
(the city per month): a person counted in many months would make a column total of "people"
mean person-months, and a year total by district is therefore not shown at all.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from analytics import privacy
from analytics.census import AGE_BANDS, districts

MEASURES = ["issued", "spent", "thanked", "settled", "expired"]
SURVEY_ITEMS = ["life_satisfaction", "happiness", "connectedness", "self_determination", "local_attachment"]


@dataclass
class Published:
    k: int
    months: list[str]
    circulation: dict[str, privacy.Table]  # measure -> month × district (points, people)
    velocity: list[dict[str, Any]]
    multiplier: list[dict[str, Any]]
    hops: list[dict[str, Any]]  # by month: the local hops (b2b, business rewards), k people taking part
    participation: dict[str, privacy.Table]  # month -> district × age band (active residents)
    cards: dict[str, privacy.Table]  # month -> district × age band (active residents using a card)
    card_payments: privacy.Table  # month × district: payments made by card and PIN (people: payers; values)
    population: dict[tuple[Hashable, Hashable], int]
    merchants: list[dict[str, Any]]
    decarbonisation: list[dict[str, Any]]
    decarbonisation_district: privacy.Table
    reduction_district: privacy.Table  # month × district (households with a reduction; values wh, grams)
    mutual_aid: list[dict[str, Any]]
    watch: dict[str, privacy.Table]  # month -> district × hours band (volunteers watching)
    watch_wards: dict[str, privacy.Table]  # month -> district × hours band (wards seen; values: sightings)
    wellbeing: dict[str, dict[str, privacy.Table]] = field(default_factory=dict)  # year -> item -> table


def district_order() -> list[Hashable]:
    return [*(d["code"] for d in districts()), "other", "-"]


def _month_table(rows: list[dict[str, Any]], k: int, value: str, months: list[str]) -> privacy.Table:
    cells = [(r["month"], r["district"] or "-", int(r["people"]), {value: r[value]}) for r in rows]
    table = privacy.build(cells, k, rows=list(months), col_totals=False)
    order = [d for d in district_order() if d in set(table.cols)]
    table.cols = order
    return table


def _card_payments(rows: list[dict[str, Any]], k: int) -> privacy.Table:
    """The wallet's counts (its suppression kept, ours on top): months × districts with the month's total."""
    present = {r["district"] for r in rows}
    return privacy.given(
        [(r["month"], privacy.TOTAL if r["district"] == privacy.TOTAL else r["district"], r["people"],
          {"payments": r["payments"], "points": r["points"]}) for r in rows],
        k, sorted({r["month"] for r in rows}), [d for d in district_order() if d in present],
    )  # fmt: skip


def _reduction_table(rows: list[dict[str, Any]], k: int) -> privacy.Table:
    cells = [(r["month"], r["district"], int(r["people"]), {"wh": r["wh"], "grams": r["grams"]}) for r in rows]
    table = privacy.build(cells, k, rows=sorted({r["month"] for r in rows}), col_totals=False)
    table.cols = [d for d in district_order() if d in set(table.cols)]
    return table


def card_table(
    cells: list[tuple[Hashable, Hashable, int, dict[str, float]]], active: privacy.Table, k: int
) -> privacy.Table:
    """Card users among the active, a count of people in its own right: k-rule and complementary suppression
    on it, and a cell is also hidden where the active who do not use a card would number fewer than k."""
    table = privacy.build([(r, c, int(v.get("card_holders") or 0), {}) for r, c, _, v in cells], k, rows=active.rows)
    table.cols = active.cols
    for cell, count in table.people.items():
        others = active.people.get(cell, 0) - count
        if 0 < others < k or cell in active.hidden:
            table.hidden.add(cell)
    privacy.close(table)
    return table


WATCH_HOURS: list[Hashable] = ["school", "other"]


def watch_tables(rows: list[dict[str, Any]], k: int) -> tuple[dict[str, privacy.Table], dict[str, privacy.Table]]:
    """Watch-over coverage per month as the watch service counted it (totals included: volunteers are distinct
    people who may watch in several districts, so cells do not add up) — its suppression kept, ours on top."""
    volunteers: dict[str, privacy.Table] = {}
    wards: dict[str, privacy.Table] = {}
    for month in sorted({r["month"] for r in rows}):
        cells = [r for r in rows if r["month"] == month]
        present = {r["district"] for r in cells}
        districts = [d for d in district_order() if d in present]
        keys = [(privacy.TOTAL if r["district"] == privacy.TOTAL else r["district"],
                 privacy.TOTAL if r["hours"] == privacy.TOTAL else r["hours"]) for r in cells]  # fmt: skip
        volunteers[month] = privacy.given(
            [(d, h, r["people"], {}) for (d, h), r in zip(keys, cells, strict=True)], k, districts, WATCH_HOURS
        )
        wards[month] = privacy.given(
            [(d, h, r["wards"], {"sightings": r["sightings"]}) for (d, h), r in zip(keys, cells, strict=True)],
            k, districts, WATCH_HOURS,
        )  # fmt: skip
    return volunteers, wards


def publish(raw: dict[str, list[dict[str, Any]]], k: int) -> Published:
    months = sorted({r["month"] for name in ("circulation", "velocity") for r in raw[name]})
    circulation = {
        measure: _month_table([r for r in raw["circulation"] if r["measure"] == measure], k, "points", months)
        for measure in MEASURES
    }
    participation: dict[str, privacy.Table] = {}
    cards: dict[str, privacy.Table] = {}
    for month in months:
        cells = [
            (r["district"], r["age_band"], int(r["people"]), {"card_holders": r["card_holders"]})
            for r in raw["participation"]
            if r["month"] == month
        ]
        if cells:
            table = privacy.build(cells, k, rows=[d for d in district_order() if d in {c[0] for c in cells}])
            table.cols = [b for b in [*AGE_BANDS, "-"] if b in set(table.cols)]
            participation[month] = table
            cards[month] = card_table(cells, table, k)
    population = {(r["district"], r["age_band"]): int(r["people"]) for r in raw["population"]}
    wellbeing: dict[str, dict[str, privacy.Table]] = {}
    for row in raw["wellbeing"]:
        wellbeing.setdefault(str(row["year"]), {})
    for year in wellbeing:
        for item in SURVEY_ITEMS:
            cells = [
                (r["district"], r["age_band"], int(r["people"]), {"score_sum": r["mean_score"] * r["people"]})
                for r in raw["wellbeing"]
                if str(r["year"]) == year and r["item"] == item
            ]
            if cells:
                wellbeing[year][item] = privacy.build(
                    cells, k, rows=[d for d in district_order() if d in {c[0] for c in cells}]
                )
    grant_rows = raw["decarbonisation_district"]
    watch, watch_wards = watch_tables(raw["watch"], k)
    return Published(
        k=k,
        months=months,
        circulation=circulation,
        velocity=privacy.series(raw["velocity"], "month", k),
        multiplier=privacy.series(raw["local_multiplier"], "month", k),
        hops=privacy.series(raw["local_hops"], "month", k),
        participation=participation,
        cards=cards,
        card_payments=_card_payments(raw["card_payments"], k),
        population=population,
        merchants=privacy.series(raw["merchants_active"], "month", k),
        decarbonisation=privacy.series(raw["decarbonisation"], "month", k),
        decarbonisation_district=_month_table(grant_rows, k, "points", sorted({r["month"] for r in grant_rows})),
        reduction_district=_reduction_table(raw["decarbonisation_reduction"], k),
        mutual_aid=privacy.series(raw["mutual_aid"], "month", k),
        watch=watch,
        watch_wards=watch_wards,
        wellbeing=wellbeing,
    )
