"""``takasago network init``: one genesis and a data directory per node for a local QBFT network.

Each institution would normally create its own key and send only its address; for a demo
or a test on one machine this writes everything at once::

    <dir>/network.json            the nodes: name, role, address, RPC and peer ports
    <dir>/validator-N/            a validator's data directory (genesis, node.json, keys)
    <dir>/observer-N/             an auditor's non-validating node (its own link key)

Every node gets the same genesis.json (all validators in the registry and in the header's
validator list). ``node.json``'s ``network`` object lists the validators' peer URLs and
the observers' addresses allowed to link.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from node.config import write_node_config
from node.genesis import DEFAULT_GAS_LIMIT, build_genesis_document, parse_genesis
from node.keys import write_keystore

DEV_ACCOUNT_COUNT = 10


@dataclass(frozen=True)
class NodeEntry:
    name: str
    role: str  # "validator" or "observer"
    address: str
    rpc_port: int
    p2p_port: int

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "address": self.address,
            "rpcPort": self.rpc_port,
            "p2pPort": self.p2p_port,
        }


def _write_private(path: Path, document: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)


def init_network(
    directory: Path,
    *,
    validators: int,
    observers: int = 0,
    chain_id: int = 1337,
    dev: bool = True,
    passphrase: str | None = None,
    rpc_port: int = 8545,
    p2p_port: int = 30400,
    block_period: int = 1,
    request_timeout: float = 4.0,
    gas_limit: int = DEFAULT_GAS_LIMIT,
) -> list[NodeEntry]:
    from contracts.artifacts import load_artifact

    if not 1 <= validators <= 64:
        raise ValueError("--validators must be between 1 and 64")
    if not 0 <= observers <= 16:
        raise ValueError("--observers must be between 0 and 16")
    if (directory / "network.json").exists():
        raise FileExistsError(f"{directory} already holds a network (network.json exists); choose another directory")
    if passphrase is None:
        if not dev:
            raise ValueError("a passphrase is required to encrypt the keys")
        passphrase = "insecure-dev-passphrase"
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    validator_keys = [secrets.token_bytes(32) for _ in range(validators)]
    observer_keys = [secrets.token_bytes(32) for _ in range(observers)]
    admin = secrets.token_bytes(32)
    accounts = [secrets.token_bytes(32) for _ in range(DEV_ACCOUNT_COUNT)] if dev else []
    validator_addresses = [Account.from_key(k).address for k in validator_keys]
    admin_address = Account.from_key(admin).address
    account_addresses = [Account.from_key(k).address for k in accounts]
    document = build_genesis_document(
        chain_id=chain_id,
        validators=validator_addresses,
        admins=[admin_address],
        registry_creation_code=load_artifact("AccountRegistry").bytecode,
        proxy_creation_code=load_artifact("TakasagoProxy").bytecode,
        extra_accounts=account_addresses,
        block_period=block_period,
        gas_limit=gas_limit,
    )
    parse_genesis(document)
    genesis_text = json.dumps(document, indent=2) + "\n"

    entries: list[NodeEntry] = []
    for i, address in enumerate(validator_addresses):
        entries.append(NodeEntry(f"validator-{i}", "validator", address, rpc_port + i, p2p_port + i))
    for i, key in enumerate(observer_keys):
        n = validators + i
        address = Account.from_key(key).address
        entries.append(NodeEntry(f"observer-{i}", "observer", address, rpc_port + n, p2p_port + n))
    peers = [
        {"address": e.address, "url": f"ws://127.0.0.1:{e.p2p_port}/p2p"} for e in entries if e.role == "validator"
    ]
    observer_addresses = [e.address for e in entries if e.role == "observer"]
    keys = validator_keys + observer_keys
    for entry, key in zip(entries, keys, strict=True):
        node_dir = directory / entry.name
        node_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(node_dir, 0o700)
        (node_dir / "genesis.json").write_text(genesis_text, encoding="utf-8")
        keystore = f"keys/{entry.role}.json"
        write_keystore(node_dir / keystore, key, passphrase, light=dev)
        network: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": entry.p2p_port,
            "peers": [p for p in peers if p["address"] != entry.address],
            "observers": observer_addresses,
            "requestTimeoutSeconds": request_timeout,
        }
        if entry.role == "observer":
            network["nodeKeystore"] = keystore
        write_node_config(node_dir, keystore if entry.role == "validator" else None, dev, network)
        if entry.role == "validator":
            write_keystore(node_dir / "keys" / "admin.json", admin, passphrase, light=dev)
        if dev:
            plain: dict[str, Any] = {
                "WARNING": "INSECURE development keys in plain text. Never use these keys for real points.",
                "chainId": chain_id,
                "passphrase": passphrase,
                "admin": {"address": admin_address, "privateKey": "0x" + admin.hex()},
                "accounts": [
                    {"address": a, "privateKey": "0x" + k.hex()}
                    for a, k in zip(account_addresses, accounts, strict=True)
                ],
            }
            plain["validator" if entry.role == "validator" else "node"] = {
                "address": entry.address,
                "privateKey": "0x" + key.hex(),
            }
            _write_private(node_dir / "dev-keys.json", plain)
    summary = {
        "chainId": chain_id,
        "admin": admin_address,
        "validators": validator_addresses,
        "nodes": [e.as_json() for e in entries],
    }
    (directory / "network.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return entries
