"""The light-client shape of ``bench.node_throughput``: confirmation from new block headers.

A light client neither polls receipts nor keeps many connections: it sends pre-signed
transactions in JSON-RPC batches from one thread and learns that they are in from the chain's
new heads. Per round (issue 23's measurement, run by ``bench.node_throughput --shapes light``):

* ``--light-senders`` senders (10) x N transfers, signed before the clock starts and sent
  nonce-major (each batch of 100 holds 10 consecutive nonces of each of the 10 senders) as
  JSON-RPC batches of ``eth_sendRawTransaction``, one batch at a time from one thread;
* new heads arrive by ``eth_subscribe("newHeads")`` over a WebSocket on the same port, or,
  if the system refuses it, by polling ``eth_blockNumber`` every 20 ms; each new block's
  transaction hashes are read with ``eth_getBlockByNumber(n, false)`` (no receipts) and a
  transfer counts as confirmed at the arrival time of the head that carried it;
* admitted tx/s = transfers / (first batch sent -> last batch answered): the submission
  phase alone; confirmed tx/s = transfers / (first batch sent -> last transfer's head);
* after the clock: every receipt has status 1 and every final token balance is as expected.
"""

from __future__ import annotations

import contextlib
import queue
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.harness.erc20 import Workload, token_balances
from bench.harness.report import log
from bench.harness.rpc import BenchRpc, RpcError, hex_int

POLL_SECONDS = 0.02
STALL_SECONDS = 60.0


@dataclass
class LightRound:
    count: int
    confirmed: int
    submit_seconds: float
    seconds: float
    blocks: int
    heads_via: str
    status_failures: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def admitted_tps(self) -> float:
        return self.count / self.submit_seconds if self.submit_seconds > 0 else 0.0

    @property
    def tps(self) -> float:
        return self.confirmed / self.seconds if self.seconds > 0 and self.confirmed == self.count else 0.0


@dataclass
class LightReport:
    name: str
    rounds: list[LightRound] = field(default_factory=list)
    balances_ok: bool = False
    error: str | None = None
    restarts: list[str] = field(default_factory=list)  # failed rounds after which a peer was started afresh

    def median(self, attr: str) -> float:
        values = [getattr(r, attr) for r in self.rounds if not r.errors]
        return statistics.median(values) if values else 0.0

    def spread(self, attr: str) -> str:
        values = sorted(getattr(r, attr) for r in self.rounds if not r.errors)
        if not values:
            return "—"
        return f"{values[0]:,.0f}" if len(values) == 1 else f"{values[0]:,.0f}–{values[-1]:,.0f}"


class HeadWatcher:
    """New heads as (block number, arrival time): a newHeads subscription, else eth_blockNumber polling."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.heads: queue.Queue[tuple[int, float]] = queue.Queue()
        self.via = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: Any = None

    def start(self) -> None:
        try:
            from websockets.sync.client import connect

            ws = connect("ws" + self.url.removeprefix("http"), max_size=None, open_timeout=10)
            ws.send(orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}))
            answer = orjson.loads(ws.recv(timeout=10))
            if "result" not in answer:
                raise RuntimeError(f"eth_subscribe refused: {answer.get('error')}")
            self._ws = ws
            self.via = "newHeads (WebSocket)"
            self._thread = threading.Thread(target=self._read_ws, daemon=True)
        except Exception as exc:  # noqa: BLE001 - any failure means: poll instead
            log(f"{self.url}: no newHeads subscription ({type(exc).__name__}: {exc}); polling eth_blockNumber")
            self.via = f"eth_blockNumber every {POLL_SECONDS * 1000:.0f} ms"
            self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _read_ws(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            except Exception:  # noqa: BLE001 - connection closed at stop
                return
            t = time.perf_counter()
            note = orjson.loads(message)
            if note.get("method") == "eth_subscription":
                self.heads.put((hex_int(note["params"]["result"]["number"]), t))

    def _poll(self) -> None:
        rpc = BenchRpc(self.url)
        last = hex_int(rpc.call("eth_blockNumber"))
        while not self._stop.is_set():
            number = hex_int(rpc.call("eth_blockNumber"))
            if number > last:
                self.heads.put((number, time.perf_counter()))
                last = number
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def light_round(url: str, txs: list[list[tuple[str, str]]], batch: int, timeout: float) -> LightRound:
    """One timed round: submit from one thread, confirm from new heads (see the module docstring)."""
    rpc = BenchRpc(url)
    per_sender = max(len(m) for m in txs)
    order = [txs[s][j] for j in range(per_sender) for s in range(len(txs)) if j < len(txs[s])]
    wanted = {h.lower() for _, h in order}
    n = len(order)
    seen: dict[str, float] = {}
    blocks: set[int] = set()
    errors: list[str] = []
    start_block = hex_int(rpc.call("eth_blockNumber"))
    watcher = HeadWatcher(url)
    watcher.start()
    done = threading.Event()

    def confirm() -> None:
        fetch_rpc = BenchRpc(url)
        next_block = start_block + 1
        last_progress = time.monotonic()
        deadline = time.monotonic() + timeout
        while len(seen) < n and not done.is_set():
            if time.monotonic() > deadline:
                errors.append(f"timeout: {n - len(seen)} of {n} transfers not in any block after {timeout:.0f}s")
                return
            if time.monotonic() - last_progress > STALL_SECONDS:
                errors.append(
                    f"stalled: no new transfer in a block for {STALL_SECONDS:.0f}s, {n - len(seen)} of {n} missing"
                )
                return
            try:
                number, arrived = watcher.heads.get(timeout=0.5)
            except queue.Empty:
                continue
            arrivals = {number: arrived}
            while True:  # drain: several heads are fetched in one batch
                try:
                    more, at = watcher.heads.get_nowait()
                except queue.Empty:
                    break
                arrivals[more] = at
            top = max(arrivals)
            numbers = list(range(next_block, top + 1))
            for i in range(0, len(numbers), 100):
                chunk = numbers[i : i + 100]
                try:
                    found = fetch_rpc.batch([("eth_getBlockByNumber", [hex(b), False]) for b in chunk])
                except Exception as exc:  # noqa: BLE001 - reported, ends the round
                    errors.append(f"reading blocks {chunk[0]}..{chunk[-1]}: {exc!r}")
                    return
                for b, block in zip(chunk, found, strict=True):
                    if block is None:
                        continue
                    # a head skipped by the notifications counts at the next head's arrival
                    at = min((t for k, t in arrivals.items() if k >= b), default=arrived)
                    for h in block["transactions"]:
                        h = h.lower()
                        if h in wanted and h not in seen:
                            seen[h] = at
                            blocks.add(b)
                            last_progress = time.monotonic()
            next_block = max(next_block, top + 1)

    confirmer = threading.Thread(target=confirm, daemon=True)
    confirmer.start()
    first = time.perf_counter()
    submitted_at = first
    try:
        for i in range(0, n, batch):
            chunk = order[i : i + batch]
            results = rpc.send_batch([("eth_sendRawTransaction", [raw]) for raw, _ in chunk])
            bad = [f"{h}: {r}" for (_, h), r in zip(chunk, results, strict=True) if isinstance(r, RpcError)]
            if bad:
                errors.extend(bad[:5])
                break
        submitted_at = time.perf_counter()
        confirmer.join(timeout=timeout)
    finally:
        done.set()
        watcher.stop()
    last = max(seen.values(), default=first)
    result = LightRound(
        count=n,
        confirmed=len(seen),
        submit_seconds=submitted_at - first,
        seconds=last - first,
        blocks=len(blocks),
        heads_via=watcher.via,
        errors=errors,
    )
    if not errors:  # after the clock: every transfer succeeded
        hashes = [h for _, h in order]
        for i in range(0, n, batch):
            receipts = rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes[i : i + batch]])
            result.status_failures += sum(1 for r in receipts if r is None or hex_int(r["status"]) != 1)
    return result


def balances_match(rpc: BenchRpc, work: Workload, expected: dict[str, int], attempts: int = 10) -> bool:
    for _ in range(attempts):
        actual = token_balances(rpc, work.token, list(expected))
        if all(actual[o] == e for o, e in expected.items()):
            return True
        time.sleep(0.5)
    return False


def run_round(
    rpc: BenchRpc, work: Workload, report: LightReport, expected: dict[str, int], per_sender: int, batch: int
) -> None:
    """One light-client round on a set-up system, appended to ``report``; ``expected`` balances updated."""
    txs, delta, _ = work.sign_round(per_sender)
    for owner, d in delta.items():
        expected[owner] = expected.get(owner, 0) + d
    count = sum(len(m) for m in txs)
    result = light_round(rpc.url, txs, batch, timeout=max(120.0, count / 10))
    report.rounds.append(result)
    log(
        f"{report.name} light round {len(report.rounds)}: admitted {count} in {result.submit_seconds:.2f}s = "
        f"{result.admitted_tps:,.0f}/s; confirmed {result.confirmed} in {result.seconds:.2f}s = "
        f"{result.tps:,.0f}/s, {result.blocks} blocks, heads by {result.heads_via}"
    )
    if result.errors or result.status_failures:
        raise RuntimeError(f"{'; '.join(result.errors[:3])} (status failures: {result.status_failures})")
