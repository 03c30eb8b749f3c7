"""The wallet API as a real server process on a real node, and a small HTTP client for tests."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import keccak

from scripts.registry_names import ROLE_NAMES, SERVICE_ROLES
from tests.conftest import REPO, free_port
from tests.points import CITY, REGISTRAR_ROLE, PointsSystem

PG_ADMIN_URL = os.environ.get("TAKASAGO_TEST_PG_URL", "postgresql://takasago:takasago@127.0.0.1:5432/postgres")
OFFICER_PASSWORD = "officer-password-123"
PASSWORD = "resident-password-123"


def postgres_database() -> str:
    """A fresh, empty PostgreSQL database for one test module (CI starts PostgreSQL 15)."""
    import psycopg

    name = "takasago_test_" + secrets.token_hex(4)
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def database_url(kind: str, directory: Path) -> str:
    return f"sqlite:///{directory / 'wallet.db'}" if kind == "sqlite" else postgres_database()


@dataclass
class WalletServer:
    points: PointsSystem
    data_dir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    service_address: str = ""
    # the officer session ``approve`` reuses (an argon2 log-in costs ~0.2 s of CPU per member otherwise)
    approver: Api | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rpc_url(self) -> str:
        return self.points.node.url

    def _args(self) -> list[str]:
        return [
            "--data-dir",
            str(self.data_dir),
            "--database-url",
            self.database_url,
            "--rpc-url",
            self.rpc_url,
            "--deployments-dir",
            str(self.points.deployments_dir),
        ]

    def _env(self) -> dict[str, str]:
        # test servers hash at a test cost (wallet_api/crypto/passwords.py): a module checking
        # argon2's own cost passes TAKASAGO_WALLET_INSECURE_TEST_HASHING="0"
        return {
            **os.environ,
            "TAKASAGO_OFFICER_PASSWORD": OFFICER_PASSWORD,
            "TAKASAGO_WALLET_INSECURE_TEST_HASHING": "1",
            **self.env,
        }

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "scripts.cli", "wallet", *args],
            cwd=REPO,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"wallet {args[0]} failed ({result.returncode}): {result.stderr}")
        return result

    def init(self, authorise_with_cli: bool = True) -> None:
        """Database, secrets, service key (granted its roles by the city admin), one officer.

        ``authorise_with_cli=False`` registers the new service key and grants its roles with the
        test's own admin transactions, as ``takasago account authorise-service`` (and
        ``takasago up``'s supervisor) do for a fresh key — the command has its own test
        (test_cli_recovery): ~0.7 s of CPU and a child process less per ``running_wallet``.
        """
        self.service_address = self.cli("init", *self._args()).stdout.strip().splitlines()[-1]
        # the city admin lets the service act for the city (registers it, grants its roles)
        if authorise_with_cli:
            subprocess.run(
                [sys.executable, "-m", "scripts.cli", "account", "authorise-service", self.service_address,
                 "--rpc-url", self.rpc_url, "--deployments", str(self.points.deployments_dir),
                 "--dev-keys", str(self.points.node.data_dir / "dev-keys.json"),
                 "--audit-log", str(self.data_dir / "audit.log")],
                cwd=REPO, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        else:
            points, service = self.points, self.service_address
            points.send(
                points.admin, points.registry.functions.register(service, CITY, keccak(text="takasago-city-service"))
            )
            for role in SERVICE_ROLES:
                points.grant(ROLE_NAMES[role], service)
        for role in SERVICE_ROLES:  # never REGISTRAR (issue 15, finding 15)
            assert self.points.registry.functions.hasRole(ROLE_NAMES[role], self.service_address).call()
        assert not self.points.registry.functions.hasRole(REGISTRAR_ROLE, self.service_address).call()
        self.cli(
            "add-officer",
            "officer1",
            "--name",
            "Officer One",
            "--data-dir",
            str(self.data_dir),
            "--database-url",
            self.database_url,
        )

    def start(self) -> None:
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", "wallet", "serve", *self._args(), "--port", str(self.port)],
            cwd=REPO,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"wallet API exited: {(self.data_dir / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("wallet API did not start")

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return (self.data_dir / "server.log").read_text(errors="replace")


def running_wallet(points: PointsSystem, directory: Path, database: str, **env: str) -> Iterator[WalletServer]:
    """A started wallet server on ``database`` ("sqlite" or "postgresql"); stops it and checks its log after."""
    server = WalletServer(points, directory, database_url(database, directory), env=dict(env))
    server.init(authorise_with_cli=False)
    server.start()
    yield server
    server.stop()
    assert "unexpected" not in server.log(), "the API hit an unexpected error (a 500); see server.log"


class Api:
    """One app user: logs in and calls the API with a bearer token."""

    def __init__(self, server: WalletServer, login: str | None = None, password: str = PASSWORD) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.url, timeout=30)
        self.login_id = login
        self.password = password
        self.token: str | None = None
        self.refresh_token: str | None = None
        self.info: dict[str, Any] = {}

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if key is not None:
            headers["Idempotency-Key"] = key
        return {**headers, **extra}

    def login(self) -> httpx.Response:
        response = self.client.post("/v1/auth/login", json={"login": self.login_id, "password": self.password})
        if response.status_code == 200:
            self.token = response.json()["access_token"]
            self.refresh_token = response.json()["refresh_token"]
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers(), **kwargs)

    def post(self, path: str, body: Any = None, key: str | None = "auto", **kwargs: Any) -> httpx.Response:
        idem = str(uuid.uuid4()) if key == "auto" else key
        return self.client.post(path, json=body, headers=self.headers(idem), **kwargs)

    def me(self) -> dict[str, Any]:
        response = self.get("/v1/me")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def balance(self) -> int:
        response = self.get("/v1/me/balance")
        assert response.status_code == 200, response.text
        return int(response.json()["balance"])


def signup(server: WalletServer, role: str = "resident", name: str = "高砂 太郎", shop: str | None = None) -> Api:
    login = f"{role}-{secrets.token_hex(4)}"
    body = {
        "login": login,
        "password": PASSWORD,
        "role": role,
        "full_name": name,
        "postal_address": "兵庫県高砂市荒井町千鳥1-1-1",
        "date_of_birth": "1980-04-01",
        "display_name": shop,
    }
    response = httpx.post(server.url + "/v1/auth/signup", json=body, timeout=30)
    assert response.status_code == 201, response.text
    api = Api(server, login)
    api.info = response.json()
    assert api.login().status_code == 200
    return api


def officer(server: WalletServer) -> Api:
    api = Api(server, "officer1", OFFICER_PASSWORD)
    assert api.login().status_code == 200
    return api


def coordinator(server: WalletServer, login: str = "coordinator1") -> Api:
    """A help-matching coordinator (社協), created with ``takasago wallet add-coordinator`` on first use."""
    if server.data_dir.joinpath(f".{login}").exists() is False:
        server.cli("add-coordinator", login, "--name", "高砂市社協 山田", "--data-dir", str(server.data_dir),
                   "--database-url", server.database_url)  # fmt: skip
        server.data_dir.joinpath(f".{login}").touch()
    api = Api(server, login, OFFICER_PASSWORD)
    assert api.login().status_code == 200
    api.info.update(api.me())
    return api


def approve(server: WalletServer, user: Api) -> None:
    """officer1 approves ``user``, in one officer session kept per server (logged in again once it is refused)."""
    path, key = f"/v1/officer/accounts/{user.info['id']}/approve", f"approve-{user.info['id']}"
    response = None
    if server.approver is not None:
        try:
            response = server.approver.post(path, key=key)
        except httpx.TransportError:  # a connection to a server since restarted
            response = None
    if response is None or response.status_code == 401:  # no session yet, or it expired or was revoked
        server.approver = officer(server)
        response = server.approver.post(path, key=key)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active", response.text


def member(server: WalletServer, role: str = "resident", points: int = 0, shop: str | None = None) -> Api:
    """A verified resident (with ``points`` minted) or merchant."""
    api = signup(server, role, shop=shop)
    approve(server, api)
    api.info.update(api.me())
    if points:
        server.points.mint(api.info["address"], points)
    return api


def business_application(**changes: Any) -> dict[str, Any]:
    """A business's application from the till site (法人): valid unless ``changes`` break it."""
    body = {
        "login": f"firm-{secrets.token_hex(4)}",
        "password": PASSWORD,
        "name": "テスト商事",
        "category": "運輸",
        "representative": "高砂 一郎",
        "postal_address": "兵庫県高砂市高砂町浜田町1-1",
        "corporate_number": "7-000012-050002",
    }
    return {**body, **changes}


def apply_business(server: WalletServer, name: str) -> Api:
    """A business that applied and signed in; waiting for the city."""
    body = business_application(name=name)
    sent = httpx.post(server.url + "/v1/business/applications", json=body, timeout=30)
    assert sent.status_code == 201, sent.text
    api = Api(server, body["login"])
    api.info = sent.json()
    assert api.login().status_code == 200
    api.info.update(api.me())
    return api


def approved_business(server: WalletServer, name: str) -> Api:
    """A business the officer desk approved: registered on-chain as kind Business."""
    firm = apply_business(server, name)
    desk = officer(server)
    sent = desk.post(f"/v1/officer/business-accounts/{firm.info['id']}/approve", {"reason": "登記簿を確認"})
    assert sent.status_code in (200, 202), sent.text
    assert settled(desk, sent)["status"] == "confirmed"
    firm.info.update(firm.me())
    return firm


def error_code(response: httpx.Response) -> str:
    """The stable error code of a refusal."""
    return str(response.json()["error"]["code"])


def settled(api: Api, response: httpx.Response) -> dict[str, Any]:
    """Waits for the operation an accepted request started to settle; its final view."""
    op = dict(response.json()["operation"])
    for _ in range(60):
        if op.get("status") in ("confirmed", "failed"):
            return op
        op = dict(api.get(f"/v1/operations/{op['id']}", params={"wait": 2}).json())
    return op


@pytest.fixture(name="points", scope="module")
def shared_points(session_points: PointsSystem) -> PointsSystem:
    """Import into a test module (with ``shared_wallet`` or ``shared_sqlite_wallet``) to run it on the
    worker's shared chain and wallet servers rather than its own: only for modules whose tests use
    fresh members, leave global settings alone and never stop, restart or reconfigure the server."""
    return session_points


@pytest.fixture(name="wallet", scope="module", params=["sqlite", "postgresql"])
def shared_wallet(request: pytest.FixtureRequest, wallets: Any) -> WalletServer:
    """The worker's shared wallet server on each database (see ``shared_points``)."""
    server: WalletServer = wallets(request.param)
    return server


@pytest.fixture(name="wallet", scope="module")
def shared_sqlite_wallet(wallets: Any) -> WalletServer:
    """The worker's shared wallet server on SQLite (see ``shared_points``), for browser tests."""
    server: WalletServer = wallets("sqlite")
    return server
