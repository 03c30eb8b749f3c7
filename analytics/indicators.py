"""Every indicator as one SQL query that DuckDB and PostgreSQL both run unchanged.

Definitions, formulas and sources: ``docs/indicators.md`` (one section per query below, same
names). Each query returns raw cells with ``people``, the number of distinct people (accounts)
behind the cell; ``analytics/privacy.py`` applies the k-rule to that column before anything is
shown. Ratios are computed in SQL with ``CAST(… AS DOUBLE PRECISION)`` so both engines divide
the same way; results are rounded to :data:`DECIMALS` when read.
"""

from __future__ import annotations

from typing import Any

from analytics.warehouse import Warehouse

DECIMALS = 6
# what a resident does with points (an outgoing movement that makes them "active")
ACTIVE_KINDS = "('payment', 'thanks', 'help-escrow', 'transfer')"
# points changing hands between members (the numerator of velocity)
SPENDING_KINDS = "('payment', 'thanks', 'help', 'transfer', 'b2b', 'business-reward')"
# the local hops (issue 21): a shop or business paying another (payBusiness), a business rewarding a resident
HOP_KINDS = "('b2b', 'business-reward')"
# what a shop passes on locally (round 2 of LM3), and what counts as spending at a local business (round 3)
PASSED_KINDS = "('payment', 'thanks', 'transfer', 'b2b', 'business-reward')"
SPENT_KINDS = "('payment', 'b2b')"

CIRCULATION = """
WITH flows AS (
  SELECT month, kind, amount,
         CASE WHEN kind = 'issued' THEN to_id ELSE from_id END AS person,
         CASE kind WHEN 'issued' THEN 'issued' WHEN 'payment' THEN 'spent' WHEN 'thanks' THEN 'thanked'
                   WHEN 'settled' THEN 'settled' WHEN 'swept' THEN 'expired' END AS measure
  FROM movements WHERE kind IN ('issued', 'payment', 'thanks', 'settled', 'swept')
)
SELECT f.month, a.district, f.measure, SUM(f.amount) AS points, COUNT(DISTINCT f.person) AS people
FROM flows f LEFT JOIN accounts a ON a.id = f.person
GROUP BY f.month, a.district, f.measure
"""

VELOCITY = f"""
WITH flows AS (
  SELECT month,
         SUM(CASE WHEN kind = 'issued' THEN amount ELSE 0 END) AS issued,
         SUM(CASE WHEN kind IN ('settled', 'swept') THEN amount ELSE 0 END) AS removed,
         SUM(CASE WHEN kind IN {SPENDING_KINDS} THEN amount ELSE 0 END) AS spending,
         COUNT(DISTINCT CASE WHEN kind IN {SPENDING_KINDS} THEN from_id END) AS people
  FROM movements GROUP BY month
), stock AS (
  SELECT month, spending, people,
         SUM(issued - removed) OVER (ORDER BY month ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS outstanding
  FROM flows
)
SELECT month, spending, outstanding, people,
       CASE WHEN outstanding > 0 THEN CAST(spending AS DOUBLE PRECISION) / outstanding END AS velocity
FROM stock
"""

LOCAL_MULTIPLIER = f"""
WITH merchants AS (SELECT id FROM accounts WHERE kind = 'merchant'),
round1 AS (
  SELECT month, SUM(amount) AS points, COUNT(DISTINCT to_id) AS shops FROM movements
  WHERE kind = 'payment' AND to_id IN (SELECT id FROM merchants) AND from_id NOT IN (SELECT id FROM merchants)
  GROUP BY month
), passed AS (
  SELECT month, to_id, SUM(amount) AS points FROM movements
  WHERE from_id IN (SELECT id FROM merchants) AND kind IN {PASSED_KINDS}
  GROUP BY month, to_id
), round2 AS (SELECT month, SUM(points) AS points FROM passed GROUP BY month),
spent AS (
  SELECT month, from_id, SUM(amount) AS points FROM movements WHERE kind IN {SPENT_KINDS} GROUP BY month, from_id
),
round3 AS (
  SELECT p.month, SUM(LEAST(p.points, s.points)) AS points
  FROM passed p JOIN spent s ON s.month = p.month AND s.from_id = p.to_id GROUP BY p.month
), settled AS (SELECT month, SUM(amount) AS points FROM movements WHERE kind = 'settled' GROUP BY month),
months AS (SELECT DISTINCT month FROM movements)
SELECT m.month, COALESCE(r1.points, 0) AS round1, COALESCE(r2.points, 0) AS round2, COALESCE(r3.points, 0) AS round3,
       COALESCE(st.points, 0) AS settled, COALESCE(r1.shops, 0) AS people,
       CASE WHEN COALESCE(r2.points, 0) + COALESCE(st.points, 0) > 0
            THEN CAST(COALESCE(r2.points, 0) AS DOUBLE PRECISION) / (COALESCE(r2.points, 0) + COALESCE(st.points, 0))
       END AS recirculated_share,
       CASE WHEN COALESCE(r1.points, 0) > 0
            THEN CAST(r1.points + COALESCE(r2.points, 0) + COALESCE(r3.points, 0) AS DOUBLE PRECISION) / r1.points
       END AS lm3
FROM months m LEFT JOIN round1 r1 ON r1.month = m.month LEFT JOIN round2 r2 ON r2.month = m.month
LEFT JOIN round3 r3 ON r3.month = m.month LEFT JOIN settled st ON st.month = m.month
"""

LOCAL_HOPS = f"""
WITH hops AS (SELECT month, kind, amount, from_id, to_id FROM movements WHERE kind IN {HOP_KINDS}),
parties AS (SELECT month, from_id AS id FROM hops UNION SELECT month, to_id AS id FROM hops)
SELECT h.month,
       SUM(CASE WHEN h.kind = 'b2b' THEN 1 ELSE 0 END) AS b2b,
       SUM(CASE WHEN h.kind = 'b2b' THEN h.amount ELSE 0 END) AS b2b_points,
       SUM(CASE WHEN h.kind = 'business-reward' THEN 1 ELSE 0 END) AS rewards,
       SUM(CASE WHEN h.kind = 'business-reward' THEN h.amount ELSE 0 END) AS reward_points,
       COUNT(*) AS hops, SUM(h.amount) AS points,
       (SELECT COUNT(*) FROM parties p WHERE p.month = h.month) AS people
FROM hops h GROUP BY h.month
"""

PARTICIPATION = f"""
WITH active AS (
  SELECT DISTINCT mv.month, mv.from_id AS id FROM movements mv WHERE mv.kind IN {ACTIVE_KINDS}
)
SELECT x.month, a.district, a.age_band, COUNT(*) AS people, SUM(a.card) AS card_holders
FROM active x JOIN accounts a ON a.id = x.id AND a.kind = 'resident'
GROUP BY x.month, a.district, a.age_band
"""

# as the wallet counted them (already through its k-rule: NULL where it suppressed a cell)
CARD_PAYMENTS = "SELECT month, district, payments, people, points FROM card_payments"

MERCHANTS_ACTIVE = """
SELECT mv.month, COUNT(DISTINCT mv.to_id) AS people, SUM(mv.amount) AS points
FROM movements mv JOIN accounts a ON a.id = mv.to_id AND a.kind = 'merchant'
WHERE mv.kind = 'payment' GROUP BY mv.month
"""

POPULATION = "SELECT district, age_band, SUM(people) AS people FROM population GROUP BY district, age_band"

DECARBONISATION = """
WITH granted AS (SELECT month, SUM(amount) AS points, COUNT(DISTINCT to_id) AS people FROM grants GROUP BY month),
reported AS (SELECT month, SUM(households) AS households, SUM(grams) AS grams, SUM(wh) AS wh FROM co2 GROUP BY month),
months AS (SELECT month FROM granted UNION SELECT month FROM reported)
SELECT m.month, COALESCE(g.points, 0) AS points, COALESCE(g.people, 0) AS people,
       COALESCE(r.households, 0) AS households, COALESCE(r.grams, 0) AS grams, COALESCE(r.wh, 0) AS wh,
       CASE WHEN COALESCE(r.grams, 0) > 0 THEN CAST(COALESCE(g.points, 0) AS DOUBLE PRECISION) * 1000000 / r.grams
       END AS points_per_tonne
FROM months m LEFT JOIN granted g ON g.month = m.month LEFT JOIN reported r ON r.month = m.month
"""

DECARBONISATION_DISTRICT = """
SELECT g.month, a.district, SUM(g.amount) AS points, COUNT(DISTINCT g.to_id) AS people
FROM grants g LEFT JOIN accounts a ON a.id = g.to_id GROUP BY g.month, a.district
"""

# the oracle's per-district reduction (households are the "people" of a cell; rows come folded to >= 10)
DECARBONISATION_REDUCTION = """
SELECT month, district, SUM(households) AS people, SUM(wh) AS wh, SUM(grams) AS grams
FROM co2_district GROUP BY month, district
"""

MUTUAL_AID = """
SELECT month, COUNT(*) AS posted, SUM(CASE WHEN matched_ts > 0 THEN 1 ELSE 0 END) AS matched,
       SUM(CASE WHEN completed_ts > 0 THEN 1 ELSE 0 END) AS completed, COUNT(DISTINCT requester) AS people,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN matched_ts > 0
           THEN CAST(matched_ts - posted_ts AS DOUBLE PRECISION) / 3600 END) AS median_hours_to_match
FROM help GROUP BY month
"""

# as the watch service published it (already through its k-rule: NULL where it suppressed a count)
WATCH = """
SELECT month, district, hours, volunteers AS people, wards, sightings, fixed_detectors FROM watch
"""

WELLBEING = """
SELECT year, district, age_band, item, COUNT(DISTINCT response) AS people,
       CAST(SUM(score) AS DOUBLE PRECISION) / COUNT(*) AS mean_score
FROM survey GROUP BY year, district, age_band, item
"""

QUERIES: dict[str, str] = {
    "circulation": CIRCULATION,
    "velocity": VELOCITY,
    "local_multiplier": LOCAL_MULTIPLIER,
    "local_hops": LOCAL_HOPS,
    "participation": PARTICIPATION,
    "card_payments": CARD_PAYMENTS,
    "merchants_active": MERCHANTS_ACTIVE,
    "population": POPULATION,
    "decarbonisation": DECARBONISATION,
    "decarbonisation_district": DECARBONISATION_DISTRICT,
    "decarbonisation_reduction": DECARBONISATION_REDUCTION,
    "mutual_aid": MUTUAL_AID,
    "watch": WATCH,
    "wellbeing": WELLBEING,
}


def compute(store: Warehouse) -> dict[str, list[dict[str, Any]]]:
    """Every indicator's raw cells (before the k-rule), sorted, with floats rounded to :data:`DECIMALS`."""
    results: dict[str, list[dict[str, Any]]] = {}
    for name, sql in QUERIES.items():
        results[name] = run(store, sql)
    return results


def run(store: Warehouse, sql: str) -> list[dict[str, Any]]:
    columns, rows = store.select(sql)
    out = [{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in rows]
    out.sort(key=lambda r: tuple(("" if v is None else str(v)) for v in r.values()))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DECIMALS)
    if value is None or isinstance(value, int | str):
        return value
    try:  # Decimal (PostgreSQL's SUM of BIGINT), numpy and HUGEINT values
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return int(number) if number.is_integer() and "." not in str(value) else round(number, DECIMALS)
