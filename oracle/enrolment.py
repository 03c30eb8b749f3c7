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
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import urllib3

from oracle.settlement import Household, HouseholdResult, Report, SettlementError, load_households

TOKEN_HEADER = "X-Oracle-Service-Token"
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
    return households_from_rows(rows, "the wallet's approved households")


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
