"""Pulling the wallet's research feed, the oracle's public reports and the watch service's statistics over HTTP.

The wallet answers ``GET /v1/research/attributes`` and ``GET /v1/research/survey`` only to a
caller holding the feed token (``X-Research-Token``, derived from the shared secret); accounts
come already named by their pseudonym, with district and age band, and never for residents who
opted out. The oracle's ``GET /v1/reports/{programme}/{period}`` is public.
"""

from __future__ import annotations

import re
from typing import Any

import requests

from analytics.census import districts
from analytics.pseudonyms import account_number
from analytics.warehouse import Warehouse

TIMEOUT = 30
PAGE = 5000
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class FeedError(Exception):
    """A source answered with an error (the message names it and the status)."""


def _get(url: str, token: str | None = None, params: dict[str, Any] | None = None) -> Any:
    headers = {"X-Research-Token": token} if token else {}
    response = requests.get(url, headers=headers, params=params, timeout=TIMEOUT)
    if response.status_code != 200:
        raise FeedError(f"{url} answered {response.status_code}")
    return response.json()


def pull_wallet(store: Warehouse, wallet_url: str, token: str) -> tuple[int, int]:
    """Replaces the attributes and the survey answers with the wallet's; returns (accounts, answers)."""
    ids: list[int] = []
    district: list[str] = []
    band: list[str] = []
    card: list[int] = []
    after = ""
    while True:
        page = _get(f"{wallet_url}/v1/research/attributes", token, {"after": after, "limit": PAGE})
        for row in page["accounts"]:
            ids.append(account_number(str(row["id"])))
            district.append(row["district"])
            band.append(row["age_band"])
            card.append(1 if row["card"] else 0)
        if not page.get("next"):
            break
        after = page["next"]
    store.replace("attributes", {"id": ids, "district": district, "age_band": band, "card": card})
    survey = _get(f"{wallet_url}/v1/research/survey", token)
    columns: dict[str, list[Any]] = {k: [] for k in ("response", "year", "district", "age_band", "item", "score")}
    for answer in survey["responses"]:
        for item, score in answer["answers"].items():
            columns["response"].append(answer["response"])
            columns["year"].append(int(answer["year"]))
            columns["district"].append(answer["district"])
            columns["age_band"].append(answer["age_band"])
            columns["item"].append(item)
            columns["score"].append(int(score))
    store.replace("survey", columns)
    return len(ids), len(survey["responses"])


def pull_card_payments(store: Warehouse, wallet_url: str, token: str) -> int:
    """Card-and-PIN payments by month and district (``GET /v1/research/card-payments``), replacing the table."""
    document = _get(f"{wallet_url}/v1/research/card-payments", token)
    codes = {d["code"] for d in districts()}
    columns: dict[str, list[Any]] = {c: [] for c in ("month", "district", "payments", "people", "points")}
    for cell in document["cells"]:
        if not MONTH.match(str(cell["month"])):
            continue
        district = "Σ" if cell["district"] == "all" else (cell["district"] if cell["district"] in codes else "-")
        columns["month"].append(str(cell["month"]))
        columns["district"].append(district)
        for name in ("payments", "people", "points"):
            columns[name].append(None if cell.get(name) is None else int(cell[name]))
    store.replace("card_payments", columns)
    return len(columns["month"])


def pull_oracle_energy(store: Warehouse, oracle_url: str) -> int:
    """Fills the Wh of each reported period from the oracle's public report, and its per-district totals
    (``districts``: households with a reduction, Wh, grams; no row under 10 households) when it has them;
    returns the periods read."""
    read = 0
    for programme, period, month in store.query("SELECT programme, period, month FROM co2 WHERE wh = 0"):
        try:
            report = _get(f"{oracle_url}/v1/reports/{int(programme)}/{int(period)}")
        except (FeedError, requests.RequestException):
            continue
        totals = report.get("totals", report)
        wh = int(totals.get("reduction_wh", 0) or 0)
        store.execute(f"UPDATE co2 SET wh = {wh} WHERE programme = {int(programme)} AND period = {int(period)}")
        store.execute(f"DELETE FROM co2_district WHERE programme = {int(programme)} AND period = {int(period)}")
        rows = [r for r in report.get("districts") or [] if isinstance(r, dict) and int(r.get("households", 0)) > 0]
        codes = {d["code"] for d in districts()}
        n = len(rows)
        store.append("co2_district", {
            "programme": [int(programme)] * n, "period": [int(period)] * n, "month": [month] * n,
            "district": [r["district"] if r["district"] in codes else "other" for r in rows],
            "households": [int(r["households"]) for r in rows], "wh": [int(r["reduction_wh"]) for r in rows],
            "grams": [int(r["co2_g"]) for r in rows],
        })  # fmt: skip
        read += 1
    return read


WATCH_HOURS = {"school": "school", "other": "other", "all": "Σ"}


def pull_watch(store: Warehouse, watch_url: str, token: str) -> int:
    """The watch service's coverage statistics (``GET /v1/stats/coverage``, read-only statistics token).

    Every month the service holds is pulled until one is pulled after it ended (``final``); that one is
    kept and not asked again (its sightings are deleted after 30 days, so a later answer would only lose
    wards). Districts are matched to the platform's by their Japanese name; counts the service
    suppressed arrive as null and stay so. Returns the months read.
    """
    headers = {"X-Watch-Stats-Token": token}
    listed = requests.get(f"{watch_url}/v1/stats/months", headers=headers, timeout=TIMEOUT)
    if listed.status_code != 200:
        raise FeedError(f"{watch_url}/v1/stats/months answered {listed.status_code}")
    final = {str(row[0]) for row in store.query("SELECT DISTINCT month FROM watch WHERE final = 1")}
    codes = {d["name_ja"]: d["code"] for d in districts()}
    read = 0
    for month in listed.json()["months"]:
        if month in final or not MONTH.match(str(month)):
            continue
        response = requests.get(f"{watch_url}/v1/stats/coverage", headers=headers, params={"month": month},
                                timeout=TIMEOUT)  # fmt: skip
        if response.status_code != 200:
            raise FeedError(f"{watch_url}/v1/stats/coverage answered {response.status_code}")
        report = response.json()
        names = {d["code"]: d["name_ja"] for d in report["districts"]}
        columns: dict[str, list[Any]] = {c: [] for c in ("month", "district", "hours", "volunteers", "wards",
                                                         "sightings", "fixed_detectors", "final")}  # fmt: skip
        for cell in report["cells"]:
            district = "Σ" if cell["district"] == "all" else codes.get(names.get(cell["district"], ""), "-")
            columns["month"].append(month)
            columns["district"].append(district)
            columns["hours"].append(WATCH_HOURS.get(cell["band"], "other"))
            for name in ("volunteers", "wards", "sightings", "fixed_detectors"):
                value = cell.get(name)
                columns[name].append(None if value is None else int(value))
            columns["final"].append(1 if report.get("closed") else 0)
        store.execute(f"DELETE FROM watch WHERE month = '{month}'")
        store.append("watch", columns)
        read += 1
    return read
