"""Merchant payments through the custodial wallet API, beside the same call sent directly.

    .venv/bin/python -m bench.wallet_payments [--payments 100] [--concurrency 8] [--till-payments 50]
                                              [--no-anvil] [--database-url postgresql://USER:PW@HOST:5432/postgres]

One run, one fresh dev node (``node run --mode instant``) with the point contracts deployed,
and a wallet API server (``python -m scripts.cli wallet serve``) on it, driven over HTTP only:

1. **API, sequential.** One resident pays ``--payments`` payment requests one at a time. Per
   payment the merchant creates a request (``POST /v1/payment-requests``, timed on its own)
   and the resident pays its URI (``POST /v1/payments`` with an Idempotency-Key). Latency:
   the POST is sent -> it returns 200 with the operation ``confirmed`` (the till turns green).
   A 202 (not confirmed within the API's wait) is followed by ``GET /v1/operations/{id}``
   every 10 ms, the latency running until confirmed; the number of 202s is reported.
2. **API, concurrent.** ``--concurrency`` residents, each paying its own pre-created
   requests one after the other, all at once (one thread and HTTP session each), ``--payments``
   in total. Reported: confirmed payments/s (first POST sent -> last payment confirmed).
3. **Direct reference.** ``RegionalPoints.pay(merchant, amount, reference)`` signed locally
   (eth-account; gas price 0 on our node), as a wallet app would: pending nonce, sign,
   ``eth_sendRawTransaction``, receipt polled every 10 ms; ``--payments`` times sequentially,
   to our node (to the API's merchant) and, unless ``--no-anvil``, to anvil (automine, its own
   deployment of the same contracts made by ``contracts.deploy``, which deploys the
   AccountRegistry itself on a chain without our genesis predeploy).
4. **The till.** ``--till-payments`` payments, one at a time, by the resident of (1): the
   merchant creates a request and its till opens ``GET /v1/payment-requests/{id}/events``
   (server-sent events, the merchant's bearer token; ``requests`` with ``stream=True`` and
   ``iter_lines`` in a thread). Once the stream has delivered ``status: open`` the resident pays
   as in (1). Timed: the resident's POST sent -> the till's stream delivers ``status: paid``,
   and the resident's 200 (confirmed) -> that same event (negative when the till hears first).
   Runs after (3), so (1)-(3) are measured as before.

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
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from bench.gas import web3_for
from bench.node_throughput import (
    ANVIL,
    PEER_FEE_CAP,
    REPO,
    RPC,
    Anvil,
    System,
    Takasago,
    encode_address,
    free_port,
    hex_int,
    log,
    sign,
)
from contracts.deploy import DeploySettings, deploy
from ledger_client.transactions import Sender

AMOUNT = 10  # points per payment
WARMUP = 3  # uncounted payments per path
POLL_SECONDS = 0.01
KIND_RESIDENT, KIND_MERCHANT, KIND_CITY = 1, 2, 3
MINTER_ROLE = keccak(text="MINTER_ROLE")
ENROLLER_ROLE = keccak(text="ENROLLER_ROLE")  # what the wallet's service key holds (issue 15, finding 15)
SEL_PAY = keccak(text="pay(address,uint256,bytes32)")[:4]
OFFICER_LOGIN = "bench-officer"
OFFICER_PASSWORD = "bench-officer-password"
MEMBER_PASSWORD = "bench-member-password"
HTTP_TIMEOUT = 60.0
CONFIRM_TIMEOUT = 60.0
TILL_OPEN_TIMEOUT = 30.0  # the till's stream must deliver ``open`` within this before the resident pays


# --------------------------------------------------------------------------- figures
def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class Timings:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0  # concurrent: first sent -> last confirmed; sequential: sum of the latencies
    accepted_202: int = 0  # API only: answered 202 and polled until confirmed

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# --------------------------------------------------------------------------- chain helpers
@dataclass
class Points:
    """The deployed point contracts on one chain and the admin who sets them up."""

    name: str
    w3: Web3
    admin: LocalAccount
    sender: Sender
    registry: Contract
    token: Contract

    @classmethod
    def deploy(cls, name: str, url: str, admin_key: str, deployments_dir: Path) -> Points:
        w3 = web3_for(url)
        admin = Account.from_key(admin_key)
        sender = Sender(w3, admin)
        report = deploy(w3, sender, deployments_dir, DeploySettings())
        d = report.deployment
        points = cls(name, w3, admin, sender, d.contract(w3, "AccountRegistry"), d.contract(w3, "RegionalPoints"))
        sender.call_function(points.registry.functions.grantRole(MINTER_ROLE, admin.address))
        log(f"{name}: contracts deployed ({'; '.join(report.actions)})")
        return points

    def register(self, address: str, kind: int) -> None:
        self.sender.call_function(self.registry.functions.register(address, kind, keccak(text=f"bench {address}")))

    def mint(self, address: str, amount: int) -> None:
        month = int(self.token.functions.currentMonth().call()) + 6
        self.sender.call_function(self.token.functions.mint(address, amount, month))

    def balance(self, address: str) -> int:
        return int(self.token.functions.balanceOf(address).call())


def pay_data(merchant: str, amount: int, reference: bytes) -> bytes:
    return SEL_PAY + encode_address(merchant) + amount.to_bytes(32, "big") + reference


def direct_payments(system: System, points: Points, payer: LocalAccount, merchant: str, count: int) -> Timings:
    """``count`` + WARMUP sequential pays (pending nonce, sign, send, poll every 10 ms)."""
    rpc = RPC(system.url)
    chain_id = hex_int(rpc.call("eth_chainId"))
    token = points.token.address
    fee_cap = 0 if system.free_gas else PEER_FEE_CAP
    estimate = hex_int(
        rpc.call(
            "eth_estimateGas",
            [{"from": payer.address, "to": token, "data": "0x" + pay_data(merchant, AMOUNT, b"\1" * 32).hex()}],
        )
    )
    gas = estimate * 125 // 100  # the headroom the wallet API adds too
    out = Timings()
    for i in range(WARMUP + count):
        data = pay_data(merchant, AMOUNT, secrets.token_bytes(32))
        started = time.perf_counter()
        nonce = hex_int(rpc.call("eth_getTransactionCount", [payer.address, "pending"]))
        raw, tx_hash = sign(payer, chain_id, nonce, token, data, 0, gas, fee_cap)
        rpc.call("eth_sendRawTransaction", [raw])
        deadline = started + CONFIRM_TIMEOUT
        while (receipt := rpc.call("eth_getTransactionReceipt", [tx_hash])) is None:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{system.name}: no receipt for {tx_hash} after {CONFIRM_TIMEOUT:.0f}s")
            time.sleep(POLL_SECONDS)
        done = time.perf_counter()
        if hex_int(receipt["status"]) != 1:
            raise RuntimeError(f"{system.name}: direct pay {i} reverted: {tx_hash}")
        if i >= WARMUP:
            out.latencies.append(done - started)
    out.seconds = sum(out.latencies)
    return out


# --------------------------------------------------------------------------- the wallet API
class WalletServer(System):
    """``scripts.cli wallet serve`` on a free port; its state in ``workdir/wallet``."""

    def __init__(self, workdir: Path, rpc_url: str, deployments_dir: Path, database_url: str) -> None:
        super().__init__("wallet-api", workdir)
        self.data_dir = workdir / "wallet"
        self.rpc_url = rpc_url
        self.deployments_dir = deployments_dir
        self.database_url = database_url

    def _options(self, chain: bool = True) -> list[str]:
        assert self.data_dir is not None
        options = ["--data-dir", str(self.data_dir), "--database-url", self.database_url]
        if chain:
            options += ["--rpc-url", self.rpc_url, "--deployments-dir", str(self.deployments_dir)]
        return options

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TAKASAGO_OFFICER_PASSWORD": OFFICER_PASSWORD,
            "TAKASAGO_WALLET_REQUESTS_PER_MINUTE_PER_IP": "100000",
        }

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "scripts.cli", "wallet", *args],
            cwd=REPO,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
        if result.returncode:
            raise RuntimeError(f"wallet {args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def setup(self, points: Points) -> None:
        """Database, secrets and service key; the city registers that key and lets it enrol residents."""
        service = self.cli("init", *self._options()).strip().splitlines()[-1].strip()
        points.register(service, KIND_CITY)
        points.sender.call_function(points.registry.functions.grantRole(ENROLLER_ROLE, service))
        self.cli("add-officer", OFFICER_LOGIN, "--name", "Bench Officer", *self._options(chain=False))

    def start(self) -> None:
        port = free_port()
        self._spawn(
            [sys.executable, "-m", "scripts.cli", "wallet", "serve", *self._options(), "--port", str(port)],
            cwd=REPO,
            env=self._env(),
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"wallet API exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"wallet API /health not 200 after 90s:\n{self.log_tail()}")

    def unexpected_errors(self) -> int:
        if self.log_path is None or not self.log_path.exists():
            return 0
        return self.log_path.read_text(errors="replace").count("unexpected")


class Client:
    """One app user over HTTP: a keep-alive session with a bearer token."""

    def __init__(self, base_url: str, login: str, password: str) -> None:
        self.base_url = base_url
        self.login_id = login
        self.password = password
        self.session = requests.Session()
        self.info: dict[str, Any] = {}

    def login(self) -> None:
        body = {"login": self.login_id, "password": self.password}
        response = self.session.post(self.base_url + "/v1/auth/login", json=body, timeout=HTTP_TIMEOUT)
        expect(response, 200, "log-in")
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def post(self, path: str, body: Any = None, key: str | None = None) -> requests.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return self.session.post(self.base_url + path, json=body, headers=headers, timeout=HTTP_TIMEOUT)

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.base_url + path, timeout=HTTP_TIMEOUT)

    @property
    def address(self) -> str:
        return str(self.info["address"])


def expect(response: requests.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{what}: HTTP {response.status_code} (expected {status}): {response.text[:500]}")
    return dict(response.json())


def member(server: WalletServer, officer: Client, role: str) -> Client:
    """Signs up, is approved by the officer (registered on-chain) and logs in."""
    login = f"bench-{role}-{secrets.token_hex(4)}"
    body = {
        "login": login,
        "password": MEMBER_PASSWORD,
        "role": role,
        "full_name": "高砂 花子" if role == "resident" else "高砂商店",
        "postal_address": "兵庫県高砂市高砂町1-1",
        "date_of_birth": "1985-06-01",
        "display_name": "Bench Shop" if role == "merchant" else None,
    }
    signup = expect(requests.post(server.url + "/v1/auth/signup", json=body, timeout=HTTP_TIMEOUT), 201, "sign-up")
    expect(officer.post(f"/v1/officer/accounts/{signup['id']}/approve", key=f"approve-{signup['id']}"), 200, "approve")
    client = Client(server.url, login, MEMBER_PASSWORD)
    client.login()
    deadline = time.monotonic() + CONFIRM_TIMEOUT
    while True:
        client.info = expect(client.get("/v1/me"), 200, "me")
        if client.info["status"] == "active":
            return client
        if time.monotonic() > deadline:
            raise TimeoutError(f"{login} still {client.info['status']} after {CONFIRM_TIMEOUT:.0f}s")
        time.sleep(0.1)


def new_request(merchant: Client) -> tuple[str, float]:
    """A payment request at the till: its URI and the seconds ``POST /v1/payment-requests`` took."""
    started = time.perf_counter()
    response = merchant.post("/v1/payment-requests", {"amount": AMOUNT})
    took = time.perf_counter() - started
    return str(expect(response, 201, "payment request")["uri"]), took


def api_pay(resident: Client, uri: str) -> tuple[float, float, bool]:
    """Pays ``uri``: (sent, confirmed) perf_counter times and whether the API answered 202 first."""
    key = str(uuid.uuid4())
    started = time.perf_counter()
    response = resident.post("/v1/payments", {"uri": uri}, key=key)
    if response.status_code == 200 and response.json()["operation"]["status"] == "confirmed":
        return started, time.perf_counter(), False
    body = expect(response, 202, "payment")
    op = body["operation"]
    deadline = started + CONFIRM_TIMEOUT
    while op["status"] != "confirmed":
        if op["status"] == "failed" or time.perf_counter() > deadline:
            raise RuntimeError(f"payment {op['id']} ended {op['status']}: {op.get('error')}")
        time.sleep(POLL_SECONDS)
        op = expect(resident.get(f"/v1/operations/{op['id']}"), 200, "operation")
    return started, time.perf_counter(), True


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

    threads = [threading.Thread(target=run, args=pair, daemon=True) for pair in zip(residents, uris, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    if errors or any(t.is_alive() for t in threads):
        raise RuntimeError("concurrent payments failed: " + "; ".join(errors[:5] or ["a thread did not finish"]))
    return Timings(
        latencies=[c - s for s, c, _ in spans],
        seconds=max(c for _, c, _ in spans) - min(s for s, _, _ in spans),
        accepted_202=sum(1 for *_, was_202 in spans if was_202),
    )


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


# --------------------------------------------------------------------------- PostgreSQL (optional)
def create_postgres_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = "takasago_bench_" + secrets.token_hex(4)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    base = admin_url.split("?", 1)[0].rsplit("/", 1)[0]
    return f"{base}/{name}", name


def drop_postgres_database(admin_url: str, name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
    except psycopg.Error as exc:
        log(f"could not drop PostgreSQL database {name}: {exc}")


# --------------------------------------------------------------------------- the run
@dataclass
class Results:
    api_seq: Timings | None = None
    creation: list[float] = field(default_factory=list)
    api_conc: Timings | None = None
    direct_node: Timings | None = None
    direct_anvil: Timings | None = None
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
        server = WalletServer(workdir, node.url, workdir / "deployments", database_url)
        log(f"wallet API: init and start on {database_url.split('://', 1)[0]}")
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
        node.prepare(RPC(node.url), [direct_payer.address])  # registers it as a resident
        minted[direct_payer.address] = AMOUNT * (WARMUP + args.payments)
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
        results.api_conc = api_concurrent(merchant, residents, [mine[WARMUP:] for mine in uris])
        log(f"API concurrent: {results.api_conc.rate:.1f} confirmed payments/s")

        log(f"direct to takasago: {args.payments} payments (+{WARMUP} warm-up)")
        results.direct_node = direct_payments(node, points, direct_payer, merchant.address, args.payments)
        log(f"direct to takasago: p50 {ms(pct(results.direct_node.latencies, 0.5))}")

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
        anvil.prepare(RPC(anvil.url), [payer.address])  # ether for its (zero-priced) gas
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
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
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


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip() or "unknown"
    return commit + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def _on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # runs the finally blocks and node_throughput's atexit clean-up


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
    parser.add_argument("--no-anvil", action="store_true", help="skip the direct reference on anvil")
    parser.add_argument(
        "--database-url",
        help="wallet DB: default SQLite in the temporary directory; a postgresql:// URL makes the benchmark "
        "create (and afterwards drop) a fresh database on that server",
    )
    args = parser.parse_args(argv)
    if args.payments < 1 or not 1 <= args.concurrency <= args.payments:
        parser.error("need --payments >= 1 and 1 <= --concurrency <= --payments")
    if args.till_payments < 0:
        parser.error("need --till-payments >= 0")
    if not args.no_anvil and not ANVIL.exists():
        print(
            f"error: anvil not found at {ANVIL.relative_to(REPO)} (npm devDependency @foundry-rs/anvil-linux-amd64: "
            "run `npm install`), or pass --no-anvil",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

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
