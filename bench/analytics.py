"""The data platform at city scale (issue 22): a year of a city of 90,000 residents, ingested and
every indicator computed, then its pages under load; beside it the same indicators by plain SQL on
the indexer's SQLite.

    .venv/bin/python -m bench.analytics [--residents 90000] [--movements 10000000] [--requests 400]

One run:

1. A generated city (``analytics.generator``: districts and age bands from the census sample, a year
   of movements of every kind) written into a database made by the indexer's own migrations — the
   same tables ``takasago indexer serve`` keeps. Not timed.
2. **Timed**: the platform's refresh as the service does it — the indexer's SQLite read read-only by
   SQL in chunks, addresses renamed to keyed-hash pseudonyms, into DuckDB; the residents' attributes
   as the wallet's feed gives them; every indicator (``analytics/indicators.py``) and the k-rule.
   Goal ≤ 60 s.
3. **Pages**: ``--requests`` requests over every page and CSV from one client against the app served
   by uvicorn in this process; p50/p95. Goal p95 ≤ 200 ms.
4. **Plain SQL on SQLite**: the same indicator queries (``LEAST`` written ``MIN``; the median time to
   match has no SQLite form and is left out) on the indexer's database itself, over a view that
   gives its ``movements`` table the platform's column names.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from analytics import census, generator, indicators, pseudonyms
from analytics.indexer_source import IndexerSource
from analytics.publish import publish
from analytics.service import Platform, Service
from analytics.settings import AnalyticsSettings
from analytics.web.app import create_app
from bench.harness.ports import free_port
from bench.harness.report import git_commit, log, machine, markdown_table
from bench.harness.stats import pct
from indexer.db.engine import upgrade

GOAL_SECONDS = 60.0
GOAL_P95 = 0.200
PAGES = ["/", "/circulation", "/participation", "/decarbonisation", "/mutual-aid", "/wellbeing",
         "/logic-model/decarbonisation", "/logic-model/circulation", "/logic-model/mutual-aid",
         "/csv/circulation-city.csv", "/csv/active-by-district.csv", "/csv/velocity.csv", "/circulation?lang=en",
         "/officer?district=28216-0020"]  # fmt: skip


def build_indexer(directory: Path, residents: int, movements: int) -> tuple[str, generator.City]:
    started = time.perf_counter()
    city = generator.city(residents, movements)
    log(f"generated {movements:,} movements for {residents:,} residents in {time.perf_counter() - started:.1f} s")
    path = directory / "indexer.db"
    marker = directory / f"indexer-{residents}-{movements}.done"
    if marker.exists():  # the same city (the generator is seeded), written by an earlier run
        log(f"reusing {path}")
        return f"sqlite:///{path}", city
    path.unlink(missing_ok=True)
    upgrade(f"sqlite:///{path}")
    started = time.perf_counter()
    generator.write_indexer_sqlite(city, str(path))
    log(f"written into the indexer's schema in {time.perf_counter() - started:.1f} s ({path.stat().st_size >> 20} MiB)")
    marker.touch()
    return f"sqlite:///{path}", city


def platform_refresh(directory: Path, url: str, city: generator.City) -> tuple[Platform, dict[str, float]]:
    """The service's refresh, timed by step: pull, attributes, indicators and the k-rule."""
    secret = directory / "research-secret"
    secret.write_text("bench-research-secret-0123456789\n")
    settings = AnalyticsSettings(data_dir=directory / "analytics", indexer_database_url=url,
                                 research_secret_file=secret, refresh_seconds=0)  # fmt: skip
    timings: dict[str, float] = {}
    started = time.perf_counter()
    platform = Platform.open(settings)
    key = pseudonyms.pseudonym_key(pseudonyms.read_secret(secret))
    rename = pseudonyms.namer(key)
    platform.last_block = IndexerSource(url, rename).pull(platform.store, 0)
    timings["ingest (indexer SQLite → DuckDB, pseudonymised)"] = time.perf_counter() - started
    mark = time.perf_counter()
    platform.store.replace("attributes", generator.attributes_of(city, rename))
    platform.store.replace("survey", city.survey)
    timings["attributes and survey (as the wallet's feed gives them)"] = time.perf_counter() - mark
    mark = time.perf_counter()
    platform.raw = indicators.compute(platform.store)
    timings["every indicator (DuckDB)"] = time.perf_counter() - mark
    mark = time.perf_counter()
    platform.published = publish(platform.raw, settings.k)
    platform.refreshed_at = time.time()
    timings["k-rule and complementary suppression"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    return platform, timings


def pages(platform: Platform, requests: int) -> list[float]:
    token = "bench-officer"
    app = create_app(Service(platform, token))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.05)
    latencies = []
    with httpx.Client(base_url=url, cookies={"officer": token}, timeout=30) as client:
        for path in PAGES:  # warm: the first render of each page
            assert client.get(path).status_code == 200, path
        for i in range(requests):
            path = PAGES[i % len(PAGES)]
            started = time.perf_counter()
            response = client.get(path)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, path
    server.should_exit = True
    thread.join(timeout=10)
    return latencies


def plain_sqlite(path: Path, city: generator.City) -> tuple[dict[str, float], dict[str, list[dict[str, object]]]]:
    """The same indicator SQL straight on the indexer's SQLite, over a view with the platform's names."""
    db = sqlite3.connect(path)
    db.execute("DROP VIEW IF EXISTS mv")
    db.execute(
        "CREATE TEMP VIEW mv AS SELECT timestamp AS ts, strftime('%Y-%m', timestamp + 32400, 'unixepoch') AS month,"
        " block_number AS block, from_address AS from_id, to_address AS to_id, amount, kind FROM movements"
    )
    db.execute("CREATE TEMP TABLE registry (id TEXT, kind TEXT)")
    db.executemany("INSERT INTO registry VALUES (?, ?)", [(a, "resident") for a in city.residents]
                   + [(m, "merchant") for m in city.merchants])  # fmt: skip
    db.execute("CREATE TEMP TABLE attributes (id TEXT, district TEXT, age_band TEXT, card INTEGER)")
    db.executemany(
        "INSERT INTO attributes VALUES (?, ?, ?, ?)",
        zip(city.residents, city.district.tolist(), city.age_band.tolist(), city.card.tolist(), strict=True),
    )
    db.execute("CREATE INDEX temp.ix_attributes ON attributes (id)")
    db.execute("CREATE INDEX temp.ix_registry ON registry (id)")
    from analytics.warehouse import SCHEMA, VIEWS

    for table in ("population", "survey", "help", "co2", "co2_district", "watch", "grants", "card_payments"):
        db.execute(f"CREATE TEMP TABLE {table} ({SCHEMA[table]})")
    rows = census.load()
    db.executemany(
        "INSERT INTO population VALUES (?, ?, ?)", [(r["district"], r["age_band"], r["people"]) for r in rows]
    )
    db.execute(f"CREATE TEMP VIEW accounts AS {VIEWS['accounts']}")
    timings: dict[str, float] = {}
    results: dict[str, list[dict[str, object]]] = {}
    for name, sql in indicators.QUERIES.items():
        if "percentile_cont" in sql:
            continue  # no ordered-set aggregates in SQLite
        text = sql.replace("FROM movements", "FROM mv").replace("LEAST(", "MIN(")
        started = time.perf_counter()
        cursor = db.execute(text)
        columns = [d[0] for d in cursor.description]
        results[name] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        timings[name] = time.perf_counter() - started
    db.close()
    return timings, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=90_000)
    parser.add_argument("--movements", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the generated indexer database here and reuse it (same sizes)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as folder:
        directory = args.workdir or Path(folder)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in (directory / "analytics").glob("*"):
            stale.unlink()  # the platform's store starts empty every run: the refresh is what is timed
        url, city = build_indexer(directory, args.residents, args.movements)
        log("timing the platform's refresh")
        platform, timings = platform_refresh(directory, url, city)
        rows = platform.store.query("SELECT COUNT(*) FROM movements")[0][0]
        log(f"refresh: {timings['total']:.1f} s for {rows:,} movements")
        log("timing the pages")
        latencies = pages(platform, args.requests)
        log("the same indicators by plain SQL on the indexer's SQLite")
        plain, plain_results = plain_sqlite(directory / "indexer.db", city)
        duck_velocity = [(r["month"], r["spending"], r["outstanding"]) for r in platform.raw["velocity"]]
        plain_velocity = [(r["month"], r["spending"], r["outstanding"]) for r in plain_results["velocity"]]
        same = sorted(duck_velocity) == sorted((str(m), int(s), int(o)) for m, s, o in plain_velocity)  # type: ignore[call-overload]
    p50, p95 = pct(latencies, 0.50), pct(latencies, 0.95)
    total_plain = sum(plain.values())
    print(f"commit {git_commit()}, {machine()}, {time.strftime('%Y-%m-%d')}")
    print(f"city: {args.residents:,} residents, {rows:,} movements over 12 months, {len(city.merchants):,} shops\n")
    print(markdown_table(["step", "seconds"], [[k, f"{v:.1f}"] for k, v in timings.items()], ["---", "---:"]))
    verdict = "met" if timings["total"] <= GOAL_SECONDS else "MISSED"
    print(f"\nrefresh goal ≤ {GOAL_SECONDS:.0f} s: {verdict}")
    page_verdict = "met" if p95 <= GOAL_P95 else "MISSED"
    print(f"\npages: {len(latencies)} requests over {len(PAGES)} pages and CSVs: p50 {p50 * 1000:.1f} ms, "
          f"p95 {p95 * 1000:.1f} ms (goal ≤ {GOAL_P95 * 1000:.0f} ms: {page_verdict})")  # fmt: skip
    print("\nthe same indicator SQL on the indexer's SQLite (no ingest; median time to match left out):\n")
    duck_each = timings["every indicator (DuckDB)"]
    print(markdown_table(["indicator", "SQLite seconds"], [[k, f"{v:.1f}"] for k, v in plain.items()], ["---", "---:"]))
    print(f"\nSQLite total {total_plain:.1f} s against DuckDB's {duck_each:.1f} s for every indicator "
          f"({total_plain / max(duck_each, 1e-9):.0f}x), {timings['total']:.1f} s with the ingest; "
          f"velocity identical on both: {same}")  # fmt: skip
    return 0 if timings["total"] <= GOAL_SECONDS and p95 <= GOAL_P95 else 1


if __name__ == "__main__":
    raise SystemExit(main())
