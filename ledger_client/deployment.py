"""The deployment file: where the point contracts live on one chain.

One JSON file per chain id (``<dir>/<chainId>.json``), written by
:mod:`contracts.deploy` and read by the CLI and the services. It also records
the chain's genesis hash, so a file is never applied to a different chain that
happens to reuse the chain id (every ``--dev`` chain is 1337). Example::

    {
      "chainId": 1337,
      "genesisHash": "0x…",
      "contracts": {
        "AccountRegistry": {"address": "0x…", "implementation": "0x…", "bytecodeHash": "0x…", "block": 0},
        "RegionalPoints":  {"address": "0x…", "implementation": "0x…", "bytecodeHash": "0x…", "block": 3},
        …
      }
    }

``address`` is the proxy (the address everyone uses); ``bytecodeHash`` is the
keccak-256 of the implementation's creation code, to tell whether the deployed
implementation is the one in ``contracts/build``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import is_hex_address, to_checksum_address
from web3 import Web3
from web3.contract import Contract

from contracts.artifacts import load_artifact

CONTRACT_NAMES = ("AccountRegistry", "RegionalPoints", "RewardProgrammes", "OracleReports", "HelpBoard")


class DeploymentError(Exception):
    """The deployment file is missing, malformed or belongs to another chain."""


@dataclass
class DeployedContract:
    address: str
    implementation: str
    bytecodeHash: str  # noqa: N815 - the JSON key
    block: int


@dataclass
class Deployment:
    chainId: int  # noqa: N815
    genesisHash: str  # noqa: N815
    contracts: dict[str, DeployedContract] = field(default_factory=dict)

    def address(self, name: str) -> str:
        try:
            return self.contracts[name].address
        except KeyError:
            raise DeploymentError(f"{name} is not deployed on chain {self.chainId}; run `takasago deploy`") from None

    def contract(self, w3: Web3, name: str) -> Contract:
        """A web3 contract for ``name`` at its proxy address, with the implementation's ABI."""
        return w3.eth.contract(address=to_checksum_address(self.address(name)), abi=load_artifact(name).abi)

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chainId,
            "genesisHash": self.genesisHash,
            "contracts": {name: asdict(c) for name, c in sorted(self.contracts.items())},
        }


def deployment_path(directory: Path, chain_id: int) -> Path:
    return directory / f"{chain_id}.json"


def _parse(path: Path, document: Any) -> Deployment:
    if not isinstance(document, dict):
        raise DeploymentError(f"{path}: expected a JSON object")
    chain_id = document.get("chainId")
    genesis_hash = document.get("genesisHash")
    contracts = document.get("contracts", {})
    if not isinstance(chain_id, int) or not isinstance(genesis_hash, str) or not isinstance(contracts, dict):
        raise DeploymentError(f"{path}: expected chainId (integer), genesisHash (hex) and contracts (object)")
    parsed: dict[str, DeployedContract] = {}
    for name, entry in contracts.items():
        where = f"{path}: contracts.{name}"
        if not isinstance(entry, dict):
            raise DeploymentError(f"{where}: expected an object")
        try:
            record = DeployedContract(**entry)
        except TypeError as exc:
            raise DeploymentError(f"{where}: {exc}") from None
        for key in ("address", "implementation"):
            if not is_hex_address(getattr(record, key)):
                raise DeploymentError(f"{where}.{key}: not an address")
        parsed[name] = record
    return Deployment(chain_id, genesis_hash, parsed)


def read_deployment(path: Path) -> Deployment | None:
    """The deployment recorded at ``path``, or None if there is no file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DeploymentError(f"{path}: not valid JSON: {exc}") from None
    return _parse(path, document)


def write_deployment(path: Path, deployment: Deployment) -> None:
    """Atomically replaces ``path`` (write to a temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(deployment.to_json(), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_deployment(w3: Web3, directory: Path) -> Deployment:
    """The deployment for the chain ``w3`` is connected to; refuses a file from another chain."""
    chain_id = w3.eth.chain_id
    path = deployment_path(directory, chain_id)
    deployment = read_deployment(path)
    if deployment is None:
        raise DeploymentError(f"no deployment for chain {chain_id} in {directory}; run `takasago deploy`")
    check_same_chain(w3, path, deployment)
    return deployment


def genesis_hash(w3: Web3) -> str:
    block = w3.eth.get_block(0)
    return "0x" + bytes(block["hash"]).hex()


def check_same_chain(w3: Web3, path: Path, deployment: Deployment) -> None:
    actual = genesis_hash(w3)
    if deployment.genesisHash.lower() != actual.lower():
        raise DeploymentError(
            f"{path} was written for another chain with the same chain id (genesis {deployment.genesisHash},"
            f" this node's is {actual}); move the file away or use another deployments directory"
        )
