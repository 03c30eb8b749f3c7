"""The data platform (issue 22): indicators with hand-computed answers on a small generated city,
read from a real indexer database (its own migrations) by SQL, the same on DuckDB and PostgreSQL;
the k-rule with complementary suppression; exports that do not give a person away; the pages."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Hashable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics import census, exports, indicators, privacy, pseudonyms
from analytics.indexer_source import IndexerSource
from analytics.service import Platform
from analytics.settings import AnalyticsSettings
from analytics.warehouse import DuckWarehouse, PostgresWarehouse
from indexer.db.engine import upgrade
from tests.conftest import REPO, free_port
from tests.wallet_support import postgres_database

JST = timezone(timedelta(hours=9))
APRIL = int(datetime(2026, 4, 10, 12, tzinfo=JST).timestamp())
MAY = int(datetime(2026, 5, 10, 12, tzinfo=JST).timestamp())
ZERO = "0x" + "00" * 20
SECRET = b"test-research-secret-0123456789"
KEY = pseudonyms.pseudonym_key(SECRET)
R = [f"0x{i:040x}" for i in range(1, 7)]  # residents R1..R6
M1, M2 = "0x" + "aa" * 20, "0x" + "bb" * 20
T0 = APRIL + 100


def name(address: str) -> int:
    return pseudonyms.namer(KEY)(address)


class IndexerDb:
    """An indexer database made by the indexer's own migrations, filled with a known month of activity."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path}"
        upgrade(self.url)
        self.db = sqlite3.connect(path)
        self.block = 0
        self.log = 0

    def _block(self, timestamp: int) -> int:
        self.block += 1
        self.db.execute(
            "INSERT INTO blocks (number, hash, parent_hash, timestamp, proposer, tx_count, gas_used, transactions_root)"
            " VALUES (?, ?, ?, ?, ?, 1, 0, ?)",
            (self.block, f"0x{self.block:064x}", f"0x{self.block - 1:064x}", timestamp, ZERO, "0x" + "00" * 32),
        )
        return self.block

    def move(self, timestamp: int, sender: str, receiver: str, amount: int, kind: str, method: str = "") -> None:
        block = self._block(timestamp)
        tx = f"0x{block:064x}"
        self.db.execute(
            'INSERT INTO transactions (hash, block_number, tx_index, sender, "to", status, gas_used, method, kind,'
            " amount, counterparty, timestamp) VALUES (?, ?, 0, ?, ?, 1, 0, ?, ?, ?, ?, ?)",
            (tx, block, sender, receiver, method or None, kind, amount, receiver, timestamp),
        )
        self.log += 1
        self.db.execute(
            "INSERT INTO movements (block_number, log_index, tx_hash, from_address, to_address, amount, kind,"
            " request_id, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
            (block, self.log, tx, sender, receiver, amount, kind, timestamp),
        )

    def event(self, timestamp: int, event: str, args: dict[str, Any]) -> None:
        block = self._block(timestamp)
        self.log += 1
        self.db.execute(
            "INSERT INTO events (block_number, log_index, tx_hash, contract, address, name, args, topics, data,"
            " timestamp) VALUES (?, ?, ?, 'x', ?, ?, ?, '[]', '0x', ?)",
            (block, self.log, f"0x{block:064x}", ZERO, event, json.dumps(args), timestamp),
        )

    def commit(self) -> None:
        self.db.commit()


def small_city(db: IndexerDb) -> None:
    """The month of docs/indicators.md's worked example (answers in the tests below)."""
    for address in R:
        db.event(APRIL, "AccountRegistered", {"account": address, "kind": 1, "recordHash": "0x"})
    for address in (M1, M2):
        db.event(APRIL, "AccountRegistered", {"account": address, "kind": 2, "recordHash": "0x"})
    for address in R:
        db.move(APRIL, ZERO, address, 1000, "issued")
    db.move(APRIL, ZERO, R[3], 400, "issued", method="grant")  # the CO2 programme's grant to R4
    db.event(APRIL, "ReportAccepted", {"programmeId": 1, "period": 24315, "merkleRoot": "0x", "households": 1,
                                       "totalUnits": 2_000_000, "signers": []})  # fmt: skip
    db.move(APRIL, R[0], M1, 300, "payment")
    db.move(APRIL, R[1], M1, 200, "payment")
    db.move(APRIL, R[2], M2, 100, "payment")
    db.move(APRIL, R[3], R[4], 50, "thanks")
    db.move(APRIL, M1, R[5], 100, "transfer")  # round 2: the shop passes points on
    db.move(APRIL, R[5], M2, 80, "payment")  # round 3: 80 of those 100 spent again locally
    db.move(APRIL, M1, ZERO, 300, "settled")
    db.move(APRIL, R[4], ZERO, 20, "swept")
    db.move(MAY, R[0], M1, 100, "payment")
    db.move(MAY, ZERO, R[0], 500, "issued")
    db.event(T0, "RequestPosted", {"id": 1, "requester": R[0], "taskType": 1, "thanks": 10, "startsAt": 0,
                                   "endsAt": 0, "detailsHash": "0x"})  # fmt: skip
    db.event(T0 + 7200, "HelperChosen", {"id": 1, "requester": R[0], "helper": R[1]})
    db.event(T0 + 10000, "HelpCompleted", {"id": 1, "requester": R[0], "helper": R[1], "paid": 10})
    db.event(T0, "RequestPosted", {"id": 2, "requester": R[1], "taskType": 1, "thanks": 10, "startsAt": 0,
                                   "endsAt": 0, "detailsHash": "0x"})  # fmt: skip
    db.commit()


def attributes() -> dict[str, list[Any]]:
    """What the wallet's feed would give: R1-R3 in 高砂町 aged 70-79 (R1, R2 with cards), R4-R6 in 荒井町 aged 20-29."""
    return {
        "id": [name(a) for a in R],
        "district": ["28216-0010"] * 3 + ["28216-0020"] * 3,
        "age_band": ["70-79"] * 3 + ["20-29"] * 3,
        "card": [1, 1, 0, 0, 0, 0],
    }


@pytest.fixture(scope="module")
def indexer_db(tmp_path_factory: pytest.TempPathFactory) -> IndexerDb:
    db = IndexerDb(tmp_path_factory.mktemp("indexer") / "indexer.db")
    small_city(db)
    return db


@pytest.fixture(scope="module")
def duck(indexer_db: IndexerDb) -> DuckWarehouse:
    store = DuckWarehouse()
    IndexerSource(indexer_db.url, name).pull(store, 0)
    store.replace("attributes", attributes())
    rows = census.load()
    store.replace("population", {column: [r[column] for r in rows] for column in rows[0]})
    return store


def by(rows: list[dict[str, Any]], **where: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r.get(k) == v for k, v in where.items())]
    assert len(found) == 1, (where, rows)
    return found[0]


def test_circulation_velocity_and_the_local_multiplier_have_the_hand_computed_values(duck: DuckWarehouse) -> None:
    raw = indicators.compute(duck)
    circulation = raw["circulation"]
    assert by(circulation, month="2026-04", district="28216-0010", measure="spent") == {
        "month": "2026-04", "district": "28216-0010", "measure": "spent", "points": 600, "people": 3}  # fmt: skip
    assert by(circulation, month="2026-04", district="28216-0020", measure="spent")["points"] == 80
    assert by(circulation, month="2026-04", district="28216-0020", measure="issued")["points"] == 3400
    assert by(circulation, month="2026-04", district="28216-0020", measure="thanked")["points"] == 50
    assert by(circulation, month="2026-04", district="28216-0020", measure="expired")["points"] == 20
    assert by(circulation, month="2026-04", district="-", measure="settled") == {
        "month": "2026-04", "district": "-", "measure": "settled", "points": 300, "people": 1}  # fmt: skip
    # velocity: (payments 680 + thanks 50 + transfer 100) / (issued 6400 − settled 300 − expired 20)
    april, may = raw["velocity"]
    assert (april["spending"], april["outstanding"], april["velocity"]) == (830, 6080, round(830 / 6080, 6))
    assert (may["spending"], may["outstanding"], may["velocity"]) == (100, 6580, round(100 / 6580, 6))
    lm3 = by(raw["local_multiplier"], month="2026-04")
    assert (lm3["round1"], lm3["round2"], lm3["round3"], lm3["settled"]) == (680, 100, 80, 300)
    assert lm3["recirculated_share"] == 0.25 and lm3["lm3"] == round(860 / 680, 6)


def test_participation_mutual_aid_and_decarbonisation_have_the_hand_computed_values(duck: DuckWarehouse) -> None:
    raw = indicators.compute(duck)
    april = [r for r in raw["participation"] if r["month"] == "2026-04"]
    assert by(april, district="28216-0010", age_band="70-79") | {} == {
        "month": "2026-04", "district": "28216-0010", "age_band": "70-79", "people": 3, "card_holders": 2}  # fmt: skip
    assert by(april, district="28216-0020", age_band="20-29")["people"] == 2  # R4 thanked, R6 paid; R5 only received
    assert by(raw["merchants_active"], month="2026-04") == {"month": "2026-04", "people": 2, "points": 680}
    help_row = by(raw["mutual_aid"], month="2026-04")
    assert (help_row["posted"], help_row["matched"], help_row["completed"]) == (2, 1, 1)
    assert help_row["median_hours_to_match"] == 2.0
    co2 = by(raw["decarbonisation"], month="2026-04")
    assert (co2["points"], co2["households"], co2["grams"], co2["points_per_tonne"]) == (400, 1, 2_000_000, 200.0)
    assert by(raw["decarbonisation_district"], month="2026-04")["district"] == "28216-0020"
    population = raw["population"]
    assert sum(r["people"] for r in population) == 90124  # the shipped census sample


def test_the_store_holds_no_address(duck: DuckWarehouse) -> None:
    # accounts are numbers there (keyed hashes); the text columns hold months, kinds, districts, never an address
    assert duck.query("SELECT COUNT(*) FROM registry WHERE id = 0 OR id IS NULL")[0][0] == 0
    assert {r[0] for r in duck.query("SELECT id FROM registry")} == {name(a) for a in [*R, M1, M2]}
    for table in ("movements", "registry", "attributes", "help", "grants"):
        columns = [r[0] for r in duck.query(f"DESCRIBE {table}") if r[1].startswith("VARCHAR")]
        for column in columns:
            assert duck.query(f"SELECT COUNT(*) FROM {table} WHERE {column} LIKE '0x%'")[0][0] == 0, (table, column)


def test_postgresql_gives_the_same_results_as_duckdb(indexer_db: IndexerDb, duck: DuckWarehouse) -> None:
    store = PostgresWarehouse(postgres_database())
    try:
        IndexerSource(indexer_db.url, name).pull(store, 0)
        store.replace("attributes", attributes())
        rows = census.load()
        store.replace("population", {column: [r[column] for r in rows] for column in rows[0]})
        assert indicators.compute(store) == indicators.compute(duck)
    finally:
        store.close()


def test_postgresql_and_duckdb_agree_on_what_the_other_services_report(tmp_path: Path) -> None:
    """The four tables other services report (local hops, CO2 by district, card payments, watch-over
    coverage) give the same indicators on both engines, and they are not empty there."""
    from analytics.generator import city, load_reported, load_store

    generated = city(2000, 20_000, months=3, start="2026-01")
    duck = DuckWarehouse(tmp_path / "reported.duckdb")
    store = PostgresWarehouse(postgres_database())
    try:
        rows = census.load()
        for warehouse in (duck, store):
            load_store(generated, warehouse)
            load_reported(generated, warehouse)
            warehouse.replace("population", {column: [r[column] for r in rows] for column in rows[0]})
        for table in ("co2_district", "card_payments", "watch"):
            assert duck.query(f"SELECT count(*) FROM {table}")[0][0] > 0, table
        assert duck.query("SELECT count(*) FROM movements WHERE kind IN ('b2b', 'business-reward')")[0][0] > 0
        assert indicators.compute(store) == indicators.compute(duck)
    finally:
        store.close()
        duck.close()


def test_an_incremental_pull_reads_only_new_blocks_and_keeps_totals(indexer_db: IndexerDb, tmp_path: Path) -> None:
    store = DuckWarehouse()
    source = IndexerSource(indexer_db.url, name)
    last = source.pull(store, 0)
    again = source.pull(store, last)  # re-reads the last blocks only, replacing them
    assert again == last
    assert store.query("SELECT COUNT(*), SUM(amount) FROM movements")[0] == (17, 8150)


def test_one_small_cell_hides_its_complement_so_subtraction_recovers_nothing() -> None:
    # rows: districts, columns: age bands; k = 10; one cell of 3 people
    cells: list[tuple[Hashable, Hashable, int, dict[str, float]]] = [
             ("A", "20-29", 40, {"points": 4000}), ("A", "70-79", 3, {"points": 900}),
             ("B", "20-29", 25, {"points": 2500}), ("B", "70-79", 12, {"points": 1200})]  # fmt: skip
    table = privacy.build(cells, 10)
    assert table.primary == {("A", "70-79")}
    # A's row and the 70-79 column each had one hidden cell: their smallest others go (A 20-29, B 70-79),
    # which leaves the 20-29 column with one, so B 20-29 goes as well; the totals stay
    assert table.hidden == {("A", "70-79"), ("B", "70-79"), ("A", "20-29"), ("B", "20-29")}
    assert table.shown("A", privacy.TOTAL) == 43 and table.shown(privacy.TOTAL, "70-79") == 15
    assert privacy.recoverable(table) == []
    assert table.shown(privacy.TOTAL, privacy.TOTAL) == 80
    assert table.shown("A", "70-79") is None and table.shown("A", "70-79", "points") is None


def test_a_small_total_is_hidden_and_protected_like_a_cell() -> None:
    cells: list[tuple[Hashable, Hashable, int, dict[str, float]]] = [
             ("A", "x", 4, {}), ("A", "y", 5, {}), ("B", "x", 30, {}), ("B", "y", 20, {}), ("C", "x", 15, {}),
             ("C", "y", 11, {})]  # fmt: skip
    table = privacy.build(cells, 10)
    assert {("A", "x"), ("A", "y")} <= table.primary and ("A", privacy.TOTAL) in table.hidden  # 9 < 10
    assert privacy.recoverable(table) == []
    for (row, col), count in table.people.items():
        if (row, col) not in table.hidden:
            assert count == 0 or count >= 10


def test_the_published_pages_never_show_a_cell_below_k(duck: DuckWarehouse) -> None:
    from analytics.publish import publish

    p = publish(indicators.compute(duck), 3)
    spent = p.circulation["spent"]
    # 荒井町's one payer (80 points) is below k = 3; 高砂町's 3 payers are hidden with it, else 680 − 600 = 80
    assert spent.shown("2026-04", "28216-0020", "points") is None
    assert spent.shown("2026-04", "28216-0010", "points") is None
    assert spent.shown("2026-04", privacy.TOTAL, "points") == 680
    assert privacy.recoverable(spent) == []
    participation = p.participation["2026-04"]
    # 荒井町 20-29 (2 people) is below k; the city total 5 minus 高砂町 70-79 (3) would give it back, so that goes too
    assert participation.shown("28216-0020", "20-29") is None and participation.shown("28216-0010", "70-79") is None
    assert participation.shown(privacy.TOTAL, privacy.TOTAL) == 5 and privacy.recoverable(participation) == []


def test_a_person_cannot_be_found_again_in_the_exports(tmp_path: Path) -> None:
    """The attacker knows their neighbour is the only resident in 90+ in 伊保, and what she paid (777 points)."""
    store = DuckWarehouse()
    ids = list(range(1, 61))
    store.replace("registry", {"id": [*ids, 1000], "kind": ["resident"] * 60 + ["merchant"]})
    store.replace("attributes", {"id": ids, "district": ["28216-0030"] * 30 + ["28216-0040"] * 30,
                                 "age_band": ["90+"] + ["40-49"] * 29 + ["40-49"] * 30, "card": [0] * 60})  # fmt: skip
    amounts = [777] + [100 + i for i in range(1, 60)]
    # local hops: ten b2b payments of 123 along shops 1000 … 1010, and shop 1001 rewards R2 55 (12 accounts)
    hops = [(1000 + i, 1001 + i, 123, "b2b") for i in range(10)] + [(1001, 2, 55, "business-reward")]
    store.replace("movements", {"ts": [APRIL] * 71, "month": ["2026-04"] * 71, "block": list(range(71)),
                                "from_id": [*ids, *(h[0] for h in hops)], "to_id": [1000] * 60 + [h[1] for h in hops],
                                "amount": [*amounts, *(h[2] for h in hops)],
                                "kind": ["payment"] * 60 + [h[3] for h in hops]})  # fmt: skip
    # card payments as the wallet counted them: 高砂町 suppressed at source (None); 伊保 12 payers, 荒井町 14
    store.replace("card_payments", {"month": ["2026-04"] * 4, "district": ["28216-0010", "28216-0030", "28216-0040",
                                                                             "Σ"],
                                    "payments": [None, 23, 31, 60], "people": [None, 12, 14, 30],
                                    "points": [None, 2345, 3170, 6000]})  # fmt: skip
    # the oracle's per-district rows: 伊保 12 households, the small districts folded into "other" (10)
    store.replace("co2_district", {"programme": [1, 1], "period": [202604] * 2, "month": ["2026-04"] * 2,
                                   "district": ["28216-0030", "other"], "households": [12, 10],
                                   "wh": [12_340, 10_000], "grams": [6_170, 5_000]})  # fmt: skip
    # watch-over coverage as the watch service published it: 荒井町's "other" hours under 10 (None at source)
    watch = [
        ("28216-0030", "school", 20, 18, 90), ("28216-0030", "other", 11, 10, 42), ("28216-0030", "Σ", 24, 21, 132),
        ("28216-0040", "school", 15, 12, 61), ("28216-0040", "other", None, None, None),
        ("28216-0040", "Σ", 17, 13, 70), ("Σ", "school", 33, 28, 151), ("Σ", "other", 14, 12, 51),
        ("Σ", "Σ", 38, 31, 202),
    ]  # fmt: skip
    columns = ("district", "hours", "volunteers", "wards", "sightings")
    store.replace("watch", {"month": ["2026-04"] * 9, **{c: [w[i] for w in watch] for i, c in enumerate(columns)},
                            "fixed_detectors": [0] * 9, "final": [1] * 9})  # fmt: skip
    from analytics.publish import publish

    published = publish(indicators.compute(store), 10)
    written = exports.write(published, tmp_path / "exports")
    assert {p.suffix for p in written} == {".csv", ".parquet"}
    for table in ("participation", "watch_coverage", "card_payments", "co2_reduction", "local_hops"):
        assert (tmp_path / "exports" / table / "month=2026-04" / "data.parquet").exists()
    rows = []
    tables: dict[str, list[dict[str, str]]] = {}
    for path in (tmp_path / "exports").rglob("*.csv"):
        with open(path, encoding="utf-8-sig") as handle:
            part = list(csv.DictReader(handle))
        tables.setdefault(path.parent.parent.name, []).extend(part)
        rows += [dict(r, file=str(path)) for r in part]
    # known answers, coarsened (counts to 5, points, Wh and g to 100): the wallet's hidden 高砂町 stays empty
    # and, alone on its month's line, takes the smallest other cell (伊保, 12 payers) with it
    assert tables["card_payments"] == [
        {"district": "28216-0010", "payers": "", "payments": "", "points": ""},
        {"district": "28216-0030", "payers": "", "payments": "", "points": ""},
        {"district": "28216-0040", "payers": "15", "payments": "30", "points": "3200"},
        {"district": "Σ", "payers": "30", "payments": "60", "points": "6000"},
    ]
    assert tables["co2_reduction"] == [
        {"district": "28216-0030", "households": "10", "wh": "12300", "co2_g": "6200"},
        {"district": "other", "households": "10", "wh": "10000", "co2_g": "5000"},
        {"district": "Σ", "households": "20", "wh": "22300", "co2_g": "11200"},
    ]
    assert tables["local_hops"] == [{"accounts": "10", "hops": "10", "b2b": "10", "rewards": "0", "points": "1300",
                                     "b2b_points": "1200", "reward_points": "100"}]  # fmt: skip
    coverage = {
        (r["district"], r["hours"]): (r["volunteers"], r["wards"], r["sightings"]) for r in tables["watch_coverage"]
    }
    # 荒井町 "other" hidden at source; its row and its column each had one hidden cell, so more went: what is left
    # shows no line with exactly one empty cell (nothing recovered by subtraction), volunteers as wards
    hidden = ("", "", "")
    assert coverage == {
        ("28216-0030", "school"): hidden, ("28216-0030", "other"): hidden, ("28216-0030", "Σ"): ("25", "20", "130"),
        ("28216-0040", "school"): hidden, ("28216-0040", "other"): hidden, ("28216-0040", "Σ"): ("15", "15", "70"),
        ("Σ", "school"): ("35", "30", "150"), ("Σ", "other"): ("15", "10", "50"), ("Σ", "Σ"): ("40", "30", "200"),
    }  # fmt: skip
    for column in (0, 1):
        lines = [
            [coverage[(d, h)][column] for h in ("school", "other", "Σ")] for d in ("28216-0030", "28216-0040", "Σ")
        ]
        lines += [
            [coverage[(d, h)][column] for d in ("28216-0030", "28216-0040", "Σ")] for h in ("school", "other", "Σ")
        ]
        assert all(line.count("") != 1 for line in lines), lines
    neighbour = [r for r in rows if r.get("district") == "28216-0030" and r.get("age_band") == "90+"]
    assert neighbour and all(r["active"] == "" for r in neighbour)  # her cell is suppressed
    # differencing her district's total with the other shown cells of its row gives nothing either
    row = {r["age_band"]: r["active"] for r in rows if r.get("district") == "28216-0030" and "age_band" in r}
    assert row["40-49"] == "" or row["Σ"] == ""
    assert not any("777" in json.dumps(r) for r in rows)  # and her amount appears nowhere
    # the Parquet files say the same as the CSVs
    import duckdb

    parquet = duckdb.execute(f"SELECT * FROM read_parquet('{tmp_path}/exports/participation/*/*.parquet', "
                         "hive_partitioning = true)").fetchall()  # fmt: skip
    assert len(parquet) == len([r for r in rows if "active" in r])
    for table, csv_rows in tables.items():  # the new tables too, read as one table with month from the folder
        found = duckdb.execute(f"SELECT * FROM read_parquet('{tmp_path}/exports/{table}/*/*.parquet', "
                               "hive_partitioning = true)").fetchall()  # fmt: skip
        assert len(found) == len(csv_rows), table
    assert duckdb.execute(f"SELECT month, volunteers, wards FROM read_parquet('{tmp_path}/exports/watch_coverage/*/*"
                          ".parquet', hive_partitioning = true) WHERE district = 'Σ' AND hours = 'school'"
                          ).fetchall() == [("2026-04", 35.0, 30.0)]  # fmt: skip


def test_the_platform_pulls_the_indexer_and_serves_every_page(indexer_db: IndexerDb, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from analytics.service import Service
    from analytics.web.app import create_app

    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    settings = AnalyticsSettings(data_dir=tmp_path, indexer_database_url=indexer_db.url, research_secret_file=secret,
                                 k=3, refresh_seconds=0)  # fmt: skip
    platform = Platform.open(settings, DuckWarehouse())
    platform.refresh()
    platform.store.replace("attributes", attributes())
    platform.recompute()
    assert platform.errors == [] and platform.last_block > 0
    client = TestClient(create_app(Service(platform, "officer-secret")))
    assert client.get("/").status_code == 200
    for path in ("/circulation", "/participation", "/decarbonisation", "/mutual-aid", "/wellbeing",
                 "/logic-model/decarbonisation", "/logic-model/circulation", "/logic-model/mutual-aid"):  # fmt: skip
        page = client.get(path + "?lang=en")
        assert page.status_code == 200 and ("<svg" in page.text or "No data" in page.text), path
        assert "<script" not in page.text
    csv_text = client.get("/csv/velocity.csv").text
    assert csv_text.startswith("\ufeff") and "2026-04,830,6080" in csv_text
    assert client.get("/logic-model/nothing").status_code == 404
    refused = client.get("/circulation?lang=fr")
    assert refused.status_code == 400 and "入力" in refused.text and "Bad request" in refused.text
    assert "district" not in client.get("/officer").text.lower() or "token" in client.get("/officer?lang=en").text
    assert client.post("/officer/sign-in", data={"token": "wrong"}).status_code == 403
    signed = client.post("/officer/sign-in", data={"token": "officer-secret"}, follow_redirects=False)
    assert signed.status_code == 303
    drill = client.get("/officer?district=28216-0010&lang=en")
    assert drill.status_code == 200 and "Takasago: Active residents" in drill.text
    assert client.get("/officer?district=nowhere").status_code == 400


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``takasago analytics serve`` over a generated city of 2,000 residents and four months (k = 10)."""
    from analytics.generator import city, load_reported, load_store

    directory = tmp_path_factory.mktemp("analytics-served")
    store = DuckWarehouse(directory / "analytics.duckdb")
    generated = city(2000, 30_000, months=4, start="2026-01")
    load_store(generated, store)
    load_reported(generated, store)  # hops, CO2 by district, card payments, watch-over coverage
    store.close()
    token = directory / "officer-token"
    token.write_text("officer-secret\n")
    port = free_port()
    env = {**os.environ, "TAKASAGO_ANALYTICS_OFFICER_TOKEN_FILE": str(token), "PYTHONPATH": str(REPO)}
    log = open(directory / "serve.log", "wb")  # noqa: SIM115 - closed after the server stops
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "analytics", "serve", "--data-dir", str(directory), "--port", str(port)],
        cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health", timeout=1).json()["refreshed_at"]:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert process.poll() is None, (directory / "serve.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_the_pages_in_chromium_show_charts_tables_and_csvs_within_the_k_rule(served: str, playwright: Any) -> None:
    from tests.browser_support import browser, open_page, screen

    with browser(playwright) as chromium:
        page = open_page(chromium, served, "/circulation")
        assert page.locator("figure#circulation-city svg").count() == 1
        assert page.locator("figure#local-hops svg").count() == 1  # the hops beside LM3
        assert page.locator("figure#circulation-city a[href^='/csv/circulation-city.csv']").count() == 1
        screen(page, "analytics-circulation")
        pages = [("/participation", "analytics-participation"), ("/decarbonisation", "analytics-decarbonisation"),
                 ("/mutual-aid", "analytics-mutual-aid"), ("/wellbeing", "analytics-wellbeing"),
                 ("/logic-model/decarbonisation", "analytics-logic-model-decarbonisation"),
                 ("/logic-model/circulation?lang=en", "analytics-logic-model-circulation-en")]  # fmt: skip
        for path, name in pages:
            page.goto(served + path)
            assert page.locator("svg").count() >= 1, path
            screen(page, name)
        for path, chart in (("/participation", "card-payments"), ("/decarbonisation", "reduction-grams-by-district"),
                            ("/mutual-aid", "watch-coverage")):  # fmt: skip
            page.goto(served + path)
            assert page.locator(f"figure#{chart} svg").count() == 1, chart
        for column in (2, 3, 4):  # volunteers by district: every number counts 10 people or more, or is "×"
            for text in page.locator(f"#watch-coverage td:nth-child({column})").all_inner_texts():
                assert text == "×" or int(text.replace(",", "")) >= 10
        # every number shown on the participation page counts at least k people, or is "×"
        page.goto(served + "/participation?lang=ja")
        for text in page.locator("#active-by-district td:nth-child(2)").all_inner_texts():
            assert text == "×" or int(text.replace(",", "")) >= 10
        csv_text = httpx.get(served + "/csv/active-by-district.csv").text
        assert csv_text.startswith("\ufeff地区,活動した住民")
        # the officers' view: a token, then a district's drill-down
        page.goto(served + "/officer")
        page.fill("input[name=token]", "officer-secret")
        page.click("form button")
        page.click("text=荒井町")
        assert page.locator("#officer-28216-0020-active svg").count() == 1
        screen(page, "analytics-officer-district")


def test_the_census_loader_reads_the_official_layout_in_shift_jis(tmp_path: Path) -> None:
    """e-Stat's small-area CSV: codes row, headings row, "-" for none, "X" for an area suppressed at source."""
    text = (
        "KEY_CODE,HYOSYO,CITYNAME,NAME,HTKSYORI,HTKSAKI,GASSAN,T001082001,T001082002,T001082003,T001082020\n"
        ",,市区町村名,大字・町名,秘匿処理,秘匿先情報,合算地域,総数,0～4歳,5～9歳,90～94歳\n"
        "282160010,2,高砂市,高砂町,,,,33,10,-,23\n"
        "282160020,2,高砂市,荒井町,,,,X,X,X,X\n"
        "999999999,2,他市,どこか,,,,5,5,-,-\n"
    )
    path = tmp_path / "estat.csv"
    path.write_bytes(text.encode("cp932"))
    assert census.load(path) == [
        {"district": "28216-0010", "age_band": "0-9", "people": 10},
        {"district": "28216-0010", "age_band": "90+", "people": 23},
    ]
    path.write_text("name,people\nA,1\n", encoding="utf-8")
    with pytest.raises(census.CensusError, match="e-Stat"):
        census.load(path)


def test_an_indexer_on_postgresql_is_read_the_same_way(indexer_db: IndexerDb, duck: DuckWarehouse) -> None:
    """A city whose indexer runs on PostgreSQL: the same rows read through a read-only session give the same."""
    from sqlalchemy import MetaData, create_engine, insert, select

    url = postgres_database()
    upgrade(url)
    source_engine = create_engine(indexer_db.url)
    target_engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    metadata = MetaData()
    metadata.reflect(source_engine, only=["blocks", "transactions", "events", "movements"])
    with source_engine.connect() as source, target_engine.begin() as target:
        for table in ("blocks", "transactions", "events", "movements"):
            rows = [dict(r._mapping) for r in source.execute(select(metadata.tables[table]))]
            target.execute(insert(_reflected(target_engine, table)), rows)
    store = DuckWarehouse()
    IndexerSource(url, name).pull(store, 0)
    store.replace("attributes", attributes())
    rows = census.load()
    store.replace("population", {column: [r[column] for r in rows] for column in rows[0]})
    assert indicators.compute(store) == indicators.compute(duck)
    source_engine.dispose()
    target_engine.dispose()


def _reflected(engine: Any, table: str) -> Any:
    from sqlalchemy import MetaData

    metadata = MetaData()
    metadata.reflect(engine, only=[table])
    return metadata.tables[table]


def test_local_hops_are_their_own_figure_and_feed_lm3_with_hand_computed_values(tmp_path: Path) -> None:
    """June: twelve residents pay M1 100 each; M1 pays M2 300 and M2 pays M1 100 (payBusiness, ``b2b``); M1
    rewards R1 50 and M2 rewards R2 30 (``business-reward``); R1 pays M2 40; M1 settles 500.

    Hops: 2 b2b (400 pt) + 2 rewards (80 pt) = 4 hops, 480 pt, among 4 accounts (M1, M2, R1, R2).
    LM3: R1 = 1,200 + 40 = 1,240; R2 = what shops passed on = 300 + 100 + 50 + 30 = 480; R3 = each recipient's
    spending at local businesses (payments and b2b) capped at what it got: M2 min(300, 100) + M1 min(100, 300)
    + R1 min(50, 140) + R2 min(30, 100) = 280; LM3 = 2,000 / 1,240; recirculated share = 480 / (480 + 500).
    """
    from analytics.publish import publish

    db = IndexerDb(tmp_path / "indexer.db")
    june = int(datetime(2026, 6, 10, 12, tzinfo=JST).timestamp())
    residents = [f"0x{i:040x}" for i in range(101, 113)]
    for address in residents:
        db.event(june, "AccountRegistered", {"account": address, "kind": 1, "recordHash": "0x"})
    for address in (M1, M2):
        db.event(june, "AccountRegistered", {"account": address, "kind": 2, "recordHash": "0x"})
    for address in residents:
        db.move(june, ZERO, address, 1000, "issued")
        db.move(june, address, M1, 100, "payment")
    db.move(june, M1, M2, 300, "b2b")
    db.move(june, M2, M1, 100, "b2b")
    db.move(june, M1, residents[0], 50, "business-reward")
    db.move(june, M2, residents[1], 30, "business-reward")
    db.move(june, residents[0], M2, 40, "payment")
    db.move(june, M1, ZERO, 500, "settled")
    db.commit()
    store = DuckWarehouse()
    IndexerSource(db.url, name).pull(store, 0)
    raw = indicators.compute(store)
    assert raw["local_hops"] == [{"month": "2026-06", "b2b": 2, "b2b_points": 400, "rewards": 2, "reward_points": 80,
                                  "hops": 4, "points": 480, "people": 4}]  # fmt: skip
    lm3 = by(raw["local_multiplier"], month="2026-06")
    assert (lm3["round1"], lm3["round2"], lm3["round3"], lm3["settled"]) == (1240, 480, 280, 500)
    assert lm3["lm3"] == round(2000 / 1240, 6) and lm3["recirculated_share"] == round(480 / 980, 6)
    # velocity counts the hops as points changing hands: 1,240 + 480 over 12,000 − 500 outstanding
    assert by(raw["velocity"], month="2026-06")["spending"] == 1720
    # four accounts take part in the hops: under k = 10 the month shows nothing, at k = 4 it shows
    assert publish(raw, 10).hops == [{"month": "2026-06", "people": None, "suppressed": True}]
    assert publish(raw, 4).hops[0]["points"] == 480
    store.close()


def _households(districts: dict[str, int]) -> tuple[dict[str, Any], list[Any], dict[str, str]]:
    """Households with a verified reduction of 1,000 Wh and 500 g each, so many per district code."""
    from oracle.settlement import Household, HouseholdResult

    homes: dict[str, Household] = {}
    results: list[HouseholdResult] = []
    where: dict[str, str] = {}
    for district, count in districts.items():
        for i in range(count):
            hid = f"H-{district}-{i}"
            homes[hid] = Household(hid, (hid,), f"0x{len(homes) + 1:040x}", f"{len(homes) + 1:064x}")
            where[hid] = district
            results.append(HouseholdResult(homes[hid].salted_hash, homes[hid].address, 9000, 10000, "history", 1000,
                                           500, None))  # fmt: skip
    return homes, results, where


def test_the_oracle_publishes_reduction_by_district_folding_small_ones_and_the_platform_reads_it(
    tmp_path: Path,
) -> None:
    """Arai 12 and Takasago 11 households are shown; Amida 6 and 4 of unknown district make "other" 10. With
    Amida 3 and 2 unknown, "other" (5) would be under 10: Takasago, the smallest shown, is folded in (16)."""
    from oracle.enrolment import district_totals, save_district_totals
    from oracle.settlement import HouseholdResult, build_report, save
    from tests.oracle_support import running_oracle

    homes, results, where = _households({"28216-0020": 12, "28216-0010": 11, "28216-0080": 6, "-": 4})
    excluded = HouseholdResult("0x" + "ee" * 32, "0x" + "ee" * 20, None, None, "", 0, 0, "NO_READINGS")
    rows = district_totals(homes, [*results, excluded], where)
    assert rows == [
        {"district": "28216-0010", "households": 11, "reduction_wh": 11_000, "co2_g": 5_500},
        {"district": "28216-0020", "households": 12, "reduction_wh": 12_000, "co2_g": 6_000},
        {"district": "other", "households": 10, "reduction_wh": 10_000, "co2_g": 5_000},
    ]
    small_homes, small_results, small_where = _households({"28216-0020": 12, "28216-0010": 11, "28216-0080": 3,
                                                           "-": 2})  # fmt: skip
    assert [(r["district"], r["households"]) for r in district_totals(small_homes, small_results, small_where)] == [
        ("28216-0020", 12), ("other", 16)]  # fmt: skip
    assert district_totals(*_households({"28216-0020": 9})) == []  # under 10 in the whole city: none
    assert district_totals(*_households({"-": 30})) == []  # no district known (a households file): none
    assert all(r["households"] >= 10 for r in rows)
    assert sum(r["co2_g"] for r in rows) == sum(r.co2_g for r in results)  # the rows add up to the city's total

    data = tmp_path / "oracle"
    report = build_report(results, 1, 202604)
    save(report, data / "reports")
    save_district_totals(data / "reports", 1, 202604, rows)
    with running_oracle(data) as (url, _port):
        public = httpx.get(f"{url}/v1/reports/1/202604").json()
        assert public["districts"] == rows and public["min_households"] == 10
        assert "H-" not in json.dumps(public)  # no household id, only counts by district
        store = DuckWarehouse()
        store.replace("co2", {"programme": [1], "period": [202604], "month": ["2026-04"], "households": [33],
                              "grams": [16_500], "wh": [0]})  # fmt: skip
        from analytics import feeds

        assert feeds.pull_oracle_energy(store, url) == 1
    raw = indicators.compute(store)
    assert by(raw["decarbonisation_reduction"], district="28216-0020") == {
        "month": "2026-04", "district": "28216-0020", "people": 12, "wh": 12_000, "grams": 6_000}  # fmt: skip
    from analytics.publish import publish

    table = publish(raw, 10).reduction_district
    assert table.shown("2026-04", "other", "wh") == 10_000 and table.shown("2026-04", privacy.TOTAL, "grams") == 16_500
    assert by(raw["decarbonisation"], month="2026-04")["wh"] == 33_000
