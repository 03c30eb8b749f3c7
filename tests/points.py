"""A deployed point system on a real node, and helpers to drive it from tests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from contracts.deploy import DeploySettings, deploy
from ledger_client import jst
from ledger_client.deployment import Deployment
from ledger_client.errors import ContractError
from ledger_client.payment_uri import payment_request_id
from ledger_client.transactions import Sender, TransactionFailed
from tests.conftest import NodeProcess
from tests.support import web3_for

RESIDENT, MERCHANT, CITY, ORACLE, VALIDATOR = 1, 2, 3, 4, 5
ACTIVE, SUSPENDED, REVOKED = 1, 2, 3
ADMIN_ROLE = b"\0" * 32
REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")
ENROLLER_ROLE = keccak(text="ENROLLER_ROLE")
MINTER_ROLE = keccak(text="MINTER_ROLE")
ORACLE_ROLE = keccak(text="ORACLE_ROLE")
PAUSER_ROLE = keccak(text="PAUSER_ROLE")
QUORUM_REPORTER_ROLE = keccak(text="QUORUM_REPORTER_ROLE")
HELP_MODERATOR_ROLE = keccak(text="HELP_MODERATOR_ROLE")
CAP_DAY, CAP_MONTH, CAP_FISCAL_YEAR, CAP_PROGRAMME = 0, 1, 2, 3
EXPIRY_FISCAL_YEAR_END, EXPIRY_DAYS_AFTER = 0, 1
FAR_FUTURE = 2**40 - 1


PROGRAMME_FIELDS = (
    "name",
    "verifierRole",
    "rewardPoints",
    "rewardUnits",
    "capPerPeriod",
    "capPeriod",
    "budget",
    "startsAt",
    "endsAt",
    "expiryPolicy",
    "expiryDays",
)


def programme_tuple(params: dict[str, Any]) -> tuple[Any, ...]:
    """RewardProgrammes.ProgrammeParams as the ABI tuple, from a dict keyed by field name."""
    return tuple(params[name] for name in PROGRAMME_FIELDS)


def text32(text: str) -> bytes:
    raw = text.encode()
    assert len(raw) <= 32
    return raw.ljust(32, b"\0")


@dataclass
class PointsSystem:
    node: NodeProcess
    w3: Web3
    deployment: Deployment
    deployments_dir: Path
    admin: LocalAccount
    registry: Contract
    token: Contract
    programmes: Contract
    reports: Contract
    board: Contract
    admin_programme: int = 0
    _senders: dict[str, Sender] = field(default_factory=dict)

    # -- transactions ---------------------------------------------------------------
    def sender(self, account: LocalAccount) -> Sender:
        if account.address not in self._senders:
            self._senders[account.address] = Sender(self.w3, account)
        return self._senders[account.address]

    def send(self, account: LocalAccount, fn: Any, gas: int | None = None) -> TxReceipt:
        return self.sender(account).call_function(fn, gas)

    def reverts(self, account: LocalAccount, fn: Any, error: str) -> ContractError:
        """Asserts the call is refused with custom error ``error``; returns the decoded error."""
        with pytest.raises(TransactionFailed) as info:
            self.send(account, fn)
        decoded = info.value.error
        assert decoded is not None, f"expected {error}, got undecoded failure: {info.value}"
        assert decoded.name == error, f"expected {error}, got {decoded}"
        return decoded

    def events(self, receipt: TxReceipt, contract: Contract, name: str) -> list[Any]:
        from web3.logs import DISCARD

        return list(getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD))

    # -- accounts -------------------------------------------------------------------
    def new_account(self) -> LocalAccount:
        return Account.from_key(secrets.token_bytes(32))

    def register(self, kind: int, *accounts: LocalAccount) -> None:
        for account in accounts:
            self.send(self.admin, self.registry.functions.register(account.address, kind, keccak(account.key)))

    def resident(self) -> LocalAccount:
        account = self.new_account()
        self.register(RESIDENT, account)
        return account

    def merchant(self) -> LocalAccount:
        account = self.new_account()
        self.register(MERCHANT, account)
        return account

    def grant(self, role: bytes, account: LocalAccount | str) -> None:
        address = account if isinstance(account, str) else account.address
        self.send(self.admin, self.registry.functions.grantRole(role, address))

    def recover(self, lost: LocalAccount | str, new: LocalAccount | str) -> TxReceipt:
        """An officer's (the admin's) whole recovery: announce, let the registry's recovery
        delay pass on the chain's clock, complete it. Returns the completing receipt."""
        lost_address = lost if isinstance(lost, str) else lost.address
        new_address = new if isinstance(new, str) else new.address
        self.send(self.admin, self.registry.functions.announceRecovery(lost_address, new_address))
        _, executable_at = self.registry.functions.recoveryOf(lost_address).call()
        self.mine_at(max(int(executable_at), self.now() + 1))  # estimates run at the head's time
        return self.send(self.admin, self.registry.functions.recover(lost_address, new_address))

    # -- time -----------------------------------------------------------------------
    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def current_month(self) -> int:
        return int(self.token.functions.currentMonth().call())

    def mine_at(self, timestamp: int) -> None:
        """Seals an empty block stamped ``timestamp`` (dev chains only); later blocks follow from it."""
        response = self.node.call("evm_mine", [timestamp])
        assert "error" not in response, response

    def next_block_at(self, timestamp: int) -> None:
        response = self.node.call("evm_setNextBlockTimestamp", [timestamp])
        assert "error" not in response, response

    # -- points ---------------------------------------------------------------------
    def create_programme(self, **overrides: Any) -> int:
        now = self.now()
        params = {
            "name": "test programme",
            "verifierRole": MINTER_ROLE,
            "rewardPoints": 1,
            "rewardUnits": 1,
            "capPerPeriod": 0,
            "capPeriod": CAP_PROGRAMME,
            "budget": 10**15,
            "startsAt": now - 86400,
            "endsAt": FAR_FUTURE,
            "expiryPolicy": EXPIRY_DAYS_AFTER,
            "expiryDays": 365,
        }
        params.update(overrides)
        receipt = self.send(self.admin, self.programmes.functions.createProgramme(programme_tuple(params)))
        (event,) = self.events(receipt, self.programmes, "ProgrammeCreated")
        return int(event["args"]["programmeId"])

    def mint(self, resident: LocalAccount | str, amount: int, expiry_month: int | None = None) -> TxReceipt:
        """Mints straight through the token (the admin holds MINTER_ROLE in these tests)."""
        address = resident if isinstance(resident, str) else resident.address
        month = self.current_month() + 6 if expiry_month is None else expiry_month
        return self.send(self.admin, self.token.functions.mint(address, amount, month))

    def balance(self, account: LocalAccount | str) -> int:
        address = account if isinstance(account, str) else account.address
        return int(self.token.functions.balanceOf(address).call())

    def thank(self, sender: LocalAccount, to: LocalAccount, amount: int, category: str = "help") -> TxReceipt:
        return self.send(sender, self.token.functions.thank(to.address, amount, text32(category), keccak(b"memo")))

    def pay(self, payer: LocalAccount, merchant: LocalAccount, amount: int, reference: bytes | None = None) -> bytes:
        """Pays ``amount`` against the printed ``reference`` (random when None); returns the
        request id the payment is recorded under (``paymentOf``, ``refund``, ``Paid``)."""
        reference = reference or secrets.token_bytes(32)
        self.send(payer, self.token.functions.pay(merchant.address, amount, reference))
        return payment_request_id(merchant.address, amount, reference)


def start_points_system(data_dir: Path, port: int, deployments_dir: Path) -> PointsSystem:
    """Starts a dev node in ``data_dir`` (already initialised) and deploys the contracts."""
    node = NodeProcess(data_dir, port)
    node.start()
    w3 = web3_for(node.url)
    admin = Account.from_key(node.dev_keys["admin"]["privateKey"])
    sender = Sender(w3, admin)
    report = deploy(w3, sender, deployments_dir, DeploySettings(thanks_per_day=10, thanks_points_per_day=1_000))
    d = report.deployment
    system = PointsSystem(
        node=node,
        w3=w3,
        deployment=d,
        deployments_dir=deployments_dir,
        admin=admin,
        registry=d.contract(w3, "AccountRegistry"),
        token=d.contract(w3, "RegionalPoints"),
        programmes=d.contract(w3, "RewardProgrammes"),
        reports=d.contract(w3, "OracleReports"),
        board=d.contract(w3, "HelpBoard"),
    )
    system._senders[admin.address] = sender
    system.grant(MINTER_ROLE, admin)
    system.grant(PAUSER_ROLE, admin)
    return system


__all__ = ["PointsSystem", "jst", "start_points_system"]
