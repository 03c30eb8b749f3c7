"""The watch-over service as the tests start it: ``takasago watch serve`` on a free port, with a service token."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import REPO, free_port
from watch.store import WatchStore


@contextmanager
def watch_service(data: Path, token: str) -> Iterator[str]:
    """Runs the service with its data in ``data/w`` and ``token`` in ``data/service-token``; yields its URL."""
    token_file = data / "service-token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    port = free_port()
    log = open(data / "serve.log", "wb")  # noqa: SIM115 - closed below
    argv = [sys.executable, "-m", "scripts.cli", "watch", "serve", "--data-dir", str(data / "w"), "--port", str(port)]
    env = {**os.environ, "TAKASAGO_WATCH_SERVICE_TOKEN_FILE": str(token_file)}
    process = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, (data / "serve.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def takasago(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scripts.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def open_store(kind: str, tmp_path: Path) -> WatchStore:
    """A watch store on SQLite (in ``tmp_path``) or on a fresh PostgreSQL database, its KEK in ``tmp_path``."""
    from watch.batches import Limits
    from watch.sealing import Sealer

    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'watch.db'}"
    else:
        from tests.wallet_support import database_url

        url = database_url("postgresql", tmp_path)
    return WatchStore(url, Sealer.from_file(tmp_path / "kek", create=True), Limits(), retention_days=30)
