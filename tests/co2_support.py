"""My CO2's test helpers: the token the wallet and the oracle share, the oracle served with it, a month
settled by ``takasago oracle settle`` from the wallet's approved households on the real node."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from oracle.generator import Household as Home
from oracle.generator import write_jsonl
from tests.conftest import REPO, free_port
from tests.points import CAP_MONTH, ORACLE, ORACLE_ROLE, QUORUM_REPORTER_ROLE, PointsSystem


def service_token(directory: Path) -> Path:
    """The token the two services share: a 0600 file, as ``takasago up`` makes it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "oracle-service-token"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return path


@contextmanager
def running_oracle(data: Path, token: Path) -> Iterator[str]:
    """``takasago oracle serve`` with the service token; yields its URL."""
    port = free_port()
    env = {**os.environ, "TAKASAGO_ORACLE_SERVICE_TOKEN_FILE": str(token)}
    with open(data / "oracle.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", "oracle", "serve", "--data-dir", str(data), "--port", str(port)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


class Settler:
    """The city's CO2 programme (10 points per kg) and two oracle operators, settling months from the wallet."""

    def __init__(self, points: PointsSystem, data: Path, token: Path, wallet_url: str) -> None:
        self.points, self.data, self.token, self.wallet_url = points, data, token, wallet_url
        self.keys: list[str] = []
        for i in range(2):
            operator = points.new_account()
            points.register(ORACLE, operator)
            points.grant(ORACLE_ROLE, operator)
            path = data / f"operator-{i}.key"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, ("0x" + bytes(operator.key).hex()).encode())
            os.close(fd)
            self.keys += ["--operator-key", str(path)]
        self.programme = points.create_programme(
            name="CO2 reduction", verifierRole=QUORUM_REPORTER_ROLE, rewardPoints=10, rewardUnits=1000,
            capPerPeriod=100_000, capPeriod=CAP_MONTH, budget=10**9,
        )  # fmt: skip

    def settle(
        self, month: str, homes: list[Home], history: dict[str, Any] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``takasago oracle settle`` for ``month`` from these homes' readings and the wallet's approved list."""
        readings = write_jsonl(homes, self.data / f"readings-{month}.jsonl")
        args = [
            "settle", "--programme", str(self.programme), "--month", month, "--readings", str(readings),
            "--wallet-url", self.wallet_url, "--service-token-file", str(self.token),
            "--rpc-url", self.points.node.url, "--deployments-dir", str(self.points.deployments_dir),
            "--data-dir", str(self.data), *self.keys,
        ]  # fmt: skip
        if history is not None:
            path = self.data / f"history-{month}.json"
            path.write_text(json.dumps(history), encoding="utf-8")
            args += ["--history", str(path)]
        return subprocess.run(
            [sys.executable, "-m", "scripts.cli", "oracle", *args], cwd=REPO, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
