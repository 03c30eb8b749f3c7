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
class NodeConfig:
    data_dir: Path
    validator_keystore: Path | None
    dev: bool

    @property
    def genesis_path(self) -> Path:
        return self.data_dir / "genesis.json"

    @property
    def dev_keys_path(self) -> Path:
        return self.data_dir / "dev-keys.json"


def write_node_config(data_dir: Path, validator_keystore: str | None, dev: bool) -> None:
    document = {"validatorKeystore": validator_keystore, "dev": dev}
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
    return NodeConfig(data_dir, data_dir / keystore if keystore else None, dev)


def load_dev_keys(config: NodeConfig) -> dict[str, Any]:
    try:
        document = json.loads(config.dev_keys_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{config.dev_keys_path} missing: not a --dev data directory") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{config.dev_keys_path}: expected an object")
    return document
