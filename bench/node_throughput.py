"""Node throughput: the same ERC-20 transfer workload against takasago and its peers.

    .venv/bin/python -m bench.node_throughput [--transfers 10000 --senders 100 --batch 100
                                               --peers anvil,anvil-1s,hardhat --skip-rss]

For every system (takasago in instant mode; anvil automine and anvil ``--block-time 1``,
both ``--base-fee 0 --gas-price 0``; a Hardhat 3 node, automine) the same client code:

* setup (not timed): deploy ``TestToken`` from a funded account (our admin), create the
  senders, give them tokens (and ether on peers, whose gas is not free), and on our node
  register them in the AccountRegistry;
* signs ``--transfers`` ERC-20 ``transfer``\\ s client-side (eth-account + coincurve; not
  timed, rate reported), ``--senders`` senders x N each, to 200 recipients;
* timed: submits them in JSON-RPC batches of ``--batch`` ``eth_sendRawTransaction`` from
  ``--threads`` submitter threads (each owns a slice of the senders and submits them in
  nonce order), while one poller thread asks for receipts of submitted, unconfirmed
  transactions in batches of ``--batch`` ``eth_getTransactionReceipt``;
* checks every receipt has status 1 and every final token balance is as expected.

Reported: confirmed tx/s (first submit -> last receipt seen), p50/p99 latency (per tx:
its batch was sent -> its receipt was first seen), and for takasago the node's RSS and
chain-data bytes per transaction, also after ``--rss-transactions`` transfers.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import light_client
from bench.harness import processes
from bench.harness.erc20 import RECIPIENTS, SENDER_TOKENS, Workload, setup_system, token_balances
from bench.harness.processes import proc_memory, rss_bytes
from bench.harness.report import REPO, fmt_bytes, log, machine, markdown_table
from bench.harness.rpc import BenchRpc, RpcError, hex_int
from bench.harness.stats import pct
from bench.harness.systems import Anvil, Hardhat, System, Takasago

STALL_SECONDS = 60  # a timed run gives up when no receipt appears for this long


@dataclass
class RunResult:
    count: int
    seconds: float
    latencies: list[float]
    blocks: int
    status_failures: int
    submit_errors: list[str]
    submit_seconds: float = 0.0  # first batch sent -> last batch answered

    @property
    def tps(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def admitted_tps(self) -> float:
        return self.count / self.submit_seconds if self.submit_seconds > 0 else 0.0

    def pct(self, q: float) -> float:
        return pct(self.latencies, q)


def timed_run(rpc: BenchRpc, txs: list[list[tuple[str, str]]], batch: int, threads: int, timeout: float) -> RunResult:
    """Submit pre-signed txs in batches from ``threads`` threads; poll receipts; time it."""
    flat_hashes: list[str] = []
    index: dict[str, int] = {}
    plans: list[list[list[int]]] = []  # per thread: list of batches of tx indices
    per_thread_order: list[list[int]] = [[] for _ in range(threads)]
    raws: list[str] = []
    for mine in txs:
        for raw, h in mine:
            index[h] = len(raws)
            raws.append(raw)
            flat_hashes.append(h)
    # each thread owns senders s % threads == k and sends them nonce-major (nonce order kept)
    offsets = []
    pos = 0
    for mine in txs:
        offsets.append(pos)
        pos += len(mine)
    per_sender = max((len(m) for m in txs), default=0)
    for k in range(threads):
        owned = list(range(k, len(txs), threads))
        for j in range(per_sender):
            for s in owned:
                if j < len(txs[s]):
                    per_thread_order[k].append(offsets[s] + j)
        plans.append([per_thread_order[k][i : i + batch] for i in range(0, len(per_thread_order[k]), batch)])

    n = len(raws)
    sent_at = [0.0] * n
    seen_at = [0.0] * n
    statuses = [0] * n
    block_numbers: set[str] = set()
    submitted: collections.deque[int] = collections.deque()
    lock = threading.Lock()
    errors: list[str] = []
    done_submitting = threading.Event()
    stop = threading.Event()
    deadline = time.monotonic() + timeout
    answered_at = [0.0] * threads

    def submitter(k: int) -> None:
        try:
            for chunk in plans[k]:
                if stop.is_set():
                    return
                t = time.perf_counter()
                with lock:
                    for i in chunk:
                        sent_at[i] = t
                    submitted.extend(chunk)
                results = rpc.send_batch([("eth_sendRawTransaction", [raws[i]]) for i in chunk])
                answered_at[k] = time.perf_counter()
                bad = [
                    f"tx {flat_hashes[i]}: {r}" for i, r in zip(chunk, results, strict=True) if isinstance(r, RpcError)
                ]
                if bad:
                    with lock:
                        errors.extend(bad)
                    stop.set()
                    return
        except Exception as exc:  # noqa: BLE001 - reported, stops the run
            with lock:
                errors.append(f"submitter {k}: {exc!r}")
            stop.set()

    confirmed = 0

    def poller() -> None:
        nonlocal confirmed
        pending: list[int] = []
        last_progress = time.monotonic()
        while confirmed < n and not stop.is_set():
            if time.monotonic() > deadline:
                with lock:
                    errors.append(f"timeout: {n - confirmed} of {n} receipts missing after {timeout:.0f}s")
                stop.set()
                return
            with lock:
                while submitted:
                    pending.append(submitted.popleft())
            window = pending[: batch * 5]
            if not window:
                time.sleep(0.005)
                continue
            got = 0
            for i in range(0, len(window), batch):
                chunk = window[i : i + batch]
                try:
                    results = rpc.batch([("eth_getTransactionReceipt", [flat_hashes[j]]) for j in chunk])
                except Exception as exc:  # noqa: BLE001
                    with lock:
                        errors.append(f"poller: {exc!r}")
                    stop.set()
                    return
                t = time.perf_counter()
                for j, r in zip(chunk, results, strict=True):
                    if r is not None and not seen_at[j]:
                        seen_at[j] = t
                        statuses[j] = hex_int(r["status"])
                        block_numbers.add(r["blockNumber"])
                        got += 1
            confirmed += got
            if got:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALL_SECONDS:
                with lock:
                    errors.append(f"stalled: no new receipt for {STALL_SECONDS}s, {n - confirmed} of {n} missing")
                stop.set()
                return
            pending = [j for j in pending if not seen_at[j]]
            if not got:
                time.sleep(0.01)

    workers = [threading.Thread(target=submitter, args=(k,), daemon=True) for k in range(threads)]
    poll_thread = threading.Thread(target=poller, daemon=True)
    started = time.perf_counter()
    for w in workers:
        w.start()
    poll_thread.start()
    for w in workers:
        w.join(timeout=max(1.0, deadline - time.monotonic()))
    done_submitting.set()
    poll_thread.join(timeout=max(1.0, deadline - time.monotonic() + 5))
    stop.set()
    if confirmed < n and not errors:
        errors.append(f"only {confirmed} of {n} receipts seen")
    first = min((t for t in sent_at if t), default=started)
    last = max(seen_at, default=started)
    latencies = [seen_at[i] - sent_at[i] for i in range(n) if seen_at[i]]
    return RunResult(
        count=confirmed,
        seconds=last - first,
        latencies=latencies,
        blocks=len(block_numbers),
        status_failures=sum(1 for i in range(n) if seen_at[i] and statuses[i] != 1),
        submit_errors=errors,
        submit_seconds=max(answered_at, default=first) - first,
    )


@dataclass
class SystemReport:
    name: str
    sign_rate: float = 0.0
    run: RunResult | None = None
    balances_ok: bool = False
    rss_after: int | None = None
    disk_per_tx: float | None = None
    rss_long: int | None = None
    anon_after: int | None = None
    anon_long: int | None = None
    disk_per_tx_long: float | None = None
    long_transfers: int = 0
    long_rounds: list[float] = field(default_factory=list)
    error: str | None = None


def run_round(
    rpc: BenchRpc, work: Workload, per_sender: int, args: argparse.Namespace, expected: dict[str, int]
) -> tuple[RunResult, float]:
    txs, delta, sign_seconds = work.sign_round(per_sender)
    for owner, d in delta.items():
        expected[owner] = expected.get(owner, 0) + d
    count = sum(len(m) for m in txs)
    result = timed_run(rpc, txs, args.batch, args.threads, timeout=max(120.0, count / 10))
    return result, count / sign_seconds


def bench_system(system: System, args: argparse.Namespace, profile: bool) -> SystemReport:
    report = SystemReport(system.name)
    per_sender = args.transfers // args.senders
    try:
        log(f"{system.name}: starting")
        system.start()
        rpc = BenchRpc(system.url)
        work = setup_system(system, rpc, args.senders)
        expected = {a.address: SENDER_TOKENS for a in work.sender_keys}
        disk_before = system.chaindata() if isinstance(system, Takasago) else None
        log(f"{system.name}: setup done; signing {per_sender * args.senders} transfers")
        spy = None
        if profile and system.pid is not None:
            spy = start_profiler(system, args)
        result, report.sign_rate = run_round(rpc, work, per_sender, args, expected)
        if spy is not None:
            stop_profiler(spy)
        report.run = result
        log(
            f"{system.name}: {result.count} confirmed in {result.seconds:.2f}s = {result.tps:.0f} tx/s, "
            f"p50 {result.pct(0.5) * 1000:.0f} ms, p99 {result.pct(0.99) * 1000:.0f} ms, {result.blocks} blocks"
        )
        if result.submit_errors:
            raise RuntimeError("; ".join(result.submit_errors[:5]))
        report.balances_ok = check_balances(rpc, work, expected)
        if isinstance(system, Takasago):
            assert system.pid is not None
            report.rss_after = rss_bytes(system.pid)
            report.anon_after = proc_memory(system.pid).get("RssAnon")
            report.disk_per_tx = (system.chaindata() - disk_before) / max(1, result.count)  # type: ignore[operator]
            if not args.skip_rss and args.rss_transactions > result.count:
                total = result.count
                while total < args.rss_transactions:
                    round_per_sender = min(
                        per_sender, (args.rss_transactions - total + args.senders - 1) // args.senders
                    )
                    more, _ = run_round(rpc, work, round_per_sender, args, expected)
                    if more.submit_errors or more.status_failures:
                        raise RuntimeError(
                            f"long run after {total}: {more.submit_errors[:3]} failures={more.status_failures}"
                        )
                    total += more.count
                    report.long_rounds.append(more.tps)
                    log(
                        f"{system.name}: long run {total}/{args.rss_transactions}: {more.tps:.0f} tx/s, "
                        f"RSS {(rss_bytes(system.pid) or 0) / 2**20:.0f} MiB"
                    )
                report.long_transfers = total
                report.rss_long = rss_bytes(system.pid)
                report.anon_long = proc_memory(system.pid).get("RssAnon")
                report.disk_per_tx_long = (system.chaindata() - disk_before) / total  # type: ignore[operator]
                report.balances_ok = report.balances_ok and check_balances(rpc, work, expected)
        elif system.pid is not None:
            report.rss_after = rss_bytes(system.pid)
    except Exception as exc:  # noqa: BLE001 - one system failing must not lose the others
        report.error = f"{type(exc).__name__}: {exc}"
        log(f"{system.name}: FAILED: {report.error}\n{system.log_tail()}")
    finally:
        system.stop()
    return report


def bench_light(systems: list[System], args: argparse.Namespace) -> list[light_client.LightReport]:
    """The light-client shape (``bench.light_client``): every system started and set up first, then
    the rounds interleaved (round 1 on each system, then round 2, ...), so that the load other
    processes put on a shared machine falls on all of them alike."""
    reports = [light_client.LightReport(s.name) for s in systems]
    ready: list[list[Any]] = []  # [system, report, rpc, workload, expected balances]

    def start(system: System) -> tuple[BenchRpc, Workload, dict[str, int]]:
        system.start()
        rpc = BenchRpc(system.url)
        work = setup_system(system, rpc, args.light_senders)
        return rpc, work, {a.address: SENDER_TOKENS for a in work.sender_keys}

    try:
        for system, report in zip(systems, reports, strict=True):
            try:
                log(f"{system.name}: starting (light client)")
                ready.append([system, report, *start(system)])
            except Exception as exc:  # noqa: BLE001 - one system failing must not lose the others
                report.error = f"{type(exc).__name__}: {exc}"
                log(f"{system.name}: FAILED to start (light client): {report.error}\n{system.log_tail()}")
                system.stop()
        spy = None
        if args.profile:
            ours = next((s for s, *_ in ready if s.name == "takasago"), None)
            spy = start_profiler(ours, args) if ours is not None else None
        try:
            for k in range(args.light_rounds):
                for entry in ready:
                    system, report, rpc, work, expected = entry
                    if report.error:
                        continue
                    try:
                        light_client.run_round(
                            rpc, work, report, expected, args.light_transfers // args.light_senders, args.batch
                        )
                    except Exception as exc:  # noqa: BLE001 - this system stops or restarts; the others go on
                        failure = f"round {k + 1}: {type(exc).__name__}: {exc}"
                        log(f"{system.name}: FAILED (light client) {failure}\n{system.log_tail(8)}")
                        if isinstance(system, Takasago):
                            report.error = failure  # our node failing is a result, never papered over
                            continue
                        # a peer that stalled (anvil automine: foundry-rs/foundry#10122) is started
                        # afresh for the next rounds; the failed round counts in the report
                        report.restarts.append(failure)
                        system.stop()
                        try:
                            entry[2:] = start(system)
                        except Exception as again:  # noqa: BLE001
                            report.error = f"{failure}; restart failed: {again}"
        finally:
            if spy is not None:
                stop_profiler(spy)
        for _system, report, rpc, work, expected in ready:
            if not report.error:
                report.balances_ok = light_client.balances_match(rpc, work, expected)
                if not report.balances_ok:
                    report.error = "final token balances differ from the expected ones"
    finally:
        for system in systems:
            system.stop()
    return reports


def light_table(reports: list[light_client.LightReport]) -> str:
    ours = next((r for r in reports if r.name == "takasago" and r.median("tps")), None)
    notes: list[str] = []
    head = [
        "system",
        "confirmed tx/s (median)",
        "rounds",
        "admitted tx/s (median)",
        "rounds",
        "blocks/round",
        "failed rounds",
        "heads by",
        "balances",
        "ours / this: confirmed",
        "ours / this: admitted",
    ]
    rows: list[list[str]] = []
    for r in reports:
        if not [x for x in r.rounds if not x.errors]:
            rows.append([r.name, f"failed: {r.error}"] + [""] * (len(head) - 2))
            continue
        if r.error:
            notes.append(f"{r.name}: {r.error}")
        notes += [f"{r.name}: {failure} (restarted for the next rounds)" for failure in r.restarts]
        tps, adm = r.median("tps"), r.median("admitted_tps")
        ratio = f"{ours.median('tps') / tps:.2f}x" if ours and tps else "—"
        ratio_adm = f"{ours.median('admitted_tps') / adm:.2f}x" if ours and adm else "—"
        rows.append(
            [
                r.name,
                f"{tps:,.0f}",
                r.spread("tps"),
                f"{adm:,.0f}",
                r.spread("admitted_tps"),
                f"{statistics.median(x.blocks for x in r.rounds):.0f}",
                f"{len(r.restarts)} (restarted)" if r.restarts else "0",
                r.rounds[0].heads_via,
                "ok" if r.balances_ok else ("not checked" if r.error else "WRONG"),
                ratio,
                ratio_adm,
            ]
        )
    return "\n".join([markdown_table(head, rows)] + [f"\nerror: {n}" for n in notes])


def check_balances(rpc: BenchRpc, work: Workload, expected: dict[str, int], attempts: int = 10) -> bool:
    """Token balances at 'latest' equal the expected ones (retried: a peer's 'latest' may lag its receipts)."""
    for attempt in range(attempts):
        actual = token_balances(rpc, work.token, list(expected))
        wrong = {o: (actual[o], e) for o, e in expected.items() if actual[o] != e}
        if not wrong:
            if attempt:
                log(f"balances matched only on attempt {attempt + 1} ('latest' lagged the receipts)")
            return True
        log(f"balance mismatch on {len(wrong)} accounts (attempt {attempt + 1}), e.g. {list(wrong.items())[:2]}")
        time.sleep(0.5)
    return False


# --------------------------------------------------------------------------- profiling
def start_profiler(system: System, args: argparse.Namespace) -> subprocess.Popen[bytes] | None:
    spy = REPO / ".venv" / "bin" / "py-spy"
    if not spy.exists():
        log("py-spy not installed in the venv; skipping the profile")
        return None
    out = Path(args.profile)
    proc = subprocess.Popen(
        [
            str(spy),
            "record",
            "-p",
            str(system.pid),
            "--format",
            "raw",
            "-o",
            str(out),
            "--rate",
            str(args.profile_rate),
            "--threads",
            "--subprocesses",
            *(["--gil"] if args.profile_gil else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    processes.track(proc)
    time.sleep(1.0)
    return proc


def stop_profiler(proc: subprocess.Popen[bytes]) -> None:
    processes.interrupt_group(proc)  # py-spy writes its output on SIGINT


KEY_FRAMES = (
    "apply_transaction",
    "make_state_root",
    "make_trie_root_and_nodes",
    "set_block_transactions",
    "mine_block",
    "persist_block",
    "finalize_block",
    "block_records",
    "flush",
    "recover",
    "check_signature",
)


def summarise_profile(path: Path, top: int = 15) -> str:
    """Sample shares from py-spy's collapsed stacks: per thread, our functions and py-evm's
    main phases (inclusive), and the hottest leaf functions (self)."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    per_thread: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        per_thread[frames[0]] += n
        own[frames[-1]] += n
        for f in set(frames):
            if "(node/" in f or any(k in f.split(" ")[0] for k in KEY_FRAMES):
                incl[f] += n
    if not total:
        return "no samples"
    lines = [f"samples: {total}", "by thread:"]
    lines += [f"  {n / total:6.1%}  {t}" for t, n in per_thread.most_common(6)]
    lines.append("inclusive (our code and py-evm phases):")
    lines += [f"  {n / total:6.1%}  {f}" for f, n in incl.most_common(top * 2)]
    lines.append("self:")
    lines += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- output
def table(reports: list[SystemReport]) -> str:
    ours = next((r for r in reports if r.name == "takasago" and r.run), None)
    head = [
        "system",
        "confirmed tx/s",
        "admitted tx/s",
        "p50 latency",
        "p99 latency",
        "blocks",
        "all status 1",
        "balances",
        "signing tx/s",
        "RSS after",
        "ours / this",
    ]
    rows: list[list[str]] = []
    notes: list[str] = []
    for r in reports:
        if r.run is None:
            rows.append([r.name, f"failed: {r.error}"] + [""] * (len(head) - 2))
            continue
        if r.error:
            notes.append(f"{r.name}: {r.error}")
            rows.append([r.name, f"failed after {r.run.count} confirmed (see error)"] + [""] * (len(head) - 2))
            continue
        ratio = f"{ours.run.tps / r.run.tps:.2f}x" if ours and ours.run and r.run.tps else "—"  # type: ignore[union-attr]
        if ours and ours.run and r.run.admitted_tps:
            ratio += f" (admitted {ours.run.admitted_tps / r.run.admitted_tps:.2f}x)"
        rows.append(
            [
                r.name,
                f"{r.run.tps:.0f}",
                f"{r.run.admitted_tps:.0f}",
                f"{r.run.pct(0.5) * 1000:.0f} ms",
                f"{r.run.pct(0.99) * 1000:.0f} ms",
                str(r.run.blocks),
                "yes" if r.run.status_failures == 0 and r.run.count else f"no ({r.run.status_failures} failed)",
                "ok" if r.balances_ok else "WRONG",
                f"{r.sign_rate:.0f}",
                fmt_bytes(r.rss_after),
                ratio,
            ]
        )
    return "\n".join([markdown_table(head, rows)] + [f"\nerror: {n}" for n in notes])


def node_lines(reports: list[SystemReport]) -> str:
    r = next((r for r in reports if r.name == "takasago"), None)
    if r is None or r.run is None:
        return ""
    out = [
        f"takasago: RSS {fmt_bytes(r.rss_after)} (anonymous {fmt_bytes(r.anon_after)}, the rest is the LMDB map) "
        f"after {r.run.count} transfers; "
        f"chain data {r.disk_per_tx:.0f} B per transaction"
    ]
    if r.rss_long is not None:
        rounds = ", ".join(f"{t:.0f}" for t in r.long_rounds)
        out.append(
            f"takasago: RSS {fmt_bytes(r.rss_long)} (anonymous {fmt_bytes(r.anon_long)}) "
            f"after {r.long_transfers} transfers; "
            f"chain data {r.disk_per_tx_long:.0f} B per transaction; tx/s of the later rounds: {rounds}"
        )
    return "\n".join(out)


class TakasagoAt(Takasago):
    """Our node with ``node/`` as it was at a git revision (``--baseline``): before/after in one run.

    ``git archive REV node`` is unpacked beside the run and put first on ``PYTHONPATH`` of the
    node and its admission worker; everything else (CLI, contracts) is the working tree's.
    """

    def __init__(self, name: str, workdir: Path, revision: str) -> None:
        super().__init__(name, workdir)
        self.revision = revision

    def _spawn(self, argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        tree = self.workdir / f"node-at-{self.revision}"
        if not tree.exists():
            tree.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", self.revision, "node"], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        env = dict(env or os.environ)
        env["PYTHONPATH"] = f"{tree}:{env['PYTHONPATH']}" if env.get("PYTHONPATH") else str(tree)
        super()._spawn(argv, cwd=cwd, env=env)


class TakasagoWorker(Takasago):
    """Our node with its block execution worker set by ``--execution-worker`` (``TAKASAGO_EXECUTION_WORKER``)."""

    def __init__(self, name: str, workdir: Path, mode: str) -> None:
        super().__init__(name, workdir)
        self.mode = mode

    def _spawn(self, argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        env = dict(env or os.environ)
        env["TAKASAGO_EXECUTION_WORKER"] = self.mode
        super()._spawn(argv, cwd=cwd, env=env)


def _no_profile(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "profile": None})


PEERS = {
    "anvil": lambda wd: Anvil("anvil", wd),
    "anvil-1s": lambda wd: Anvil("anvil-1s", wd, block_time=1),
    "hardhat": lambda wd: Hardhat("hardhat", wd),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", type=int, default=4, help="concurrent submitter threads")
    parser.add_argument(
        "--peers",
        default="anvil,anvil-1s,hardhat",
        help="comma list of anvil, anvil-1s (--block-time 1), hardhat; 'anvil' alone in the list "
        "also runs anvil-1s unless --no-anvil-1s",
    )
    parser.add_argument("--no-anvil-1s", action="store_true")
    parser.add_argument(
        "--shapes",
        default="receipts,light",
        help="client shapes: 'receipts' (--threads submitters, receipt polling) and/or 'light' "
        "(one submitter, confirmation from new block headers; see bench.light_client)",
    )
    parser.add_argument("--light-transfers", type=int, default=2_000, help="per light-client round")
    parser.add_argument("--light-senders", type=int, default=10)
    parser.add_argument("--light-rounds", type=int, default=3, help="light-client rounds per system")
    parser.add_argument("--no-takasago", action="store_true", help="peers only")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        action="append",
        default=[],
        help="also run our node with node/ as of this git revision (takasago@REV), e.g. to measure a change",
    )
    parser.add_argument(
        "--execution-worker",
        metavar="MODE",
        action="append",
        default=[],
        help="also run our node with this block execution worker (takasago+MODE: off, cpython, pypy; "
        "node/execution_worker.py), e.g. --execution-worker off --execution-worker pypy",
    )
    parser.add_argument("--rss-transactions", type=int, default=100_000)
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy record our node during the timed run (collapsed stacks)"
    )
    parser.add_argument("--profile-rate", type=int, default=50, help="py-spy samples per second")
    parser.add_argument(
        "--profile-gil", action="store_true", help="sample only the thread holding the GIL (where the CPU goes)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    if not shapes or set(shapes) - {"receipts", "light"}:
        parser.error("--shapes: a comma list of receipts, light")
    if args.transfers % args.senders or args.light_transfers % args.light_senders:
        parser.error("--transfers must be a multiple of --senders (and --light-transfers of --light-senders)")
    processes.exit_on_signals()

    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    if "anvil" in peers and "anvil-1s" not in peers and not args.no_anvil_1s:
        peers.insert(peers.index("anvil") + 1, "anvil-1s")
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        parser.error(f"unknown peers {unknown}; choose from {sorted(PEERS)}")

    started = dt.datetime.now().astimezone()
    reports: list[SystemReport] = []
    light_reports: list[light_client.LightReport] = []
    with tempfile.TemporaryDirectory(prefix="takasago-bench-") as tmp:
        workdir = Path(tmp)
        names = (
            ([] if args.no_takasago else ["takasago"])
            + [f"takasago+{mode}" for mode in args.execution_worker]
            + [f"takasago@{rev}" for rev in args.baseline]
            + peers
        )

        def make(name: str) -> System:
            place = workdir / shape / name.replace("@", "-at-")  # each system its own directory
            place.mkdir(parents=True)
            if name == "takasago":
                return Takasago(name, place)
            if name.startswith("takasago+"):
                return TakasagoWorker(name, place, name.removeprefix("takasago+"))
            if name.startswith("takasago@"):
                return TakasagoAt(name, place, name.removeprefix("takasago@"))
            return PEERS[name](place)

        for shape in shapes:
            # --profile records our node in the first shape run
            profile = bool(args.profile) and shape == shapes[0]
            if shape == "light":
                light_reports = bench_light([make(name) for name in names], args if profile else _no_profile(args))
                continue
            for name in names:
                system = make(name)
                reports.append(bench_system(system, args, profile and name == "takasago"))
                if system.data_dir is not None:
                    shutil.rmtree(system.data_dir, ignore_errors=True)

    print()
    print(f"node throughput, {started:%Y-%m-%d %H:%M %Z}, {machine()}")
    if reports:
        print(
            f"\nreceipt-polling client: {args.transfers} ERC-20 transfers "
            f"({args.senders} senders x {args.transfers // args.senders}) "
            f"to {RECIPIENTS} recipients, batches of {args.batch}, {args.threads} submitter threads"
        )
        print(table(reports))
        print(node_lines(reports))
    if light_reports:
        print(
            f"\nlight client: {args.light_rounds} rounds of {args.light_transfers} ERC-20 transfers "
            f"({args.light_senders} senders), batches of {args.batch} from one thread, "
            "confirmation from new block headers"
        )
        print(light_table(light_reports))
    if args.profile and Path(args.profile).exists():
        print("\nprofile of our node during the timed run (py-spy):")
        print(summarise_profile(Path(args.profile)))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "shape": "light",
                        "rounds": [
                            {
                                "admitted_tps": x.admitted_tps,
                                "tps": x.tps,
                                "submit_seconds": x.submit_seconds,
                                "seconds": x.seconds,
                                "blocks": x.blocks,
                                "heads_via": x.heads_via,
                            }
                            for x in r.rounds
                        ],
                        "balances_ok": r.balances_ok,
                        "error": r.error,
                    }
                    for r in light_reports
                ]
                + [
                    {
                        "name": r.name,
                        "shape": "receipts",
                        "tps": r.run.tps if r.run else None,
                        "admitted_tps": r.run.admitted_tps if r.run else None,
                        "p50": r.run.pct(0.5) if r.run else None,
                        "p99": r.run.pct(0.99) if r.run else None,
                        "blocks": r.run.blocks if r.run else None,
                        "count": r.run.count if r.run else None,
                        "status_failures": r.run.status_failures if r.run else None,
                        "balances_ok": r.balances_ok,
                        "sign_rate": r.sign_rate,
                        "rss_after": r.rss_after,
                        "disk_per_tx": r.disk_per_tx,
                        "rss_long": r.rss_long,
                        "anon_after": r.anon_after,
                        "anon_long": r.anon_long,
                        "disk_per_tx_long": r.disk_per_tx_long,
                        "long_transfers": r.long_transfers,
                        "long_rounds": r.long_rounds,
                        "error": r.error,
                    }
                    for r in reports
                ],
                indent=2,
            )
        )
    failed = [r for r in reports if r.error or not r.balances_ok or (r.run and r.run.status_failures)]
    failed_light = [r for r in light_reports if r.error or not r.balances_ok]
    return 1 if failed or failed_light else 0


if __name__ == "__main__":
    sys.exit(main())
