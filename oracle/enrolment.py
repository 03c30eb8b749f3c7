"""Households enrolled by residents in the wallet (issue 21), and what each household's month came to.

**Pull, at settlement.** The wallet keeps the residents' enrolments with their consent and the
city's approval; the oracle asks it for the approved list (``GET /v1/co2/oracle/households`` with
the service token the two share) when it settles a month, so a month is settled for exactly the
households whose consent stands at that moment: a revoked one is simply not on the list, and
nothing has to be kept in step between the two services. A wallet that cannot be reached stops
the settlement (no month is settled on a stale list). The hand-edited ``households.csv`` stays
the fallback for a city that runs the oracle without this wallet.

The list carries what settlement needs and nothing personal: the household id (as the city's
gateways know it), its meters, the resident's custodial address and the salt of its public
hash. The wallet keeps the link between a person and a household; the oracle never sees a name.
Issue 22: each entry also carries the household's coarse district code (the 町 the wallet's research
feed shares; "-" when unknown or the resident opted out of research), used only for the period's
per-district totals (:func:`district_totals`, no row under 10 households), published beside the report.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import urllib3

from oracle.settlement import Household, HouseholdResult, Report, SettlementError, load_households

TOKEN_HEADER = "X-Oracle-Service-Token"
MIN_HOUSEHOLDS = 10  # a published district row counts at least this many households
UNKNOWN_DISTRICT = "-"
OTHER_DISTRICT = "other"
DISTRICT = re.compile(r"^[0-9A-Za-z-]{1,16}$")
HOUSEHOLDS_PATH = "/v1/co2/oracle/households"
TIMEOUT = urllib3.Timeout(connect=3.0, read=30.0)


def read_token(path: Path) -> str:
    """The service token the wallet and the oracle share (a 0600 file; refused if others may read it)."""
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is readable by others: chmod 600 it")
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < 16:
        raise ValueError(f"{path}: the service token is too short (16 characters at least)")
    return token


def households_from_rows(rows: Iterable[dict[str, Any]], source: str) -> dict[str, Household]:
    """The wallet's approved list, checked by the same rules as ``households.csv`` (one meter, one household)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["household_id", "meter_ids", "address", "salt"])
    for row in rows:
        meters = row.get("meter_ids")
        if not isinstance(meters, list) or any(not isinstance(m, str) or ";" in m for m in meters):
            raise SettlementError(f"{source}: household {row.get('household_id')!r} has malformed meter ids")
        writer.writerow(
            [row.get("household_id") or "", ";".join(meters), row.get("address") or "", row.get("salt") or ""]
        )
    return load_households(text.getvalue(), source)


def households_from_wallet(wallet_url: str, token: str) -> dict[str, Household]:
    """The households the city approved in the wallet, their consent standing now."""
    return wallet_households(wallet_url, token)[0]


def wallet_households(wallet_url: str, token: str) -> tuple[dict[str, Household], dict[str, str]]:
    """The approved households, and each one's coarse district code ("-" when the wallet gives none)."""
    url = wallet_url.rstrip("/") + HOUSEHOLDS_PATH
    try:
        response = urllib3.PoolManager().request(
            "GET", url, headers={TOKEN_HEADER: token, "Accept": "application/json"}, timeout=TIMEOUT, retries=False
        )
    except urllib3.exceptions.HTTPError as exc:
        raise ConnectionError(f"the wallet at {wallet_url} cannot be reached: {exc}") from None
    if response.status != 200:
        raise SettlementError(f"the wallet refused the household list ({response.status}): {response.data[:200]!r}")
    try:
        document = json.loads(response.data)
        rows = document["households"]
    except (ValueError, KeyError, TypeError):
        raise SettlementError('the wallet\'s household list is not {"households": [...]}') from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SettlementError("the wallet's household list is not a list of households")
    households = households_from_rows(rows, "the wallet's approved households")
    return households, districts_of(rows)


def districts_of(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Household id → district code as the wallet listed it; anything not a plain short code counts as "-"."""
    out: dict[str, str] = {}
    for row in rows:
        district = row.get("district")
        out[str(row.get("household_id"))] = (
            district if isinstance(district, str) and DISTRICT.match(district) else UNKNOWN_DISTRICT
        )
    return out


def district_totals(
    households: dict[str, Household],
    results: Sequence[HouseholdResult],
    districts: dict[str, str],
    k: int = MIN_HOUSEHOLDS,
) -> list[dict[str, Any]]:
    """The period's reduction by district, for the public report: households with a verified reduction, Wh and
    grams of CO2 (the same households as the city's totals, so the rows add up to them).

    No row counts fewer than ``k`` households: districts under ``k`` (and households of unknown district) are
    **folded into one "other" row**; if that row is itself under ``k``, the smallest named district is folded
    in too, until it reaches ``k`` or is empty. A one-way table that adds up to a published total cannot
    simply blank a cell (total minus the rest would give it back), so folding is used, not blanking.
    """
    by_hash = {h.salted_hash: h.household_id for h in households.values()}
    cells: dict[str, list[int]] = {}
    for result in results:
        if result.reason is not None or result.co2_g <= 0:
            continue
        district = districts.get(by_hash.get(result.salted_hash, ""), UNKNOWN_DISTRICT)
        cell = cells.setdefault(district, [0, 0, 0])
        cell[0] += 1
        cell[1] += result.reduction_wh
        cell[2] += result.co2_g
    if not any(d != UNKNOWN_DISTRICT for d in cells):
        return []  # no district known (a households file, or every resident opted out): nothing by district
    other = [0, 0, 0]
    named = {d: c for d, c in cells.items() if d != UNKNOWN_DISTRICT and c[0] >= k}
    for district, cell in cells.items():
        if district not in named:
            other = [a + b for a, b in zip(other, cell, strict=True)]
    while 0 < other[0] < k and named:
        smallest = min(named, key=lambda d: (named[d][0], d))
        other = [a + b for a, b in zip(other, named.pop(smallest), strict=True)]
    if 0 < other[0] < k:
        return []  # fewer than k households in the whole city: only the city's own totals are published
    rows = [{"district": d, "households": c[0], "reduction_wh": c[1], "co2_g": c[2]} for d, c in sorted(named.items())]
    if other[0]:
        rows.append({"district": OTHER_DISTRICT, "households": other[0], "reduction_wh": other[1], "co2_g": other[2]})
    return rows


def districts_path(directory: Path, programme_id: int, period: int) -> Path:
    return directory / f"report-{programme_id}-{period}.districts.json"


def save_district_totals(directory: Path, programme_id: int, period: int, rows: list[dict[str, Any]]) -> Path:
    """Beside the period's report (same folder), written whole or not at all."""
    directory.mkdir(parents=True, exist_ok=True)
    path = districts_path(directory, programme_id, period)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"min_households": MIN_HOUSEHOLDS, "districts": rows}, indent=1), encoding="utf-8")
    temporary.replace(path)
    return path


def load_district_totals(directory: Path, programme_id: int, period: int) -> list[dict[str, Any]] | None:
    path = districts_path(directory, programme_id, period)
    if not path.exists():
        return None
    rows = json.loads(path.read_text(encoding="utf-8")).get("districts")
    return rows if isinstance(rows, list) else None


def month_rows(
    households: dict[str, Household], results: Sequence[HouseholdResult], report: Report | None
) -> list[dict[str, Any]]:
    """Each household's result of the month for the evidence store (``household_months``), excluded ones too."""
    by_hash = {h.salted_hash: h.household_id for h in households.values()}
    leaf_of = {} if report is None else {h: report.leaves[i][0] for i, h in enumerate(report.salted_hashes)}
    return [
        {
            "household_id": by_hash[r.salted_hash],
            "consumption_wh": r.consumption_wh,
            "baseline_wh": r.baseline_wh,
            "baseline_source": r.baseline_source[:40],
            "reduction_wh": r.reduction_wh,
            "co2_g": r.co2_g,
            "reason": r.reason,
            "leaf_index": leaf_of.get(r.salted_hash),
        }
        for r in results
    ]


def period_totals(results: Sequence[HouseholdResult]) -> dict[str, int]:
    """The city's figures of the month, also when no household earned (and so no report was built)."""
    granted = [r for r in results if r.reason is None and r.co2_g > 0]
    return {
        "households_verified": sum(1 for r in results if r.reason is None),
        "households_excluded": sum(1 for r in results if r.reason),
        "reduction_wh": sum(r.reduction_wh for r in granted),
        "co2_g": sum(r.co2_g for r in granted),
    }
