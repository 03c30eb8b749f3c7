"""Block production modes, WebSocket subscriptions, RPC auth, restart and the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import websockets

from tests.conftest import REPO, NodeProcess, free_port
from tests.support import call_fn, deploy, web3_for


def test_interval_mode_seals_blocks_on_its_period(node_factory: Any) -> None:
    node: NodeProcess = node_factory(mode="interval", extra_args=("--block-period", "0.3"))
    first = int(node.call("eth_blockNumber")["result"], 16)
    time.sleep(1.6)
    later = int(node.call("eth_blockNumber")["result"], 16)
    assert later - first >= 3  # empty blocks too, on the period
    block = node.call("eth_getBlockByNumber", [hex(later), False])["result"]
    assert block["miner"] == node.dev_keys["validator"]["address"]
    assert block["transactions"] == []


def test_instant_mode_seals_only_when_transactions_wait(node_factory: Any) -> None:
    node: NodeProcess = node_factory()
    time.sleep(0.5)
    assert node.call("eth_blockNumber")["result"] == "0x0"
    w3 = web3_for(node.url)
    deploy(w3, node.dev_keys["admin"]["privateKey"], "Probe")
    assert node.call("eth_blockNumber")["result"] == "0x1"
    stats = node.call("takasago_nodeInfo")["result"]["stats"]
    assert stats["blocks_produced"] == 1 and stats["transactions_included"] == 1


def test_websocket_subscriptions(node_factory: Any) -> None:
    node: NodeProcess = node_factory()
    w3 = web3_for(node.url)
    admin = node.dev_keys["admin"]["privateKey"]
    probe = deploy(w3, admin, "Probe")

    async def scenario() -> dict[str, Any]:
        async with websockets.connect(node.ws_url) as ws:

            async def request(method: str, params: list[Any]) -> Any:
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": method, "method": method, "params": params}))
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if message.get("id") == method:
                        return message

            heads = (await request("eth_subscribe", ["newHeads"]))["result"]
            logs = (await request("eth_subscribe", ["logs", {"address": probe.address}]))["result"]
            other = (await request("eth_subscribe", ["logs", {"address": "0x" + "11" * 20}]))["result"]
            bad = await request("eth_subscribe", ["nonsense"])
            chain_id = await request("eth_chainId", [])
            await asyncio.get_running_loop().run_in_executor(None, lambda: call_fn(w3, admin, probe.functions.set(7)))
            received: dict[str, list[Any]] = {heads: [], logs: [], other: []}
            deadline = time.monotonic() + 10
            while (not received[heads] or not received[logs]) and time.monotonic() < deadline:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if message.get("method") == "eth_subscription":
                    received[message["params"]["subscription"]].append(message["params"]["result"])
            unsubscribed = await request("eth_unsubscribe", [logs])
            return {"heads": received[heads], "logs": received[logs], "other": received[other], "bad": bad,
                    "chain_id": chain_id, "unsubscribed": unsubscribed}  # fmt: skip

    outcome = asyncio.run(scenario())
    assert outcome["chain_id"]["result"] == "0x539"
    assert outcome["bad"]["error"]["code"] == -32602
    assert outcome["heads"][0]["number"] == "0x2" and outcome["heads"][0]["baseFeePerGas"] == "0x0"
    assert len(outcome["logs"]) == 1 and int(outcome["logs"][0]["data"], 16) == 7
    assert outcome["other"] == []
    assert outcome["unsubscribed"]["result"] is True
    # subscriptions need a WebSocket
    assert node.call("eth_subscribe", ["newHeads"])["error"]["code"] == -32601


def test_bearer_token_guards_rpc(node_factory: Any, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token-for-remote-rpc\n")
    node: NodeProcess = node_factory(start=False, extra_args=("--rpc-token-file", str(token_file)))
    node.start()
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    assert requests.post(node.url, json=body, timeout=10).status_code == 401
    wrong = requests.post(node.url, json=body, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401 and "token" in wrong.json()["error"]["message"]
    ok = requests.post(node.url, json=body, headers={"Authorization": "Bearer s3cret-token-for-remote-rpc"}, timeout=10)
    assert ok.json()["result"] == "0x539"


def test_restart_resumes_from_the_head(node_factory: Any) -> None:
    node: NodeProcess = node_factory()
    w3 = web3_for(node.url)
    admin = node.dev_keys["admin"]["privateKey"]
    probe = deploy(w3, admin, "Probe")
    call_fn(w3, admin, probe.functions.set(99))
    head = node.call("eth_getBlockByNumber", ["latest", False])["result"]
    node.stop()
    node.start()
    assert node.call("eth_getBlockByNumber", ["latest", False])["result"] == head
    data = probe.functions.value()._encode_transaction_data()
    assert int(node.call("eth_call", [{"to": probe.address, "data": data}])["result"], 16) == 99
    call_fn(web3_for(node.url), admin, probe.functions.set(100))
    assert int(node.call("eth_blockNumber")["result"], 16) == int(head["number"], 16) + 1


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_cli_refuses_bad_input_clearly(tmp_path: Path, dev_chain_template: Path) -> None:
    missing = _cli("node", "run", "--data-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "node init" in missing.stderr and "Traceback" not in missing.stderr
    again = _cli("node", "init", "--data-dir", str(dev_chain_template), "--dev")
    assert again.returncode == 2 and "already holds a chain" in again.stderr
    mode = _cli("node", "run", "--data-dir", str(dev_chain_template), "--mode", "sometimes")
    assert mode.returncode == 2 and "instant or interval" in mode.stderr
    exposed = _cli(
        "node", "run", "--data-dir", str(dev_chain_template), "--rpc-host", "0.0.0.0", "--rpc-port", str(free_port())
    )
    assert exposed.returncode == 2 and "non-loopback" in exposed.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "node.json").write_text('{"validatorKeystore": null, "dev": false}')
    (broken / "genesis.json").write_text('{"config": {"chainId": "x", "takasago": {}}}')
    bad_genesis = _cli("node", "run", "--data-dir", str(broken))
    assert (
        bad_genesis.returncode == 2 and "config.chainId" in bad_genesis.stderr and "Traceback" not in bad_genesis.stderr
    )


def test_production_keystore_needs_the_passphrase(tmp_path: Path) -> None:
    data_dir = tmp_path / "prod"
    password = tmp_path / "pw"
    password.write_text("correct horse battery staple\n")
    made = _cli("node", "init", "--data-dir", str(data_dir), "--password-file", str(password))
    assert made.returncode == 0, made.stderr
    assert not (data_dir / "dev-keys.json").exists()
    keystore = json.loads((data_dir / "keys" / "validator.json").read_text())
    assert "crypto" in keystore and "privateKey" not in json.dumps(keystore)
    wrong = tmp_path / "wrong"
    wrong.write_text("guess")
    refused = _cli(
        "node", "run", "--data-dir", str(data_dir), "--password-file", str(wrong), "--rpc-port", str(free_port())
    )
    assert refused.returncode == 2 and "wrong passphrase" in refused.stderr


def test_node_without_an_authorised_key_keeps_transactions_pending(node_factory: Any) -> None:
    node: NodeProcess = node_factory(start=False)
    keys_path = node.data_dir / "dev-keys.json"
    dev = json.loads(keys_path.read_text())
    dev["validator"]["privateKey"] = "0x" + "42" * 32  # not in the genesis validator set
    keys_path.write_text(json.dumps(dev))
    node.start()
    w3 = web3_for(node.url)
    sender = node.dev_keys["accounts"][0]
    from eth_account import Account

    raw = Account.sign_transaction(
        {"to": sender["address"], "value": 0, "gas": 21_000, "gasPrice": 0, "nonce": 0, "chainId": 1337},
        sender["privateKey"],
    ).raw_transaction
    tx_hash = w3.eth.send_raw_transaction(raw)
    time.sleep(1.0)
    assert node.call("eth_blockNumber")["result"] == "0x0"
    assert node.call("takasago_transactionStatus", ["0x" + bytes(tx_hash).hex()])["result"] == {"status": "pending"}
    assert node.log_path is not None and "not in the authorised validator set" in node.log_path.read_text()
