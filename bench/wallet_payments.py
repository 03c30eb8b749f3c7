"""Merchant payments through the custodial wallet API, beside the same call sent directly.

    .venv/bin/python -m bench.wallet_payments [--payments 100] [--concurrency 8] [--workers 1] [--till-payments 50]
                                              [--rate 0] [--no-anvil] [--database-url postgresql://USER:PW@HOST:5432/postgres]

Issue 17's measurement: ``--concurrency 32 --workers 2 --payments 320`` on SQLite, then with
``--database-url`` on PostgreSQL (goal: ≥ 100 confirmed payments/s, p99 ≤ 300 ms), with
``--rate 100`` for the same goal read as a rush's arrival rate (5. below).

One run, one fresh dev node (``node run --mode instant``) with the point contracts deployed,
and a wallet API server (``python -m scripts.cli wallet serve --workers N``) on it, driven over HTTP only:

1. **API, sequential.** One resident pays ``--payments`` payment requests one at a time. Per
   payment the merchant creates a request (``POST /v1/payment-requests``, timed on its own)
   and the resident pays its URI (``POST /v1/payments`` with an Idempotency-Key). Latency:
   the POST is sent -> it returns 200 with the operation ``confirmed`` (the till turns green).
   A 202 (not confirmed within the API's wait) is followed by ``GET /v1/operations/{id}``
   every 10 ms, the latency running until confirmed; the number of 202s is reported.
2. **API, concurrent.** ``--concurrency`` residents, each paying its own pre-created
   requests one after the other, all at once (one thread and HTTP session each), ``--payments``
   in total. Reported: confirmed payments/s (first POST sent -> last payment confirmed), and
   the CPU per confirmed payment of the node's and the API's process groups and of this
   client while timed (read from ``/proc``; everything shares the machine's cores).
3. **Direct reference.** ``RegionalPoints.pay(merchant, amount, reference)`` signed locally
   (eth-account; gas price 0 on our node), as a wallet app would: pending nonce, sign,
   ``eth_sendRawTransaction``, receipt polled every 10 ms; ``--payments`` times sequentially,
   to our node (to the API's merchant) and, unless ``--no-anvil``, to anvil (automine, its own
   deployment of the same contracts made by ``contracts.deploy``, which deploys the
   AccountRegistry itself on a chain without our genesis predeploy).
   Then ``--concurrency`` payers of their own (registered residents), one thread each, make
   the same ``--payments`` in total at once, as in (2): the node's own confirmed payments/s
   under the concurrency the API was driven with.
4. **The till.** ``--till-payments`` payments, one at a time, by the resident of (1): the
   merchant creates a request and its till opens ``GET /v1/payment-requests/{id}/events``
   (server-sent events, the merchant's bearer token; ``requests`` with ``stream=True`` and
   ``iter_lines`` in a thread). Once the stream has delivered ``status: open`` the resident pays
   as in (1). Timed: the resident's POST sent -> the till's stream delivers ``status: paid``,
   and the resident's 200 (confirmed) -> that same event (negative when the till hears first).
   Runs after (3), so (1)-(3) are measured as before.

5. **A rush at a given arrival rate** (``--rate R``, after (3)). The closed loops of (2)
   and (3) measure the most a system confirms when every payer pays again the moment the
   last payment returns; their latency is then the queue that loop builds (mean = payers ÷
   rate, Little's law). A lunchtime rush is an open loop: residents arrive when they arrive.
   Here ``--payments`` payments are due at ``R`` per second, payment k made by resident
   ``k mod --concurrency``, through the API and then directly to the node by the direct
   payers of (3); each latency is counted from the payment's scheduled time (a payment that
   had to wait for its payer's previous one counts the wait: no coordinated omission).
   Reported: confirmed/s achieved, the latency percentiles, how many were sent late, and
   the CPU per payment.

Every path first makes a few warm-up payments that are not counted. Not timed: node start,
deployment, sign-ups, officer approvals (on-chain registrations), minting. At the end the
payers' on-chain balances must be 0 and the merchant's must hold every payment.

The wallet database is SQLite in the temporary directory unless ``--database-url`` is a
``postgresql://`` URL: the benchmark then creates a fresh database on that server (connecting
with the URL given), runs the API on it, and drops it afterwards. The API's per-IP limit on
``/v1/auth/*`` POSTs is raised for the run (sign-ups and log-ins come from one address); the
payment routes are not rate limited anyway.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from bench.harness import processes
from bench.harness.erc20 import PEER_FEE_CAP, encode_address, sign
from bench.harness.points import Points
from bench.harness.postgres import create_postgres_database, drop_postgres_database
from bench.harness.report import REPO, git_commit, log, machine
from bench.harness.rpc import BenchRpc, hex_int
from bench.harness.stats import ms, pct
from bench.harness.systems import ANVIL, Anvil, System, Takasago
from bench.harness.wallet import (
    AMOUNT,
    CONFIRM_TIMEOUT,
    HTTP_TIMEOUT,
    KIND_MERCHANT,
    KIND_RESIDENT,
    OFFICER_LOGIN,
    OFFICER_PASSWORD,
    POLL_SECONDS,
    Client,
    WalletServer,
    api_pay,
    expect,
    member,
    new_request,
)
from ledger_client.fees import with_headroom

WARMUP = 3  # uncounted payments per path
SEL_PAY = keccak(text="pay(address,uint256,bytes32)")[:4]
TILL_OPEN_TIMEOUT = 30.0  # the till's stream must deliver ``open`` within this before the resident pays
GOAL_RATE, GOAL_P99 = 100.0, 0.300  # issue 17: confirmed payments/s, p99 latency (s) with 32 residents


# --------------------------------------------------------------------------- figures
@dataclass
class Timings:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0  # concurrent: first sent -> last confirmed; sequential: sum of the latencies
    accepted_202: int = 0  # API only: answered 202 and polled until confirmed

    cpu: dict[str, float] = field(default_factory=dict)  # concurrent: CPU seconds per process group while timed
    late: int = 0  # paced: payments sent after their scheduled time (the payer's previous one still running)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0

    def cpu_per_payment(self) -> str:
        """E.g. "node 5.0 ms, wallet API 8.1 ms, this client 0.8 ms": CPU per confirmed payment."""
        n = len(self.latencies)
        return ", ".join(f"{name} {ms(seconds / n)}" for name, seconds in self.cpu.items()) if n else ""


class CpuMeter:
    """CPU seconds used by the node's and the API's process groups and by this process, over a timed phase.

    Issue 17's finding: with everything on two cores, the rate is capped by the CPU a payment
    costs in all processes together, so each is reported per confirmed payment.
    """

    def __init__(self, groups: dict[str, int | None], *, postgres: bool = False) -> None:
        self.groups = {name: pgid for name, pgid in groups.items() if pgid is not None}
        self.postgres = postgres  # also the local PostgreSQL server's processes
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        out = {name: sum(processes.group_members(pgid).values()) for name, pgid in self.groups.items()}
        if self.postgres:
            out["PostgreSQL"] = sum(processes.postgres_members().values())
        out["this client"] = time.process_time()
        return out

    def used(self) -> dict[str, float]:
        end = self._read()
        return {name: end[name] - self._start.get(name, 0.0) for name in end}


def run_threads(threads: list[threading.Thread], errors: list[str], what: str) -> None:
    """Starts ``threads``, waits for them (10 minutes at most) and raises with the first errors they noted."""
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    if errors or any(t.is_alive() for t in threads):
        raise RuntimeError(f"{what}: " + "; ".join(errors[:5] or ["a thread did not finish"]))


# --------------------------------------------------------------------------- chain helpers
def pay_data(merchant: str, amount: int, reference: bytes) -> bytes:
    return SEL_PAY + encode_address(merchant) + amount.to_bytes(32, "big") + reference


def _direct_client(system: System, points: Points, payer: str, merchant: str) -> tuple[BenchRpc, int, int, int]:
    """(rpc, chain id, gas, fee cap) for direct pays from ``payer``: gas estimated once, with the usual headroom."""
    rpc = BenchRpc(system.url)
    chain_id = hex_int(rpc.call("eth_chainId"))
    fee_cap = 0 if system.free_gas else PEER_FEE_CAP
    estimate = hex_int(
        rpc.call(
            "eth_estimateGas",
            {"from": payer, "to": points.token.address, "data": "0x" + pay_data(merchant, AMOUNT, b"\1" * 32).hex()},
        )
    )
    return rpc, chain_id, with_headroom(estimate), fee_cap  # the headroom every signer of this project adds


def _direct_pays(
    system: System,
    points: Points,
    payer: LocalAccount,
    merchant: str,
    count: int,
    warmup: int = WARMUP,
    client: tuple[BenchRpc, int, int, int] | None = None,
) -> list[tuple[float, float]]:
    """``warmup`` + ``count`` sequential pays (pending nonce, sign, send, poll every 10 ms); counted (sent, done)."""
    rpc, chain_id, gas, fee_cap = client or _direct_client(system, points, payer.address, merchant)
    if client is not None:
        rpc = BenchRpc(system.url)  # a connection of its own (one thread per payer)
    token = points.token.address
    spans: list[tuple[float, float]] = []
    for i in range(warmup + count):
        data = pay_data(merchant, AMOUNT, secrets.token_bytes(32))
        started = time.perf_counter()
        nonce = hex_int(rpc.call("eth_getTransactionCount", payer.address, "pending"))
        raw, tx_hash = sign(payer, chain_id, nonce, token, data, 0, gas, fee_cap)
        rpc.call("eth_sendRawTransaction", raw)
        deadline = started + CONFIRM_TIMEOUT
        while (receipt := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{system.name}: no receipt for {tx_hash} after {CONFIRM_TIMEOUT:.0f}s")
            time.sleep(POLL_SECONDS)
        done = time.perf_counter()
        if hex_int(receipt["status"]) != 1:
            raise RuntimeError(f"{system.name}: direct pay {i} reverted: {tx_hash}")
        if i >= warmup:
            spans.append((started, done))
    return spans


def direct_payments(system: System, points: Points, payer: LocalAccount, merchant: str, count: int) -> Timings:
    """``count`` + WARMUP sequential pays by one payer."""
    spans = _direct_pays(system, points, payer, merchant, count)
    out = Timings(latencies=[done - started for started, done in spans])
    out.seconds = sum(out.latencies)
    return out


def direct_concurrent(
    system: System, points: Points, payers: list[LocalAccount], merchant: str, counts: list[int]
) -> Timings:
    """Each payer makes its ``counts`` direct pays one after the other (after WARMUP each), all payers at once.

    The same client code as :func:`direct_payments`, one thread per payer: what the node
    itself confirms under the concurrency the API is driven with.
    """
    client = _direct_client(system, points, payers[0].address, merchant)  # every payer pays the same call
    for payer in payers:  # warm-up first, outside the timed window
        _direct_pays(system, points, payer, merchant, 0, client=client)
    gate = threading.Barrier(len(payers))
    lock = threading.Lock()
    spans: list[tuple[float, float]] = []
    errors: list[str] = []

    def run(payer: LocalAccount, count: int) -> None:
        try:
            gate.wait(timeout=60)
            mine = _direct_pays(system, points, payer, merchant, count, warmup=0, client=client)
            with lock:
                spans.extend(mine)
        except Exception as exc:  # noqa: BLE001 - reported after the join
            with lock:
                errors.append(f"{payer.address}: {type(exc).__name__}: {exc}")
            gate.abort()

    run_threads(
        [threading.Thread(target=run, args=pair, daemon=True) for pair in zip(payers, counts, strict=True)],
        errors,
        "direct concurrent payments failed",
    )
    return Timings(
        latencies=[done - started for started, done in spans],
        seconds=max(d for _, d in spans) - min(s for s, _ in spans),
    )


def api_sequential(merchant: Client, resident: Client, count: int) -> tuple[Timings, list[float]]:
    """``count`` (+ warm-up) payments one at a time; also the merchant's request-creation times."""
    out = Timings()
    creation: list[float] = []
    for i in range(WARMUP + count):
        uri, took = new_request(merchant)
        sent, confirmed, was_202 = api_pay(resident, uri)
        if i >= WARMUP:
            creation.append(took)
            out.latencies.append(confirmed - sent)
            out.accepted_202 += was_202
    out.seconds = sum(out.latencies)
    return out, creation


def api_concurrent(merchant: Client, residents: list[Client], uris: list[list[str]]) -> Timings:
    """Each resident pays its own ``uris`` one after the other, all residents at once."""
    gate = threading.Barrier(len(residents))
    lock = threading.Lock()
    spans: list[tuple[float, float, bool]] = []
    errors: list[str] = []

    def run(resident: Client, mine: list[str]) -> None:
        try:
            gate.wait(timeout=60)
            for uri in mine:
                span = api_pay(resident, uri)
                with lock:
                    spans.append(span)
        except Exception as exc:  # noqa: BLE001 - reported after the join
            with lock:
                errors.append(f"{resident.login_id}: {type(exc).__name__}: {exc}")
            gate.abort()

    run_threads(
        [threading.Thread(target=run, args=pair, daemon=True) for pair in zip(residents, uris, strict=True)],
        errors,
        "concurrent payments failed",
    )
    return Timings(
        latencies=[c - s for s, c, _ in spans],
        seconds=max(c for _, c, _ in spans) - min(s for s, _, _ in spans),
        accepted_202=sum(1 for *_, was_202 in spans if was_202),
    )


def paced(payers: list[Callable[[], tuple[float, float]]], count: int, rate: float) -> Timings:
    """An open-loop load: payment k is due at ``k / rate`` s, made by payer ``k mod len(payers)``.

    Each payer thread makes its due payments in order, waiting for each one's scheduled
    time. The latency is counted from the **scheduled** time, not from when the request was
    finally sent, so a payment that had to wait for the payer's previous one counts that
    wait (no "coordinated omission": a slow server cannot hide its queue by slowing the
    client down, as a closed loop lets it). This is the shape of a lunchtime rush: the
    residents arrive at the till at the rate they arrive, whatever the server does.
    ``payers[i]()`` makes one payment and returns its (sent, confirmed) perf_counter times.
    """
    lock = threading.Lock()
    spans: list[tuple[float, float, bool]] = []  # (scheduled, confirmed, sent late)
    errors: list[str] = []
    start = time.perf_counter() + 0.5  # every thread started before the first payment is due

    def run(index: int, pay: Callable[[], tuple[float, float]]) -> None:
        try:
            for k in range(index, count, len(payers)):
                due = start + k / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                sent, confirmed = pay()
                with lock:
                    spans.append((due, confirmed, sent - due > 0.001))
        except Exception as exc:  # noqa: BLE001 - reported after the join
            with lock:
                errors.append(f"payer {index}: {type(exc).__name__}: {exc}")

    run_threads(
        [threading.Thread(target=run, args=(i, pay), daemon=True) for i, pay in enumerate(payers)],
        errors,
        "paced payments failed",
    )
    return Timings(
        latencies=[confirmed - due for due, confirmed, _ in spans],
        seconds=max(c for _, c, _ in spans) - start,
        late=sum(1 for *_, late in spans if late),
    )


def paying_by_api(resident: Client, uris: list[str]) -> Callable[[], tuple[float, float]]:
    """One resident paying ``uris`` in order, one per call (for :func:`paced`)."""
    queue = iter(uris)

    def pay() -> tuple[float, float]:
        sent, confirmed, _ = api_pay(resident, next(queue))
        return sent, confirmed

    return pay


def paying_directly(
    system: System, points: Points, payer: LocalAccount, merchant: str, client: tuple[BenchRpc, int, int, int]
) -> Callable[[], tuple[float, float]]:
    """One payer's direct pays, one per call, with a connection of its own (for :func:`paced`)."""
    _, chain_id, gas, fee_cap = client
    rpc = BenchRpc(system.url)
    token = points.token.address

    def pay() -> tuple[float, float]:
        data = pay_data(merchant, AMOUNT, secrets.token_bytes(32))
        started = time.perf_counter()
        nonce = hex_int(rpc.call("eth_getTransactionCount", payer.address, "pending"))
        raw, tx_hash = sign(payer, chain_id, nonce, token, data, 0, gas, fee_cap)
        rpc.call("eth_sendRawTransaction", raw)
        while (receipt := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
            if time.perf_counter() > started + CONFIRM_TIMEOUT:
                raise TimeoutError(f"{system.name}: no receipt for {tx_hash} after {CONFIRM_TIMEOUT:.0f}s")
            time.sleep(POLL_SECONDS)
        if hex_int(receipt["status"]) != 1:
            raise RuntimeError(f"{system.name}: direct pay reverted: {tx_hash}")
        return started, time.perf_counter()

    return pay


@dataclass
class TillTimings:
    from_post: list[float] = field(default_factory=list)  # resident's POST sent -> till's stream says paid
    from_200: list[float] = field(default_factory=list)  # resident's 200 confirmed -> till's stream says paid
    accepted_202: int = 0
    sequences: dict[str, int] = field(default_factory=dict)  # statuses the till saw, e.g. "open → paid": count


class Till:
    """The merchant's till on one request's server-sent events, read in a thread until paid or expired."""

    def __init__(self, session: requests.Session, url: str) -> None:
        self.opened = threading.Event()  # set on the first ``open`` event (or when the stream fails)
        self.paid_at: float | None = None  # perf_counter when the stream delivered ``status: paid``
        self.statuses: list[str] = []
        self.error: str | None = None
        self.thread = threading.Thread(target=self._listen, args=(session, url), daemon=True)
        self.thread.start()

    def _listen(self, session: requests.Session, url: str) -> None:
        try:
            with session.get(url, stream=True, timeout=HTTP_TIMEOUT) as response:
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
                for line in response.iter_lines():
                    at = time.perf_counter()
                    if not line.startswith(b"data: "):
                        continue
                    status = str(json.loads(line[6:])["status"])
                    self.statuses.append(status)
                    if status == "paid":
                        self.paid_at = at
                    if status == "open":
                        self.opened.set()
                    if status in ("paid", "expired"):
                        return
            raise RuntimeError(f"stream ended after {self.statuses}")
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.opened.set()


def till_payments(merchant: Client, resident: Client, count: int) -> TillTimings:
    """``count`` (+ warm-up) payments, each watched by the till's event stream opened before the resident pays."""
    session = requests.Session()  # the till's own connection, with the merchant's token
    session.headers["Authorization"] = str(merchant.session.headers["Authorization"])
    out = TillTimings()
    for i in range(WARMUP + count):
        created = expect(merchant.post("/v1/payment-requests", {"amount": AMOUNT}), 201, "payment request")
        till = Till(session, f"{merchant.base_url}/v1/payment-requests/{created['id']}/events")
        if not till.opened.wait(TILL_OPEN_TIMEOUT) or till.error is not None:
            raise RuntimeError(f"till {i}: no `open` event within {TILL_OPEN_TIMEOUT:.0f}s ({till.error})")
        sent, confirmed, was_202 = api_pay(resident, str(created["uri"]))
        till.thread.join(CONFIRM_TIMEOUT)
        if till.thread.is_alive() or till.paid_at is None:
            raise RuntimeError(f"till {i}: no `paid` event (saw {till.statuses}; {till.error})")
        if i >= WARMUP:
            out.from_post.append(till.paid_at - sent)
            out.from_200.append(till.paid_at - confirmed)
            out.accepted_202 += was_202
            sequence = " → ".join(till.statuses)
            out.sequences[sequence] = out.sequences.get(sequence, 0) + 1
    session.close()
    return out


# --------------------------------------------------------------------------- the run
@dataclass
class Results:
    api_seq: Timings | None = None
    creation: list[float] = field(default_factory=list)
    api_conc: Timings | None = None
    direct_node: Timings | None = None
    direct_conc: Timings | None = None
    direct_anvil: Timings | None = None
    api_paced: Timings | None = None
    direct_paced: Timings | None = None
    till: TillTimings | None = None
    anvil_error: str | None = None
    checks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def run_ours(args: argparse.Namespace, workdir: Path, database_url: str, results: Results) -> None:
    node = Takasago("takasago", workdir)
    server: WalletServer | None = None
    try:
        log("takasago: starting a dev node (instant sealing)")
        node.start()
        points = Points.deploy("takasago", node.url, node.funder_key, workdir / "deployments")
        server = WalletServer(workdir, node.url, workdir / "deployments", database_url, args.workers)
        log(f"wallet API: init and start {args.workers} worker(s) on {database_url.split('://', 1)[0]}")
        server.setup(points)
        server.start()
        officer = Client(server.url, OFFICER_LOGIN, OFFICER_PASSWORD)
        officer.login()

        log(f"wallet API: signing up and approving 1 merchant and {1 + args.concurrency} residents")
        merchant = member(server, officer, "merchant")
        payer = member(server, officer, "resident")
        residents = [member(server, officer, "resident") for _ in range(args.concurrency)]
        shares = [list(range(k, args.payments, args.concurrency)) for k in range(args.concurrency)]
        till_count = WARMUP + args.till_payments if args.till_payments else 0
        minted: dict[str, int] = {payer.address: AMOUNT * (WARMUP + args.payments + till_count)}
        for resident, share in zip(residents, shares, strict=True):
            minted[resident.address] = AMOUNT * (WARMUP + len(share))
        direct_payer = Account.from_key(secrets.token_bytes(32))
        direct_payers = [Account.from_key(secrets.token_bytes(32)) for _ in range(args.concurrency)]
        node.prepare(BenchRpc(node.url), [a.address for a in [direct_payer, *direct_payers]])  # residents
        minted[direct_payer.address] = AMOUNT * (WARMUP + args.payments)
        for direct, share in zip(direct_payers, shares, strict=True):
            minted[direct.address] = AMOUNT * (WARMUP + len(share))
        if args.rate:  # the paced phase: the same residents and direct payers, --payments more in total
            for payer_address, share in zip(
                [r.address for r in residents] + [d.address for d in direct_payers], shares + shares, strict=True
            ):
                minted[payer_address] += AMOUNT * len(share)
        for address, amount in minted.items():
            points.mint(address, amount)
        merchant_before = points.balance(merchant.address)

        log(f"API sequential: {args.payments} payments (+{WARMUP} warm-up)")
        results.api_seq, results.creation = api_sequential(merchant, payer, args.payments)
        log(f"API sequential: p50 {ms(pct(results.api_seq.latencies, 0.5))}")

        log(f"API concurrent: {args.concurrency} residents, {args.payments} payments (+{WARMUP} warm-up each)")
        uris = [[new_request(merchant)[0] for _ in range(WARMUP + len(share))] for share in shares]
        for resident, mine in zip(residents, uris, strict=True):  # warm-up: each resident's first payments
            for uri in mine[:WARMUP]:
                api_pay(resident, uri)
        on_postgres = database_url.startswith("postgresql")
        meter = CpuMeter({"node": node.pid, "wallet API": server.pid}, postgres=on_postgres)
        results.api_conc = api_concurrent(merchant, residents, [mine[WARMUP:] for mine in uris])
        results.api_conc.cpu = meter.used()
        log(f"API concurrent: {results.api_conc.rate:.1f} confirmed payments/s")

        log(f"direct to takasago: {args.payments} payments (+{WARMUP} warm-up)")
        results.direct_node = direct_payments(node, points, direct_payer, merchant.address, args.payments)
        log(f"direct to takasago: p50 {ms(pct(results.direct_node.latencies, 0.5))}")

        log(f"direct to takasago, concurrent: {args.concurrency} payers, {args.payments} payments")
        meter = CpuMeter({"node": node.pid})
        results.direct_conc = direct_concurrent(
            node, points, direct_payers, merchant.address, [len(share) for share in shares]
        )
        results.direct_conc.cpu = meter.used()
        log(f"direct to takasago, concurrent: {results.direct_conc.rate:.1f} confirmed payments/s")

        if args.rate:
            log(
                f"API paced: {args.rate:.0f} payments/s offered by {args.concurrency} residents, "
                f"{args.payments} payments"
            )
            paced_uris = [[new_request(merchant)[0] for _ in share] for share in shares]
            meter = CpuMeter({"node": node.pid, "wallet API": server.pid}, postgres=on_postgres)
            results.api_paced = paced(
                [paying_by_api(r, u) for r, u in zip(residents, paced_uris, strict=True)], args.payments, args.rate
            )
            results.api_paced.cpu = meter.used()
            log(f"API paced: p99 {ms(pct(results.api_paced.latencies, 0.99))} from the scheduled time")
            log(f"direct paced: {args.rate:.0f} payments/s offered by {args.concurrency} payers")
            client = _direct_client(node, points, direct_payers[0].address, merchant.address)
            meter = CpuMeter({"node": node.pid})
            results.direct_paced = paced(
                [paying_directly(node, points, d, merchant.address, client) for d in direct_payers],
                args.payments,
                args.rate,
            )
            results.direct_paced.cpu = meter.used()
            log(f"direct paced: p99 {ms(pct(results.direct_paced.latencies, 0.99))} from the scheduled time")

        if args.till_payments:
            log(f"till: {args.till_payments} payments watched over server-sent events (+{WARMUP} warm-up)")
            results.till = till_payments(merchant, payer, args.till_payments)
            log(f"till: POST sent → till told paid p50 {ms(pct(results.till.from_post, 0.5))}")

        # reconcile with the chain itself
        wrong = {a: points.balance(a) for a in minted if points.balance(a) != 0}
        received = points.balance(merchant.address) - merchant_before
        expected = sum(minted.values())
        results.checks.append(
            f"takasago: {len(minted)} payers at 0 points: {'yes' if not wrong else f'NO {wrong}'}; "
            f"merchant received {received} of {expected} points"
        )
        if wrong or received != expected:
            results.failures.append(results.checks[-1])
        unexpected = server.unexpected_errors()
        if unexpected:
            results.failures.append(f"wallet API logged {unexpected} unexpected errors (see its log)")
    finally:
        if server is not None:
            server.stop()
        node.stop()


def run_anvil(args: argparse.Namespace, workdir: Path, results: Results) -> None:
    anvil = Anvil("anvil", workdir)
    try:
        log("anvil: starting (automine)")
        anvil.start()
        points = Points.deploy("anvil", anvil.url, anvil.funder_key, workdir / "deployments-anvil")
        payer = Account.from_key(secrets.token_bytes(32))
        merchant = Account.from_key(secrets.token_bytes(32))
        points.register(payer.address, KIND_RESIDENT)
        points.register(merchant.address, KIND_MERCHANT)
        anvil.prepare(BenchRpc(anvil.url), [payer.address])  # ether for its (zero-priced) gas
        points.mint(payer.address, AMOUNT * (WARMUP + args.payments))
        log(f"direct to anvil: {args.payments} payments (+{WARMUP} warm-up)")
        results.direct_anvil = direct_payments(anvil, points, payer, merchant.address, args.payments)
        log(f"direct to anvil: p50 {ms(pct(results.direct_anvil.latencies, 0.5))}")
        ok = points.balance(payer.address) == 0 and points.balance(merchant.address) == AMOUNT * (
            WARMUP + args.payments
        )
        results.checks.append(f"anvil: payer at 0 points and merchant paid in full: {'yes' if ok else 'NO'}")
        if not ok:
            results.failures.append(results.checks[-1])
    finally:
        anvil.stop()


def report(args: argparse.Namespace, results: Results, started: dt.datetime, commit: str, database: str) -> str:
    seq, conc = results.api_seq, results.api_conc
    assert seq is not None and conc is not None and results.direct_node is not None
    api_p50, api_p99 = pct(seq.latencies, 0.5), pct(seq.latencies, 0.99)
    lines = [
        f"wallet payments: {args.payments} payments of {AMOUNT} points per path (+{WARMUP} warm-up each); "
        f"{started:%Y-%m-%d %H:%M:%S} UTC; commit {commit}; wallet DB {database}; "
        f"{args.workers} API worker(s); "
        f"{machine()}",
        "",
        "| path | payments | p50 | p90 | p99 | max | API p50 / this p50 | API p99 / this p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows: list[tuple[str, Timings | None]] = [
        ("wallet API, `POST /v1/payments` → 200 confirmed", seq),
        ("direct web3 → takasago (pending nonce, sign, send, receipt polled every 10 ms)", results.direct_node),
    ]
    if not args.no_anvil:
        rows.append(("direct web3 → anvil automine (same client code)", results.direct_anvil))
    for label, t in rows:
        if t is None:
            lines.append(f"| {label} | failed: {results.anvil_error} | | | | | | |")
            continue
        p50, p99 = pct(t.latencies, 0.5), pct(t.latencies, 0.99)
        lines.append(
            f"| {label} | {len(t.latencies)} | {ms(p50)} | {ms(pct(t.latencies, 0.9))} | {ms(p99)} | "
            f"{ms(max(t.latencies))} | {api_p50 / p50:.2f}x | {api_p99 / p99:.2f}x |"
        )
    lines += [
        "",
        f"| {args.concurrency} payers at once | payments | confirmed/s | p50 | p90 | p99 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, t in [
        (f"wallet API ({args.workers} worker{'s' if args.workers > 1 else ''}), `POST /v1/payments` → 200", conc),
        ("direct web3 → takasago (same client code as above, one thread per payer)", results.direct_conc),
    ]:
        if t is None:
            continue
        lines.append(
            f"| {label} | {len(t.latencies)} | {t.rate:.1f} | {ms(pct(t.latencies, 0.5))} | "
            f"{ms(pct(t.latencies, 0.9))} | {ms(pct(t.latencies, 0.99))} | {ms(max(t.latencies))} |"
        )
    creation_p50 = pct(results.creation, 0.5)
    node_p50 = pct(results.direct_node.latencies, 0.5)
    lines += [
        "",
        f"- merchant side, `POST /v1/payment-requests` → 201: p50 {ms(creation_p50)}, "
        f"p90 {ms(pct(results.creation, 0.9))} ({creation_p50 / api_p50:.2f}x of a payment's p50)",
        f"- API overhead over the direct call on the same node: {ms(api_p50 - node_p50)} at p50 "
        f"({api_p50 / node_p50:.2f}x)",
        f"- sequential (1 / mean latency): {seq.rate:.1f} payments/s through the API, "
        f"{results.direct_node.rate:.1f}/s direct to takasago ({seq.rate / results.direct_node.rate:.2f}x)",
        f"- concurrent, {args.concurrency} residents × ~{args.payments // args.concurrency} payments, "
        f"{len(conc.latencies)} in total: **{conc.rate:.1f} confirmed payments/s** through the API "
        f"({conc.rate / seq.rate:.2f}x the sequential rate); latency under load p50 {ms(pct(conc.latencies, 0.5))}, "
        f"p99 {ms(pct(conc.latencies, 0.99))}",
        f"- answered 202 and polled until confirmed: {seq.accepted_202} sequential, {conc.accepted_202} concurrent",
    ]
    lines.append(f"- CPU per confirmed payment, {args.concurrency} residents through the API: {conc.cpu_per_payment()}")
    if results.direct_conc is not None:
        lines += [
            f"- CPU per confirmed payment, {args.concurrency} payers direct to the node: "
            f"{results.direct_conc.cpu_per_payment()}",
            f"- concurrent through the API / direct to the node: {conc.rate / results.direct_conc.rate:.2f}x "
            "the confirmed payments/s",
        ]
    met = conc.rate >= GOAL_RATE and pct(conc.latencies, 0.99) <= GOAL_P99
    lines.append(
        f"- goal in the closed loop (issue 17: ≥ {GOAL_RATE:.0f} confirmed/s with p99 ≤ {ms(GOAL_P99)}, "
        f"{args.concurrency} residents paying back to back): {'met' if met else 'NOT met'}"
    )
    if results.api_paced is not None:
        lines += [
            "",
            f"| {args.rate:.0f} payments/s offered by {args.concurrency} payers (open loop; latency from each "
            "payment's scheduled time) | payments | confirmed/s | p50 | p90 | p99 | max | sent late |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, t in [
            (f"wallet API ({args.workers} worker{'s' if args.workers > 1 else ''})", results.api_paced),
            ("direct web3 → takasago (same client code)", results.direct_paced),
        ]:
            if t is None:
                continue
            lines.append(
                f"| {label} | {len(t.latencies)} | {t.rate:.1f} | {ms(pct(t.latencies, 0.5))} | "
                f"{ms(pct(t.latencies, 0.9))} | {ms(pct(t.latencies, 0.99))} | {ms(max(t.latencies))} | {t.late} |"
            )
        paced_api = results.api_paced
        lines.append(f"- CPU per confirmed payment, paced through the API: {paced_api.cpu_per_payment()}")
        met = (
            args.rate >= GOAL_RATE and paced_api.rate >= 0.98 * args.rate and pct(paced_api.latencies, 0.99) <= GOAL_P99
        )
        lines.append(
            f"- goal at a rush's arrival rate (≥ {GOAL_RATE:.0f} payments/s offered by {args.concurrency} "
            f"residents, kept up with, p99 ≤ {ms(GOAL_P99)} from the scheduled time): {'met' if met else 'NOT met'}"
        )
    till = results.till
    if till is not None:
        n = len(till.from_post)
        lines += [
            "",
            "| till: `GET /v1/payment-requests/{id}/events` (SSE) | payments | p50 | p90 | p99 | max "
            "| this p50 / API p50 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, values, ratio in [
            ("(a) resident's POST sent → till's stream delivers `paid`", till.from_post, True),
            ("(b) resident's 200 confirmed → till's stream delivers `paid`", till.from_200, False),
        ]:
            lines.append(
                f"| {label} | {len(values)} | {ms(pct(values, 0.5))} | {ms(pct(values, 0.9))} | "
                f"{ms(pct(values, 0.99))} | {ms(max(values))} | "
                f"{f'{pct(values, 0.5) / api_p50:.2f}x' if ratio else '—'} |"
            )
        sequences = "; ".join(f"{s}: {c}" for s, c in sorted(till.sequences.items(), key=lambda kv: -kv[1]))
        lines += [
            "",
            f"- till green within 1 s of the resident's POST: {sum(1 for v in till.from_post if v <= 1.0)} of {n}; "
            f"the till heard before the resident's 200: {sum(1 for v in till.from_200 if v < 0)} of {n}",
            f"- statuses the till saw: {sequences}; answered 202 and polled: {till.accepted_202}",
        ]
    lines += [f"- check: {c}" for c in results.checks]
    lines += [f"- FAILED: {f}" for f in results.failures]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=100, help="payments per path (default 100)")
    parser.add_argument("--concurrency", type=int, default=8, help="residents paying at once (default 8)")
    parser.add_argument(
        "--till-payments",
        type=int,
        default=50,
        help="payments watched by the till's server-sent events (default 50; 0 skips)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="wallet API worker processes (`wallet serve --workers`, default 1)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="also offer --payments payments at this many per second from the --concurrency residents "
        "(open loop, latency from each payment's scheduled time), through the API and direct; 0 skips (default)",
    )
    parser.add_argument("--no-anvil", action="store_true", help="skip the direct reference on anvil")
    parser.add_argument(
        "--database-url",
        help="wallet DB: default SQLite in the temporary directory; a postgresql:// URL makes the benchmark "
        "create (and afterwards drop) a fresh database on that server",
    )
    args = parser.parse_args(argv)
    if args.payments < 1 or not 1 <= args.concurrency <= args.payments:
        parser.error("need --payments >= 1 and 1 <= --concurrency <= --payments")
    if not 1 <= args.workers <= 32:
        parser.error("need 1 <= --workers <= 32")
    if args.till_payments < 0:
        parser.error("need --till-payments >= 0")
    if not 0 <= args.rate <= 10_000:
        parser.error("need 0 <= --rate <= 10000")
    if not args.no_anvil and not ANVIL.exists():
        print(
            f"error: anvil not found at {ANVIL.relative_to(REPO)} (npm devDependency @foundry-rs/anvil-linux-amd64: "
            "run `npm install`), or pass --no-anvil",
            file=sys.stderr,
        )
        return 2
    processes.exit_on_signals()

    started = dt.datetime.now(dt.UTC)
    commit = git_commit()
    results = Results()
    pg_name: str | None = None
    with tempfile.TemporaryDirectory(prefix="takasago-wallet-bench-") as tmp:
        workdir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{workdir / 'wallet' / 'wallet.db'}"
        database = "SQLite (WAL, synchronous=FULL)"
        try:
            if database_url.startswith("postgresql"):
                database_url, pg_name = create_postgres_database(args.database_url)
                database = f"PostgreSQL (fresh database {pg_name})"
            run_ours(args, workdir, database_url, results)
        except Exception as exc:  # noqa: BLE001 - reported as a failed run
            log(f"FAILED: {type(exc).__name__}: {exc}")
            return 1
        finally:
            if pg_name is not None:
                drop_postgres_database(args.database_url, pg_name)
        if not args.no_anvil:
            try:
                run_anvil(args, workdir, results)
            except Exception as exc:  # noqa: BLE001 - our figures still stand
                results.anvil_error = f"{type(exc).__name__}: {exc}"
                results.failures.append(f"anvil: {results.anvil_error}")
                log(f"anvil: FAILED: {results.anvil_error}")
    print()
    print(report(args, results, started, commit, database))
    return 1 if results.failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C: the finally blocks and atexit have stopped every child process
        log("interrupted")
        sys.exit(130)
