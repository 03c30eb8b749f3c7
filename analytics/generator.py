"""A synthetic city for the benchmark, the screenshots and demos: residents with districts and age
bands drawn from the census sample, shops, and a year of point movements of every kind, made with
NumPy in columns (ten million rows in seconds). Nothing here is real data.

``city(...)`` returns the columns; ``write_indexer_sqlite`` stores the movements in a database with
the indexer's own schema (made by the caller through the indexer's migrations), so the benchmark
ingests through the same read-only SQL path as the service; ``load_store`` puts a city straight into
a warehouse (already pseudonymous) for tests and screenshots.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from analytics.census import AGE_BANDS, districts, load
from analytics.warehouse import Warehouse

JST = timezone(timedelta(hours=9))
ZERO = "0x" + "00" * 20
# kinds and their shares of all movements (a city where most movements are payments at shops)
KINDS = ["issued", "payment", "thanks", "transfer", "settled", "swept", "help"]
SHARES = [0.09, 0.66, 0.13, 0.05, 0.02, 0.02, 0.03]


@dataclass
class City:
    residents: list[str]  # addresses
    merchants: list[str]
    district: np.ndarray[Any, Any]  # per resident
    age_band: np.ndarray[Any, Any]
    card: np.ndarray[Any, Any]
    movements: dict[str, np.ndarray[Any, Any]]  # ts, from, to, amount, kind (addresses)
    months: list[str]
    survey: dict[str, list[Any]]
    help: list[tuple[int, str, int, int, int]]  # id, requester, posted, matched, completed
    co2: list[tuple[int, int, int, int, int]]  # programme, period, timestamp, households, grams


def city(residents: int, movements: int, months: int = 12, start: str = "2025-04", seed: int = 22) -> City:
    rng = np.random.default_rng(seed)
    census = load()
    codes = [d["code"] for d in districts()]
    per_district = np.array([sum(r["people"] for r in census if r["district"] == c) for c in codes], dtype=float)
    per_band = np.array([sum(r["people"] for r in census if r["age_band"] == b) for b in AGE_BANDS], dtype=float)
    district = np.array(codes, dtype=object)[rng.choice(len(codes), residents, p=per_district / per_district.sum())]
    band_index = rng.choice(len(AGE_BANDS), residents, p=per_band / per_band.sum())
    age_band = np.array(AGE_BANDS, dtype=object)[band_index]
    card = (rng.random(residents) < np.where(band_index >= 7, 0.45, 0.05)).astype(np.int64)
    shop_count = max(10, residents // 300)
    resident_addresses = [f"0x{i + 1:040x}" for i in range(residents)]
    shop_addresses = [f"0x{0xA000000 + j:040x}" for j in range(shop_count)]
    year, month = (int(x) for x in start.split("-"))
    month_starts = []
    for m in range(months + 1):
        y, mm = divmod(month - 1 + m, 12)
        month_starts.append(int(datetime(year + y, mm + 1, 1, tzinfo=JST).timestamp()))
    month_labels = [datetime.fromtimestamp(s, JST).strftime("%Y-%m") for s in month_starts[:-1]]

    n = movements
    kind_index = rng.choice(len(KINDS), n, p=SHARES)
    which_month = rng.integers(0, months, n)
    starts = np.array(month_starts, dtype=np.int64)
    ts = starts[which_month] + (rng.random(n) * (starts[which_month + 1] - starts[which_month])).astype(np.int64)
    ts.sort()  # the chain's order
    # elderly residents take part less (the digital divide the participation page shows)
    weight = np.where(band_index >= 8, 0.4, np.where(band_index <= 1, 0.2, 1.0))
    weight = weight / weight.sum()
    person = rng.choice(residents, n, p=weight)
    other = rng.choice(residents, n)
    shop = rng.integers(0, shop_count, n)
    other_shop = rng.integers(0, shop_count, n)
    r_addr = np.array(resident_addresses, dtype=object)
    s_addr = np.array(shop_addresses, dtype=object)
    sender = np.empty(n, dtype=object)
    receiver = np.empty(n, dtype=object)
    kinds = np.array(KINDS, dtype=object)[kind_index]
    for k, name in enumerate(KINDS):
        mask = kind_index == k
        if name == "issued":
            sender[mask], receiver[mask] = ZERO, r_addr[person[mask]]
        elif name == "payment":
            sender[mask], receiver[mask] = r_addr[person[mask]], s_addr[shop[mask]]
        elif name in ("thanks", "help"):
            sender[mask], receiver[mask] = r_addr[person[mask]], r_addr[other[mask]]
        elif name == "transfer":  # a shop passing points on, to a resident or another shop
            to_shop = rng.random(int(mask.sum())) < 0.3
            sender[mask] = s_addr[shop[mask]]
            receiver[mask] = np.where(to_shop, s_addr[other_shop[mask]], r_addr[person[mask]])
        elif name == "settled":
            sender[mask], receiver[mask] = s_addr[shop[mask]], ZERO
        else:  # swept: expired points
            sender[mask], receiver[mask] = r_addr[person[mask]], ZERO
    amount = np.maximum(1, rng.lognormal(5.5, 0.8, n)).astype(np.int64)
    amount[kind_index == 0] = 3000
    amount[kind_index == 4] *= 20  # a settlement gathers many payments

    adults = np.flatnonzero(band_index >= 2)  # the survey asks residents aged 20 and over
    respondents = rng.choice(adults, max(1, min(len(adults), residents // 10)), replace=False)
    survey: dict[str, list[Any]] = {k: [] for k in ("response", "year", "district", "age_band", "item", "score")}
    for i, who in enumerate(respondents):
        for item in ("life_satisfaction", "happiness", "connectedness", "self_determination", "local_attachment"):
            survey["response"].append(f"r{i:08d}")
            survey["year"].append(year)
            survey["district"].append(district[who])
            survey["age_band"].append(age_band[who])
            survey["item"].append(item)
            survey["score"].append(int(np.clip(rng.normal(6.5 + 0.3 * (band_index[who] >= 6), 1.8), 0, 10)))
    help_rows = []
    for i in range(max(1, residents // 20)):
        posted = int(starts[0] + rng.random() * (starts[-1] - starts[0]))
        matched = posted + int(rng.exponential(6 * 3600)) if rng.random() < 0.8 else 0
        completed = matched + 7200 if matched and rng.random() < 0.9 else 0
        help_rows.append((i + 1, resident_addresses[int(rng.integers(residents))], posted, matched, completed))
    co2_rows = [(1, m + 1, int(starts[m + 1] - 3600), residents // 50, int(residents // 50 * 12_000 * (1 + m % 3)))
                for m in range(months)]  # fmt: skip
    return City(
        resident_addresses, shop_addresses, district, age_band, card,
        {"ts": ts, "from": sender, "to": receiver, "amount": amount, "kind": kinds},
        month_labels, survey, help_rows, co2_rows,
    )  # fmt: skip


def write_indexer_sqlite(c: City, path: str, chunk: int = 500_000) -> None:
    """Writes the city's chain activity into an indexer-schema SQLite database (made by the indexer's migrations)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA foreign_keys=OFF")  # blocks are written first anyway
    ts = c.movements["ts"]
    n = len(ts)
    per_block = 50
    blocks = np.arange(n) // per_block + 1
    block_ts = ts[::per_block]
    db.executemany(
        "INSERT INTO blocks (number, hash, parent_hash, timestamp, proposer, tx_count, gas_used, transactions_root)"
        " VALUES (?, printf('0x%064x', ?), printf('0x%064x', ?), ?, ?, ?, 0, ?)",
        ((i + 1, i + 1, i, int(t), ZERO, per_block, "0x" + "00" * 32) for i, t in enumerate(block_ts.tolist())),
    )
    for begin in range(0, n, chunk):
        end = min(n, begin + chunk)
        rows = zip(
            blocks[begin:end].tolist(), range(begin, end), c.movements["from"][begin:end].tolist(),
            c.movements["to"][begin:end].tolist(), c.movements["amount"][begin:end].tolist(),
            c.movements["kind"][begin:end].tolist(), ts[begin:end].tolist(), strict=True,
        )  # fmt: skip
        db.executemany(
            "INSERT INTO movements (block_number, log_index, tx_hash, from_address, to_address, amount, kind,"
            " request_id, timestamp) VALUES (?, ?, '0x', ?, ?, ?, ?, NULL, ?)",
            rows,
        )
    events: list[tuple[Any, ...]] = []
    log = n
    for kind, addresses in ((1, c.residents), (2, c.merchants)):
        for address in addresses:
            log += 1
            events.append((1, log, "AccountRegistered", json.dumps({"account": address, "kind": kind}), int(ts[0])))
    for request, requester, posted, matched, completed in c.help:
        for name, moment in (("RequestPosted", posted), ("HelperChosen", matched), ("HelpCompleted", completed)):
            if moment:
                log += 1
                events.append((1, log, name, json.dumps({"id": request, "requester": requester}), moment))
    for programme, period, moment, households, grams in c.co2:
        log += 1
        args = {"programmeId": programme, "period": period, "households": households, "totalUnits": grams}
        events.append((1, log, "ReportAccepted", json.dumps(args), moment))
    db.executemany(
        "INSERT INTO events (block_number, log_index, tx_hash, contract, address, name, args, topics, data, timestamp)"
        " VALUES (?, ?, '0x', 'x', '0x', ?, ?, '[]', '0x', ?)",
        events,
    )
    db.commit()
    db.close()


def attributes_of(c: City, rename: Any) -> dict[str, Any]:
    """What the wallet's feed would give for this city (every resident sharing)."""
    return {"id": [rename(a) for a in c.residents], "district": c.district, "age_band": c.age_band, "card": c.card}


def load_store(c: City, store: Warehouse, rename: Any = None) -> None:
    """The city straight into a warehouse (ids renamed by ``rename``, a test key's by default), for tests
    and screenshots."""
    from analytics.indexer_source import months_of
    from analytics.pseudonyms import namer, pseudonym_key

    rename = rename or namer(pseudonym_key(b"generated city, not a secret"))
    ids = {ZERO: 0}
    for address in [*c.residents, *c.merchants]:
        ids[address] = rename(address)
    store.replace("movements", {
        "ts": c.movements["ts"], "month": months_of(c.movements["ts"]), "block": np.arange(len(c.movements["ts"])),
        "from_id": np.array([ids[a] for a in c.movements["from"]], dtype=np.int64),
        "to_id": np.array([ids[a] for a in c.movements["to"]], dtype=np.int64),
        "amount": c.movements["amount"], "kind": c.movements["kind"],
    })  # fmt: skip
    store.replace("registry", {"id": [ids[a] for a in c.residents] + [ids[a] for a in c.merchants],
                               "kind": ["resident"] * len(c.residents) + ["merchant"] * len(c.merchants)})  # fmt: skip
    store.replace("attributes", attributes_of(c, lambda a: ids[a]))
    store.replace("survey", c.survey)
    store.replace("help", {
        "request": [str(h[0]) for h in c.help], "requester": [ids[h[1]] for h in c.help],
        "month": list(months_of(np.array([h[2] for h in c.help], dtype=np.int64))),
        "posted_ts": [h[2] for h in c.help], "matched_ts": [h[3] for h in c.help],
        "completed_ts": [h[4] for h in c.help],
    })  # fmt: skip
    store.replace("co2", {
        "programme": [r[0] for r in c.co2], "period": [r[1] for r in c.co2],
        "month": list(months_of(np.array([r[2] for r in c.co2], dtype=np.int64))),
        "households": [r[3] for r in c.co2], "grams": [r[4] for r in c.co2],
        "wh": [r[4] * 2 for r in c.co2],
    })  # fmt: skip
    grants = c.movements["kind"] == "issued"
    store.replace("grants", {
        "month": months_of(c.movements["ts"][grants][::10]),
        "to_id": np.array([ids[a] for a in c.movements["to"][grants][::10]], dtype=np.int64),
        "amount": c.movements["amount"][grants][::10] // 10,
    })  # fmt: skip


def load_reported(c: City, store: Warehouse, seed: int = 23) -> None:
    """What the other services would report for this city, for tests and screenshots: local hops (a shop's
    transfers to another shop as ``b2b``, every other one to a resident as ``business-reward``), the oracle's
    per-district CO2 rows, the wallet's card-payment counts and the watch service's coverage — each already
    through its source's rule (no count under 10; small districts of the CO2 rows folded into "other")."""
    rng = np.random.default_rng(seed)
    store.execute("UPDATE co2 SET households = households * 5")  # enough households for districts to show
    store.execute("UPDATE movements SET kind = 'b2b' WHERE kind = 'transfer' AND to_id IN "
                  "(SELECT id FROM registry WHERE kind = 'merchant')")  # fmt: skip
    store.execute("UPDATE movements SET kind = 'business-reward' WHERE kind = 'transfer' AND block % 2 = 0")
    codes = [d["code"] for d in districts()]
    share = np.array([float(np.count_nonzero(c.district == code)) for code in codes])
    share = share / share.sum()
    co2 = store.query("SELECT programme, period, month, households, grams, wh FROM co2 ORDER BY period")
    rows: dict[str, list[Any]] = {k: [] for k in ("programme", "period", "month", "district", "households", "wh",
                                                  "grams")}  # fmt: skip
    for programme, period, month, households, grams, wh in co2:
        split = np.floor(share * households).astype(int)
        other = int(households - split.sum())
        for code, count in zip(codes, split.tolist(), strict=True):
            if count < 10:
                other += count
                continue
            for key, value in (("programme", programme), ("period", period), ("month", month), ("district", code),
                               ("households", count), ("wh", int(wh * count / households)),
                               ("grams", int(grams * count / households))):  # fmt: skip
                rows[key].append(value)
        if other:
            for key, value in (("programme", programme), ("period", period), ("month", month), ("district", "other"),
                               ("households", other), ("wh", int(wh * other / households)),
                               ("grams", int(grams * other / households))):  # fmt: skip
                rows[key].append(value)
    store.replace("co2_district", rows)
    cards: dict[str, list[Any]] = {k: [] for k in ("month", "district", "payments", "people", "points")}
    watch: dict[str, list[Any]] = {k: [] for k in ("month", "district", "hours", "volunteers", "wards", "sightings",
                                                   "fixed_detectors", "final")}  # fmt: skip
    for month in c.months:
        month_people = 0
        for code, weight in zip(codes, share.tolist(), strict=True):
            people = int(rng.poisson(60 * weight))
            month_people += people
            shown = people >= 10
            cards["month"].append(month)
            cards["district"].append(code)
            cards["people"].append(people if shown else None)
            cards["payments"].append(people * 3 if shown else None)
            cards["points"].append(people * 3 * 420 if shown else None)
        for key, value in (("month", month), ("district", "Σ"), ("people", month_people),
                           ("payments", month_people * 3), ("points", month_people * 1260)):  # fmt: skip
            cards[key].append(value)
        for code, weight in [*zip(codes, share.tolist(), strict=True), ("Σ", 1.0)]:
            for hours, base in (("school", 90), ("other", 40), ("Σ", 110)):
                people = int(base * weight) if code != "Σ" else base
                wards = int(people * 0.6)
                watch["month"].append(month)
                watch["district"].append(code)
                watch["hours"].append(hours)
                watch["volunteers"].append(people if people >= 10 else None)
                watch["wards"].append(wards if wards >= 10 else None)
                watch["sightings"].append(wards * 14 if wards >= 10 else None)
                watch["fixed_detectors"].append(2 if hours == "school" else 0)
                watch["final"].append(1)
    store.replace("card_payments", cards)
    store.replace("watch", watch)
