"""What every ``takasago`` command shares: the common options, exit codes, and one mapping
from failures to a message (English, then Japanese) and an exit code.

Exit codes: 0 done (or nothing left to do); 1 a check found a discrepancy (``audit verify``);
2 bad input (arguments, files, rows, a key that does not unlock); 3 refused (a revert, the
node refusing the transaction, a role the signer lacks); 4 the node cannot be reached;
130 interrupted (re-run the same command to resume).

Each option type here declares its flag, environment variable and default once, and shows
the default in ``--help`` (``show_default`` is a text where the value is ``None`` or a flag).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import requests
import typer
from eth_utils import is_checksum_address, is_hex_address
from rich.console import Console
from rich.markup import escape
from web3 import Web3
from web3.exceptions import Web3RPCError

from ledger_client.connection import NodeUnreachable, connect
from ledger_client.deployment import DeploymentError
from ledger_client.transactions import TransactionFailed
from scripts.audit_log import OfficerNameError
from scripts.cli.signing import SignerError
from scripts.registry_names import role_label, role_name

EXIT_DISCREPANCY = 1
EXIT_BAD_INPUT = 2
EXIT_REJECTED = 3
EXIT_CONNECTION = 4
EXIT_INTERRUPTED = 130

console = Console(stderr=True)
out = Console()

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_DEPLOYMENTS = Path(".takasago/deployments")
DEFAULT_CONFIRM_ABOVE = 100_000

# ---------------------------------------------------------------- options

RpcUrl = Annotated[str, typer.Option("--rpc-url", envvar="TAKASAGO_RPC_URL", help="Node JSON-RPC URL.")]
DeploymentsDir = Annotated[
    Path,
    typer.Option(
        "--deployments", envvar="TAKASAGO_DEPLOYMENTS", help="Directory of deployment files (one per chain id)."
    ),
]
Keystore = Annotated[
    Path | None,
    typer.Option(
        "--keystore", envvar="TAKASAGO_KEYSTORE", help="Encrypted keystore of the signer.", show_default="none"
    ),
]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="File holding the keystore passphrase.",
        show_default="TAKASAGO_KEYSTORE_PASSWORD, else a prompt",
    ),
]
DevKeys = Annotated[
    Path | None,
    typer.Option(
        "--dev-keys",
        envvar="TAKASAGO_DEV_KEYS",
        help="Development chains only: dev-keys.json to sign with.",
        show_default="none",
    ),
]
NodeTokenFile = Annotated[
    Path | None,
    typer.Option(
        "--node-token-file",
        envvar="TAKASAGO_NODE_SERVICE_TOKEN_FILE",
        help="File (0600) holding the node's service token: this service's requests get the node's trusted lane.",
        show_default="none: the anonymous lane",
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Check and show what would be sent; send nothing.", show_default="off")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.", show_default="off")]
AuditLogPath = Annotated[
    Path, typer.Option("--audit-log", envvar="TAKASAGO_AUDIT_LOG", help="Append-only log of every write.")
]
OfficerName = Annotated[
    str | None,
    typer.Option(
        "--officer",
        envvar="TAKASAGO_OFFICER",
        help="Who is acting (name or staff id), recorded in the audit log with every write and every failed attempt.",
        show_default="the OS login",
    ),
]
ConfirmAbove = Annotated[
    int,
    typer.Option(
        "--confirm-above", envvar="TAKASAGO_CONFIRM_ABOVE", help="Ask before writes moving more points than this."
    ),
]

# ---------------------------------------------------------------- messages

MESSAGES: dict[str, tuple[str, str]] = {
    # kind: (English, Japanese); printed "English（Japanese）: detail"
    "unreachable": ("cannot reach the node", "ノードに接続できません"),
    "bad input": ("error", "入力エラー"),
    "refused": ("refused on-chain", "チェーン上で拒否されました"),
    "not accepted": ("refused", "受け付けられませんでした"),
    "node error": ("node error", "ノードのエラー"),
    "retry": ("re-run the same command once it is back", "復旧後に同じコマンドを再実行してください"),
    "database": ("database error", "データベースのエラー"),
    "unreachable or file": ("cannot reach the node or a file", "ノードまたはファイルにアクセスできません"),
}


def say(kind: str, detail: str) -> None:
    """One error line on stderr: the kind in English and Japanese, then the detail.

    Never hard-wrapped (the terminal wraps it), so addresses, ids and commands stay copyable.
    """
    english, japanese = MESSAGES[kind]
    console.print(f"[red]{english}[/red]（{japanese}）: {escape(detail)}", soft_wrap=True)


def missing_role_message(account: str, role_id: bytes, command: str) -> tuple[str, str]:
    """English and Japanese: who lacks which role, for which command, and the command that grants it."""
    label = role_label(role_id)
    grant = f"takasago roles grant {role_name(role_id) or '0x' + bytes(role_id).hex()} {account}"
    return (
        f"{account} lacks {label}, needed by `takasago {command}`; grant it with `{grant}` (an admin's key)",
        f"{account} には {label} がありません（`takasago {command}` に必要）。"
        f"管理者の鍵で `{grant}` を実行して付与してください",
    )


class BadInput(Exception):
    """The officer's input is wrong; the message says where and how."""


class MissingRole(Exception):
    """The signer lacks a role the command needs (found before sending, or in a revert)."""

    def __init__(self, account: str, role_id: bytes) -> None:
        super().__init__(f"{account} lacks {role_label(role_id)}")
        self.account = account
        self.role_id = bytes(role_id)


def missing_role(exc: BaseException) -> MissingRole | None:
    """The missing role behind ``exc``: a :class:`MissingRole`, or OpenZeppelin's
    ``AccessControlUnauthorizedAccount(account, neededRole)`` revert; else None."""
    if isinstance(exc, MissingRole):
        return exc
    error = getattr(exc, "error", None) if isinstance(exc, TransactionFailed) else None
    if error is not None and error.name == "AccessControlUnauthorizedAccount":
        return MissingRole(str(error.args["account"]), bytes(error.args["neededRole"]))
    return None


def checksum_address(value: str, what: str = "address") -> str:
    """An EIP-55 address, or BadInput saying what is wrong (non-checksummed addresses are refused)."""
    if not is_hex_address(value):
        raise BadInput(f"{what} {value!r} is not a 20-byte hex address (0x + 40 hex digits)")
    if not is_checksum_address(value):
        raise BadInput(f"{what} {value} is not EIP-55 checksummed (mistyped, or lower-case): copy it from the wallet")
    return value


def connect_node(url: str, token_file: Path | None = None) -> Web3:
    """The node at ``url`` through the shared client, asked once that it answers
    (:class:`ledger_client.connection.NodeUnreachable` otherwise, reported as exit code 4)."""
    return connect(url, token_file=token_file, check=True)


# ---------------------------------------------------------------- errors → exit codes

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


def handle_errors(func: Callable[P, R], command: str | None = None) -> Callable[P, R]:
    """Maps failures to one clear message and an exit code (never a traceback).

    ``command`` (as typed, e.g. ``roles grant``) names the command in a missing-role message.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (NodeUnreachable, requests.ConnectionError, requests.Timeout) as exc:
            # Before OSError: these are OSErrors too.
            say("unreachable", f"{exc}; {MESSAGES['retry'][0]}（{MESSAGES['retry'][1]}）")
            raise typer.Exit(EXIT_CONNECTION) from None
        except (MissingRole, TransactionFailed) as exc:
            lacking = missing_role(exc)
            if lacking is None:
                say("refused", str(exc))
            else:
                english, japanese = missing_role_message(lacking.account, lacking.role_id, command or "this command")
                say("refused", english)
                console.print(escape(japanese), soft_wrap=True)
                if not isinstance(exc, MissingRole):  # the revert itself, for whoever reads the node's logs
                    console.print(f"  ({escape(str(exc))})", soft_wrap=True)
            raise typer.Exit(EXIT_REJECTED) from None
        except (BadInput, DeploymentError, SignerError, OfficerNameError, OSError) as exc:
            say("bad input", str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except Web3RPCError as exc:
            say("node error", str(exc))
            raise typer.Exit(EXIT_REJECTED) from None

    return wrapper


# ---------------------------------------------------------------- the services' commands

ErrorRule = tuple[tuple[type[BaseException], ...], Callable[[BaseException], tuple[str, str, int]]]
"""Exception types, and what they become: (message kind, detail, exit code)."""


def plain(kind: str, code: int) -> Callable[[BaseException], tuple[str, str, int]]:
    """A rule's answer that shows the exception's own message."""
    return lambda exc: (kind, str(exc), code)


def database_failure(exc: BaseException) -> tuple[str, str, int]:
    """SQLAlchemy errors carry the whole statement; the first line of the message says enough."""
    return "database", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}", EXIT_BAD_INPUT


def exits_on(rules: Callable[[], list[ErrorRule]]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorates a service command (``wallet``, ``indexer``, ``oracle``) so that the failures its
    ``rules`` list become one ``say`` line and their exit code, never a traceback.

    ``rules`` is called only when something failed, so a command does not import its service's
    exception types (and so the service) before it runs; the first matching rule wins.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                for types, answer in rules():
                    if isinstance(exc, types):
                        kind, detail, code = answer(exc)
                        say(kind, detail)
                        raise typer.Exit(code) from None
                raise

        return wrapper

    return decorate


def service_settings(settings_class: Callable[..., S], **overrides: object) -> S:
    """A service's settings (its ``TAKASAGO_<SERVICE>_*`` variables and defaults), with the
    options given on the command line (None: not given) taking precedence."""
    return settings_class(**{name: value for name, value in overrides.items() if value is not None})
