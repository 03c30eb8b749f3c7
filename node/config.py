"""A node's data directory: what ``takasago node init`` writes and ``run`` reads.

<data dir>/genesis.json        the chain definition (docs/genesis.md)
<data dir>/node.json           this node's settings (validator keystore, dev flag, optional
                               ``network``, ``rpc`` and ``log`` objects: docs/genesis.md)
<data dir>/keys/*.json         Web3 Secret Storage keystores
<data dir>/dev-keys.json       --dev only: plain-text keys, INSECURE, for tests and demos
<data dir>/chaindata/          LMDB database
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from node.rpc.limits import RPCLimits


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
class LogConfig:
    """The ``log`` object of node.json: where the node logs and how the file is rotated."""

    file: Path | None = None  # None: standard error only (``takasago node run --log-file`` may set one)
    max_bytes: int = 10 * 1024 * 1024
    backup_count: int = 5
    summary_every_blocks: int = 600


WORKER_MIN_TRANSACTIONS = 64
"""``execution.workerMinTransactions``: blocks with fewer candidates execute in the node's process even
when a worker is warm. The worker's fixed cost per block (the request and its writes through the pipe,
PyPy's per-block paths the JIT has not traced) outweighs its speed on small blocks. Measured with
``bench.execution_worker`` (blocks of ERC-20 transfers, median of the last five, warm PyPy with its
64 MB nursery against in-process): 5 transfers 9 ms against 5, 12: 9 against 8, 20: 11 against 12,
30: 17 against 19, 100: 32 against 61 — even at ~15 transfers, but only for the transfers the warm-up
ran: other contracts' code meets a colder JIT, and a wallet's payments arrive as blocks of a few each
(with every block in the worker, before the nursery was set, a 32-resident rush on PostgreSQL had p99
796 ms against 381 in-process). So the worker takes blocks from 64 transactions, where it is ahead by
a margin."""


@dataclass(frozen=True)
class NodeConfig:
    data_dir: Path
    validator_keystore: Path | None
    dev: bool
    network: NetworkConfig | None = None
    rpc: RPCLimits = field(default_factory=RPCLimits)
    rpc_gas_cap: int | None = None
    log: LogConfig = field(default_factory=LogConfig)
    execution_worker: str = "auto"  # node/execution_worker.py: auto, pypy, cpython or off
    execution_worker_min_transactions: int = WORKER_MIN_TRANSACTIONS

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
    rpc, gas_cap = _rpc(document.get("rpc"), data_dir, path)
    return NodeConfig(
        data_dir,
        data_dir / keystore if keystore else None,
        dev,
        network,
        rpc,
        gas_cap,
        _log(document.get("log"), data_dir, path),
        *_execution(document.get("execution"), path),
    )


def _execution(value: Any, path: Path) -> tuple[str, int]:
    """The ``execution`` object: ``{"worker": "auto" | "pypy" | "cpython" | "off", "workerMinTransactions": n}``
    (defaults auto and ``WORKER_MIN_TRANSACTIONS``: smaller blocks execute in the node's process)."""
    from node.execution_worker import WORKER_MODES

    if value is None:
        return "auto", WORKER_MIN_TRANSACTIONS
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: execution must be an object")
    unknown = set(value) - {"worker", "workerMinTransactions"}
    if unknown:
        raise ConfigError(f"{path}: execution: unknown setting(s) {', '.join(sorted(unknown))}")
    mode = value.get("worker", "auto")
    if mode not in WORKER_MODES:
        raise ConfigError(f"{path}: execution.worker must be one of {', '.join(WORKER_MODES)}")
    smallest = value.get("workerMinTransactions", WORKER_MIN_TRANSACTIONS)
    if type(smallest) is not int or not 0 <= smallest <= 100_000:
        raise ConfigError(f"{path}: execution.workerMinTransactions must be a whole number from 0 to 100000")
    return str(mode), smallest


# node.json ``rpc`` keys -> RPCLimits fields, with the allowed range of each number.
_RPC_NUMBERS: dict[str, tuple[str, float, float]] = {
    "maxWebSockets": ("max_websockets", 1, 100_000),
    "maxWebSocketsPerClient": ("max_websockets_per_client", 1, 100_000),
    "maxSubscriptionsPerConnection": ("max_subscriptions_per_connection", 1, 100_000),
    "maxFilters": ("max_filters", 1, 1_000_000),
    "maxFiltersPerClient": ("max_filters_per_client", 1, 1_000_000),
    "wsQueueMessages": ("ws_queue_messages", 16, 1_000_000),
    "wsQueueBytes": ("ws_queue_bytes", 65_536, 1 << 30),
    "wsSendTimeoutSeconds": ("ws_send_timeout", 0.1, 600),
    "executionThreads": ("execution_threads", 1, 64),
    "executionQueue": ("execution_queue", 0, 100_000),
    "heavyThreads": ("heavy_threads", 1, 64),
    "heavyQueue": ("heavy_queue", 0, 100_000),
    "serviceThreads": ("service_threads", 1, 64),
    "serviceQueue": ("service_queue", 0, 100_000),
    "maxExecutionPerBatch": ("max_execution_per_batch", 1, 100_000),
    "maxHeavyUnitsPerBatch": ("max_heavy_units_per_batch", 1, 100_000_000),
    "batchSeconds": ("batch_seconds", 0.1, 3600),
}
_FLOAT_FIELDS = {f.name for f in fields(RPCLimits) if f.type in ("float", float)}


def _number(value: Any, where: str, low: float, high: float, integer: bool) -> int | float:
    kinds = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        raise ConfigError(f"{where} must be {'an integer' if integer else 'a number'} between {low:g} and {high:g}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def _rpc(value: Any, data_dir: Path, path: Path) -> tuple[RPCLimits, int | None]:
    """The ``rpc`` object: caps, lanes and browser rules (issue 15); every key optional."""
    if value is None:
        return RPCLimits(), None
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: rpc must be an object")
    known = set(_RPC_NUMBERS) | {"allowedOrigins", "allowedHosts", "serviceTokenFile", "gasCap"}
    unknown = set(value) - known
    if unknown:
        raise ConfigError(f"{path}: rpc: unknown setting(s) {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    for key, (name, low, high) in _RPC_NUMBERS.items():
        if key in value:
            changes[name] = _number(value[key], f"{path}: rpc.{key}", low, high, name not in _FLOAT_FIELDS)
    if "allowedOrigins" in value:
        changes["allowed_origins"] = _strings(value["allowedOrigins"], f"{path}: rpc.allowedOrigins")
    if "allowedHosts" in value:
        changes["allowed_hosts"] = _strings(value["allowedHosts"], f"{path}: rpc.allowedHosts")
    token_file = value.get("serviceTokenFile")
    if token_file is not None:
        if not isinstance(token_file, str) or not token_file:
            raise ConfigError(f"{path}: rpc.serviceTokenFile must be a path")
        changes["service_token"] = _read_secret(data_dir / token_file, f"{path}: rpc.serviceTokenFile")
    gas_cap = value.get("gasCap")
    if gas_cap is not None:
        gas_cap = int(_number(gas_cap, f"{path}: rpc.gasCap", 21_000, 10**12, True))
    return replace(RPCLimits(), **changes), gas_cap


def _read_secret(secret_path: Path, where: str) -> str:
    """A token file: readable, at least 16 characters, and not readable by other users."""
    try:
        token = secret_path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {secret_path}: {exc.strerror}") from None
    if len(token) < 16:
        raise ConfigError(f"{where}: the token in {secret_path} must be at least 16 characters")
    if secret_path.stat().st_mode & 0o077:
        raise ConfigError(f"{where}: {secret_path} is readable by other users; chmod 600 it")
    return token


# node.json ``log`` keys -> LogConfig fields, with the allowed range of each (all integers).
_LOG_NUMBERS: dict[str, tuple[str, float, float]] = {
    "maxBytes": ("max_bytes", 4096, 1 << 40),
    "backupCount": ("backup_count", 0, 1000),
    "summaryEveryBlocks": ("summary_every_blocks", 1, 10**9),
}


def _log(value: Any, data_dir: Path, path: Path) -> LogConfig:
    """The ``log`` object: the log file and its rotation; every key optional (validated like ``rpc``)."""
    if value is None:
        return LogConfig()
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: log must be an object")
    unknown = set(value) - set(_LOG_NUMBERS) - {"file"}
    if unknown:
        raise ConfigError(f"{path}: log: unknown setting(s) {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    file = value.get("file")
    if file is not None:
        if not isinstance(file, str) or not file:
            raise ConfigError(f"{path}: log.file must be a path")
        changes["file"] = data_dir / file
    for key, (name, low, high) in _LOG_NUMBERS.items():
        if key in value:
            changes[name] = int(_number(value[key], f"{path}: log.{key}", low, high, True))
    return replace(LogConfig(), **changes)


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
