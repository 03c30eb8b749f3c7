"""Idempotent deployment of the point contracts (``takasago deploy``).

Re-running changes nothing: each step first looks at the chain and the deployment
file (:mod:`ledger_client.deployment`) and acts only on what is missing. The file is
rewritten after every contract, so an interrupted run resumes where it stopped.
An implementation that differs from ``contracts/build`` is reported, and replaced
through the proxy's UUPS upgrade only when ``upgrade=True``.

Order: AccountRegistry (predeployed in genesis on a Takasago node; deployed here on
any other EVM node), RegionalPoints, RewardProgrammes, OracleReports, HelpBoard; then
the roles and links that bind them (MINTER to the programmes, QUORUM_REPORTER to the
reports, the token's help board and business-programme payer), the help board's task types
and the local-circulation limits (issue 21) where none is set; last, the registry's kinds mirror:
the registry is told to push every change of an account's active kind to the token
(``setKindsMirror``), and the accounts it registered before (found by their
``AccountRegistered`` events) are copied into the token (``syncKinds``), so moving points
needs no call to the registry. The link is made once; a copy interrupted halfway is only
slower, never wrong (the token asks the registry for any account it holds no copy of).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3RPCError

from contracts.artifacts import load_artifact
from contracts.predeploys import REGISTRY_ADDRESS
from ledger_client.deployment import (
    DeployedContract,
    Deployment,
    check_same_chain,
    deployment_path,
    genesis_hash,
    read_deployment,
    write_deployment,
)
from ledger_client.transactions import Sender

# ERC-1967: bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)
IMPLEMENTATION_SLOT = 0x360894A13BA1A3210667C828492DB98DCA3E2076CC3735A920A3CA505D382BBC
TAKASAGO_REGISTRY_ADDRESS = REGISTRY_ADDRESS
MINTER_ROLE = keccak(text="MINTER_ROLE")
QUORUM_REPORTER_ROLE = keccak(text="QUORUM_REPORTER_ROLE")
HELP_MODERATOR_ROLE = keccak(text="HELP_MODERATOR_ROLE")
MAX_LOG_BLOCKS = 10_000  # the node's eth_getLogs range cap (node/rpc/methods.py)
SYNC_KINDS_BATCH = 100  # accounts per syncKinds transaction

# Help matching's menu (issue 18): task type -> the city's suggested range of thanks, in points.
# 0 shopping, 1 garbage out, 2 light housework, 3 garden, 4 moving furniture, 5 accompanying
# to hospital or city hall, 6 smartphone help, 7 child pick-up, 8 other (names: wallet_api).
DEFAULT_HELP_TASK_TYPES: tuple[tuple[int, int, int], ...] = (
    (0, 100, 500),
    (1, 50, 200),
    (2, 100, 500),
    (3, 200, 1_000),
    (4, 200, 1_000),
    (5, 200, 1_000),
    (6, 100, 500),
    (7, 200, 800),
    (8, 50, 1_000),
)


@dataclass(frozen=True)
class DeploySettings:
    """Initial parameters; they apply only when a contract is first deployed."""

    token_name: str = "Takasago Regional Points"
    token_symbol: str = "TRP"
    thanks_per_day: int = 10
    thanks_points_per_day: int = 1_000
    oracle_quorum: int = 2
    help_max_open_per_requester: int = 3
    help_monthly_thanks_cap: int = 3_000
    help_task_types: tuple[tuple[int, int, int], ...] = DEFAULT_HELP_TASK_TYPES
    # Local circulation (issue 21), set once where the city has set nothing: the largest shop or
    # business payment (B2B) and the largest reward to a resident in one transfer, and how many
    # months ahead points leaving a shop's non-expiring ledger expire.
    business_max_payment: int = 100_000
    business_max_reward: int = 10_000
    merchant_points_months: int = 6


@dataclass
class DeployReport:
    deployment: Deployment
    path: Path
    actions: list[str] = field(default_factory=list)
    pending_upgrades: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def _bytecode_hash(name: str) -> str:
    return "0x" + keccak(load_artifact(name).bytecode).hex()


def implementation_of(w3: Web3, proxy: str) -> str:
    raw = w3.eth.get_storage_at(to_checksum_address(proxy), IMPLEMENTATION_SLOT)
    return to_checksum_address(bytes(raw)[-20:])


class _Deployer:
    def __init__(
        self, w3: Web3, sender: Sender, directory: Path, settings: DeploySettings, upgrade: bool, dry_run: bool
    ) -> None:
        self.dry_run = dry_run
        self.w3 = w3
        self.sender = sender
        self.settings = settings
        self.upgrade = upgrade
        self.upgraded: set[str] = set()  # contracts upgraded in this run
        chain_id = w3.eth.chain_id
        self.path = deployment_path(directory, chain_id)
        existing = read_deployment(self.path)
        if existing is not None:
            check_same_chain(w3, self.path, existing)
            self.deployment = existing
        else:
            self.deployment = Deployment(chain_id, genesis_hash(w3))
        self.report = DeployReport(self.deployment, self.path)

    def _has_code(self, address: str) -> bool:
        return len(self.w3.eth.get_code(to_checksum_address(address))) > 0

    def _save(self) -> None:
        if not self.dry_run:
            write_deployment(self.path, self.deployment)

    def _create(self, name: str, args: bytes = b"") -> tuple[str, int]:
        receipt = self.sender.send(None, load_artifact(name).bytecode + args)
        address = receipt["contractAddress"]
        assert address is not None
        return to_checksum_address(address), int(receipt["blockNumber"])

    def _deploy_proxy(self, name: str, init_data: bytes) -> None:
        if self.dry_run:
            # Nothing is sent; later steps see a placeholder address.
            placeholder = to_checksum_address(keccak(text=f"dry-run:{name}")[:20])
            self.deployment.contracts[name] = DeployedContract(placeholder, placeholder, _bytecode_hash(name), 0)
            self.report.actions.append(f"would deploy {name}")
            return
        implementation, _ = self._create(name)
        proxy, block = self._create("TakasagoProxy", abi_encode(["address", "bytes"], [implementation, init_data]))
        self.deployment.contracts[name] = DeployedContract(proxy, implementation, _bytecode_hash(name), block)
        self._save()
        self.report.actions.append(f"deployed {name} at {proxy} (implementation {implementation})")

    def ensure(self, name: str, init_data: Callable[[], bytes]) -> None:
        record = self.deployment.contracts.get(name)
        if record is None or not self._has_code(record.address):
            self._deploy_proxy(name, init_data())
            return
        on_chain = implementation_of(self.w3, record.address)
        if on_chain != to_checksum_address(record.implementation):
            record.implementation = on_chain
            record.bytecodeHash = "unknown"
            self._save()
        if record.bytecodeHash == _bytecode_hash(name):
            return
        if not self.upgrade:
            self.report.pending_upgrades.append(f"{name} at {record.address} runs an older implementation")
            return
        if self.dry_run:
            self.report.actions.append(f"would upgrade {name} at {record.address}")
            return
        implementation, block = self._create(name)
        proxy = self.deployment.contract(self.w3, name)
        self.sender.call_function(proxy.functions.upgradeToAndCall(implementation, b""))
        record.implementation = implementation
        record.bytecodeHash = _bytecode_hash(name)
        self._save()
        self.upgraded.add(name)
        self.report.actions.append(f"upgraded {name} at {record.address} to implementation {implementation}")

    def ensure_registry(self) -> None:
        record = self.deployment.contracts.get("AccountRegistry")
        if record is not None and self._has_code(record.address):
            self.ensure("AccountRegistry", lambda: b"")
            return
        address = self._takasago_registry()
        if address is not None:
            implementation = implementation_of(self.w3, address)
            self.deployment.contracts["AccountRegistry"] = DeployedContract(
                address, implementation, _bytecode_hash("AccountRegistry"), 0
            )
            self._save()
            verb = "would record" if self.dry_run else "recorded"
            self.report.actions.append(f"{verb} the genesis AccountRegistry at {address}")
            return
        admin = self.sender.address
        registry = self.w3.eth.contract(abi=load_artifact("AccountRegistry").abi)
        init = registry.encode_abi("initialize", [admin, [], [admin]])
        self._deploy_proxy("AccountRegistry", bytes.fromhex(init[2:]))

    def _takasago_registry(self) -> str | None:
        """The registry a Takasago node predeployed in genesis (None on other EVM nodes)."""
        try:
            info = self.w3.provider.make_request("takasago_nodeInfo", [])  # type: ignore[arg-type]
        except (Web3RPCError, OSError):
            info = {}
        result = info.get("result") if isinstance(info, dict) else None
        address = result.get("registryAddress") if isinstance(result, dict) else None
        if address is None and self._has_code(TAKASAGO_REGISTRY_ADDRESS):
            address = TAKASAGO_REGISTRY_ADDRESS
        return to_checksum_address(address) if address and self._has_code(address) else None

    def ensure_role(self, role: bytes, role_name: str, contract_name: str) -> None:
        registry = self.deployment.contract(self.w3, "AccountRegistry")
        account = self.deployment.address(contract_name)
        if self.dry_run and not self._has_code(account):
            self.report.actions.append(f"would grant {role_name} to {contract_name}")
            return
        if registry.functions.hasRole(role, account).call():
            return
        if self.dry_run:
            self.report.actions.append(f"would grant {role_name} to {contract_name}")
            return
        self.sender.call_function(registry.functions.grantRole(role, account))
        self.report.actions.append(f"granted {role_name} to {contract_name}")

    def ensure_help_board(self) -> None:
        """The token names the HelpBoard its escrow holder; the board offers the default task types if it has none.

        A token from before issue 18 has no escrow (no ``helpBoard``/``setHelpBoard``): the
        link waits, reported as pending, until ``--upgrade`` brings the token up to date.
        """
        board = self.deployment.address("HelpBoard")
        if self.dry_run and not self._has_code(board):
            self.report.actions.append("would set the token's help board and the help task types")
            return
        if self.deployment.contracts["RegionalPoints"].bytecodeHash != _bytecode_hash("RegionalPoints"):
            self.report.pending_upgrades.append(
                "the help board is linked to RegionalPoints once the token is upgraded (takasago deploy --upgrade)"
            )
        else:
            token = self.deployment.contract(self.w3, "RegionalPoints")
            if to_checksum_address(token.functions.helpBoard().call()) != to_checksum_address(board):
                if self.dry_run:
                    self.report.actions.append("would set the token's help board")
                else:
                    self.sender.call_function(token.functions.setHelpBoard(board))
                    self.report.actions.append(f"set the token's help board to {board}")
        contract = self.deployment.contract(self.w3, "HelpBoard")
        if any(contract.functions.taskTypeOf(t).call()[1] for t, _, _ in self.settings.help_task_types):
            return  # the city has set its own menu: left alone
        if self.dry_run:
            self.report.actions.append("would set the help task types")
            return
        for task_type, low, high in self.settings.help_task_types:
            self.sender.call_function(contract.functions.setTaskType(task_type, low, high, True))
        self.report.actions.append(f"set {len(self.settings.help_task_types)} help task types")

    def ensure_local_circulation(self) -> None:
        """The token lets the programmes contract pay business programmes, and gets the default
        local-circulation limits when none are set (a city's own limits are left alone).

        A token from before issue 21 has neither: both wait, reported as pending, for ``--upgrade``.
        """
        programmes = self.deployment.address("RewardProgrammes")
        if self.dry_run and not self._has_code(programmes):
            self.report.actions.append("would link the token to the programmes and set local-circulation limits")
            return
        if self.deployment.contracts["RegionalPoints"].bytecodeHash != _bytecode_hash("RegionalPoints"):
            self.report.pending_upgrades.append(
                "business payments and rewards open once the token is upgraded (takasago deploy --upgrade)"
            )
            return
        token = self.deployment.contract(self.w3, "RegionalPoints")
        if to_checksum_address(token.functions.rewardProgrammes().call()) != to_checksum_address(programmes):
            if self.dry_run:
                self.report.actions.append("would let the programmes pay business programmes")
            else:
                self.sender.call_function(token.functions.setRewardProgrammes(programmes))
                self.report.actions.append(f"let {programmes} pay business programmes")
        limits = tuple(int(x) for x in token.functions.localCirculationLimits().call())
        if any(limits):
            if "RegionalPoints" in self.upgraded:
                # The same limits again: writing them makes the token's copies of the pause and the
                # kinds link beside them, which a token from before those copies lacks.
                self.sender.call_function(token.functions.setLocalCirculationLimits(*limits))
                self.report.actions.append("re-applied the local-circulation limits after the token's upgrade")
            return
        s = self.settings
        if self.dry_run:
            self.report.actions.append("would set the local-circulation limits")
            return
        limits = (s.business_max_payment, s.business_max_reward, s.merchant_points_months)
        self.sender.call_function(token.functions.setLocalCirculationLimits(*limits))
        self.report.actions.append(
            f"set local-circulation limits: payment {limits[0]}, reward {limits[1]}, shop points {limits[2]} months"
        )

    def ensure_kinds_mirror(self) -> None:
        """The registry pushes account kinds to the token, and the token holds a copy of every
        account registered before the link (``syncKinds``).

        Waits, reported as pending, while the registry or the token runs an implementation from
        before the mirror (``--upgrade`` brings both). Left alone once linked: the registry
        pushes every later change itself.
        """
        for name in ("AccountRegistry", "RegionalPoints"):
            if self.deployment.contracts[name].bytecodeHash != _bytecode_hash(name):
                self.report.pending_upgrades.append(
                    "the token keeps its own copy of account kinds once the registry and the token are "
                    "upgraded (takasago deploy --upgrade)"
                )
                return
        token_address = self.deployment.address("RegionalPoints")
        if self.dry_run and not self._has_code(token_address):
            self.report.actions.append("would link the registry's kinds mirror to the token")
            return
        registry = self.deployment.contract(self.w3, "AccountRegistry")
        if to_checksum_address(registry.functions.kindsMirror().call()) == to_checksum_address(token_address):
            return
        if self.dry_run:
            self.report.actions.append("would link the registry's kinds mirror to the token and copy the kinds")
            return
        self.sender.call_function(registry.functions.setKindsMirror(token_address))
        token = self.deployment.contract(self.w3, "RegionalPoints")
        accounts = self._registered_accounts(registry)
        for start in range(0, len(accounts), SYNC_KINDS_BATCH):
            self.sender.call_function(token.functions.syncKinds(accounts[start : start + SYNC_KINDS_BATCH]))
        self.report.actions.append(
            f"linked the registry's kinds mirror to the token ({len(accounts)} registered accounts copied)"
        )

    def _registered_accounts(self, registry: Contract) -> list[str]:
        """Every account the registry's ``AccountRegistered`` events name, in order, once each
        (accounts initialised in genesis emit none: the token asks the registry for those)."""
        event = registry.events.AccountRegistered()
        topic = "0x" + keccak(text="AccountRegistered(address,uint8,bytes32)").hex()
        head = self.w3.eth.block_number
        seen: dict[str, None] = {}
        for first in range(0, head + 1, MAX_LOG_BLOCKS):
            for log in self._logs(registry.address, first, min(head, first + MAX_LOG_BLOCKS - 1), topic):
                seen[to_checksum_address(event.process_log(log)["args"]["account"])] = None
        return list(seen)

    def _logs(self, address: str, lower: int, upper: int, topic: str) -> list[Any]:
        """``address``'s logs with ``topic`` in blocks [lower, upper]; halves the range when the
        node says it holds too many."""
        try:
            query = {"address": address, "fromBlock": lower, "toBlock": upper, "topics": [topic]}
            return list(self.w3.eth.get_logs(query))  # type: ignore[arg-type]
        except Web3RPCError as exc:
            if lower == upper or "more than" not in str(exc):
                raise
        middle = (lower + upper) // 2
        return self._logs(address, lower, middle, topic) + self._logs(address, middle + 1, upper, topic)

    def run(self) -> DeployReport:
        s = self.settings
        self.ensure_registry()
        registry = self.deployment.address("AccountRegistry")

        def encode(name: str, *args: object) -> bytes:
            contract = self.w3.eth.contract(abi=load_artifact(name).abi)
            return bytes.fromhex(contract.encode_abi("initialize", list(args))[2:])

        self.ensure(
            "RegionalPoints",
            lambda: encode(
                "RegionalPoints", registry, s.token_name, s.token_symbol, s.thanks_per_day, s.thanks_points_per_day
            ),
        )
        self.ensure(
            "RewardProgrammes",
            lambda: encode("RewardProgrammes", registry, self.deployment.address("RegionalPoints")),
        )
        self.ensure(
            "OracleReports",
            lambda: encode("OracleReports", registry, self.deployment.address("RewardProgrammes"), s.oracle_quorum),
        )
        self.ensure(
            "HelpBoard",
            lambda: encode(
                "HelpBoard",
                registry,
                self.deployment.address("RegionalPoints"),
                (s.help_max_open_per_requester, s.help_monthly_thanks_cap),
            ),
        )
        self.ensure_role(MINTER_ROLE, "MINTER_ROLE", "RewardProgrammes")
        self.ensure_role(QUORUM_REPORTER_ROLE, "QUORUM_REPORTER_ROLE", "OracleReports")
        self.ensure_help_board()
        self.ensure_local_circulation()
        self.ensure_kinds_mirror()
        if not self.path.exists():
            self._save()
        return self.report


def deploy(
    w3: Web3,
    sender: Sender,
    directory: Path,
    settings: DeploySettings | None = None,
    upgrade: bool = False,
    dry_run: bool = False,
) -> DeployReport:
    """Brings the chain to the deployment in ``contracts/build``; see the module docstring.

    ``dry_run`` reports what would be done ("would deploy …") and sends and writes nothing.
    """
    return _Deployer(w3, sender, directory, settings or DeploySettings(), upgrade, dry_run).run()
