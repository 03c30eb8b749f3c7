"""``takasago up``: run the whole system's processes on embedded defaults.

Today: the single-validator dev node, then the contract deployment (idempotent,
so every start checks it and the first start performs it). Each later service
(indexer, wallet API, oracle) is another child process started here, by
:func:`cli_command` in an explicit working directory, so nothing in that directory
can shadow the project's packages. Children are stopped with SIGTERM (then SIGKILL)
when ``up`` is interrupted, and ``up`` exits if one of them dies.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import requests

CITY_KIND = 3  # AccountRegistry.Kind.City: the wallet service acts for the city
# The project root holding the packages this process runs (``scripts``, ``node``, …).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cli_command(*args: str) -> list[str]:
    """The command line that runs ``takasago ARGS`` as a child, whatever its working directory.

    ``python -m scripts.cli`` would put the working directory first on ``sys.path``, so a
    ``scripts/`` or ``node/`` directory there (a data directory, a checkout) would shadow
    the real packages. ``-P`` (Python 3.11) does not prepend it; the packages come from
    :data:`PROJECT_ROOT` (see :func:`child_environment`), i.e. the same code as this process.
    """
    return [sys.executable, "-P", "-m", "scripts.cli", *args]


def child_environment() -> dict[str, str]:
    """This process's environment with :data:`PROJECT_ROOT` first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class StartupError(Exception):
    """A child process did not come up; the message includes its last log lines."""


SERVICE_TOKEN_NAME = "service-token"  # in the node's data directory, mode 0600


def ensure_service_token(node_dir: Path) -> Path:
    """The node's service token file, created on first start and named in its node.json.

    The node gives requests carrying this secret (``X-Takasago-Service-Token``) an execution
    lane of their own (issue 15, finding 7); the wallet, indexer and oracle started here send
    it (``ledger_client.node_access``), so anonymous clients on the host cannot starve them.
    Idempotent: an existing token is kept (services restarted alone still hold it), and
    ``rpc.serviceTokenFile`` is merged into node.json without touching any other setting.
    """
    config_path = node_dir / "node.json"
    document = json.loads(config_path.read_text(encoding="utf-8"))
    rpc = document.setdefault("rpc", {})
    if not isinstance(rpc, dict):
        raise ValueError(f"{config_path}: rpc must be an object")
    name = rpc.get("serviceTokenFile") or SERVICE_TOKEN_NAME  # an operator's own choice is kept
    token_file = secret_file(node_dir / name)
    if rpc.get("serviceTokenFile") != name:
        rpc["serviceTokenFile"] = name
        temporary = config_path.with_name("node.json.tmp")
        temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        shutil.copymode(config_path, temporary)
        os.replace(temporary, config_path)
    return token_file


@dataclass
class Supervisor:
    """Starts ``takasago`` children (:func:`cli_command`) in ``cwd``, logging to ``log_dir``."""

    log_dir: Path
    cwd: Path = field(default_factory=Path.cwd)
    # added to every child's environment (TAKASAGO_NODE_SERVICE_TOKEN_FILE: see ensure_service_token)
    env: dict[str, str] = field(default_factory=dict)
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stopping: list[str] = field(default_factory=list)

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child's lifetime
        child = subprocess.Popen(
            cli_command(*args), stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd, env=self.environment()
        )
        self.children[name] = child
        return child

    def environment(self) -> dict[str, str]:
        return {**child_environment(), **self.env}

    def tail(self, name: str, lines: int = 20) -> str:
        try:
            return "\n".join((self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_http(self, name: str, url: str, timeout: float = 60) -> None:
        child = self.children[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise StartupError(f"{name} exited with code {child.returncode}:\n{self.tail(name)}")
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise StartupError(f"{name} did not answer at {url} within {timeout:.0f} s:\n{self.tail(name)}")

    def stop(self) -> None:
        for child in reversed(list(self.children.values())):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name, child in reversed(list(self.children.items())):
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in 30 s; killing it", file=sys.stderr)
                child.kill()
                child.wait()

    def catch_signals(self) -> None:
        """From now on SIGINT/SIGTERM only ask ``wait_any`` to stop (children are then stopped cleanly).

        Called before the first child starts, so a signal at any moment of start-up is not
        lost and never kills ``up`` while its children keep running.
        """

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            self.stopping.append(signal.Signals(signum).name)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    def run_until_stopped(self, say: Callable[[str], Any]) -> bool:
        """Supervise until Ctrl-C/SIGTERM or a child dies, then stop every child; True if asked to stop."""
        reason = self.wait_any()
        say(f"stopping: {reason}")
        self.stop()
        return reason.startswith("received")

    def wait_any(self) -> str:
        """Blocks until SIGINT/SIGTERM or a child exits; returns why."""
        while not self.stopping:
            for name, child in self.children.items():
                if child.poll() is not None:
                    return f"{name} exited with code {child.returncode}"
            time.sleep(0.2)
        return f"received {self.stopping[0]}"


def start_wallet(supervisor: Supervisor, w3: Any, admin: Any, data_dir: Path, rpc_url: str, port: int) -> str:
    """Initialises the wallet service, grants its key the roles it needs (and no more), and starts the API."""
    from eth_utils import keccak

    from ledger_client.deployment import load_deployment
    from scripts.registry_names import ROLE_NAMES, SERVICE_ROLES

    wallet_dir = data_dir / "wallet"
    common = ["--data-dir", str(wallet_dir), "--rpc-url", rpc_url, "--deployments-dir", str(data_dir / "deployments")]
    init = subprocess.run(
        cli_command("wallet", "init", *common),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=supervisor.cwd,
        env=supervisor.environment(),
    )
    if init.returncode != 0:
        raise StartupError(f"wallet init failed: {init.stderr.strip()[-2000:]}")
    address = init.stdout.strip().splitlines()[-1]
    registry = load_deployment(w3, data_dir / "deployments").contract(w3, "AccountRegistry")
    if not registry.functions.isAllowed(address).call():  # the node admits only registered senders
        admin.call_function(registry.functions.register(address, CITY_KIND, keccak(text="takasago-wallet-service")))
    # the online key may only enrol verified people and attest approved claims; REGISTRAR
    # (recovery, status changes) stays with officers' own keys (issue 15, finding 15)
    for role in SERVICE_ROLES:
        role_id = ROLE_NAMES[role]
        if not registry.functions.hasRole(role_id, address).call():
            admin.call_function(registry.functions.grantRole(role_id, address))
    registrar = ROLE_NAMES["registrar"]
    if registry.functions.hasRole(registrar, address).call():  # granted by an older `takasago up`
        admin.call_function(registry.functions.revokeRole(registrar, address))
    supervisor.start("wallet", ["wallet", "serve", *common, "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    supervisor.wait_http("wallet", url + "/health")
    return url


def start_indexer(supervisor: Supervisor, data_dir: Path, rpc_url: str, port: int) -> str:
    """Starts the indexer (backfill from genesis, then the tail) with the explorer on ``port``."""
    labels = data_dir / "labels.json"
    args = [
        "indexer", "serve", "--data-dir", str(data_dir / "indexer"), "--rpc-url", rpc_url,
        "--deployments-dir", str(data_dir / "deployments"), "--port", str(port),
    ]  # fmt: skip
    if labels.exists():
        args += ["--labels-file", str(labels)]
    supervisor.start("indexer", args)
    url = f"http://127.0.0.1:{port}"
    supervisor.wait_http("indexer", url + "/health")
    return url


def secret_file(path: Path, nbytes: int = 32) -> Path:
    """A random secret in ``path`` (0600, its folder made), written on first start and kept after.

    ``O_EXCL`` so two starts racing never overwrite each other's secret; returns the absolute path
    that the services sharing it are given.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(nbytes) + "\n")
    return path.resolve()


def start_watch(supervisor: Supervisor, data_dir: Path, port: int) -> str:
    """Starts the watch-over service (detectors' signed batches; data and KEK under DATA_DIR/watch).

    Its families' and volunteers' API answers only callers holding DATA_DIR/watch/service-token
    (0600, made on first start): the wallet, forwarding residents it authenticated. Its coverage statistics
    answer only DATA_DIR/watch/stats-token (0600, read-only, opens nothing else): the data platform's.
    """
    watch_dir = data_dir / "watch"
    token_file = secret_file(watch_dir / "service-token")
    stats_token = secret_file(watch_dir / "stats-token")
    supervisor.env["TAKASAGO_WATCH_STATS_TOKEN_FILE"] = str(stats_token)
    supervisor.env["TAKASAGO_ANALYTICS_WATCH_STATS_TOKEN_FILE"] = str(stats_token)
    supervisor.env["TAKASAGO_ANALYTICS_WATCH_URL"] = f"http://127.0.0.1:{port}"
    supervisor.env["TAKASAGO_WATCH_SERVICE_TOKEN_FILE"] = str(token_file)
    supervisor.env["TAKASAGO_WALLET_WATCH_TOKEN_FILE"] = str(token_file)  # the wallet forwards residents
    supervisor.env["TAKASAGO_WALLET_WATCH_URL"] = f"http://127.0.0.1:{port}"
    supervisor.start("watch", ["watch", "serve", "--data-dir", str(watch_dir), "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    supervisor.wait_http("watch", url + "/health")
    return url


def share_oracle_token(supervisor: Supervisor, data_dir: Path, port: int) -> None:
    """The token the wallet and the oracle share (issue 21, My CO2): DATA_DIR/oracle/service-token (0600,
    made on first start). The oracle reads its approved households from the wallet with it, and the wallet
    a household's months from the oracle; the oracle finds it in its data directory."""
    token_file = secret_file(data_dir / "oracle" / "service-token")
    supervisor.env["TAKASAGO_WALLET_ORACLE_TOKEN_FILE"] = str(token_file)
    supervisor.env["TAKASAGO_WALLET_ORACLE_URL"] = f"http://127.0.0.1:{port}"


def start_oracle(supervisor: Supervisor, data_dir: Path, port: int) -> str:
    """Starts the oracle's ingest endpoint (gateways registered in DATA_DIR/oracle/gateways.json)."""
    supervisor.start("oracle", ["oracle", "serve", "--data-dir", str(data_dir / "oracle"), "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    supervisor.wait_http("oracle", url + "/health")
    return url


def ensure_research_secret(supervisor: Supervisor, data_dir: Path, wallet_port: int) -> Path:
    """The secret the wallet's research feed and the data platform share (DATA_DIR/analytics/research-secret, 0600).

    Both derive the feed's token and the pseudonym key from it (issue 22); made on first start, kept after.
    """
    secret = secret_file(data_dir / "analytics" / "research-secret")
    supervisor.env["TAKASAGO_WALLET_RESEARCH_SECRET_FILE"] = str(secret)
    supervisor.env["TAKASAGO_ANALYTICS_RESEARCH_SECRET_FILE"] = str(secret)
    supervisor.env["TAKASAGO_ANALYTICS_WALLET_URL"] = f"http://127.0.0.1:{wallet_port}"
    return secret


def start_analytics(supervisor: Supervisor, data_dir: Path, port: int, oracle_url: str) -> str:
    """Starts the data platform on ``port``: it reads the indexer's SQLite read-only and pulls the wallet's feed.

    The officers' district view answers DATA_DIR/analytics/officer-token (0600, made on first start).
    """
    analytics_dir = data_dir / "analytics"
    token = secret_file(analytics_dir / "officer-token", nbytes=24)
    indexer_db = (data_dir / "indexer" / "indexer.db").resolve()
    supervisor.env["TAKASAGO_ANALYTICS_INDEXER_DATABASE_URL"] = f"sqlite:///{indexer_db}"
    supervisor.env["TAKASAGO_ANALYTICS_ORACLE_URL"] = oracle_url
    supervisor.env["TAKASAGO_ANALYTICS_OFFICER_TOKEN_FILE"] = str(token)
    supervisor.start("analytics", ["analytics", "serve", "--data-dir", str(analytics_dir), "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    supervisor.wait_http("analytics", url + "/health")
    return url
