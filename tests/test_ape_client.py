"""Ape (eth-ape 0.8, the optional ``ape`` extra) against the node.

Ape runs in a subprocess (``drive`` below) inside a throw-away ape project: the repo's
``ape-config.yaml`` with its URI pointed at the test node, a copy of the committed
artifacts, and ``APE_DATA_FOLDER`` in tmp. That keeps it hermetic: ape's global state
(config, data folder, key files, connected providers, and the ``ape_test`` pytest plugin
the extra installs into this very pytest) never touches the developer's ``~/.ape`` or
the other tests. The test then asserts on the JSON summary ``drive`` writes.

What it proves: ``ethereum:takasago:node`` from ape-config.yaml connects (chain id
verified by ape); a dev key imported as an encrypted ape account signs with autosign;
TestToken deploys from the committed artifact (no solc) with gas price 0; ``transfer``
works as type 2 with ``max_fee=0`` and with ape's own gas defaults; ``balanceOf``,
receipt events, ``Transfer.query`` / ``Transfer.range`` (eth_getLogs) all agree; an
unregistered sender is refused with the node's error.

Known ape 0.8.52 limitation (not a node bug): ape detects PoA chains only through
web3's ``ExtraDataLengthError``, but it builds its Web3 with ``middleware=[]``, so a
long ``extraData`` raises a plain ``ValueError`` that ape swallows. The PoA middleware
is therefore never injected and every block read fails (``chain.blocks.height`` reads
0). ``drive`` injects ``ExtraDataToPOAMiddleware`` by hand, as a console user must.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG_URI = "uri: http://127.0.0.1:8545"
NETWORK = "ethereum:takasago:node"
PASSPHRASE = "takasago-ape-test-passphrase-#1"
SUPPLY = 1_000_000 * 10**18
AMOUNT = 1234
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

pytestmark = pytest.mark.ape
pytest.importorskip("ape", reason='eth-ape not installed: pip install -e ".[ape]"')


def drive() -> None:
    """Runs in the subprocess, cwd = the temp ape project: ``python -c '...drive()' IN OUT``."""
    import ape
    from ape import accounts, chain, networks, project
    from ape.contracts import ContractContainer
    from ape.exceptions import ApeException
    from ape_accounts import import_account_from_private_key
    from eth_account import Account
    from ethpm_types import ContractType
    from web3.middleware import ExtraDataToPOAMiddleware

    inputs = json.loads(Path(sys.argv[1]).read_text())
    out: dict[str, Any] = {"data_folder": str(ape.config.DATA_FOLDER), "project": str(project.path)}

    # The committed artifact as an ethpm ContractType (no compiler involved).
    artifact = json.loads((Path(inputs["repo"]) / "contracts" / "build" / "TestToken.json").read_text())
    token_type = ContractType(
        contractName=artifact["contractName"],
        abi=artifact["abi"],
        deploymentBytecode={"bytecode": artifact["bytecode"]},
        runtimeBytecode={"bytecode": artifact["deployedBytecode"]},
    )
    # What `project.TestToken` gives in the console: ape's built-in "ethpm" JSON compiler
    # reading contracts_folder (contracts/build), never solc.
    out["project_bytecode_matches"] = (
        project.TestToken.contract_type.deployment_bytecode.bytecode == token_type.deployment_bytecode.bytecode
    )

    with networks.parse_network_choice(inputs["network"]) as provider:
        out["provider"] = {"name": provider.name, "network": provider.network.name, "uri": provider.uri}
        out["chain_id"] = provider.chain_id
        out["ape_detected_poa"] = provider.has_poa_history
        if ExtraDataToPOAMiddleware not in provider.web3.middleware_onion:
            provider.web3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)

        admin = import_account_from_private_key("admin", PASSPHRASE, inputs["admin_key"])
        admin.set_autosign(True, passphrase=PASSPHRASE)
        out["admin"] = admin.address
        out["aliases"] = sorted(accounts.aliases)

        token = admin.deploy(ContractContainer(token_type), admin.address, SUPPLY, gas_price=0)
        deploy = chain.get_receipt(token.txn_hash)
        out["deploy"] = {"address": token.address, "status": deploy.status, "type": deploy.transaction.type,
                         "gas_price": deploy.gas_price, "fees": deploy.total_fees_paid,
                         "block": deploy.block_number, "contract_address": deploy.contract_address}  # fmt: skip
        out["code_size"] = len(provider.get_code(token.address))

        recipient = inputs["recipient"]
        sent = token.transfer(recipient, AMOUNT, sender=admin, max_fee=0, max_priority_fee=0)
        out["transfer"] = {"status": sent.status, "type": sent.transaction.type, "fees": sent.total_fees_paid,
                           "block": sent.block_number, "hash": sent.txn_hash,
                           "events": [{"name": e.event_name, **{k: v for k, v in e.event_arguments.items()}}
                                      for e in sent.events]}  # fmt: skip
        # No gas arguments at all: ape's defaults (eth_gasPrice / base fee / priority fee) must give 0.
        default = token.transfer(recipient, 1, sender=admin)
        out["default_gas"] = {"status": default.status, "type": default.transaction.type,
                              "max_fee": default.transaction.max_fee, "fees": default.total_fees_paid}  # fmt: skip

        out["balance_recipient"] = token.balanceOf(recipient)
        out["balance_admin"] = token.balanceOf(admin)
        out["total_supply"] = token.totalSupply()
        out["meta"] = [token.name(), token.symbol(), token.decimals()]
        out["height"] = chain.blocks.height
        out["rpc_block_number"] = provider.web3.eth.block_number
        head = chain.blocks.head
        raw_head = provider.make_request("eth_getBlockByNumber", [hex(head.number), False])
        out["head"] = {"number": head.number, "hash": head.hash.to_0x_hex(), "raw_hash": raw_head["hash"],
                       "raw_extra_data_len": len(bytes.fromhex(raw_head["extraData"][2:]))}  # fmt: skip

        frame = token.Transfer.query("*", start_block=deploy.block_number)
        out["query"] = [{"block": r["block_number"], "tx": r["transaction_hash"], **r["event_arguments"]}
                        for r in frame.to_dict("records")]  # fmt: skip
        out["range_to_recipient"] = [
            {"block": log.block_number, "tx": log.transaction_hash, **log.event_arguments}
            for log in token.Transfer.range(deploy.block_number, chain.blocks.height + 1,
                                            search_topics={"to": recipient})
        ]  # fmt: skip
        raw = provider.web3.eth.get_logs({"address": token.address, "fromBlock": 0, "toBlock": "latest"})
        out["raw_logs"] = [{"topic0": log["topics"][0].to_0x_hex(), "block": log["blockNumber"]} for log in raw]

        # Only registered senders may transact: ape must surface the node's refusal.
        stranger = import_account_from_private_key("stranger", PASSPHRASE, Account.create().key.hex())
        stranger.set_autosign(True, passphrase=PASSPHRASE)
        try:
            token.transfer(recipient, 0, sender=stranger, gas=100_000, max_fee=0, max_priority_fee=0)
            out["stranger_error"] = None
        except ApeException as err:
            out["stranger_error"] = f"{type(err).__name__}: {err}"
        out["recipient_after_stranger"] = token.balanceOf(recipient)

    Path(sys.argv[2]).write_text(json.dumps(out, default=str))


def _project(tmp: Path, url: str) -> Path:
    """A temp ape project: the repo's ape-config.yaml pointed at ``url``, plus the artifacts."""
    config = (REPO / "ape-config.yaml").read_text()
    assert CONFIG_URI in config, "ape-config.yaml no longer has the default takasago URI this test rewrites"
    project = tmp / "ape-project"
    project.mkdir()
    (project / "ape-config.yaml").write_text(config.replace(CONFIG_URI, f"uri: {url}"))
    shutil.copytree(REPO / "contracts" / "build", project / "contracts" / "build")
    return project


@pytest.fixture(scope="module")
def summary(shared_node: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("ape")
    project = _project(tmp, shared_node.url)
    keys = shared_node.dev_keys
    inputs = tmp / "inputs.json"
    inputs.write_text(json.dumps({"repo": str(REPO), "network": NETWORK, "admin_key": keys["admin"]["privateKey"],
                                  "recipient": keys["accounts"][0]["address"]}))  # fmt: skip
    result = tmp / "summary.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APE_", "WEB3_"))}
    (tmp / "home").mkdir()
    env.update(APE_DATA_FOLDER=str(tmp / "ape-data"), PYTHONPATH=str(REPO), HOME=str(tmp / "home"))
    proc = subprocess.run(
        [sys.executable, "-c", "from tests.test_ape_client import drive; drive()", str(inputs), str(result)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0 and result.is_file(), (
        f"ape driver failed (exit {proc.returncode})\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-6000:]}"
    )
    out = json.loads(result.read_text())
    out["_ape_data"] = str(tmp / "ape-data")
    out["_project"] = str(project)
    yield out


def test_connects_through_the_configured_network(summary: dict[str, Any], shared_node: Any) -> None:
    assert summary["provider"] == {"name": "node", "network": "takasago", "uri": shared_node.url}
    assert summary["chain_id"] == 1337
    # Blocks (sealed, extraData > 32 bytes) decode once the PoA middleware is in.
    assert summary["height"] == summary["rpc_block_number"] >= 3
    head = summary["head"]
    assert head["number"] == summary["height"] and head["hash"] == head["raw_hash"]
    assert head["raw_extra_data_len"] > 32


def test_hermetic_data_folder_and_no_compiler(summary: dict[str, Any]) -> None:
    assert summary["data_folder"] == summary["_ape_data"]
    assert summary["project"] == summary["_project"]
    assert summary["aliases"] == ["admin"]  # "stranger" is imported later
    assert (Path(summary["_ape_data"]) / "accounts" / "admin.json").is_file()
    assert summary["project_bytecode_matches"] is True
    # ape caches its "compiled" manifest in the project it runs in, not in the repo.
    assert (Path(summary["_project"]) / ".build" / "__local__.json").is_file()


def test_deploy_with_zero_gas_price(summary: dict[str, Any]) -> None:
    deploy = summary["deploy"]
    assert deploy["status"] == 1 and deploy["type"] == 0
    assert deploy["gas_price"] == 0 and deploy["fees"] == 0
    assert deploy["contract_address"] == deploy["address"]
    assert summary["code_size"] > 0
    assert summary["meta"] == ["Test Token", "TST", 18]


def test_transfer_balances_and_receipt_events(summary: dict[str, Any]) -> None:
    admin = summary["admin"]
    sent = summary["transfer"]
    assert sent["status"] == 1 and sent["type"] == 2 and sent["fees"] == 0
    recipient = summary["range_to_recipient"][0]["to"]
    assert sent["events"] == [{"name": "Transfer", "from": admin, "to": recipient, "value": AMOUNT}]
    assert summary["default_gas"] == {"status": 1, "type": 2, "max_fee": 0, "fees": 0}
    assert summary["balance_recipient"] == AMOUNT + 1
    assert summary["balance_admin"] == SUPPLY - AMOUNT - 1
    assert summary["total_supply"] == SUPPLY


def test_transfer_logs_query_and_range(summary: dict[str, Any]) -> None:
    admin, sent = summary["admin"], summary["transfer"]
    zero = "0x" + "00" * 20
    mint = {"block": summary["deploy"]["block"], "from": zero, "to": admin, "value": SUPPLY}
    first = {"block": sent["block"], "tx": sent["hash"], "from": admin, "value": AMOUNT}
    query = summary["query"]
    assert len(query) == 3
    assert {k: query[0][k] for k in mint} == mint
    assert {k: query[1][k] for k in first} == first
    assert (query[2]["from"], query[2]["value"]) == (admin, 1)
    # Topic-filtered range: only the two transfers to the recipient, not the mint.
    assert [(r["block"], r["value"]) for r in summary["range_to_recipient"]] == [(sent["block"], AMOUNT),
                                                                                (query[2]["block"], 1)]  # fmt: skip
    assert summary["raw_logs"] == [{"topic0": TRANSFER_TOPIC, "block": r["block"]} for r in query]


def test_unregistered_sender_is_refused(summary: dict[str, Any]) -> None:
    assert summary["stranger_error"] is not None
    assert "not permitted" in summary["stranger_error"]
    assert summary["recipient_after_stranger"] == AMOUNT + 1
