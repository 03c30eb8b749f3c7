"""``bench.indexer`` at toy sizes, so the benchmark's code path cannot rot: a real node, the follower's
backfill and the naive loop on the same chain (they must index the same events), the tail, and the
explorer served by uvicorn over a synthetic index with every page, query and export it times."""

from __future__ import annotations

import json
from pathlib import Path

from bench import indexer as bench


def test_bench_indexer_runs_end_to_end_at_toy_sizes(tmp_path: Path) -> None:
    figures_file = tmp_path / "figures.json"
    bench.main(
        ["--movements", "600", "--residents", "100", "--naive-seconds", "120", "--tail-transactions", "3",
         "--index-rows", "1500", "--runs", "2", "--workdir", str(tmp_path / "work"), "--json", str(figures_file)]
    )  # fmt: skip
    figures = json.loads(figures_file.read_text())
    backfill = figures["backfill"]
    fast, naive = backfill["indexer"], backfill["naive"]
    assert fast["blocks"] == backfill["head"] + 1 and fast["movements"] == 600
    assert naive["finished"] and (naive["events"], naive["movements"]) == (fast["events"], fast["movements"])
    assert backfill["tail"]["blocks_added"] >= 3 and backfill["tail"]["samples"] > 0

    explorer = figures["explorer"]
    assert explorer["movements"] == 1500
    assert len(explorer["requests"]) >= 20 and all(r["p95_ms"] > 0 for r in explorer["requests"])
    part, whole = explorer["exports"]
    assert whole["rows"] == 1500 and 0 < part["rows"] < whole["rows"]
    assert {goal for goal, _, _ in bench.goals(figures)} >= {"CSV export in constant memory"}
