"""anvil as the reference EVM: where its binary is, and a throw-away instance for one run.

The differential test, the conformance test and ``bench.gas --breakdown`` compare our node
with anvil started the same way: Prague, chain 1337, zero base fee and gas price, automine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import requests

from bench.harness.ports import free_port
from bench.harness.report import REPO

CHAIN_ID = 1337


def find_anvil() -> str | None:
    """Path of an anvil binary (``$ANVIL_BIN``, node_modules, then PATH), or None."""
    candidates = [
        os.environ.get("ANVIL_BIN", ""),
        str(REPO / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"),
        str(REPO / "node_modules" / ".bin" / "anvil"),
        shutil.which("anvil") or "",
    ]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _answers(url: str) -> bool:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    try:
        return "result" in requests.post(url, json=body, timeout=1).json()
    except (requests.RequestException, ValueError):
        return False


@contextlib.contextmanager
def anvil_process(
    port: int | None = None, binary: str | None = None, timeout: float = 30, extra_args: tuple[str, ...] = ()
) -> Iterator[str]:
    """Runs anvil (Prague, chain 1337, zero base fee/gas price, automine); yields its URL."""
    binary = binary or find_anvil()
    if binary is None:
        raise FileNotFoundError("anvil binary not found (npm i @foundry-rs/anvil-linux-amd64 or put anvil on PATH)")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        binary,
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--base-fee",
        "0",
        "--gas-price",
        "0",
        "--chain-id",
        str(CHAIN_ID),
        "--hardfork",
        "prague",
        "--silent",
        *extra_args,
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(url):
            if proc.poll() is not None:
                stderr = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"anvil exited with {proc.returncode}: {stderr[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("anvil did not start in time")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
