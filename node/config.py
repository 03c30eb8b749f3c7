"""A node's data directory: what ``takasago node init`` writes and ``run`` reads.

<data dir>/genesis.json        the chain definition (docs/genesis.md)
<data dir>/node.json           this node's settings (validator keystore, dev flag)
<data dir>/keys/*.json         Web3 Secret Storage keystores
<data dir>/dev-keys.json       --dev only: plain-text keys, INSECURE, for tests and demos
<data dir>/chaindata/          LMDB database
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class PeerEntry:
    address: bytes
    url: str


@dataclass(frozen=True)
class NetworkConfig:
    """The ``network`` object of node.json: this node takes part in a QBFT network (docs/consensus.md)."""

    host: str
    port: int
    peers: tuple[PeerEntry, ...]
    observers: frozenset[bytes]
    node_keystore: Path | None  # an observer's own link key (validators use their validator key)
    request_timeout: float
    max_block_transactions: int


@dataclass(frozen=True)
class NodeConfig:
    data_dir: Path
    validator_keystore: Path | None
    dev: bool
    network: NetworkConfig | None = None

    @property
    def genesis_path(self) -> Path:
        return self.data_dir / "genesis.json"

    @property
    def dev_keys_path(self) -> Path:
        return self.data_dir / "dev-keys.json"


def write_node_config(
    data_dir: Path, validator_keystore: str | None, dev: bool, network: dict[str, Any] | None = None
) -> None:
    document: dict[str, Any] = {"validatorKeystore": validator_keystore, "dev": dev}
    if network is not None:
        document["network"] = network
    (data_dir / "node.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def load_node_config(data_dir: Path) -> NodeConfig:
    path = data_dir / "node.json"
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{data_dir} is not a node data directory (no node.json): run `takasago node init` first"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected an object")
    keystore = document.get("validatorKeystore")
    if keystore is not None and not isinstance(keystore, str):
        raise ConfigError(f"{path}: validatorKeystore must be a path or null")
    dev = document.get("dev", False)
    if not isinstance(dev, bool):
        raise ConfigError(f"{path}: dev must be true or false")
    network = _network(document.get("network"), data_dir, path)
    return NodeConfig(data_dir, data_dir / keystore if keystore else None, dev, network)


def _address(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 42:
        raise ConfigError(f"{where}: expected a 0x-prefixed 20-byte address")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ConfigError(f"{where}: not valid hex") from None


def _network(value: Any, data_dir: Path, path: Path) -> NetworkConfig | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: network must be an object")
    host = value.get("host", "127.0.0.1")
    port = value.get("port", 30303)
    if not isinstance(host, str) or not host:
        raise ConfigError(f"{path}: network.host must be a host name or address")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError(f"{path}: network.port must be a port number")
    peers_value = value.get("peers", [])
    if not isinstance(peers_value, list):
        raise ConfigError(f"{path}: network.peers must be a list of {{address, url}}")
    peers = []
    for i, item in enumerate(peers_value):
        where = f"{path}: network.peers[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise ConfigError(f"{where}: expected {{address, url}}")
        if not item["url"].startswith(("ws://", "wss://", "http://", "https://")):
            raise ConfigError(f"{where}.url: expected a ws:// or http:// URL")
        peers.append(PeerEntry(_address(item.get("address"), f"{where}.address"), item["url"]))
    observers_value = value.get("observers", [])
    if not isinstance(observers_value, list):
        raise ConfigError(f"{path}: network.observers must be a list of addresses")
    observers = frozenset(_address(a, f"{path}: network.observers[{i}]") for i, a in enumerate(observers_value))
    keystore = value.get("nodeKeystore")
    if keystore is not None and not isinstance(keystore, str):
        raise ConfigError(f"{path}: network.nodeKeystore must be a path")
    timeout = value.get("requestTimeoutSeconds", 4)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0.1 <= timeout <= 600:
        raise ConfigError(f"{path}: network.requestTimeoutSeconds must be between 0.1 and 600")
    max_txs = value.get("maxBlockTransactions", 2000)
    if not isinstance(max_txs, int) or isinstance(max_txs, bool) or not 1 <= max_txs <= 100_000:
        raise ConfigError(f"{path}: network.maxBlockTransactions must be between 1 and 100000")
    return NetworkConfig(
        host, port, tuple(peers), observers, data_dir / keystore if keystore else None, float(timeout), max_txs
    )


def load_dev_keys(config: NodeConfig) -> dict[str, Any]:
    try:
        document = json.loads(config.dev_keys_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{config.dev_keys_path} missing: not a --dev data directory") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{config.dev_keys_path}: expected an object")
    return document
