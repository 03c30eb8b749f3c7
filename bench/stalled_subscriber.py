"""Wallet payments while a WebSocket subscriber has stopped reading (issue 15, finding 1).

    .venv/bin/python -m bench.stalled_subscriber [--seconds 60] [--modes interval,instant]
                                                 [--subscriptions 128] [--block-period 1]

One fresh dev node per mode (``node run --mode interval --block-period 1`` and ``--mode
instant``), the point contracts, and a wallet API server on it, driven over HTTP only (the
same sign-up, approval and payment code as ``bench.wallet_payments``). For each mode, two
phases of ``--seconds`` each, in the same run:

1. **unloaded**: one resident pays payment requests one after the other through the API
   (``POST /v1/payments``, latency until the operation is confirmed);
2. **stalled**: the same, while a raw TCP client with a 1 KiB receive buffer has opened a
   WebSocket to the node, subscribed to ``newHeads`` ``--subscriptions`` times and never
   reads a byte again; whenever the node drops it, it connects and subscribes again (a
   persistent attacker).

Reported per phase: payments, p50/p99 latency, blocks sealed and the longest gap between
two new heads (a thread polls ``eth_blockNumber`` every 50 ms), the node's RSS at the end;
and how many times the node closed the stalled connection (seen from the client's TCP
state, so the client still reads nothing). Goal (issue 15): blocks keep coming and the stalled
phase's payment p99 is within 2x of the unloaded phase's.
"""

from __future__ import annotations

import argparse
import base64
import secrets
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness.points import Points
from bench.harness.processes import rss_bytes
from bench.harness.report import log, markdown_table
from bench.harness.rpc import BenchRpc, hex_int
from bench.harness.stats import pct
from bench.harness.systems import Takasago
from bench.harness.wallet import (
    OFFICER_LOGIN,
    OFFICER_PASSWORD,
    Client,
    WalletServer,
    api_pay,
    member,
    new_request,
)

MINTED = 1_000_000


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    heads: list[tuple[float, int]] = field(default_factory=list)
    rss_kib: int = 0
    disconnected: str = ""
    stuck: str = ""

    @property
    def blocks(self) -> int:
        return self.heads[-1][1] - self.heads[0][1] if len(self.heads) > 1 else 0

    @property
    def longest_gap(self) -> float:
        times = [t for t, _ in self.heads]
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=float("nan"))


class StalledSubscriber:
    """A WebSocket client that subscribes many times to ``newHeads`` and then never reads."""

    def __init__(self, url: str, subscriptions: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        self.sock.sendall(
            (
                f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("node closed the WebSocket handshake")
            answer += chunk
        if b" 101 " not in answer.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"WebSocket upgrade refused: {answer[:200]!r}")
        for i in range(subscriptions):
            body = f'{{"jsonrpc":"2.0","id":{i},"method":"eth_subscribe","params":["newHeads"]}}'.encode()
            self.sock.sendall(_masked_text_frame(body))

    def closed_by_node(self) -> bool:
        """True once the node has closed or reset the connection (TCP state, read without reading a byte)."""
        info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        return info[0] in (_TCP_CLOSE, _TCP_CLOSE_WAIT)

    def close(self) -> None:
        self.sock.close()


_TCP_CLOSE, _TCP_CLOSE_WAIT = 7, 8  # linux/tcp_states.h


class StalledAttacker:
    """Keeps one stalled subscriber connected: whenever the node drops it, a new one subscribes again."""

    def __init__(self, url: str, subscriptions: int) -> None:
        self.url = url
        self.subscriptions = subscriptions
        self.drops = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StalledAttacker:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        client: StalledSubscriber | None = None
        while not self._stop.is_set():
            if client is None:
                try:
                    client = StalledSubscriber(self.url, self.subscriptions)
                except (OSError, RuntimeError) as exc:  # refused (per-client caps) or busy: try again shortly
                    self.errors.append(str(exc)[:120])
                    self._stop.wait(0.5)
                    continue
            elif client.closed_by_node():
                self.drops += 1
                client.close()
                client = None
                continue
            self._stop.wait(0.2)
        if client is not None:
            client.close()


def _masked_text_frame(payload: bytes) -> bytes:
    mask = secrets.token_bytes(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _watch_heads(url: str, phase: Phase, stop: threading.Event) -> None:
    rpc = BenchRpc(url)
    last = -1
    while not stop.is_set():
        try:
            head = hex_int(rpc.call("eth_blockNumber"))
        except Exception:  # noqa: BLE001 - a failed poll is a gap, reported as such
            head = last
        if head != last:
            phase.heads.append((time.monotonic(), head))
            last = head
        time.sleep(0.05)
    phase.heads.append((time.monotonic(), last))


def run_phase(name: str, node: Takasago, merchant: Client, payer: Client, seconds: float) -> Phase:
    phase = Phase(name)
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_heads, args=(node.url, phase, stop), daemon=True)
    watcher.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        uri, _ = new_request(merchant)
        try:
            sent, confirmed, _ = api_pay(payer, uri)
        except (RuntimeError, TimeoutError) as exc:  # not confirmed within the API bench's 60 s
            phase.stuck = str(exc)
            log(f"{name}: payment stuck, phase ends: {exc}")
            break
        phase.latencies.append(confirmed - sent)
    stop.set()
    watcher.join()
    assert node.proc is not None
    phase.rss_kib = (rss_bytes(node.proc.pid) or 0) // 1024
    return phase


def run_mode(mode: str, args: argparse.Namespace, workdir: Path) -> list[Phase]:
    node = Takasago(f"takasago-{mode}", workdir)
    node.extra["mode"] = mode
    if mode == "interval":
        node.extra["block_period"] = args.block_period
    server: WalletServer | None = None
    try:
        log(f"{mode}: starting a dev node")
        node.start()
        points = Points.deploy(node.name, node.url, node.funder_key, workdir / "deployments")
        server = WalletServer(workdir, node.url, workdir / "deployments", f"sqlite:///{workdir}/wallet-{mode}.db")
        server.setup(points)
        server.start()
        officer = Client(server.url, OFFICER_LOGIN, OFFICER_PASSWORD)
        officer.login()
        merchant = member(server, officer, "merchant")
        payer = member(server, officer, "resident")
        points.mint(payer.address, MINTED)
        for _ in range(3):  # warm-up
            api_pay(payer, new_request(merchant)[0])
        log(f"{mode}: unloaded phase, {args.seconds:.0f} s")
        unloaded = run_phase("unloaded", node, merchant, payer, args.seconds)
        log(f"{mode}: stalled phase ({args.subscriptions} newHeads subscriptions never read), {args.seconds:.0f} s")
        with StalledAttacker(node.url, args.subscriptions) as attacker:
            stalled = run_phase("stalled subscriber", node, merchant, payer, args.seconds)
        stalled.disconnected = f"yes, {attacker.drops} times" if attacker.drops else "NO"
        if attacker.errors:
            log(f"{mode}: the stalled client could not always connect: {attacker.errors[:3]}")
        return [unloaded, stalled]
    finally:
        if server is not None:
            server.stop()
        node.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--modes", default="interval,instant")
    parser.add_argument("--subscriptions", type=int, default=128)
    parser.add_argument("--block-period", type=float, default=1.0)
    args = parser.parse_args(argv)
    rows: list[tuple[str, Phase]] = []
    with tempfile.TemporaryDirectory(prefix="takasago-stall-") as tmp:
        for mode in args.modes.split(","):
            workdir = Path(tmp) / mode
            workdir.mkdir()
            rows += [(mode, phase) for phase in run_mode(mode, args, workdir)]
    print(
        f"wallet API payments for {args.seconds:.0f} s per phase, one resident, sequential; "
        f"stalled client: {args.subscriptions} newHeads subscriptions, 1 KiB receive buffer, never reads"
    )
    head = ["mode", "phase", "payments", "p50", "p99", "p99 / unloaded p99", "blocks", "longest head gap", "node RSS",
            "stalled client closed by node"]  # fmt: skip
    table: list[list[str]] = []
    failures = []
    base: dict[str, float] = {}
    for mode, phase in rows:
        p50, p99 = pct(phase.latencies, 0.5) * 1000, pct(phase.latencies, 0.99) * 1000
        base.setdefault(mode, p99)
        ratio = p99 / base[mode]
        latency = [str(len(phase.latencies)), f"{p50:.0f} ms", f"{p99:.0f} ms", f"{ratio:.2f}x"]
        chain = [str(phase.blocks), f"{phase.longest_gap:.2f} s", f"{phase.rss_kib / 1024:.0f} MiB"]
        table.append([mode, phase.name, *latency, *chain, phase.disconnected or "-"])
        if phase.stuck:
            failures.append(f"{mode}/{phase.name}: a payment never confirmed ({phase.stuck})")
        if phase.disconnected and (ratio > 2.0 or phase.blocks == 0 or not phase.disconnected.startswith("yes")):
            failures.append(f"{mode}: p99 ratio {ratio:.2f}, {phase.blocks} blocks, closed={phase.disconnected}")
    print(markdown_table(head, table, align=["---", "---"] + ["---:"] * 7 + ["---"]))
    print(
        "goal: blocks keep coming, stalled p99 within 2x of unloaded, stalled client closed: "
        + ("met" if not failures else "NOT met: " + "; ".join(failures))
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
