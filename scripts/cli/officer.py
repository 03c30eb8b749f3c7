"""The two contexts a chain-facing command runs in: an :class:`Officer` (signs, writes,
audits) or a reader (:class:`~ledger_client.contract_set.ContractSet`: no key asked for).

``officer_command`` and ``reader_command`` turn ``func(context, **own_options)`` into a
typer command that also takes the common options (:mod:`scripts.cli.common`), opens the
context and maps failures to exit codes; an officer's failed attempts are audited too.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import requests
import typer
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.types import TxReceipt

from ledger_client.connection import NodeUnreachable
from ledger_client.contract_set import ContractSet
from ledger_client.deployment import Deployment, load_deployment
from ledger_client.fees import with_headroom
from ledger_client.transactions import Sender, TransactionFailed
from scripts.audit_log import DEFAULT_AUDIT_LOG, AuditLog, OfficerNameError, officer_identity
from scripts.cli.common import (
    DEFAULT_CONFIRM_ABOVE,
    DEFAULT_DEPLOYMENTS,
    DEFAULT_RPC_URL,
    AuditLogPath,
    BadInput,
    ConfirmAbove,
    DeploymentsDir,
    DevKeys,
    DryRun,
    Keystore,
    MissingRole,
    OfficerName,
    PasswordFile,
    RpcUrl,
    Yes,
    connect_node,
    console,
    handle_errors,
    out,
)
from scripts.cli.signing import SignerError, load_signer

Reader = ContractSet
"""What a listing or reporting command reads through: the node and the deployment, no key."""


def _audited(exc: BaseException) -> BaseException:
    """Marks ``exc`` as already in the audit log (so the command wrapper does not log it twice)."""
    exc.audited = True  # type: ignore[attr-defined]
    return exc


class Officer(ContractSet):
    """An officer's session: the contracts, the signer, the audit log and the --dry-run/--yes choices."""

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        sender: Sender,
        audit: AuditLog,
        dry_run: bool = False,
        yes: bool = False,
        confirm_above: int = DEFAULT_CONFIRM_ABOVE,
    ) -> None:
        super().__init__(w3, deployment)
        self.sender = sender
        self.audit = audit
        self.dry_run = dry_run
        self.yes = yes
        self.confirm_above = confirm_above

    @property
    def address(self) -> str:
        return str(self.sender.address)

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
            receipt = self.sender.send(fn.address, data, with_headroom(gas))
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
    w3 = connect_node(rpc_url)
    deployment = load_deployment(w3, deployments)
    signer = load_signer(keystore, password_file, dev_keys, key_role)
    audit = AuditLog(audit_log, identity, signer.address)
    return Officer(w3, deployment, Sender(w3, signer), audit, dry_run, yes, confirm_above)


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
    ((TransactionFailed, MissingRole), "refused"),
    (Web3RPCError, "refused"),
    (BadInput, "bad input"),
    ((NodeUnreachable, requests.ConnectionError, requests.Timeout), "node unreachable"),
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
    return handle_errors(wrapper, _command_name(func))


def officer_command(func: Callable[..., None]) -> Callable[..., None]:
    """Turns ``func(officer, **own_options)`` into a typer command that also takes the
    common options (node URL, deployment, signing key, audit log, --dry-run, --yes,
    --confirm-above, --officer), opens the officer context and maps failures to exit codes.
    Every failed attempt (refused on-chain, bad input, a key that does not unlock) is
    written to the audit log with the officer's identity, as every write is."""
    return _with_options(func, "officer", _COMMON, open_officer, audit_failures=True)


def open_reader(rpc_url: str, deployments: Path) -> Reader:
    w3 = connect_node(rpc_url)
    return Reader(w3, load_deployment(w3, deployments))


def reader_command(func: Callable[..., None]) -> Callable[..., None]:
    """Like :func:`officer_command` for commands that only read: node URL and deployment, no key."""
    return _with_options(func, "reader", _COMMON[:2], open_reader)
