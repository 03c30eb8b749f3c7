"""Runs the oracle's ingest endpoint as operators do (``takasago oracle serve``) for the oracle tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import REPO, free_port


@contextmanager
def running_oracle(data: Path) -> Iterator[tuple[str, int]]:
    """``oracle serve`` on ``data`` and a free port, its output in ``data/oracle.log``: yields (url, port)."""
    port = free_port()
    with open(data / "oracle.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", "oracle", "serve", "--data-dir", str(data), "--port", str(port)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url, port
    finally:
        process.terminate()
        process.wait(timeout=15)
