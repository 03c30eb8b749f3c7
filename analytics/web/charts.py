"""Every chart as data first: columns and rows (already through the k-rule), then drawn as SVG and
served as CSV from the same rows, so the CSV behind a chart is exactly what the chart shows."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from analytics import privacy
from analytics.census import districts
from analytics.publish import MEASURES, SURVEY_ITEMS, Published
from analytics.web import svg
from analytics.web.texts import t


@dataclass
class Chart:
    id: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    drawing: str = ""


def district_name(code: Hashable, lang: str) -> str:
    if code == privacy.TOTAL:
        return t("total", lang)
    if code == "other":
        return t("other_districts", lang)
    for d in districts():
        if d["code"] == code:
            return d["name_ja"] if lang == "ja" else d["name_en"]
    return t("unknown", lang)


def _series(rows: list[dict[str, Any]], key: str) -> list[Any]:
    return [r.get(key) for r in rows]


def _draw(chart: Chart, series_columns: list[int]) -> Chart:
    labels = [str(row[0]) for row in chart.rows]
    chart.drawing = svg.bars(
        chart.title, labels, {chart.columns[i]: [_num(row[i]) for row in chart.rows] for i in series_columns}
    )
    return chart


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def circulation(p: Published, lang: str) -> list[Chart]:
    city = Chart("circulation-city", t("circulation", lang), [t("month", lang), *(t(m, lang) for m in MEASURES)], [])
    for month in p.months:
        city.rows.append([month, *(p.circulation[m].shown(month, privacy.TOTAL, "points") for m in MEASURES)])
    spent = p.circulation["spent"]
    by_district = Chart(
        "spent-by-district",
        f"{t('spent', lang)} × {t('district', lang)}",
        [t("month", lang), *(district_name(c, lang) for c in spent.cols), t("total", lang)],
        [[m, *(spent.shown(m, c, "points") for c in [*spent.cols, privacy.TOTAL])] for m in p.months],
    )
    velocity = Chart(
        "velocity",
        t("velocity", lang),
        [t("month", lang), t("spending", lang), t("outstanding", lang), t("velocity", lang)],
        [[r["month"], r.get("spending"), r.get("outstanding"), r.get("velocity")] for r in p.velocity],
    )
    multiplier = Chart(
        "local-multiplier",
        t("lm3", lang),
        [
            t("month", lang),
            *(t(c, lang) for c in ("round1", "round2", "round3", "settled", "recirculated_share", "lm3")),
        ],
        [
            [r["month"], *(r.get(c) for c in ("round1", "round2", "round3", "settled", "recirculated_share", "lm3"))]
            for r in p.multiplier
        ],
    )
    hop_keys = ("b2b", "b2b_points", "rewards", "reward_points", "hops", "points")
    hops = Chart(
        "local-hops",
        t("local_hops", lang),
        [t("month", lang), *(t(f"hops_{c}", lang) for c in hop_keys)],
        [[r["month"], *(r.get(c) for c in hop_keys)] for r in p.hops],
    )
    return [_draw(city, [1, 2, 3, 4, 5]), _draw(by_district, [len(by_district.columns) - 1]),
            _draw(velocity, [3]), _draw(multiplier, [6]), _draw(hops, [2, 4])]  # fmt: skip


def participation(p: Published, lang: str, month: str | None = None) -> list[Chart]:
    month = month or (max(p.participation) if p.participation else None)
    charts: list[Chart] = []
    if month is not None and month in p.participation:
        table = p.participation[month]
        active = Chart(
            "active-by-district",
            f"{t('active', lang)} {month}",
            [t("district", lang), t("active", lang), t("population", lang), t("rate", lang)],
            [],
        )
        for district in [*table.rows, privacy.TOTAL]:
            count = table.shown(district, privacy.TOTAL)
            people = sum(n for (d, _), n in p.population.items() if d == district or district == privacy.TOTAL)
            rate = round(100 * count / people, 1) if count is not None and people else None
            active.rows.append([district_name(district, lang), count, people or None, rate])
        charts.append(_draw(active, [3]))
        by_age = Chart(
            "active-by-age",
            f"{t('active', lang)} × {t('age_band', lang)} {month}",
            [t("age_band", lang), t("active", lang), t("population", lang), t("rate", lang), t("card_holders", lang)],
            [],
        )
        for band in table.cols:
            count = table.shown(privacy.TOTAL, band)
            people = sum(n for (_, b), n in p.population.items() if b == band)
            rate = round(100 * count / people, 1) if count is not None and people else None
            by_age.rows.append([band, count, people or None, rate, p.cards[month].shown(privacy.TOTAL, band)])
        charts.append(_draw(by_age, [3]))
    cards = p.card_payments
    by_card = Chart(
        "card-payments",
        t("card_payments", lang),
        [t("month", lang), *(district_name(c, lang) for c in cards.cols), t("total", lang), t("card_payers", lang)],
        [[m, *(cards.shown(m, c, "payments") for c in [*cards.cols, privacy.TOTAL]), cards.shown(m, privacy.TOTAL)]
         for m in cards.rows],
    )  # fmt: skip
    if by_card.rows:
        charts.append(_draw(by_card, [len(by_card.columns) - 2]))
    merchants = Chart(
        "merchants-active",
        t("merchants_active", lang),
        [t("month", lang), t("merchants_active", lang), t("points", lang)],
        [[r["month"], r.get("people"), r.get("points")] for r in p.merchants],
    )
    charts.append(_draw(merchants, [1]))
    return charts


def decarbonisation(p: Published, lang: str) -> list[Chart]:
    monthly = Chart(
        "decarbonisation",
        t("decarbonisation", lang),
        [
            t("month", lang),
            t("households", lang),
            t("co2_t", lang),
            t("kwh", lang),
            t("points", lang),
            t("points_per_tonne", lang),
        ],  # fmt: skip
        [],
    )
    for r in p.decarbonisation:
        tonnes = round(r["grams"] / 1_000_000, 3) if r.get("grams") is not None else None
        kwh = round(r["wh"] / 1000, 1) if r.get("wh") else None
        monthly.rows.append([r["month"], r.get("households"), tonnes, kwh, r.get("points"), r.get("points_per_tonne")])
    table = p.decarbonisation_district
    months = sorted({str(m) for m, _ in table.people if m != privacy.TOTAL})
    by_district = Chart(
        "decarbonisation-by-district",
        f"{t('points', lang)} × {t('district', lang)}",
        [t("month", lang), *(district_name(c, lang) for c in table.cols), t("total", lang)],
        [[m, *(table.shown(m, c, "points") for c in [*table.cols, privacy.TOTAL])] for m in months],
    )
    reduction = p.reduction_district
    charts = [_draw(monthly, [2]), _draw(by_district, [len(by_district.columns) - 1])]
    for measure, key, scale in (("co2_t", "grams", 1e-6), ("kwh", "wh", 1e-3), ("households", None, 1.0)):
        chart = Chart(
            f"reduction-{key or 'households'}-by-district",
            f"{t(measure, lang)} × {t('district', lang)}",
            [t("month", lang), *(district_name(c, lang) for c in reduction.cols), t("total", lang)],
            [[m, *(_scaled(reduction.shown(m, c, key or "people"), scale) for c in [*reduction.cols, privacy.TOTAL])]
             for m in reduction.rows],
        )  # fmt: skip
        charts.append(_draw(chart, [len(chart.columns) - 1]))
    return charts


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else round(value * scale, 3)


def mutual_aid(p: Published, lang: str) -> list[Chart]:
    keys = ("posted", "matched", "completed", "median_hours_to_match")
    helping = Chart(
        "mutual-aid",
        t("mutual-aid", lang),
        [t("month", lang), *(t(k, lang) for k in keys)],
        [[r["month"], *(r.get(k) for k in keys)] for r in p.mutual_aid],
    )
    return [_draw(helping, [1, 2, 3]), *watch_coverage(p, lang)]


def watch_coverage(p: Published, lang: str) -> list[Chart]:
    """Watch-over coverage (the watch service's statistics): the city by month, and the latest month by district."""
    months = sorted(p.watch)
    total = privacy.TOTAL
    by_month = Chart(
        "watch-by-month",
        t("watch_coverage", lang),
        [t("month", lang), t("volunteers_school", lang), t("volunteers_other", lang), t("volunteers", lang),
         t("wards_school", lang), t("wards", lang), t("sightings", lang)],
        [[m, p.watch[m].shown(total, "school"), p.watch[m].shown(total, "other"), p.watch[m].shown(total, total),
          p.watch_wards[m].shown(total, "school"), p.watch_wards[m].shown(total, total),
          p.watch_wards[m].shown(total, total, "sightings")] for m in months],
    )  # fmt: skip
    if not months:
        return [by_month]
    month = months[-1]
    people, seen = p.watch[month], p.watch_wards[month]
    by_district = Chart(
        "watch-coverage",
        f"{t('watch_coverage', lang)} × {t('district', lang)} {month}",
        [t("district", lang), t("volunteers_school", lang), t("volunteers_other", lang), t("volunteers", lang),
         t("wards_school", lang), t("wards", lang), t("sightings", lang)],
        [[district_name(d, lang), people.shown(d, "school"), people.shown(d, "other"), people.shown(d, total),
          seen.shown(d, "school"), seen.shown(d, total), seen.shown(d, total, "sightings")]
         for d in [*people.rows, total]],
    )  # fmt: skip
    return [_draw(by_month, [1, 2]), _draw(by_district, [3, 5])]


def wellbeing(p: Published, lang: str) -> list[Chart]:
    if not p.wellbeing:
        return []
    year = max(p.wellbeing)
    items = [i for i in SURVEY_ITEMS if i in p.wellbeing[year]]
    first = p.wellbeing[year][items[0]]
    latest = max(p.participation) if p.participation else None
    chart = Chart(
        "wellbeing-by-district",
        f"{t('wellbeing', lang)} {year}",
        [t("district", lang), t("respondents", lang), *(t(i, lang) for i in items), t("rate", lang)],
        [],
    )
    for district in [*first.rows, privacy.TOTAL]:
        row: list[Any] = [district_name(district, lang), first.shown(district, privacy.TOTAL)]
        for item in items:
            table = p.wellbeing[year][item]
            total = table.shown(district, privacy.TOTAL, "score_sum")
            people = table.shown(district, privacy.TOTAL)
            row.append(round(total / people, 2) if total is not None and people else None)
        rate = None
        if latest is not None:
            active = p.participation[latest].shown(district, privacy.TOTAL)
            people = sum(n for (d, _), n in p.population.items() if d == district or district == privacy.TOTAL)
            rate = round(100 * active / people, 1) if active is not None and people else None
        row.append(rate)
        chart.rows.append(row)
    by_age = Chart(
        "wellbeing-by-age",
        f"{t('life_satisfaction', lang)} × {t('age_band', lang)} {year}",
        [t("age_band", lang), t("respondents", lang), t("life_satisfaction", lang)],
        [],
    )
    table = p.wellbeing[year][items[0]]
    for band in table.cols:
        people = table.shown(privacy.TOTAL, band)
        total = table.shown(privacy.TOTAL, band, "score_sum")
        by_age.rows.append([band, people, round(total / people, 2) if total is not None and people else None])
    return [_draw(chart, [2]), _draw(by_age, [2])]


def officer_district(p: Published, lang: str, district: str) -> list[Chart]:
    """A district's drill-down: active residents by month and age band, points by month (all within the k-rule)."""
    bands = sorted({b for table in p.participation.values() for b in table.cols}, key=str)
    active = Chart(
        f"officer-{district}-active",
        f"{district_name(district, lang)}: {t('active', lang)}",
        [t("month", lang), *(str(b) for b in bands), t("total", lang)],
        [
            [m, *(p.participation[m].shown(district, b) for b in [*bands, privacy.TOTAL])]
            for m in sorted(p.participation)
        ],
    )
    flows = Chart(
        f"officer-{district}-points",
        f"{district_name(district, lang)}: {t('points', lang)}",
        [t("month", lang), *(t(m, lang) for m in MEASURES)],
        [[m, *(p.circulation[x].shown(m, district, "points") for x in MEASURES)] for m in p.months],
    )
    return [_draw(active, [len(active.columns) - 1]), _draw(flows, [1, 2, 3])]


PAGES = {
    "circulation": circulation,
    "participation": participation,
    "decarbonisation": decarbonisation,
    "mutual-aid": mutual_aid,
    "wellbeing": wellbeing,
}
