"""The city's contracts on one chain, as web3 objects: the one "contract set" every client uses.

The wallet, the CLI's officer and reader, and the services each kept a small cache of
``deployment.contract(w3, name)``; this is that cache once, with the names the code
reads most as properties. A chain without a deployment file still has the registry at
its genesis predeploy address (:data:`contracts.predeploys.REGISTRY_ADDRESS`).
"""

from __future__ import annotations

from pathlib import Path

from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract

from contracts.artifacts import load_artifact
from contracts.predeploys import REGISTRY_ADDRESS
from ledger_client.deployment import Deployment, load_deployment


def predeployed_registry(w3: Web3) -> Contract:
    """The AccountRegistry at the genesis predeploy address (no deployment file needed)."""
    return w3.eth.contract(address=to_checksum_address(REGISTRY_ADDRESS), abi=load_artifact("AccountRegistry").abi)


class ContractSet:
    """Contracts of one deployment, built once per name (ABIs from the committed artifacts)."""

    def __init__(self, w3: Web3, deployment: Deployment) -> None:
        self.w3 = w3
        self.deployment = deployment
        self._contracts: dict[str, Contract] = {}

    @classmethod
    def load(cls, w3: Web3, deployments_dir: Path) -> ContractSet:
        """The set for the chain ``w3`` is connected to, from its file in ``deployments_dir``.

        Raises :class:`ledger_client.deployment.DeploymentError` when there is no file for
        this chain or it belongs to another chain (same chain id, other genesis).
        """
        return cls(w3, load_deployment(w3, deployments_dir))

    def contract(self, name: str) -> Contract:
        if name not in self._contracts:
            self._contracts[name] = self.deployment.contract(self.w3, name)
        return self._contracts[name]

    @property
    def registry(self) -> Contract:
        return self.contract("AccountRegistry")

    @property
    def token(self) -> Contract:
        return self.contract("RegionalPoints")

    @property
    def programmes(self) -> Contract:
        return self.contract("RewardProgrammes")

    @property
    def oracle_reports(self) -> Contract:
        return self.contract("OracleReports")

    @property
    def help_board(self) -> Contract:
        return self.contract("HelpBoard")
