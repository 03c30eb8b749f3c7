"""What every city-officer command shares: connection, signer, contracts, dry runs,
confirmation, the audit log, and one mapping from failures to messages and exit codes.

Exit codes: 0 done; 2 bad input (arguments, files, rows); 3 refused on-chain (a revert
or the node refusing the transaction); 4 the node cannot be reached.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import click
import requests
import typer
from eth_utils import is_checksum_address, is_hex_address
from rich.console import Console
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3RPCError
from web3.types import TxReceipt

from ledger_client.deployment import Deployment, DeploymentError, load_deployment
from ledger_client.transactions import Sender, TransactionFailed
from scripts.audit_log import DEFAULT_AUDIT_LOG, AuditLog, OfficerNameError, officer_identity
from scripts.connection import (
    DEFAULT_DEPLOYMENTS,
    DEFAULT_RPC_URL,
    ConnectionError_,
    DeploymentsDir,
    DevKeys,
    Keystore,
    PasswordFile,
    RpcUrl,
    SignerError,
    connect,
    load_signer,
)

EXIT_BAD_INPUT = 2
EXIT_REJECTED = 3
EXIT_CONNECTION = 4

console = Console(stderr=True)
out = Console()

DryRun = Annotated[bool, typer.Option("--dry-run", help="Check and show what would be sent; send nothing.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AuditLogPath = Annotated[
    Path, typer.Option("--audit-log", envvar="TAKASAGO_AUDIT_LOG", help="Append-only log of every write.")
]
OfficerName = Annotated[
    str | None,
    typer.Option(
        "--officer",
        envvar="TAKASAGO_OFFICER",
        help="Who is acting (name or staff id), recorded in the audit log with every write and every "
        "failed attempt. Default: the OS login.",
    ),
]
ConfirmAbove = Annotated[
    int,
    typer.Option(
        "--confirm-above", envvar="TAKASAGO_CONFIRM_ABOVE", help="Ask before writes moving more points than this."
    ),
]
DEFAULT_CONFIRM_ABOVE = 100_000


class BadInput(Exception):
    """The officer's input is wrong; the message says where and how."""


def _audited(exc: BaseException) -> BaseException:
    """Marks ``exc`` as already in the audit log (so the command wrapper does not log it twice)."""
    exc.audited = True  # type: ignore[attr-defined]
    return exc


@dataclass
class Officer:
    w3: Web3
    deployment: Deployment
    sender: Sender
    audit: AuditLog
    dry_run: bool
    yes: bool
    confirm_above: int

    @property
    def address(self) -> str:
        return str(self.sender.address)

    def contract(self, name: str) -> Contract:
        return self.deployment.contract(self.w3, name)

    @property
    def registry(self) -> Contract:
        return self.contract("AccountRegistry")

    @property
    def token(self) -> Contract:
        return self.contract("RegionalPoints")

    @property
    def programmes(self) -> Contract:
        return self.contract("RewardProgrammes")

    def confirm(self, question: str, points: int | None) -> None:
        if self.yes or self.dry_run or points is None or points <= self.confirm_above:
            return
        if not typer.confirm(question, default=False, err=True):
            raise BadInput("not confirmed; nothing was sent")

    def write(self, command: str, details: dict[str, Any], fn: Any, points: int | None = None) -> TxReceipt | None:
        """Sends ``fn`` (after an estimate that reports any revert), logs it, prints the result.

        In a dry run only the estimate runs. ``points`` above ``--confirm-above`` asks first.
        """
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        try:
            gas = self.sender.estimate(fn.address, data)
        except TransactionFailed as exc:  # refused by a role or a rule: nothing was sent
            self.audit.record(command, details, {"status": "refused", "error": str(exc), "dry_run": self.dry_run})
            raise _audited(exc) from None
        if self.dry_run:
            out.print(f"[yellow]dry run[/yellow]: {command} would succeed (gas {gas:,}); nothing sent")
            return None
        if points is not None:
            self.confirm(f"{command}: move {points:,} points?", points)
        try:
            receipt = self.sender.send(fn.address, data, gas * 12 // 10)
        except TransactionFailed as exc:
            self.audit.record(command, details, {"status": "refused", "error": str(exc), "tx": exc.tx_hash})
            raise _audited(exc) from None
        tx = "0x" + bytes(receipt["transactionHash"]).hex()
        self.audit.record(command, details, {"status": "done", "tx": tx, "block": receipt["blockNumber"]})
        out.print(f"[green]✓[/green] {command}: tx {tx} in block {receipt['blockNumber']}")
        return receipt


def open_officer(
    rpc_url: str,
    deployments: Path,
    keystore: Path | None,
    password_file: Path | None,
    dev_keys: Path | None,
    audit_log: Path,
    dry_run: bool = False,
    yes: bool = False,
    confirm_above: int = DEFAULT_CONFIRM_ABOVE,
    officer_name: str | None = None,
    key_role: str = "admin",
) -> Officer:
    identity = officer_identity(officer_name)
    w3 = connect(rpc_url)
    deployment = load_deployment(w3, deployments)
    signer = load_signer(keystore, password_file, dev_keys, key_role)
    audit = AuditLog(audit_log, identity, signer.address)
    return Officer(w3, deployment, Sender(w3, signer), audit, dry_run, yes, confirm_above)


def checksum_address(value: str, what: str = "address") -> str:
    """An EIP-55 address, or BadInput saying what is wrong (non-checksummed addresses are refused)."""
    if not is_hex_address(value):
        raise BadInput(f"{what} {value!r} is not a 20-byte hex address (0x + 40 hex digits)")
    if not is_checksum_address(value):
        raise BadInput(f"{what} {value} is not EIP-55 checksummed (mistyped, or lower-case): copy it from the wallet")
    return value


P = ParamSpec("P")
R = TypeVar("R")


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Maps failures to one clear message and an exit code (never a traceback)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ConnectionError_, requests.ConnectionError, requests.Timeout) as exc:
            # Before OSError: requests' errors are OSErrors too.
            console.print(f"[red]cannot reach the node:[/red] {exc}; re-run the same command once it is back")
            raise typer.Exit(EXIT_CONNECTION) from None
        except (BadInput, DeploymentError, SignerError, OfficerNameError, OSError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except TransactionFailed as exc:
            console.print(f"[red]refused on-chain:[/red] {exc}")
            raise typer.Exit(EXIT_REJECTED) from None
        except Web3RPCError as exc:
            console.print(f"[red]node error:[/red] {exc}")
            raise typer.Exit(EXIT_REJECTED) from None

    return wrapper


# Re-exported for the command modules' signatures.
__all__ = [
    "DEFAULT_AUDIT_LOG",
    "DEFAULT_DEPLOYMENTS",
    "DEFAULT_RPC_URL",
    "AuditLogPath",
    "BadInput",
    "ConfirmAbove",
    "DeploymentsDir",
    "DevKeys",
    "DryRun",
    "Keystore",
    "Officer",
    "PasswordFile",
    "RpcUrl",
    "Yes",
    "checksum_address",
    "handle_errors",
    "open_officer",
]


_COMMON = [
    inspect.Parameter("rpc_url", inspect.Parameter.KEYWORD_ONLY, default=DEFAULT_RPC_URL, annotation=RpcUrl),
    inspect.Parameter(
        "deployments", inspect.Parameter.KEYWORD_ONLY, default=DEFAULT_DEPLOYMENTS, annotation=DeploymentsDir
    ),
    inspect.Parameter("keystore", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Keystore),
    inspect.Parameter("password_file", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=PasswordFile),
    inspect.Parameter("dev_keys", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=DevKeys),
    inspect.Parameter("audit_log", inspect.Parameter.KEYWORD_ONLY, default=DEFAULT_AUDIT_LOG, annotation=AuditLogPath),
    inspect.Parameter("dry_run", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=DryRun),
    inspect.Parameter("yes", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Yes),
    inspect.Parameter(
        "confirm_above", inspect.Parameter.KEYWORD_ONLY, default=DEFAULT_CONFIRM_ABOVE, annotation=ConfirmAbove
    ),
    inspect.Parameter("officer_name", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=OfficerName),
]


_FAILURE_STATUS: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str]] = [
    (SignerError, "authentication failed"),
    (TransactionFailed, "refused"),
    (Web3RPCError, "refused"),
    (BadInput, "bad input"),
    ((ConnectionError_, requests.ConnectionError, requests.Timeout), "node unreachable"),
]


def _command_name(func: Callable[..., Any]) -> str:
    """``account_authorise_service`` -> ``account authorise-service`` (the command as typed)."""
    group, _, rest = func.__name__.partition("_")
    return f"{group} {rest.replace('_', '-')}" if rest else group


def _record_failure(command: str, common: dict[str, Any], own: dict[str, Any], exc: Exception) -> None:
    """Writes a failed privileged attempt to the audit log (who, what, why), unless
    :meth:`Officer.write` already did. Never raises: the original error is what the officer sees."""
    if getattr(exc, "audited", False):
        return
    if isinstance(exc, click.exceptions.Exit) and exc.exit_code == 0:
        return
    try:
        identity = officer_identity(common.get("officer_name"))
    except OfficerNameError:
        return  # no identity to record; the officer is told what is wrong with --officer
    status = next((name for kinds, name in _FAILURE_STATUS if isinstance(exc, kinds)), "failed")
    error = f"exit code {exc.exit_code}" if isinstance(exc, click.exceptions.Exit) else str(exc)[:500]
    details = {key: value for key, value in own.items() if value is not None}
    try:
        AuditLog(Path(common["audit_log"]), identity, getattr(exc, "signer", None)).record(
            command, details, {"status": status, "error": error}
        )
    except OSError as log_error:
        console.print(f"[red]could not write the audit log:[/red] {log_error}")


def _with_options(
    func: Callable[..., None],
    context_name: str,
    options: list[inspect.Parameter],
    open_context: Callable[..., Any],
    audit_failures: bool = False,
) -> Callable[..., None]:
    """A typer command taking ``func``'s own options plus ``options``; the latter open the
    context passed to ``func`` as its first argument. Failures map to exit codes; with
    ``audit_failures`` every failed attempt is also written to the audit log."""
    own = [p for name, p in inspect.signature(func, eval_str=True).parameters.items() if name != context_name]
    names = [p.name for p in options]

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> None:
        common = {name: kwargs.pop(name) for name in names}
        context = None
        try:
            context = open_context(**common)
            func(context, **kwargs)
        except Exception as exc:
            if audit_failures:
                if context is not None:
                    exc.signer = context.address  # type: ignore[attr-defined]
                _record_failure(_command_name(func), common, kwargs, exc)
            raise

    wrapper.__signature__ = inspect.Signature([*own, *options])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *options]}
    del wrapper.__wrapped__  # typer must see the merged signature, not the original
    return handle_errors(wrapper)


def officer_command(func: Callable[..., None]) -> Callable[..., None]:
    """Turns ``func(officer, **own_options)`` into a typer command that also takes the
    common options (node URL, deployment, signing key, audit log, --dry-run, --yes,
    --confirm-above, --officer), opens the officer context and maps failures to exit codes.
    Every failed attempt (refused on-chain, bad input, a key that does not unlock) is
    written to the audit log with the officer's identity, as every write is."""
    return _with_options(func, "officer", _COMMON, open_officer, audit_failures=True)


@dataclass
class Reader:
    """Read-only access for listing and reporting commands (no key needed)."""

    w3: Web3
    deployment: Deployment

    def contract(self, name: str) -> Contract:
        return self.deployment.contract(self.w3, name)


def open_reader(rpc_url: str, deployments: Path) -> Reader:
    w3 = connect(rpc_url)
    return Reader(w3, load_deployment(w3, deployments))


def reader_command(func: Callable[..., None]) -> Callable[..., None]:
    """Like :func:`officer_command` for commands that only read: node URL and deployment."""
    return _with_options(func, "reader", _COMMON[:2], open_reader)
