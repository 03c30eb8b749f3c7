"""The explorer as a real server on a big index: page and ``/api`` latencies, and a CSV export's memory
(``bench.indexer``, part 2).

The explorer runs in its own process (uvicorn, one worker, as ``takasago indexer serve``
without the follower), so the memory measured is the server's alone (``VmRSS`` sampled
every ``RSS_SAMPLE_SECONDS`` while an export streams) and an in-process test client,
which buffers whole responses, cannot hide or add any. Before every timed request one
more block is indexed, as on a live chain where the head moves every second, so no answer
comes from a cache of an older head.

    python -m bench.harness.explorer_load serve --database-url URL --port PORT
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from bench.harness.ports import free_port
from bench.harness.processes import group_members, rss_bytes, spawn, stop_group
from bench.harness.report import REPO
from bench.harness.stats import pct
from bench.harness.synthetic_index import ZERO, ZERO_HASH, block_hash
from indexer.db.models import Block, Checkpoint

RSS_SAMPLE_SECONDS = 0.01


class ExplorerProcess:
    """``create_explorer`` over ``database_url`` served by uvicorn in a child process (no node: its reads fail fast)."""

    def __init__(self, database_url: str, token: str, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "bench.harness.explorer_load", "serve", "--database-url", database_url,
                "--port", str(self.port), "--token", token]  # fmt: skip
        self.proc = spawn(argv, log_path, cwd=REPO)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"explorer exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("explorer did not start")

    def rss(self) -> int:
        return rss_bytes(self.proc.pid) or 0

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server has used so far: unlike wall time, not inflated by other
        processes competing for the machine's cores."""
        return sum(group_members(self.proc.pid).values())

    def stop(self) -> None:
        stop_group(self.proc)


def new_head(engine: Engine) -> None:
    """Indexes one more (empty) block, as the follower does on a live chain."""
    with Session(engine) as db, db.begin():
        cp = db.get(Checkpoint, 1)
        assert cp is not None
        number = cp.block_number + 1
        db.execute(insert(Block), [{"number": number, "hash": block_hash(number), "parent_hash": cp.block_hash,
                                    "timestamp": int(time.time()), "proposer": ZERO, "tx_count": 0, "gas_used": 0,
                                    "transactions_root": ZERO_HASH}])  # fmt: skip
        cp.block_number, cp.block_hash = number, block_hash(number)


@dataclass(frozen=True)
class Latency:
    path: str
    p50_ms: float
    p95_ms: float
    max_ms: float
    cpu_ms: float  # the server's CPU time per request, on average


def latency(client: httpx.Client, engine: Engine, server: ExplorerProcess, path: str, runs: int) -> Latency:
    """Times ``runs`` GETs of ``path`` (a new head before each; the first, warm-up, is not counted)."""
    times = []
    cpu = 0.0
    for i in range(runs + 1):
        new_head(engine)
        if i == 1:
            cpu = server.cpu_seconds()
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or '"status":"0"' in response.text[:40]:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        if i:
            times.append(elapsed)
    cpu = server.cpu_seconds() - cpu
    return Latency(path, pct(times, 0.5), pct(times, 0.95), max(times), cpu * 1000 / runs)


@dataclass(frozen=True)
class Export:
    path: str
    rows: int
    megabytes: float
    seconds: float
    rss_before: int
    rss_peak: int

    @property
    def growth(self) -> int:
        return self.rss_peak - self.rss_before


def export(server: ExplorerProcess, path: str) -> Export:
    """Downloads ``path`` whole (discarding it as it comes) while sampling the server's resident memory."""
    before = server.rss()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.rss())
            time.sleep(RSS_SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rows = size = 0
    started = time.perf_counter()
    try:
        with httpx.stream("GET", server.url + path, timeout=600) as response:
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code}")
            for chunk in response.iter_bytes():
                size += len(chunk)
                rows += chunk.count(b"\n")
    finally:
        done.set()
        sampler.join()
    return Export(path, rows - 1, size / 2**20, time.perf_counter() - started, before, peak[0])


def serve(database_url: str, port: int, token: str) -> None:
    import uvicorn

    from indexer.db.engine import engine_for, sessions_for
    from indexer.web.app import create_explorer
    from ledger_client.rpc import Rpc

    sessions = sessions_for(engine_for(database_url))
    app = create_explorer(sessions, Rpc("http://127.0.0.1:9", timeout=1), {}, {"RegionalPoints": token})
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    options = parser.parse_args()
    serve(options.database_url, options.port, options.token)
