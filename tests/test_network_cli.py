"""`takasago network init|up|vote` and the node's `network` settings: precise errors, nothing half-written."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from node.config import ConfigError, load_node_config
from scripts.cli import app
from tests.conftest import REPO
from tests.network_support import free_port_run, result, wait_until

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "300", "TERM": "dumb"})
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


def test_init_writes_a_network_and_refuses_to_overwrite_it(tmp_path: Path) -> None:
    code, text = invoke("network", "init", "--dir", str(tmp_path / "net"), "--validators", "4", "--observers", "1")
    assert code == 0, text
    summary = json.loads((tmp_path / "net" / "network.json").read_text())
    assert [n["role"] for n in summary["nodes"]] == ["validator"] * 4 + ["observer"]
    genesis = {(tmp_path / "net" / n["name"] / "genesis.json").read_text() for n in summary["nodes"]}
    assert len(genesis) == 1  # one chain
    assert json.loads(genesis.pop())["config"]["takasago"]["validators"] == summary["validators"]
    observer = load_node_config(tmp_path / "net" / "observer-0")
    assert observer.validator_keystore is None and observer.network is not None
    assert observer.network.node_keystore == tmp_path / "net" / "observer-0" / "keys" / "observer.json"
    validator = load_node_config(tmp_path / "net" / "validator-0")
    assert validator.network is not None and len(validator.network.peers) == 3
    assert {"0x" + p.address.hex() for p in validator.network.peers} == {a.lower() for a in summary["validators"][1:]}
    assert (tmp_path / "net" / "validator-0" / "dev-keys.json").stat().st_mode & 0o777 == 0o600

    code, text = invoke("network", "init", "--dir", str(tmp_path / "net"))
    assert code == 2 and "already holds a network" in text
    code, text = invoke("network", "up", "--dir", str(tmp_path / "missing"))
    assert code == 2 and "network init" in text
    code, text = invoke("network", "init", "--dir", str(tmp_path / "x"), "--validators", "0")
    assert code == 2 and not (tmp_path / "x" / "network.json").exists()


@pytest.mark.parametrize(
    ("network", "message"),
    [
        ([], "network must be an object"),
        ({"port": 70000}, "network.port must be a port number"),
        ({"port": "30303"}, "network.port must be a port number"),
        ({"peers": {}}, "network.peers must be a list"),
        ({"peers": [{"address": "0x12", "url": "ws://127.0.0.1:1/p2p"}]}, "network.peers[0].address"),
        ({"peers": [{"address": "0x" + "ab" * 20, "url": "ftp://x"}]}, "network.peers[0].url"),
        ({"peers": [{"address": "0x" + "zz" * 20, "url": "ws://x/p2p"}]}, "not valid hex"),
        ({"observers": ["nope"]}, "network.observers[0]"),
        ({"requestTimeoutSeconds": 0}, "requestTimeoutSeconds must be between"),
        ({"requestTimeoutSeconds": True}, "requestTimeoutSeconds must be between"),
        ({"maxBlockTransactions": 0}, "maxBlockTransactions must be between"),
        ({"nodeKeystore": 5}, "network.nodeKeystore must be a path"),
    ],
)
def test_bad_network_settings_are_refused_precisely(tmp_path: Path, network: object, message: str) -> None:
    (tmp_path / "node.json").write_text(json.dumps({"validatorKeystore": None, "dev": True, "network": network}))
    with pytest.raises(ConfigError) as info:
        load_node_config(tmp_path)
    assert message in str(info.value)


def test_vote_refuses_a_bad_candidate_before_touching_the_node(tmp_path: Path) -> None:
    code, text = invoke("network", "vote", "0x1234", "--rpc-url", "http://127.0.0.1:9")
    assert code == 2 and "not a 20-byte hex address" in text
    lower = "0x" + "ab" * 20
    code, text = invoke("network", "vote", lower, "--rpc-url", "http://127.0.0.1:9")
    assert code == 2 and "checksummed" in text


def test_network_up_runs_every_node_until_told_to_stop(tmp_path: Path) -> None:
    """The demo commands as a city would type them: init, up, a moving chain on every node, Ctrl-C."""
    base = free_port_run(4)
    code, text = invoke("network", "init", "--dir", str(tmp_path / "net"), "--validators", "3", "--observers", "1",
                        "--rpc-port", str(base), "--p2p-port", str(free_port_run(4)))  # fmt: skip
    assert code == 0, text
    up = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "network", "up", "--dir", str(tmp_path / "net")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        urls = [f"http://127.0.0.1:{base + i}" for i in range(4)]

        def heads() -> list[int]:
            return [int(result(url, "eth_blockNumber"), 16) for url in urls]

        wait_until(lambda: min(heads()) >= 2, 90, "every node to follow a moving chain")
        cli = runner.invoke(app, ["network", "validators", "--rpc-url", urls[3]], env={"COLUMNS": "300"})
        assert cli.exit_code == 0, cli.output
        assert "3 validators (a block needs 2 commit seals)" in cli.output and "3 peers linked" in cli.output
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    assert "received SIGINT" in output
    for url in urls:  # every node stopped with it
        with pytest.raises(requests.ConnectionError):
            requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=2)
