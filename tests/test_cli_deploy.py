"""`takasago deploy` and `takasago up` as an operator runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from tests.conftest import REPO, NodeProcess, free_port
from tests.support import web3_for


def takasago(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env
    )


def test_deploy_command_is_idempotent(node_factory: Any, tmp_path: Path) -> None:
    node: NodeProcess = node_factory()
    common = [
        "--rpc-url",
        node.url,
        "--deployments",
        str(tmp_path / "dep"),
        "--dev-keys",
        str(node.data_dir / "dev-keys.json"),
    ]
    first = takasago("deploy", *common)
    assert first.returncode == 0, first.stderr
    assert "deployed RegionalPoints" in first.stderr
    document = json.loads((tmp_path / "dep" / "1337.json").read_text())
    w3 = web3_for(node.url)
    for name in ("RegionalPoints", "RewardProgrammes", "OracleReports"):
        assert w3.eth.get_code(document["contracts"][name]["address"]), name
    second = takasago("deploy", *common)
    assert second.returncode == 0 and "nothing to do" in second.stderr
    assert "would" not in takasago("deploy", *common, "--dry-run").stderr
    assert json.loads((tmp_path / "dep" / "1337.json").read_text()) == document


def test_deploy_command_reports_bad_input_clearly(node_factory: Any, tmp_path: Path) -> None:
    unreachable = takasago("deploy", "--rpc-url", f"http://127.0.0.1:{free_port()}", "--dev-keys", "x.json")
    assert unreachable.returncode == 2 and "cannot reach the node" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    node: NodeProcess = node_factory()
    no_key = takasago("deploy", "--rpc-url", node.url, "--deployments", str(tmp_path))
    assert no_key.returncode == 2 and "no signing key" in no_key.stderr
    bad_keys = tmp_path / "keys.json"
    bad_keys.write_text("{}")
    wrong = takasago("deploy", "--rpc-url", node.url, "--deployments", str(tmp_path), "--dev-keys", str(bad_keys))
    assert wrong.returncode == 2 and "no 'admin' key" in wrong.stderr
    keystore = node.data_dir / "keys" / "admin.json"
    env = {"TAKASAGO_KEYSTORE_PASSWORD": "not the passphrase", "PATH": "/usr/bin:/bin"}
    locked = takasago(
        "deploy", "--rpc-url", node.url, "--deployments", str(tmp_path), "--keystore", str(keystore), env=env
    )
    assert locked.returncode == 2 and "wrong passphrase" in locked.stderr
    garbage = tmp_path / "1337.json"
    garbage.write_text("{not json")
    broken = takasago(
        "deploy",
        "--rpc-url",
        node.url,
        "--deployments",
        str(tmp_path),
        "--dev-keys",
        str(node.data_dir / "dev-keys.json"),
    )
    assert broken.returncode == 2 and "not valid JSON" in broken.stderr and "Traceback" not in broken.stderr


def _start_up(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "up", "--data-dir", str(data_dir), "--rpc-port", str(port),
         "--wallet-port", str(free_port()), "--explorer-port", str(free_port()), "--oracle-port", str(free_port()),
         "--watch-port", str(free_port()), "--analytics-port", str(free_port())],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "running; Ctrl-C" in line:
            return process, lines
    process.kill()
    raise AssertionError("takasago up did not come up:\n" + "\n".join(lines))


def child_environments(parent: int) -> dict[str, dict[str, str]]:
    """The environment of each ``takasago <service> serve`` child of ``parent``, by service name."""
    found: dict[str, dict[str, str]] = {}
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != parent:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            raw = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
        if b"serve" in argv:
            name = argv[argv.index(b"serve") - 1].decode()
            found[name] = dict(item.decode().partition("=")[::2] for item in raw if b"=" in item)
    return found


def assert_services_hold_the_node_token(data_dir: Path, up_pid: int) -> str:
    """`up` made the node's service token (0600, in node.json) and gave it to each service (finding 7)."""
    node_dir = data_dir / "node"
    assert json.loads((node_dir / "node.json").read_text())["rpc"]["serviceTokenFile"] == "service-token"
    token = node_dir / "service-token"
    assert token.stat().st_mode & 0o777 == 0o600
    environments = child_environments(up_pid)
    assert set(environments) >= {"wallet", "indexer", "oracle"}, environments.keys()
    for name in ("wallet", "indexer", "oracle"):
        assert environments[name].get("TAKASAGO_NODE_SERVICE_TOKEN_FILE") == str(token.resolve()), name
    return token.read_text()


def test_up_deploys_on_first_start_and_only_checks_afterwards(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "system", free_port()
    process, lines = _start_up(data_dir, port)
    try:
        assert any(line.startswith("deploy: deployed RegionalPoints") for line in lines), lines
        document = json.loads((data_dir / "deployments" / "1337.json").read_text())
        w3 = web3_for(f"http://127.0.0.1:{port}")
        assert w3.eth.get_code(document["contracts"]["RegionalPoints"]["address"])
        wallet_line = next(line for line in lines if line.startswith("wallet "))
        wallet_url = wallet_line.split()[1]
        assert requests.get(wallet_url + "/health", timeout=5).json()["status"] == "ok"
        assert (data_dir / "wallet" / "wallet.db").exists()
        watch_url = next(line for line in lines if line.startswith("watch ")).split()[1]
        assert requests.get(watch_url + "/health", timeout=5).json()["status"] == "ok"  # every service is up
        assert (data_dir / "watch" / "kek").stat().st_mode & 0o777 == 0o600
        assert (data_dir / "watch" / "service-token").stat().st_mode & 0o777 == 0o600
        assert (data_dir / "wallet" / "kek").stat().st_mode & 0o077 == 0
        explorer_url = next(line for line in lines if line.startswith("explorer ")).split()[1]
        assert requests.get(explorer_url + "/health", timeout=5).json()["status"] == "ok"
        oracle_url = next(line for line in lines if line.startswith("oracle ")).split()[1]
        assert requests.get(oracle_url + "/health", timeout=5).json()["status"] == "ok"
        token = assert_services_hold_the_node_token(data_dir, process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    process, lines = _start_up(data_dir, port)
    try:
        assert not any(line.startswith("deploy:") for line in lines), lines
        assert assert_services_hold_the_node_token(data_dir, process.pid) == token  # kept across restarts
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
