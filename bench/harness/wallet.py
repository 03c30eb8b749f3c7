"""The custodial wallet API as benchmarks drive it: its server process and its users over HTTP.

``WalletServer`` runs ``scripts.cli wallet serve`` like any other ``System``; ``Client`` is one
app user (a keep-alive session with a bearer token); ``member`` signs a user up and has the
officer approve them; ``new_request`` and ``api_pay`` are the merchant's and the resident's
halves of one payment.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from bench.harness.points import ENROLLER_ROLE, Points
from bench.harness.ports import free_port
from bench.harness.report import REPO
from bench.harness.systems import System, wait_healthy

AMOUNT = 10  # points per payment
POLL_SECONDS = 0.01
KIND_RESIDENT, KIND_MERCHANT, KIND_CITY = 1, 2, 3
OFFICER_LOGIN = "bench-officer"
OFFICER_PASSWORD = "bench-officer-password"
MEMBER_PASSWORD = "bench-member-password"
HTTP_TIMEOUT = 60.0
CONFIRM_TIMEOUT = 60.0


class WalletServer(System):
    """``scripts.cli wallet serve`` on a free port with ``workers`` processes; its state in ``workdir/wallet``."""

    def __init__(self, workdir: Path, rpc_url: str, deployments_dir: Path, database_url: str, workers: int = 1) -> None:
        super().__init__("wallet-api", workdir)
        self.data_dir = workdir / "wallet"
        self.rpc_url = rpc_url
        self.deployments_dir = deployments_dir
        self.database_url = database_url
        self.workers = workers

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
            [
                sys.executable,
                "-m",
                "scripts.cli",
                "wallet",
                "serve",
                *self._options(),
                "--port",
                str(port),
                "--workers",
                str(self.workers),
            ],
            cwd=REPO,
            env=self._env(),
        )
        self.url = f"http://127.0.0.1:{port}"
        wait_healthy(self.url, self.proc, "wallet API", self.log_path)

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
    try:
        response = resident.post("/v1/payments", {"uri": uri}, key=key)
    except requests.ConnectionError:
        # a keep-alive connection the server closed as it was reused (idle past uvicorn's 5 s):
        # the app retries under the same Idempotency-Key, which never pays twice; timed throughout
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
