"""Shared fixtures: a real node process on a free port, with a fresh dev chain."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[1]

# Rich wraps CLI output at the terminal width; long temporary paths (two test workers) must not
# break a message in two. Set before any command module creates its console.
os.environ.setdefault("COLUMNS", "400")
# Every node a test starts would spend seconds of CPU warming its PyPy execution worker's JIT
# (node/execution_worker.py): only for speed, and the suite starts hundreds of nodes on two cores.
# tests/test_execution_worker.py runs it on purpose.
os.environ.setdefault("TAKASAGO_EXECUTION_WARMUP", "0")
# And without its warm-up a PyPy worker runs the suite's many small blocks on a cold JIT, slower
# than CPython (the suite took 19.6 min against 16): nodes started by tests execute in-process
# unless a test asks for a worker; tests/test_execution_worker.py runs the worker on CPython and
# PyPy through the ledger and through a running node.
os.environ.setdefault("TAKASAGO_EXECUTION_WORKER", "off")


def free_port() -> int:
    """A free loopback port below the ephemeral range (32768+).

    Tests restart nodes on the same port; a port from the ephemeral range could meanwhile
    become the local end of some outgoing connection (tests run in two workers).
    """
    for _ in range(500):
        port = random.randrange(20_000, 32_000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def rpc(url: str, method: str, params: list[Any] | None = None, **kwargs: Any) -> Any:
    """One JSON-RPC call; returns the whole response object (result or error)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    return requests.post(url, json=body, timeout=60, **kwargs).json()


@dataclass
class NodeProcess:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    mode: str = "instant"
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] | None = None  # extra environment (e.g. a test-only fault to inject)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def dev_keys(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "dev-keys.json").read_text())

    def start(self, timeout: float = 60) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        self.log_path = self.data_dir.parent / f"node-{self.port}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", "node", "run", "--data-dir", str(self.data_dir),
             "--rpc-port", str(self.port), "--mode", self.mode, *self.extra_args],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(self.env or {})},
        )  # fmt: skip

    def wait_ready(self, timeout: float = 60) -> None:
        assert self.process is not None and self.log_path is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited with {self.process.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("node did not start in time")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        return rpc(self.url, method, params)


def init_dev_chain(data_dir: Path, *extra: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "scripts.cli", "node", "init", "--data-dir", str(data_dir), "--dev", *extra],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture(scope="session")
def dev_chain_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised dev chain, copied for each node so tests stay independent."""
    path = tmp_path_factory.mktemp("template") / "node"
    init_dev_chain(path)
    return path


@pytest.fixture()
def node_factory(tmp_path: Path, dev_chain_template: Path) -> Iterator[Any]:
    nodes: list[NodeProcess] = []

    def make(mode: str = "instant", extra_args: tuple[str, ...] = (), start: bool = True) -> NodeProcess:
        data_dir = tmp_path / f"node{len(nodes)}"
        shutil.copytree(dev_chain_template, data_dir)
        node = NodeProcess(data_dir, free_port(), mode=mode, extra_args=extra_args)
        nodes.append(node)
        if start:
            node.start()
        return node

    yield make
    for node in nodes:
        node.stop()


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A node shared by the read-mostly tests of one module."""
    base = tmp_path_factory.mktemp("shared")
    data_dir = base / "node"
    init_dev_chain(data_dir)
    node = NodeProcess(data_dir, free_port())
    node.start()
    yield node
    node.stop()


def pytest_report_header(config: pytest.Config) -> str:
    return f"takasago tests: python {sys.version.split()[0]}, node={shutil.which('node')}, CI={os.environ.get('CI')}"


@pytest.fixture(scope="module")
def points(tmp_path_factory: pytest.TempPathFactory, dev_chain_template: Path) -> Iterator[Any]:
    """A node with the point contracts deployed, shared by one test module.

    Tests on it use fresh accounts; tests that move the chain's clock use ``fresh_points``.
    """
    from tests.points import start_points_system

    base = tmp_path_factory.mktemp("points")
    shutil.copytree(dev_chain_template, base / "node")
    system = start_points_system(base / "node", free_port(), base / "deployments")
    yield system
    system.node.stop()


@pytest.fixture(scope="session")
def session_points(tmp_path_factory: pytest.TempPathFactory, dev_chain_template: Path) -> Iterator[Any]:
    """One node with the point contracts for the whole session of a test worker.

    The wallet modules that only add fresh members and never restart a server share it (and
    ``wallets``) through ``tests.wallet_support.shared_points``: a deployment and two wallet
    servers cost ~30 s, paid once per worker instead of once per module (issue 20's suite budget).
    """
    from tests.points import start_points_system

    base = tmp_path_factory.mktemp("session-points")
    shutil.copytree(dev_chain_template, base / "node")
    system = start_points_system(base / "node", free_port(), base / "deployments")
    yield system
    system.node.stop()


@pytest.fixture(scope="session")
def wallets(session_points: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``wallets("sqlite")`` / ``wallets("postgresql")``: the worker's shared wallet servers on
    ``session_points``, started on first use; their logs are checked for 500s when the session ends."""
    from tests.wallet_support import running_wallet

    running: dict[str, Any] = {}

    def get(kind: str) -> Any:
        if kind not in running:
            generator = running_wallet(session_points, tmp_path_factory.mktemp(f"shared-wallet-{kind}"), kind,
                                       TAKASAGO_WALLET_REQUESTS_PER_MINUTE_PER_IP="100000")  # fmt: skip
            running[kind] = (generator, next(generator))
        return running[kind][1]

    yield get
    for generator, _server in running.values():
        for _ in generator:  # stops the server and checks its log
            pass


@pytest.fixture()
def fresh_points(tmp_path: Path, dev_chain_template: Path) -> Iterator[Any]:
    """A node of its own with the point contracts deployed (for tests that move time)."""
    from tests.points import start_points_system

    shutil.copytree(dev_chain_template, tmp_path / "node")
    system = start_points_system(tmp_path / "node", free_port(), tmp_path / "deployments")
    yield system
    system.node.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    """Playwright's driver, for tests that run Debian's Chromium headless (never a downloaded browser)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p
