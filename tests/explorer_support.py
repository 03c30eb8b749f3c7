"""The indexer + explorer as a real server process on a real node, for tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REPO, free_port
from tests.points import PointsSystem


@dataclass
class ExplorerServer:
    points: PointsSystem
    data_dir: Path
    database_url: str
    labels: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        return [
            "--data-dir", str(self.data_dir), "--database-url", self.database_url,
            "--rpc-url", self.points.node.url, "--deployments-dir", str(self.points.deployments_dir),
        ]  # fmt: skip

    def start(self) -> None:
        labels = self.data_dir / "labels.json"
        labels.write_text(json.dumps(self.labels, ensure_ascii=False), encoding="utf-8")
        log = open(self.data_dir / "explorer.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", "indexer", "serve", *self.args(), "--labels-file", str(labels),
             "--port", str(self.port)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"explorer exited: {self.log()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("explorer did not start")

    def caught_up(self, timeout: float = 30) -> int:
        """Waits until the index reaches the node's head; returns that height."""
        target = self.points.w3.eth.block_number
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            indexed = httpx.get(self.url + "/health", timeout=5).json()["indexed_block"]
            if indexed is not None and indexed >= target:
                return int(indexed)
            time.sleep(0.1)
        raise AssertionError(f"the index did not reach block {target}: {self.log()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def log(self) -> str:
        return (self.data_dir / "explorer.log").read_text(errors="replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scripts.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=300
        )


def running_explorer(
    points: PointsSystem, directory: Path, database_url: str, labels: dict[str, str]
) -> Iterator[ExplorerServer]:
    server = ExplorerServer(points, directory, database_url, labels)
    server.start()
    yield server
    server.stop()
    assert "unexpected" not in server.log(), "the explorer hit an unexpected error; see explorer.log"


def get(server: ExplorerServer, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(server.url + path, timeout=30, **kwargs)
