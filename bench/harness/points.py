"""Setting up the point contracts for a benchmark: deployment, the roles it grants, registration, minting."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from bench.harness.report import log
from contracts.deploy import DeploySettings, deploy
from ledger_client.connection import connect
from ledger_client.transactions import Sender

MINTER_ROLE = keccak(text="MINTER_ROLE")
ENROLLER_ROLE = keccak(text="ENROLLER_ROLE")  # what the wallet's service key holds (issue 15, finding 15)
RESIDENT = 1
REGISTER_BATCH = 500  # addresses per registerBatch transaction


def register_residents(sender: Sender, registry: Any, addresses: list[str]) -> None:
    """Registers ``addresses`` as residents, ``REGISTER_BATCH`` per transaction (setup, not timed)."""
    for start in range(0, len(addresses), REGISTER_BATCH):
        chunk = addresses[start : start + REGISTER_BATCH]
        sender.call_function(
            registry.functions.registerBatch(chunk, RESIDENT, [b"\0" * 32] * len(chunk)), gas=60_000_000
        )


@dataclass
class Points:
    """The deployed point contracts on one chain and the admin who sets them up."""

    name: str
    w3: Web3
    admin: LocalAccount
    sender: Sender
    registry: Contract
    token: Contract

    @classmethod
    def deploy(cls, name: str, url: str, admin_key: str, deployments_dir: Path) -> Points:
        w3 = connect(url, timeout=120)
        admin = Account.from_key(admin_key)
        sender = Sender(w3, admin)
        report = deploy(w3, sender, deployments_dir, DeploySettings())
        d = report.deployment
        points = cls(name, w3, admin, sender, d.contract(w3, "AccountRegistry"), d.contract(w3, "RegionalPoints"))
        sender.call_function(points.registry.functions.grantRole(MINTER_ROLE, admin.address))
        log(f"{name}: contracts deployed ({'; '.join(report.actions)})")
        return points

    def register(self, address: str, kind: int) -> None:
        self.sender.call_function(self.registry.functions.register(address, kind, keccak(text=f"bench {address}")))

    def mint(self, address: str, amount: int) -> None:
        month = int(self.token.functions.currentMonth().call()) + 6
        self.sender.call_function(self.token.functions.mint(address, amount, month))

    def balance(self, address: str) -> int:
        return int(self.token.functions.balanceOf(address).call())
