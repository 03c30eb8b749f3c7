"""QBFT network throughput: ERC-20 transfers on a 4-validator network beside a single-validator node.

    .venv/bin/python -m bench.network_throughput [--transactions 2000] [--validators 4] [--request-timeout 4]
                                                 [--max-block-transactions 2000] [--senders 20] [--batch 100]
                                                 [--rate 0] [--only network|single] [--keep-logs DIR]

One run, two systems, the same client code, all on this machine:

* **network**: ``node.network_setup.init_network`` writes ``--validators`` data directories
  (``requestTimeoutSeconds`` = ``--request-timeout``, ``maxBlockTransactions`` =
  ``--max-block-transactions`` written into each ``node.json``), and every validator runs as
  its own process, ``python -m scripts.cli node run --data-dir DIR --rpc-port PORT``, linked
  over loopback. The benchmark waits until every validator is linked to all the others and
  the chain is moving;
* **single**: ``takasago node init --dev`` and ``node run --mode instant`` (one validator,
  proof of authority, a block as soon as transactions are ready): the reference.

Per system (setup, not timed): deploy ``TestToken(holder, supply)`` from dev account 0
(``dev-keys.json``, pre-registered in genesis, gas price 0); senders are the 10 dev accounts
plus fresh keys registered in the AccountRegistry by the dev admin up to ``--senders``; dev
account 0 gives each of them tokens. ``--transactions`` transfers (to 200 recipients) are
signed beforehand (eth-account + coincurve), each sender's with sequential nonces.

Timed: one submitter thread per validator (``--validators`` threads for the single node
too, all to its one port), each owning every ``--validators``-th sender and posting its
transfers in nonce order as JSON-RPC batches of ``--batch`` ``eth_sendRawTransaction``;
thread ``j`` sends to validator ``j``, so consecutive batches go round-robin across the
validators' RPC ports (each validator gossips what it receives to the others).
``--rate`` > 0 paces the batches to that many transactions/s overall (default: as fast as
the nodes accept them). A WebSocket ``eth_subscribe("newHeads")`` on every node's RPC port
records when each block was announced as committed there.

Measured:

* confirmed transfers/s = N / (first batch sent -> the block holding the last transfer is
  announced committed on the node that transfer was sent to);
* time to finality per transfer = its batch sent -> its block announced committed on the
  node it was sent to (blocks read with ``eth_getBlockByNumber``, checked against the receipts),
  p50 / p99 / max;
* blocks used, mean transfers per block, and for the network the round changes
  (``takasago_nodeInfo`` -> ``result.consensus.round_changes`` on each node, before and after);
* CPU seconds of every node process group (node + admission worker), of this client and of
  the whole machine during the timed window (from ``/proc``), so a disturbed run shows.

Checked: every receipt has status 1 (the run fails loudly otherwise), every final token
balance is as expected on every node, and all validators hold the same head block.
Afterwards each node's log is scanned for warnings, errors and round changes.

Every process is stopped (SIGTERM to its process group, SIGKILL after 10 s) and the
temporary directory removed, also on an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address
from websockets.sync.client import connect as ws_connect

from bench.harness import processes
from bench.harness.erc20 import (
    DEPLOY_GAS,
    ERC20,
    RECIPIENTS,
    SENDER_TOKENS,
    SETUP_GAS,
    TOKEN_SUPPLY,
    TRANSFER_GAS,
    encode_address,
    sign,
    token_balances,
    transfer_data,
    wait_receipts,
)
from bench.harness.ports import free_port_run
from bench.harness.processes import group_members, machine_busy
from bench.harness.report import REPO, git_commit, log, machine
from bench.harness.rpc import BenchRpc, RpcError, hex_int
from bench.harness.stats import pct
from bench.harness.systems import KIND_RESIDENT, SEL_REGISTER, wait_healthy
from contracts.predeploys import REGISTRY_ADDRESS
from node.network_setup import init_network

GOAL_TPS = 600.0
GOAL_P99 = 2.0
GOAL_LINE = "goal: >= 600 transfers/s with finality p99 <= 2 s (Besu published 520-645 ERC-20 tx/s with 4 validators)"
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
STALL_SECONDS = 90.0  # the timed run fails when no transfer is included for this long
LOG_LEVEL = "INFO"  # round changes are logged at INFO


# --------------------------------------------------------------------------- processes
@dataclass(eq=False)
class NodeProc:
    """One ``scripts.cli node run`` process in its own session (so its admission worker shares its group)."""

    name: str
    data_dir: Path
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def launch(self, *extra: str) -> None:
        self.proc = processes.spawn(
            [sys.executable, "-m", "scripts.cli", "node", "run", "--data-dir", str(self.data_dir),
             "--rpc-host", "127.0.0.1", "--rpc-port", str(self.port), "--log-level", LOG_LEVEL, *extra],
            self.log_path, cwd=REPO, append=True,
        )  # fmt: skip

    def wait_healthy(self, timeout: float = 120.0) -> None:
        wait_healthy(self.url, self.proc, self.name, self.log_path, timeout)

    def log_tail(self, n: int = 30) -> str:
        return processes.log_tail(self.log_path, n)


def stop_nodes(nodes: list[NodeProc]) -> None:
    """SIGTERM every node's process group at once; SIGKILL what is left of a group after 10 s."""
    names = {n.proc.pid: n.name for n in nodes if n.proc is not None}
    processes.stop_groups(
        [n.proc for n in nodes if n.proc is not None],
        STOP_GRACE,
        on_slow=lambda proc, what: log(f"{names.get(proc.pid, proc.pid)}: {what}"),
    )


def takasago_cli(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=180
    )
    if result.returncode:
        raise RuntimeError(f"takasago {' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}")


# --------------------------------------------------------------------------- systems
@dataclass
class System:
    name: str
    label: str
    nodes: list[NodeProc] = field(default_factory=list)
    dev_keys: dict[str, Any] = field(default_factory=dict)
    consensus: bool = False
    validator_names: dict[str, str] = field(default_factory=dict)  # address (lower case) -> node name

    @property
    def rpc(self) -> BenchRpc:
        return BenchRpc(self.nodes[0].url)


def start_network(system: System, workdir: Path, args: argparse.Namespace) -> None:
    directory = workdir / "network"
    count = args.validators
    rpc_base, p2p_base = free_port_run(count), free_port_run(count)
    entries = init_network(
        directory,
        validators=count,
        observers=0,
        rpc_port=rpc_base,
        p2p_port=p2p_base,
        request_timeout=args.request_timeout,
    )
    system.label, system.consensus = f"QBFT network, {count} validators", True
    for entry in entries:
        data_dir = directory / entry.name
        config_path = data_dir / "node.json"
        config = json.loads(config_path.read_text())
        config["network"]["maxBlockTransactions"] = args.max_block_transactions
        config_path.write_text(json.dumps(config, indent=2) + "\n")
        system.nodes.append(NodeProc(entry.name, data_dir, entry.rpc_port, workdir / f"{entry.name}.log"))
        system.validator_names[entry.address.lower()] = entry.name
    system.dev_keys = json.loads((system.nodes[0].data_dir / "dev-keys.json").read_text())
    for node in system.nodes:
        node.launch()
    for node in system.nodes:
        node.wait_healthy()
    # consensus is running once every validator is linked to all the others and the chain moves
    deadline = time.monotonic() + 120
    while True:
        infos = [BenchRpc(n.url).call("takasago_nodeInfo") for n in system.nodes]
        linked = [len(i["consensus"]["peers"]) for i in infos]
        heads = [i["head"]["number"] for i in infos]
        if all(p == count - 1 for p in linked) and min(heads) >= 2:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"network not ready after 120 s: peers linked {linked}, heads {heads}")
        time.sleep(0.5)
    log(f"network: {count} validators linked, heads {heads}")


def start_single(system: System, workdir: Path) -> None:
    data_dir = workdir / "single"
    takasago_cli("node", "init", "--data-dir", str(data_dir), "--dev")
    system.label = "single validator (`--mode instant`)"
    system.nodes.append(NodeProc("single", data_dir, free_port_run(1), workdir / "single.log"))
    system.dev_keys = json.loads((data_dir / "dev-keys.json").read_text())
    system.nodes[0].launch("--mode", "instant")
    system.nodes[0].wait_healthy()


# --------------------------------------------------------------------------- setup and signing
def send_from(
    rpc: BenchRpc, key: Any, calls: Sequence[tuple[str | None, bytes]], gas: int = SETUP_GAS
) -> list[dict[str, Any]]:
    """Send (to, data) from ``key`` at gas price 0, in batches of 100; require status 1."""
    chain_id = hex_int(rpc.call("eth_chainId"))
    nonce = hex_int(rpc.call("eth_getTransactionCount", key.address, "pending"))
    signed = [sign(key, chain_id, nonce + i, to, data, 0, gas, 0) for i, (to, data) in enumerate(calls)]
    for i in range(0, len(signed), 100):
        rpc.batch([("eth_sendRawTransaction", [raw]) for raw, _ in signed[i : i + 100]])
    receipts = wait_receipts(rpc, [h for _, h in signed], timeout=180)
    bad = [r for r in receipts if hex_int(r["status"]) != 1]
    if bad:
        raise RuntimeError(f"{len(bad)} setup transactions failed, e.g. {bad[0]}")
    return receipts


@dataclass
class Workload:
    token: str
    senders: list[Any]
    recipients: Sequence[str]
    plans: list[list[list[tuple[str, str]]]]  # per submitter thread: batches of (raw, hash)
    expected: dict[str, int]  # token balances after the run
    sign_rate: float


def prepare(system: System, args: argparse.Namespace) -> Workload:
    rpc = system.rpc
    chain_id = hex_int(rpc.call("eth_chainId"))
    dev = [Account.from_key(a["privateKey"]) for a in system.dev_keys["accounts"]]
    admin = Account.from_key(system.dev_keys["admin"]["privateKey"])
    deployer = dev[0]
    ctor = ERC20.bytecode + encode_address(deployer.address) + TOKEN_SUPPLY.to_bytes(32, "big")
    receipt = send_from(rpc, deployer, [(None, ctor)], gas=DEPLOY_GAS)[0]
    token = to_checksum_address(receipt["contractAddress"])
    senders = dev[: args.senders] + [Account.from_key(secrets.token_bytes(32)) for _ in range(args.senders - len(dev))]
    fresh = senders[len(dev) :]
    if fresh:  # not in genesis: the dev admin registers them in the AccountRegistry
        register = [
            (REGISTRY_ADDRESS, SEL_REGISTER + encode_address(a.address) + KIND_RESIDENT.to_bytes(32, "big") + bytes(32))
            for a in fresh
        ]
        send_from(rpc, admin, register)
    send_from(rpc, deployer, [(token, transfer_data(s.address, SENDER_TOKENS)) for s in senders[1:]])
    recipients = [
        to_checksum_address(keccak(b"takasago-bench-recipient" + i.to_bytes(4, "big"))[:20]) for i in range(RECIPIENTS)
    ]
    estimate = hex_int(
        rpc.call(
            "eth_estimateGas",
            {"from": senders[1].address, "to": token, "data": "0x" + transfer_data(recipients[0], 5).hex()},
        )
    )
    if estimate > TRANSFER_GAS:
        raise RuntimeError(f"a transfer needs {estimate} gas > {TRANSFER_GAS}")
    balances = token_balances(rpc, token, [s.address for s in senders])
    expected = {s.address: balances[s.address] for s in senders} | {r: 0 for r in recipients}
    nonces = [hex_int(n) for n in rpc.batch([("eth_getTransactionCount", [s.address, "pending"]) for s in senders])]

    # each sender's transfers, in nonce order
    started = time.perf_counter()
    per_sender: list[list[tuple[str, str]]] = []
    n, s_count = args.transactions, len(senders)
    for s, key in enumerate(senders):
        mine = []
        for j in range(n // s_count + (1 if s < n % s_count else 0)):
            nonce = nonces[s] + j
            to = recipients[(s * 7 + j) % len(recipients)]
            amount = 1 + (s + j) % 5
            expected[to] += amount
            expected[key.address] -= amount
            mine.append(sign(key, chain_id, nonce, token, transfer_data(to, amount), 0, TRANSFER_GAS, 0))
        per_sender.append(mine)
    sign_rate = n / (time.perf_counter() - started)

    # thread j owns senders j, j + T, j + 2T, ... and sends them nonce-major, in batches
    threads = args.validators
    plans: list[list[list[tuple[str, str]]]] = []
    for j in range(threads):
        owned = [per_sender[s] for s in range(j, s_count, threads)]
        order = [m[k] for k in range(max((len(m) for m in owned), default=0)) for m in owned if k < len(m)]
        plans.append([order[i : i + args.batch] for i in range(0, len(order), args.batch)])
    return Workload(token, senders, recipients, plans, expected, sign_rate)


# --------------------------------------------------------------------------- heads
class HeadWatcher(threading.Thread):
    """``eth_subscribe("newHeads")`` over the node's WebSocket: when each block number was announced here."""

    def __init__(self, node: NodeProc) -> None:
        super().__init__(name=f"heads-{node.name}", daemon=True)
        self.node = node
        self.seen: dict[int, float] = {}
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with ws_connect(self.node.ws_url, proxy=None, ping_interval=None, max_size=None, open_timeout=30) as ws:
                ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}))
                while not self.subscribed.is_set():
                    reply = json.loads(ws.recv(timeout=30))
                    if reply.get("id") == 1:
                        if "result" not in reply:
                            raise RuntimeError(f"eth_subscribe: {reply}")
                        self.subscribed.set()
                while not self.stopping.is_set():
                    try:
                        message = ws.recv(timeout=0.5)
                    except TimeoutError:
                        continue
                    now = time.perf_counter()
                    data = json.loads(message)
                    if data.get("method") != "eth_subscription":
                        continue
                    number = hex_int(data["params"]["result"]["number"])
                    with self.cond:
                        self.seen.setdefault(number, now)
                        self.cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - reported by the timed run
            self.error = exc
            self.subscribed.set()
            with self.cond:
                self.cond.notify_all()


# --------------------------------------------------------------------------- the timed run
@dataclass
class RunResult:
    count: int = 0
    seconds: float = 0.0
    submit_seconds: float = 0.0
    finality: list[float] = field(default_factory=list)
    block_sizes: dict[int, int] = field(default_factory=dict)  # block number -> our transfers in it
    block_times: dict[int, float] = field(default_factory=dict)  # first announcement, s after the first send
    spreads: list[float] = field(default_factory=list)  # per block: last node's announcement - first node's
    status_failures: int = 0
    balances_ok: bool = False
    same_head: bool | None = None
    cpu: dict[str, tuple[float, float]] = field(default_factory=dict)  # node -> (main process, workers) seconds
    client_cpu: float = 0.0
    machine_cpu: float = 0.0  # busy CPU seconds of the whole machine (/proc/stat) in the same window
    cpu_window: float = 0.0  # wall seconds between the two CPU snapshots
    consensus: dict[str, dict[str, int]] = field(default_factory=dict)  # node -> stat -> delta over the run
    dropped: int = 0
    proposers: dict[int, str] = field(default_factory=dict)  # block number -> proposer (the coinbase)
    decided_rounds: dict[int, int] = field(default_factory=dict)  # block number -> round of its commit certificate

    @property
    def tps(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def node_infos(system: System) -> dict[str, dict[str, Any]]:
    return {n.name: BenchRpc(n.url).call("takasago_nodeInfo") for n in system.nodes}


def cpu_snapshot(system: System) -> dict[str, dict[int, float]]:
    return {n.name: group_members(n.proc.pid) if n.proc is not None else {} for n in system.nodes}


def timed_run(system: System, work: Workload, args: argparse.Namespace) -> RunResult:
    nodes = system.nodes
    threads = len(work.plans)
    target = [nodes[j % len(nodes)] for j in range(threads)]
    hashes = [h for plan in work.plans for chunk in plan for _, h in chunk]
    n = len(hashes)
    submit_node: dict[str, int] = {}
    for j, plan in enumerate(work.plans):
        for chunk in plan:
            for _, h in chunk:
                submit_node[h] = j % len(nodes)
    sent_at: dict[str, float] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    watchers = [HeadWatcher(node) for node in nodes]
    for w in watchers:
        w.start()
    for w in watchers:
        if not w.subscribed.wait(60) or w.error is not None:
            raise RuntimeError(f"{w.node.name}: newHeads subscription failed: {w.error!r}")
    rpc0 = BenchRpc(nodes[0].url)
    next_block = hex_int(rpc0.call("eth_blockNumber")) + 1
    infos_before = node_infos(system)
    cpu_before = cpu_snapshot(system)
    client_before = sum(os.times()[:2])
    machine_before, wall_before = machine_busy(), time.perf_counter()
    rate = args.rate

    def submitter(j: int) -> None:
        rpc = BenchRpc(target[j].url)
        try:
            for k, chunk in enumerate(work.plans[j]):
                if stop.is_set():
                    return
                if rate > 0:
                    delay = started + (k * threads + j) * args.batch / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                t = time.perf_counter()
                with lock:
                    for _, h in chunk:
                        sent_at[h] = t
                results = rpc.send_batch([("eth_sendRawTransaction", [raw]) for raw, _ in chunk])
                bad = [f"{h}: {r}" for (_, h), r in zip(chunk, results, strict=True) if isinstance(r, RpcError)]
                if bad:
                    with lock:
                        errors.extend(f"sent to {target[j].name}: {b}" for b in bad)
                    stop.set()
                    return
        except Exception as exc:  # noqa: BLE001 - reported, stops the run
            with lock:
                errors.append(f"submitter {j} ({target[j].name}): {exc!r}")
            stop.set()

    submitters = [threading.Thread(target=submitter, args=(j,), daemon=True) for j in range(threads)]
    started = time.perf_counter()
    for t in submitters:
        t.start()

    # follow node 0's heads: fetch each new block's transaction hashes until every transfer is in one
    ours = set(hashes)
    proposers: dict[int, str] = {}
    block_of: dict[str, int] = {}
    deadline = started + max(300.0, n / 5)
    last_progress = time.monotonic()
    try:
        while len(block_of) < n:
            if errors:
                raise RuntimeError(f"{len(errors)} submit errors, e.g. {errors[:3]}")
            broken = [w for w in watchers if w.error is not None]
            if broken:
                raise RuntimeError(f"{broken[0].node.name}: newHeads stream failed: {broken[0].error!r}")
            if time.perf_counter() > deadline:
                raise TimeoutError(
                    f"{n - len(block_of)} of {n} transfers not in a block after {deadline - started:.0f}s"
                )
            if time.monotonic() - last_progress > STALL_SECONDS:
                raise TimeoutError(
                    f"stalled: no transfer included for {STALL_SECONDS:.0f}s, {n - len(block_of)} of {n} missing"
                )
            with watchers[0].cond:
                if next_block not in watchers[0].seen:
                    watchers[0].cond.wait(0.5)
                    continue
            block = rpc0.call("eth_getBlockByNumber", hex(next_block), False)
            mine = [h for h in block["transactions"] if h in ours]
            if mine:
                proposers[next_block] = system.validator_names.get(block["miner"].lower(), block["miner"])
            for h in mine:
                block_of[h] = next_block
            if mine:
                last_progress = time.monotonic()
            next_block += 1
    finally:
        stop.set()
        for t in submitters:
            t.join(timeout=60)
    # every node the transfers were sent to must announce their blocks too
    needed = {(submit_node[h], b) for h, b in block_of.items()}
    wait_until = time.monotonic() + 60
    while any(b not in watchers[i].seen for i, b in needed):
        if time.monotonic() > wait_until:
            missing = sorted({(nodes[i].name, b) for i, b in needed if b not in watchers[i].seen})
            raise TimeoutError(f"blocks never announced on the node their transfers were sent to: {missing[:5]}")
        time.sleep(0.05)
    cpu_after = cpu_snapshot(system)
    client_after = sum(os.times()[:2])
    machine_after, wall_after = machine_busy(), time.perf_counter()
    time.sleep(0.5)  # every node has had a moment to announce the last block (for the spread)
    for w in watchers:
        w.stopping.set()
    for w in watchers:
        w.join(timeout=5)

    result = RunResult(count=n)
    first = min(sent_at.values())
    result.submit_seconds = max(sent_at.values()) - first
    committed = {h: watchers[submit_node[h]].seen[b] for h, b in block_of.items()}
    result.seconds = max(committed.values()) - first
    result.finality = [committed[h] - sent_at[h] for h in hashes]
    result.block_sizes = dict(collections.Counter(block_of.values()))
    result.proposers = proposers
    for number in sorted(result.block_sizes):
        times = [w.seen[number] for w in watchers if number in w.seen]
        result.block_times[number] = min(times) - first
        if len(watchers) > 1 and len(times) == len(watchers):
            result.spreads.append(max(times) - min(times))
    for node in nodes:
        before, after = cpu_before[node.name], cpu_after[node.name]
        assert node.proc is not None
        main = after.get(node.proc.pid, 0.0) - before.get(node.proc.pid, 0.0)
        rest = sum(v - before.get(pid, 0.0) for pid, v in after.items() if pid != node.proc.pid)
        result.cpu[node.name] = (main, rest)
    result.client_cpu = client_after - client_before
    result.machine_cpu = machine_after - machine_before
    result.cpu_window = wall_after - wall_before

    # receipts (not timed): every one status 1, in the block we saw it in
    receipts: dict[str, dict[str, Any]] = {}
    for i in range(0, n, 100):
        part = hashes[i : i + 100]
        for h, r in zip(part, rpc0.batch([("eth_getTransactionReceipt", [h]) for h in part]), strict=True):
            if r is None:
                raise RuntimeError(f"no receipt for {h} although block #{block_of[h]} holds it")
            receipts[h] = r
    failed = [h for h, r in receipts.items() if hex_int(r["status"]) != 1]
    moved = [h for h, r in receipts.items() if hex_int(r["blockNumber"]) != block_of[h]]
    result.status_failures = len(failed)
    if failed:
        raise RuntimeError(f"{len(failed)} of {n} transfers have status 0, e.g. {receipts[failed[0]]}")
    if moved:
        raise RuntimeError(f"{len(moved)} receipts name another block than the one that held them, e.g. {moved[0]}")

    infos_after = node_infos(system)
    for name, after_info in infos_after.items():
        before_info = infos_before[name]
        stats = after_info["stats"]
        result.dropped += stats["transactions_dropped"] - before_info["stats"]["transactions_dropped"]
        if after_info.get("consensus") and before_info.get("consensus"):
            result.consensus[name] = {
                k: after_info["consensus"][k] - before_info["consensus"][k]
                for k in ("round_changes", "decided", "synced", "invalid_proposals")
            }
    result.balances_ok = check_balances(system, work)
    if len(nodes) > 1:
        top = min(i["head"]["number"] for i in infos_after.values())
        heads = {BenchRpc(nd.url).call("eth_getBlockByNumber", hex(top), False)["hash"] for nd in nodes}
        result.same_head = len(heads) == 1
    if system.consensus:
        for number in result.block_sizes:
            certificate = rpc0.call("takasago_getCommitCertificate", hex(number))
            result.decided_rounds[number] = hex_int(certificate["round"])
    return result


def check_balances(system: System, work: Workload) -> bool:
    ok = True
    for node in system.nodes:
        actual = token_balances(BenchRpc(node.url), work.token, list(work.expected))
        wrong = {o: (actual[o], e) for o, e in work.expected.items() if actual[o] != e}
        if wrong:
            log(f"{node.name}: {len(wrong)} token balances differ, e.g. {list(wrong.items())[:2]}")
            ok = False
    return ok


# --------------------------------------------------------------------------- node logs
LOG_LINE = re.compile(r"^\S+ \S+ (?P<level>[A-Z]+) (?P<logger>\S+): (?P<message>.*)$")


@dataclass
class LogSummary:
    name: str
    levels: collections.Counter[str] = field(default_factory=collections.Counter)
    rounds: list[str] = field(default_factory=list)
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)  # WARNING+ messages, numbers elided
    examples: dict[str, str] = field(default_factory=dict)
    tracebacks: int = 0


def summarise_log(node: NodeProc) -> LogSummary:
    out = LogSummary(node.name)
    if not node.log_path.exists():
        return out
    for line in node.log_path.read_text(errors="replace").splitlines():
        if line.startswith("Traceback"):
            out.tracebacks += 1
        m = LOG_LINE.match(line)
        if m is None:
            continue
        level, message = m["level"], m["message"]
        out.levels[level] += 1
        if re.match(r"height \d+: round \d+", message):
            out.rounds.append(line)
        if level in ("WARNING", "ERROR", "CRITICAL"):
            kind = f"{level} {m['logger']}: " + re.sub(r"0x[0-9a-f]+|\d+", "N", message)[:160]
            out.kinds[kind] += 1
            out.examples.setdefault(kind, line)
    return out


# --------------------------------------------------------------------------- output
@dataclass
class Report:
    system: str
    label: str
    nodes: int
    sign_rate: float = 0.0
    run: RunResult | None = None
    logs: list[LogSummary] = field(default_factory=list)
    error: str | None = None


def seconds_text(value: float) -> str:
    return f"{value:.2f} s" if value == value else "—"  # NaN check


def table(network: Report | None, single: Report | None, args: argparse.Namespace) -> str:
    def metric(r: Report | None, f: Any) -> str:
        if r is None:
            return "not run"
        if r.run is None:
            return f"failed: {r.error}"
        return str(f(r.run))

    def ratio(f: Any) -> str:
        if network is None or single is None or network.run is None or single.run is None:
            return "—"
        a, b = f(network.run), f(single.run)
        return f"{a / b:.2f}x" if b else "—"

    def rounds(run: RunResult) -> str:
        if not run.consensus:
            return "— (no consensus)"
        per = [v["round_changes"] for v in run.consensus.values()]
        return f"{sum(per)} (per node {', '.join(map(str, per))})"

    def cpu(run: RunResult) -> str:
        nodes = sum(a + b for a, b in run.cpu.values())
        cores = os.cpu_count() or 1
        share = run.machine_cpu / (cores * run.cpu_window)
        other = max(0.0, run.machine_cpu - nodes - run.client_cpu)
        return f"{nodes:.1f} s nodes + {run.client_cpu:.1f} s client + {other:.1f} s other = {share:.0%}"

    rows: list[tuple[str, Any, bool]] = [
        ("confirmed transfers/s", lambda r: f"{r.tps:.0f}", True),
        ("finality p50", lambda r: seconds_text(pct(r.finality, 0.5)), True),
        ("finality p99", lambda r: seconds_text(pct(r.finality, 0.99)), True),
        ("finality max", lambda r: seconds_text(max(r.finality)), True),
        ("first send → last transfer committed", lambda r: f"{r.seconds:.2f} s", True),
        ("all batches sent after", lambda r: f"{r.submit_seconds:.2f} s", True),
        ("blocks used", lambda r: str(len(r.block_sizes)), True),
        ("mean transfers per block", lambda r: f"{r.count / max(1, len(r.block_sizes)):.0f}", True),
        ("round changes (sum over nodes)", rounds, False),
        ("all receipts status 1", lambda r: "yes" if r.status_failures == 0 else f"NO ({r.status_failures})", False),
        ("token balances on every node", lambda r: "ok" if r.balances_ok else "WRONG", False),
        ("CPU in the window (busy share of all cores)", cpu, False),
    ]
    numeric: dict[str, Any] = {
        "confirmed transfers/s": lambda r: r.tps,
        "finality p50": lambda r: pct(r.finality, 0.5),
        "finality p99": lambda r: pct(r.finality, 0.99),
        "finality max": lambda r: max(r.finality),
        "first send → last transfer committed": lambda r: r.seconds,
        "all batches sent after": lambda r: r.submit_seconds,
        "blocks used": lambda r: len(r.block_sizes),
        "mean transfers per block": lambda r: r.count / max(1, len(r.block_sizes)),
    }
    net_title = network.label if network else f"QBFT network, {args.validators} validators"
    single_title = single.label if single else "single validator"
    lines = [
        f"| | {net_title} | {single_title} | network / single |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, f, has_ratio in rows:
        lines.append(
            f"| {label} | {metric(network, f)} | {metric(single, f)} | {ratio(numeric[label]) if has_ratio else '—'} |"
        )
    return "\n".join(lines)


def details(report: Report) -> list[str]:
    out: list[str] = []
    run = report.run
    if run is not None:
        sizes = ", ".join(
            f"#{b}: {c} at {run.block_times[b]:.2f} s"
            + (f" by {run.proposers[b]} in round {run.decided_rounds[b]}" if b in run.decided_rounds else "")
            for b, c in sorted(run.block_sizes.items())
        )
        out.append(f"{report.system}: blocks (our transfers, first announced s after the first send): {sizes}")
        if run.spreads:
            out.append(
                f"{report.system}: same block announced by the last node after the first: "
                f"p50 {pct(run.spreads, 0.5) * 1000:.0f} ms, max {max(run.spreads) * 1000:.0f} ms; "
                f"all validators hold the same head block: {'yes' if run.same_head else 'NO'}"
            )
        cpu = "; ".join(f"{name} {a:.1f} s + workers {b:.1f} s" for name, (a, b) in run.cpu.items())
        other = max(0.0, run.machine_cpu - sum(a + b for a, b in run.cpu.values()) - run.client_cpu)
        out.append(
            f"{report.system}: CPU during the {run.cpu_window:.1f} s window: {cpu}; client {run.client_cpu:.1f} s; "
            f"other processes on the machine {other:.1f} s"
        )
        if other > 0.1 * (os.cpu_count() or 1) * run.cpu_window:
            out.append(f"{report.system}: WARNING: the machine was not quiet during the timed run (see 'other')")
        for name, stats in run.consensus.items():
            out.append(
                f"{report.system}: {name} consensus over the run: " + ", ".join(f"{k} {v}" for k, v in stats.items())
            )
        if run.dropped:
            out.append(f"{report.system}: transactions dropped by the nodes: {run.dropped}")
    for s in report.logs:
        levels = ", ".join(f"{k} {v}" for k, v in sorted(s.levels.items()))
        out.append(
            f"{report.system}: log {s.name}: {levels or 'empty'}; round-change lines {len(s.rounds)}; "
            f"tracebacks {s.tracebacks}"
        )
        for line in s.rounds[:6]:
            out.append(f"    {line}")
        for kind, count in s.kinds.most_common(6):
            out.append(f"    {count}x {s.examples[kind]}")
    return out


# --------------------------------------------------------------------------- main
def bench(name: str, workdir: Path, args: argparse.Namespace) -> Report:
    system = System(name, name)
    report = Report(name, "", 1)
    try:
        log(f"{name}: starting")
        if name == "network":
            start_network(system, workdir, args)
        else:
            start_single(system, workdir)
        report.label, report.nodes = system.label, len(system.nodes)
        if args.warm_up_seconds > 0:
            # a validator runs for months: its PyPy execution worker warms its JIT in its first seconds
            # (node/execution_worker.py); measure the network it becomes, not its first minute
            log(f"{name}: letting the nodes warm up for {args.warm_up_seconds:g} s")
            time.sleep(args.warm_up_seconds)
        work = prepare(system, args)
        report.sign_rate = work.sign_rate
        log(f"{name}: setup done, {args.transactions} transfers signed at {work.sign_rate:.0f}/s; sending")
        report.run = timed_run(system, work, args)
        r = report.run
        log(
            f"{name}: {r.count} transfers in {r.seconds:.2f} s = {r.tps:.0f}/s; finality p50 "
            f"{pct(r.finality, 0.5):.2f} s, p99 {pct(r.finality, 0.99):.2f} s; {len(r.block_sizes)} blocks"
        )
        if not r.balances_ok:
            report.error = "token balances differ from the expected ones (see the log above)"
        elif r.same_head is False:
            report.error = "the validators hold different blocks at the same height"
    except Exception as exc:  # noqa: BLE001 - reported; the other system still runs
        report.run = None
        report.error = f"{type(exc).__name__}: {exc}"
        log(f"{name}: FAILED: {report.error}")
    finally:
        stop_nodes(system.nodes)
        report.logs = [summarise_log(n) for n in system.nodes]
        if args.keep_logs:
            keep = Path(args.keep_logs)
            keep.mkdir(parents=True, exist_ok=True)
            for n in system.nodes:
                if n.log_path.exists():
                    shutil.copy(n.log_path, keep / n.log_path.name)
        if report.error and report.run is None:
            for n in system.nodes:
                log(f"{n.name} log tail:\n{n.log_tail(15)}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=2000, help="ERC-20 transfers per system (default 2000)")
    parser.add_argument("--validators", type=int, default=4, help="validators in the network (default 4)")
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=4.0,
        help="QBFT round timer, seconds (requestTimeoutSeconds; default 4)",
    )
    parser.add_argument(
        "--max-block-transactions",
        type=int,
        default=2000,
        help="network.maxBlockTransactions written into each validator's node.json (default 2000)",
    )
    parser.add_argument(
        "--senders", type=int, default=20, help="sending accounts (10 dev accounts + fresh; default 20)"
    )
    parser.add_argument(
        "--batch", type=int, default=100, help="eth_sendRawTransaction per JSON-RPC batch (default 100)"
    )
    parser.add_argument("--rate", type=float, default=0.0, help="pace sending to this many tx/s (default 0: unpaced)")
    parser.add_argument("--only", choices=["network", "single"], help="run one system only")
    parser.add_argument(
        "--warm-up-seconds",
        type=float,
        default=0.0,
        help="wait after start before setup and timing (the execution workers' JIT warm-up; default 0)",
    )
    parser.add_argument("--keep-logs", metavar="DIR", help="copy every node's log into DIR before clean-up")
    args = parser.parse_args(argv)
    if not 1 <= args.validators <= 16:
        parser.error("--validators must be between 1 and 16")
    if args.transactions < args.senders or args.senders < 2:
        parser.error("need --senders >= 2 and --transactions >= --senders")
    if not 1 <= args.batch <= 1000:
        parser.error("--batch must be between 1 and 1000")
    processes.exit_on_signals()

    started = dt.datetime.now(dt.UTC)
    commit = git_commit()
    names = [args.only] if args.only else ["network", "single"]
    reports: dict[str, Report] = {}
    with tempfile.TemporaryDirectory(prefix="takasago-network-bench-") as tmp:
        for name in names:
            reports[name] = bench(name, Path(tmp), args)
    network, single = reports.get("network"), reports.get("single")

    print()
    print(
        f"network throughput: {args.transactions} ERC-20 transfers from {args.senders} senders to {RECIPIENTS} "
        f"recipients, batches of {args.batch} from {args.validators} submitter threads "
        f"({'unpaced' if args.rate <= 0 else f'paced to {args.rate:.0f} tx/s'}); "
        f"requestTimeoutSeconds {args.request_timeout:g}, maxBlockTransactions {args.max_block_transactions}; "
        f"{started:%Y-%m-%d %H:%M} UTC, commit {commit}, {machine()}"
    )
    print(table(network, single, args))
    print()
    for report in (network, single):
        if report is not None:
            print("\n".join(details(report)))
            if report.error:
                print(f"{report.system}: ERROR: {report.error}")
    print()
    print(GOAL_LINE)
    if network is not None and network.run is not None:
        r = network.run
        p99 = pct(r.finality, 0.99)
        met = r.tps >= GOAL_TPS and p99 <= GOAL_P99
        print(
            f"network: {r.tps:.0f} transfers/s ({'>=' if r.tps >= GOAL_TPS else '<'} {GOAL_TPS:.0f}), "
            f"finality p99 {p99:.2f} s ({'<=' if p99 <= GOAL_P99 else '>'} {GOAL_P99:.0f} s): "
            f"goal {'MET' if met else 'NOT met'}"
        )
    else:
        print("network: no result, goal NOT met")
    failed = [r for r in reports.values() if r.error or r.run is None]
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C: the finally blocks and atexit have stopped every node
        log("interrupted")
        sys.exit(130)
