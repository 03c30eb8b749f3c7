"""The indexer at city scale: backfill from a real node against a naive web3.py loop, the tail lag,
and the explorer on a million movements (issue 17).

    .venv/bin/python -m bench.indexer [--movements 100000] [--index-rows 1000000] [--json PATH]
    .venv/bin/python -m bench.indexer --movements 20000 --index-rows 100000   # a quick run

Part 1 — backfill (``bench.harness.indexer_backfill``). Starts a fresh dev node, deploys,
registers ``--residents`` residents and mints ``--movements`` point movements
(``mintBatch``, 500 rows a transaction; setup, not timed). Then, on that chain:

* **indexer**: the indexer's own follower (``indexer.follower.Follower.sync``, default
  batch size) backfills a fresh SQLite database from genesis to the head;
* **naive loop**: web3.py alone, per block ``get_block`` + ``get_logs`` of the point
  contracts, each log decoded by the web3 contract object, each row inserted and committed
  on its own, into another fresh SQLite database of the same schema. It stops after
  ``--naive-seconds`` and its rate is that of the blocks it finished (it writes no
  transaction rows, so it does less than the indexer);
* **tail**: the follower then runs as the service runs it (WebSocket ``newHeads`` plus
  polling) while ``--tail-transactions`` mints are sent one after another; the lag
  (node head − indexed head) is sampled every 20 ms.

Goals: ≥ 5,000 events/s, ≥ 10× the naive loop, tail lag ≤ 1 block.

Part 2 — the explorer on a big index (``bench.harness.synthetic_index``,
``bench.harness.explorer_load``). ``--index-rows`` movements (a year of activity:
payments to merchants and mints to residents, with their transactions and events) are
written straight into a fresh SQLite database; the explorer is served by uvicorn in its
own process. Each page and ``/api`` query is timed ``--runs`` times, a new block indexed
before each request (p50/p95). Then ``/txs.csv`` is downloaded for about a tenth of the
year and whole, while the server's resident memory is sampled: an export that streams
grows the server by the same small amount whatever its length.

Goals: p95 ≤ 50 ms for every page and query; the whole export in constant memory.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import explorer_load, indexer_backfill, synthetic_index
from bench.harness.report import git_commit, log, machine, markdown_table
from bench.harness.systems import Takasago
from indexer.db.engine import engine_for, sessions_for, upgrade
from indexer.queries import JST
from indexer.settings import IndexerSettings

EVENTS_PER_SECOND_GOAL = 5_000
NAIVE_RATIO_GOAL = 10
TAIL_LAG_GOAL = 1
P95_GOAL_MS = 50
CONSTANT_MEMORY_SLACK = 16 * 2**20  # what a whole export may grow the server by beyond a tenth's growth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--movements", type=int, default=100_000, help="point movements minted on the node")
    parser.add_argument("--residents", type=int, default=10_000, help="residents they are minted to")
    parser.add_argument("--naive-seconds", type=float, default=60, help="how long the naive loop may run")
    parser.add_argument("--tail-transactions", type=int, default=50, help="mints sent while the tail is sampled")
    parser.add_argument("--index-rows", type=int, default=1_000_000, help="movements written for the explorer part")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page or query")
    parser.add_argument("--skip-backfill", action="store_true")
    parser.add_argument("--skip-explorer", action="store_true")
    parser.add_argument("--workdir", type=Path, help="keep the databases here (default: a temporary directory)")
    parser.add_argument(
        "--reuse-index", action="store_true", help="with --workdir: keep the explorer part's index of an earlier run"
    )
    parser.add_argument(
        "--postgres-url",
        help="also backfill into a fresh database on this PostgreSQL server (an admin URL, e.g. "
        "postgresql://USER:PW@HOST:5432/postgres); the database is dropped afterwards",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-indexer-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        figures: dict[str, Any] = {"commit": git_commit(), "machine": machine()}
        if not args.skip_backfill:
            figures["backfill"] = backfill_part(args, workdir)
        if not args.skip_explorer:
            figures["explorer"] = explorer_part(args, workdir)
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if all_met(figures) else 1


def backfill_part(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    node = Takasago(name="takasago", workdir=workdir)
    node.start()
    try:
        chain = indexer_backfill.build_chain(node.url, node.funder_key, workdir, args.movements, args.residents)
        _, sessions = indexer_backfill.fresh_database(workdir / "indexer.db")
        fast, follower = indexer_backfill.indexer_backfill(chain, sessions, IndexerSettings().batch_blocks)
        log(f"indexer: {fast.events:,} events in {fast.seconds:.1f} s ({fast.events_per_second:,.0f}/s)")
        postgres = postgres_backfill(chain, args.postgres_url) if args.postgres_url else None
        _, naive_sessions = indexer_backfill.fresh_database(workdir / "naive.db")
        naive = indexer_backfill.naive_backfill(chain, naive_sessions, args.naive_seconds)
        log(f"naive loop: {naive.events:,} events in {naive.seconds:.1f} s ({naive.events_per_second:,.0f}/s)")
        lag = indexer_backfill.tail_lag(chain, follower, sessions, args.tail_transactions)
        log(f"tail: worst lag {lag.worst} block(s) over {len(lag.samples)} samples")
    finally:
        node.stop()
    return {
        "head": chain.head,
        "indexer": asdict(fast) | rates(fast),
        **({"postgres": asdict(postgres) | rates(postgres)} if postgres else {}),
        "naive": asdict(naive) | rates(naive) | {"finished": naive.blocks > chain.head},
        "ratio": fast.events_per_second / naive.events_per_second if naive.events_per_second else None,
        "cpu_ratio": fast.events_per_cpu_second / naive.events_per_cpu_second if naive.events_per_cpu_second else None,
        "tail": {
            "blocks_added": lag.blocks_added,
            "samples": len(lag.samples),
            "worst_lag_blocks": lag.worst,
            "p95_lag_blocks": lag.p95,
            "worst_seconds_to_index": max(lag.seconds_to_index, default=0.0),
        },
    }


def rates(done: indexer_backfill.Backfill) -> dict[str, float]:
    return {"events_per_second": done.events_per_second, "events_per_cpu_second": done.events_per_cpu_second}


def postgres_backfill(chain: indexer_backfill.PointChain, admin_url: str) -> indexer_backfill.Backfill:
    """The same backfill into a fresh PostgreSQL database on the server at ``admin_url`` (dropped after)."""
    from bench.wallet_payments import create_postgres_database, drop_postgres_database

    url, name = create_postgres_database(admin_url)
    try:
        upgrade(url)
        engine = engine_for(url)
        try:
            fast, _ = indexer_backfill.indexer_backfill(chain, sessions_for(engine), IndexerSettings().batch_blocks)
        finally:
            engine.dispose()
    finally:
        drop_postgres_database(admin_url, name)
    log(f"indexer into PostgreSQL: {fast.events:,} events in {fast.seconds:.1f} s ({fast.events_per_second:,.0f}/s)")
    return fast


def explorer_part(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    url = f"sqlite:///{workdir / 'explorer.db'}"
    started = time.perf_counter()
    kept = synthetic_index.reopen(url) if args.reuse_index and (workdir / "explorer.db").exists() else None
    if kept is not None and kept.movements == args.index_rows:
        index = kept
        log(f"reusing the index of {index.movements:,} movements in {workdir}")
    else:
        (workdir / "explorer.db").unlink(missing_ok=True)
        index = synthetic_index.fill(url, args.index_rows)
        log(f"{index.movements:,} movements written in {time.perf_counter() - started:.0f} s (head {index.head:,})")
    server = explorer_load.ExplorerProcess(url, synthetic_index.TOKEN, workdir / "explorer.log")
    engine = engine_for(url)
    try:
        with httpx.Client(base_url=server.url, timeout=600) as client:
            started = time.perf_counter()
            client.get("/").raise_for_status()  # start-up: the running totals read the whole index once
            client.get("/merchants").raise_for_status()
            warm = time.perf_counter() - started
            log(f"first views (running totals read once): {warm:.1f} s")
            load = os.getloadavg()[0]
            timings = [explorer_load.latency(client, engine, server, path, args.runs) for path in request_paths(index)]
            load = max(load, os.getloadavg()[0])
        tenth = tenth_of_the_year(index)
        exports = [explorer_load.export(server, path) for path in (f"/txs.csv?{tenth}", "/txs.csv")]
    finally:
        server.stop()
        engine.dispose()
    return {
        "movements": index.movements,
        "head": index.head,
        "first_views_seconds": warm,
        "load_average": load,
        "requests": [asdict(t) for t in timings],
        "exports": [asdict(e) | {"growth": e.growth} for e in exports],
    }


def request_paths(index: synthetic_index.SyntheticIndex) -> list[str]:
    resident, merchant = index.residents[5], index.merchants[3]
    token, someone = synthetic_index.TOKEN, synthetic_index.topic_of(resident)
    transfer, paid = synthetic_index.TRANSFER, synthetic_index.PAID
    middle = index.head // 2
    return [
        "/",
        "/blocks",
        "/txs",
        "/txs?page=400",
        f"/block/{middle}",
        f"/address/{resident}",
        f"/address/{merchant}",
        f"/address/{merchant}?kind=payment&page=20",
        "/merchants",
        "/programmes",
        "/co2",
        f"/api?module=logs&action=getLogs&topic0={transfer}&offset=100",
        f"/api?module=logs&action=getLogs&topic0={transfer}&offset=100&page=50",
        f"/api?module=logs&action=getLogs&address={token}&topic0={paid}&topic2={someone}&offset=100",
        f"/api?module=logs&action=getLogs&topic1={synthetic_index.topic_of(merchant)}&offset=100",
        f"/api?module=logs&action=getLogs&fromBlock={middle}&toBlock={middle + 1000}&offset=100&page=3",
        f"/api?module=account&action=tokentx&address={resident}&offset=100",
        f"/api?module=account&action=tokentx&address={merchant}&offset=100&page=5&sort=desc",
        f"/api?module=account&action=tokentx&startblock={middle}&endblock={middle + 5000}&offset=100",
        f"/api?module=account&action=balance&address={merchant}",
        f"/api?module=block&action=getblocknobytime&timestamp={index.first_timestamp + 86400 * 100}&closest=before",
    ]


def tenth_of_the_year(index: synthetic_index.SyntheticIndex) -> str:
    """``from=…&to=…`` covering the first tenth of the index's days (about a tenth of its transactions)."""
    days = max(1, round((time.time() - index.first_timestamp) / 86400 / 10))
    first = datetime.fromtimestamp(index.first_timestamp, JST)
    last = datetime.fromtimestamp(index.first_timestamp + (days - 1) * 86400, JST)
    return f"from={first:%Y-%m-%d}&to={last:%Y-%m-%d}"


def goals(figures: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) for every goal the run measured."""
    out = []
    if "backfill" in figures:
        b = figures["backfill"]
        rate, ratio, lag = b["indexer"]["events_per_second"], b["ratio"] or 0.0, b["tail"]["worst_lag_blocks"]
        out += [
            (
                f"backfill ≥ {EVENTS_PER_SECOND_GOAL:,} events/s",
                f"{rate:,.0f} events/s",
                rate >= EVENTS_PER_SECOND_GOAL,
            ),
            (f"backfill ≥ {NAIVE_RATIO_GOAL}× the naive loop", f"{ratio:.1f}×", ratio >= NAIVE_RATIO_GOAL),
            (f"tail lag ≤ {TAIL_LAG_GOAL} block", f"worst {lag}", lag <= TAIL_LAG_GOAL),
        ]
    if "explorer" in figures:
        e = figures["explorer"]
        worst = max(e["requests"], key=lambda r: r["p95_ms"])
        part, whole = e["exports"]
        constant = whole["growth"] <= part["growth"] + CONSTANT_MEMORY_SLACK
        out += [
            (f"pages and /api p95 ≤ {P95_GOAL_MS} ms", f"worst p95 {worst['p95_ms']:.1f} ms ({worst['path'][:40]})",
             worst["p95_ms"] <= P95_GOAL_MS),
            ("CSV export in constant memory",
             f"server +{part['growth'] / 2**20:.1f} MiB for {part['rows']:,} rows, "
             f"+{whole['growth'] / 2**20:.1f} MiB for {whole['rows']:,}", constant),
        ]  # fmt: skip
    return out


def all_met(figures: dict[str, Any]) -> bool:
    return all(met for _, _, met in goals(figures))


def report(figures: dict[str, Any]) -> str:
    lines = [f"commit {figures['commit']}; {figures['machine']}", ""]
    if "backfill" in figures:
        b = figures["backfill"]
        rows = []
        parts = [("indexer (Follower.sync)", b["indexer"])]
        if "postgres" in b:
            parts.append(("indexer into PostgreSQL", b["postgres"]))
        for name, part in [*parts, ("naive web3.py loop", b["naive"])]:
            rows.append([name, f"{part['blocks']:,}", f"{part['events']:,}", f"{part['movements']:,}",
                         f"{part['seconds']:.1f}", f"{part['events_per_second']:,.0f}",
                         f"{part['events_per_cpu_second']:,.0f}"])  # fmt: skip
        lines += [f"Backfill from a real node (head {b['head']:,}), fresh SQLite (and PostgreSQL when asked):", ""]
        head = ["", "blocks", "events", "movements", "s", "events/s", "events per indexer CPU s"]
        lines.append(markdown_table(head, rows))
        if b.get("cpu_ratio"):
            lines.append(
                f"\nIndexer over naive loop: {b['ratio']:.1f}× in wall time, {b['cpu_ratio']:.1f}× in CPU time."
            )
        if not b["naive"]["finished"]:
            lines.append(f"\n(the naive loop stopped after its time budget at block {b['naive']['blocks'] - 1:,})")
        t = b["tail"]
        lines += [
            "",
            f"Tail: {t['blocks_added']} new blocks, lag sampled {t['samples']:,} times: worst {t['worst_lag_blocks']} "
            f"block(s), p95 {t['p95_lag_blocks']:.0f}; slowest block indexed "
            f"{t['worst_seconds_to_index'] * 1000:.0f} ms after its receipt.",
            "",
        ]
    if "explorer" in figures:
        e = figures["explorer"]
        lines += [f"Explorer on {e['movements']:,} movements (head {e['head']:,}), SQLite, one uvicorn worker; "
                  f"first views {e['first_views_seconds']:.1f} s; machine load average up to "
                  f"{e['load_average']:.1f} on {os.cpu_count()} cores while timing:", ""]  # fmt: skip
        rows = [
            [f"`{r['path'][:90]}`", f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['cpu_ms']:.1f}"]
            for r in e["requests"]
        ]
        lines.append(
            markdown_table(["request", "p50 ms", "p95 ms", "server CPU ms"], rows, ["---", "---:", "---:", "---:"])
        )
        rows = [
            [f"`{x['path']}`", f"{x['rows']:,}", f"{x['megabytes']:.0f}", f"{x['seconds']:.1f}",
             f"{x['rss_before'] / 2**20:.0f}", f"{x['rss_peak'] / 2**20:.0f}", f"{x['growth'] / 2**20:+.1f}"]
            for x in e["exports"]
        ]  # fmt: skip
        lines += [
            "",
            markdown_table(["export", "rows", "MiB", "s", "RSS before MiB", "RSS peak MiB", "growth MiB"], rows),
        ]
    lines += [
        "",
        markdown_table(["goal", "measured", "met"], [[g, m, "yes" if ok else "**no**"] for g, m, ok in goals(figures)]),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
