"""Watch-over ingest (issue 19): signed detector batches through the real service, sustained.

    .venv/bin/python -m bench.watch [--devices 200] [--wards 10000] [--batch 20] [--seconds 20] [--clients 16]

One run: ``takasago watch serve`` (one process, SQLite, its own data directory) with
``--wards`` registered tags and ``--devices`` enrolled detectors. ``--clients`` threads play
the detectors: each in turn sends a signed batch of ``--batch`` sightings (a mix of known
tags in their current window and unknown ids, positions around the city) and waits for the
acknowledgement, for ``--seconds``. Reported: sightings acknowledged per second, batch
latency p50/p99. Goal: ≥ 2,000 signed sightings/s with p99 ≤ 100 ms (a city of 5,000
volunteers reporting every 30 s is ~170/s).

Beside it, in the same run, the plain way to resolve the same sightings — try every ward's
secret on each sighting (an HMAC per ward per sighting), as a first version would — timed
in this process for a sample, against the service's per-window tables.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.harness.ports import free_port
from bench.harness.report import REPO, git_commit, log, machine
from bench.harness.stats import ms, pct
from watch.batches import new_device_key, sign
from watch.resolver import Resolver
from watch.rotating_id import candidate_windows, rotating_id, window_of
from watch.sealing import Sealer
from watch.store import WatchStore

GOAL_RATE = 2000
GOAL_P99 = 0.100
CITY = (34.730, 134.745, 34.790, 134.820)


class Detector:
    def __init__(self, name: str, key: Ed25519PrivateKey, rng: random.Random) -> None:
        self.name, self.key, self.seq = name, key, 0
        self.lat = rng.uniform(CITY[0], CITY[2])
        self.lon = rng.uniform(CITY[1], CITY[3])

    def batch(self, tags: list[bytes], size: int, rng: random.Random) -> tuple[bytes, str, int]:
        now = int(time.time())
        self.seq += 1
        self.lat += rng.uniform(-0.0003, 0.0003)  # a walk: a few tens of metres per batch
        self.lon += rng.uniform(-0.0003, 0.0003)
        sightings = []
        for i in range(size):
            tag = rng.choice(tags) if i % 2 == 0 else secrets.token_bytes(32)  # half strangers' tags
            at, where = now - rng.randint(0, 20), (round(self.lat, 5), round(self.lon, 5))
            sightings.append({"id": rotating_id(tag, window_of(now)).hex(), "at": at, "lat": where[0],
                              "lon": where[1], "rssi": -rng.randint(40, 95)})  # fmt: skip
        body = json.dumps({"device": self.name, "seq": self.seq, "sent_at": now, "sightings": sightings}).encode()
        return body, sign(self.key, body), size


def setup(data: Path, devices: int, wards: int) -> tuple[list[Detector], list[bytes]]:
    rng = random.Random(19)
    store = WatchStore(f"sqlite:///{data / 'watch.db'}", Sealer.from_file(data / "kek", create=True))
    tags = []
    now = int(time.time())
    for _ in range(wards):
        tag = secrets.token_bytes(32)
        store.register_ward(f"F{rng.randrange(10**6):06d}", tag, now)
        tags.append(tag)
    detectors = []
    for i in range(devices):
        key, public = new_device_key()
        store.enrol_device(f"bench-{i}", f"M{i:05d}", public, now)
        detectors.append(Detector(f"bench-{i}", key, rng))
    store.close()
    return detectors, tags


def serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "scripts.cli", "watch", "serve", "--data-dir", str(data),
                                "--port", str(port)], cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the watch service did not start")


def drive(url: str, detectors: list[Detector], tags: list[bytes], args: argparse.Namespace) -> tuple[int, list[float]]:
    latencies: list[float] = []
    kept = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + args.seconds
    errors: list[str] = []

    def client(index: int) -> None:
        rng = random.Random(index)
        mine = detectors[index :: args.clients]
        with httpx.Client(base_url=url, timeout=30) as http:
            turn = 0
            while time.monotonic() < stop_at:
                device = mine[turn % len(mine)]
                turn += 1
                body, signature, size = device.batch(tags, args.batch, rng)
                started = time.perf_counter()
                response = http.post("/v1/batches", content=body, headers={"X-Watch-Signature": signature})
                spent = time.perf_counter() - started
                if response.status_code != 200:
                    errors.append(response.text[:200])
                    continue
                with lock:
                    latencies.append(spent)
                    kept[0] += response.json()["kept"]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        log(f"{len(errors)} batches refused, first: {errors[0]}")
    return kept[0], latencies


def plain_resolution(tags: list[bytes], sample: int) -> tuple[float, float]:
    """Seconds per sighting: every ward's secret tried (plain) against the per-window tables (ours)."""
    rng = random.Random(7)
    now = int(time.time())
    ids = [rotating_id(rng.choice(tags), window_of(now)) for _ in range(sample)]
    started = time.perf_counter()
    for rid in ids:
        next((t for t in tags for w in candidate_windows(now) if rotating_id(t, w) == rid), None)
    plain = (time.perf_counter() - started) / sample
    resolver = Resolver(lambda: [(str(i), t) for i, t in enumerate(tags)])
    resolver.resolve(ids[0], now)  # builds the tables once, as the service does per window
    started = time.perf_counter()
    for rid in ids:
        resolver.resolve(rid, now)
    return plain, (time.perf_counter() - started) / sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--wards", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-watch-")) / "watch"
    data.mkdir(parents=True)
    log(f"registering {args.wards:,} wards and {args.devices:,} detectors")
    detectors, tags = setup(data, args.devices, args.wards)
    port = free_port()
    process = serve(data, port)
    try:
        log(f"driving {args.clients} clients for {args.seconds:.0f} s, {args.batch} sightings a batch")
        started = time.monotonic()
        kept, latencies = drive(f"http://127.0.0.1:{port}", detectors, tags, args)
        elapsed = time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=15)
    plain, ours = plain_resolution(tags, 20)
    rate = kept / elapsed
    p99 = pct(latencies, 0.99)
    print(f"\nwatch ingest: {args.devices} detectors, {args.wards:,} wards, {args.batch} sightings a batch, "
          f"{args.clients} clients, {elapsed:.1f} s; {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC; "
          f"commit {git_commit()}; SQLite; {machine()}\n")  # fmt: skip
    print("| batches | sightings acknowledged | sightings/s | batch p50 | batch p99 |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print(f"| {len(latencies):,} | {kept:,} | **{rate:,.0f}** | {ms(pct(latencies, 0.5))} | **{ms(p99)}** |")
    print(
        f"\n- goal ≥ {GOAL_RATE:,}/s with p99 ≤ 100 ms: {'met' if rate >= GOAL_RATE and p99 <= GOAL_P99 else 'NOT met'}"
    )
    print(f"- resolving one sighting among {args.wards:,} wards: plain (every secret tried) {plain * 1e3:.1f} ms, "
          f"per-window tables {ours * 1e6:.1f} µs ({plain / ours:,.0f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
