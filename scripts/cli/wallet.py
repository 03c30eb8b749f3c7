"""``takasago wallet …``: run the custodial wallet API and administer it.

    takasago wallet serve                 run the API (127.0.0.1:8600 by default)
    takasago wallet init                  create the database, secrets and the service's key
    takasago wallet add-officer LOGIN     create a city officer's log-in
    takasago wallet pending               accounts waiting for verification
    takasago wallet approve ID --officer LOGIN   verify a person: register the account on-chain
    takasago wallet reject ID --officer LOGIN    turn a sign-up down (nothing goes on-chain)
    takasago wallet rotate-kek --new-kek-file F  re-wrap every sealed key under a new KEK
    takasago wallet openapi               print the OpenAPI document

Settings come from ``TAKASAGO_WALLET_*`` variables (see ``wallet_api/settings.py``) or
the options below. Exit codes: 0 done; 2 bad input; 3 refused; 4 node unreachable.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from scripts.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CONNECTION,
    EXIT_REJECTED,
    ErrorRule,
    NodeTokenFile,
    database_failure,
    exits_on,
    out,
    plain,
    service_settings,
)

wallet = typer.Typer(no_args_is_help=True, help="The custodial wallet API (residents' and merchants' keys).")

# Defaults come from wallet_api.settings.WalletSettings (TAKASAGO_WALLET_* variables); None here means "the setting".
DataDir = Annotated[
    Path | None,
    typer.Option(help="Wallet data directory (env TAKASAGO_WALLET_DATA_DIR).", show_default=".takasago/wallet"),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="SQLAlchemy URL, sqlite:///… or postgresql://… (env TAKASAGO_WALLET_DATABASE_URL).",
        show_default="sqlite:///DATA_DIR/wallet.db",
    ),
]
RpcUrl = Annotated[
    str | None,
    typer.Option(help="Node JSON-RPC URL (env TAKASAGO_WALLET_RPC_URL).", show_default="http://127.0.0.1:8545"),
]
DeploymentsDir = Annotated[
    Path | None,
    typer.Option(help="Deployment files (env TAKASAGO_WALLET_DEPLOYMENTS_DIR).", show_default=".takasago/deployments"),
]
OfficerLogin = Annotated[str, typer.Option(help="Your officer log-in (recorded as the one who decided).")]


def _settings(
    data_dir: Path | None, database_url: str | None, rpc_url: str | None, deployments_dir: Path | None
) -> Any:
    from wallet_api.settings import WalletSettings

    return service_settings(
        WalletSettings, data_dir=data_dir, database_url=database_url, rpc_url=rpc_url, deployments_dir=deployments_dir
    )


def _api_error(exc: BaseException) -> tuple[str, str, int]:
    from wallet_api.errors import MESSAGES

    code, status, detail = getattr(exc, "code", ""), getattr(exc, "status", 400), getattr(exc, "detail", None)
    refused = status in (409, 423)
    message = f"{code}: {MESSAGES[code][1]} {detail or ''}".rstrip()
    return ("not accepted" if refused else "bad input"), message, (EXIT_REJECTED if refused else EXIT_BAD_INPUT)


def _error_rules() -> list[ErrorRule]:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from ledger_client.deployment import DeploymentError
    from wallet_api.crypto.envelope import EnvelopeError
    from wallet_api.errors import ApiError

    return [
        ((ApiError,), _api_error),
        ((EnvelopeError, DeploymentError, ValidationError, ValueError), plain("bad input", EXIT_BAD_INPUT)),
        ((SQLAlchemyError,), database_failure),
        ((ConnectionError, OSError), plain("unreachable or file", EXIT_CONNECTION)),
    ]


_errors = exits_on(_error_rules)


def _officer_user(services: Any, login: str) -> Any:
    """The officer with log-in ``login``, or a ValueError saying how to create one."""
    from sqlalchemy import select

    from wallet_api.db.models import User

    with services.sessions() as db:
        user = db.scalar(select(User).where(User.login == login.lower(), User.role == "officer"))
    if user is None:
        raise ValueError(f"no officer with log-in {login!r} (create one with `takasago wallet add-officer`)")
    return user


@wallet.command()
@_errors
def serve(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    rpc_url: RpcUrl = None,
    deployments_dir: DeploymentsDir = None,
    host: Annotated[
        str | None, typer.Option(help="Bind address (env TAKASAGO_WALLET_HOST).", show_default="127.0.0.1")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (env TAKASAGO_WALLET_PORT).", min=1, max=65535, show_default="8600")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes sharing the database.", min=1, max=32)] = 1,
    node_token_file: NodeTokenFile = None,
) -> None:
    """Run the wallet API (migrates the database first; never creates a KEK: run `wallet init` once)."""
    import uvicorn

    from ledger_client.node_access import use_token_file

    use_token_file(node_token_file)  # refuse a bad service token file before starting; workers inherit it
    settings = _settings(data_dir, database_url, rpc_url, deployments_dir)
    if host is not None:
        settings.host = host
    if port is not None:
        settings.port = port
    from wallet_api.app import configure_logging
    from wallet_api.services import Services

    # Once, before any worker starts: the schema (workers migrating concurrently would race),
    # file modes, and the KEK, which serve never creates (`wallet init` does) and which must
    # be the one the database is sealed under (issue 15). Workers then only open what is there.
    configure_logging()
    Services.build(settings).close()
    os.environ.update(
        {
            "TAKASAGO_WALLET_DATA_DIR": str(settings.data_dir),
            "TAKASAGO_WALLET_DATABASE_URL": settings.database,
            "TAKASAGO_WALLET_RPC_URL": settings.rpc_url,
            "TAKASAGO_WALLET_DEPLOYMENTS_DIR": str(settings.deployments_dir),
        }
    )
    uvicorn.run(
        "wallet_api.main:app",
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="info",
        access_log=False,  # wallet_api.app.AccessLog writes one line per request instead
        proxy_headers=False,  # X-Forwarded-For only from TAKASAGO_WALLET_TRUSTED_PROXIES (wallet_api.limits)
        timeout_graceful_shutdown=5,
    )


@wallet.command()
@_errors
def init(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    rpc_url: RpcUrl = None,
    deployments_dir: DeploymentsDir = None,
) -> None:
    """Create (or check) the database, the secrets and the service's on-chain key; print its address.

    Let that address act for the city (the enroller role, to register the people officers
    verify, and community-verifier, to attest claims; never registrar):
    ``takasago account authorise-service <address>``.
    """
    from wallet_api.services import Services

    services = Services.build(_settings(data_dir, database_url, rpc_url, deployments_dir), create_secrets=True)
    try:
        out.print(services.accounts.service_address(create=True))
    finally:
        services.close()


@wallet.command("add-officer")
@_errors
def add_officer(
    login: Annotated[str, typer.Argument(help="The officer's log-in ID.")],
    name: Annotated[str, typer.Option(help="The officer's name as shown in the app.")],
    password_file: Annotated[
        Path | None,
        typer.Option(help="File holding the password.", show_default="TAKASAGO_OFFICER_PASSWORD, else a prompt"),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a city officer's log-in (officers verify accounts and claims, and may coordinate help)."""
    _add_staff("officer", login, name, password_file, data_dir, database_url)


@wallet.command("add-coordinator")
@_errors
def add_coordinator(
    login: Annotated[str, typer.Argument(help="The coordinator's log-in ID.")],
    name: Annotated[str, typer.Option(help="The coordinator's name as residents see it (e.g. 高砂市社協 山田).")],
    password_file: Annotated[
        Path | None,
        typer.Option(help="File holding the password.", show_default="TAKASAGO_OFFICER_PASSWORD, else a prompt"),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a help-matching coordinator's log-in (社会福祉協議会, 民生委員): they act for residents who consent."""
    _add_staff("coordinator", login, name, password_file, data_dir, database_url)


def _add_staff(
    role: str, login: str, name: str, password_file: Path | None, data_dir: Path | None, database_url: str | None
) -> None:
    from wallet_api.services import Services
    from wallet_api.statuses import Role

    if password_file is not None:
        password = password_file.read_text(encoding="utf-8").strip()
    else:
        password = os.environ.get("TAKASAGO_OFFICER_PASSWORD") or typer.prompt("password", hide_input=True)
    if not 10 <= len(password) <= 200:
        raise ValueError("the password must be 10 to 200 characters")
    if not re.fullmatch(r"[A-Za-z0-9._@+-]{3,64}", login):
        raise ValueError("the log-in ID must be 3 to 64 letters, digits or ._@+-")
    services = Services.build(_settings(data_dir, database_url, None, None), create_secrets=True)
    try:
        user = services.accounts.create_officer(login, password, name, Role(role))
    finally:
        services.close()
    out.print(f"{role} {user.login} created ({user.public_id}, code {user.short_code})")


@wallet.command()
@_errors
def pending(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line instead of a table.", show_default="off")
    ] = False,
) -> None:
    """Accounts waiting for a city officer's verification, with their real-name records.

    Ids are printed whole on one line (never wrapped or cut), to copy into `wallet approve` or
    `wallet reject`; on a narrow terminal the other columns wrap instead.
    """
    from sqlalchemy import select

    from wallet_api.db.models import User
    from wallet_api.services import Services

    services = Services.build(_settings(data_dir, database_url, None, None))
    try:
        with services.sessions() as db:
            users = db.scalars(select(User).where(User.status == "pending").order_by(User.id)).all()
        table = Table("id", "role", "login", "name", "date of birth", "address")
        table.columns[0].no_wrap = True  # an id is copied whole: never folded, wrapped or cut
        table.columns[0].overflow = "ignore"
        table.columns[0].min_width = 36
        for user in users:
            record = services.accounts.personal_record(user)
            if as_json:
                row = {"id": user.public_id, "role": user.role, "login": user.login, **record}
                typer.echo(json.dumps(row, ensure_ascii=False))
                continue
            table.add_row(
                user.public_id,
                user.role,
                user.login,
                record.get("name", ""),
                record.get("date_of_birth", ""),
                record.get("address", ""),
            )
    finally:
        services.close()
    if not as_json:
        out.print(table)


@wallet.command()
@_errors
def approve(
    account_id: Annotated[str, typer.Argument(help="The account's id (from `takasago wallet pending`).")],
    officer: OfficerLogin,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    rpc_url: RpcUrl = None,
    deployments_dir: DeploymentsDir = None,
) -> None:
    """Verify a pending person: register their account on-chain (it becomes active when confirmed)."""
    from wallet_api.errors import ApiError
    from wallet_api.services import Services

    services = Services.build(_settings(data_dir, database_url, rpc_url, deployments_dir))
    try:
        officer_user = _officer_user(services, officer)
        try:
            op = services.accounts.approve(officer_user, account_id, f"cli-approve:{account_id}")
        except ApiError as exc:
            if exc.code != "ACCOUNT_ALREADY_REGISTERED":
                raise
            services.accounts.mark_active(account_id)
            out.print(f"{account_id} was already registered on-chain; now active")
            return
        op = services.outbox.wait(op.id, 60) or op
        if op.status != "confirmed":
            raise ApiError(op.error_code or "TRANSACTION_REJECTED", {"operation": op.id, "status": op.status})
        out.print(f"{account_id} registered on-chain in block {op.block_number} (tx {op.tx_hash}); active")
    finally:
        services.close()


@wallet.command()
@_errors
def reject(
    account_id: Annotated[str, typer.Argument(help="The account's id (from `takasago wallet pending`).")],
    officer: OfficerLogin,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Turn down a pending sign-up (the person is not who they claim, or the record is wrong).

    Nothing is sent on-chain; the account stays unregistered and can no longer be approved.
    The same decision as the officer desk's "reject", recorded with your log-in.
    """
    from wallet_api.services import Services

    services = Services.build(_settings(data_dir, database_url, None, None))
    try:
        services.accounts.reject(_officer_user(services, officer), account_id)
    finally:
        services.close()
    out.print(f"{account_id} rejected; it will not be registered")


@wallet.command("notify-expiring")
@_errors
def notify_expiring(
    days: Annotated[int, typer.Option(min=1, max=366, help="Notify points that expire within this many days.")] = 30,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    rpc_url: RpcUrl = None,
    deployments_dir: DeploymentsDir = None,
) -> None:
    """Notify residents whose points expire soon: one notice per resident and expiring month (issue 20).

    Meant for a daily job; a second run adds nothing for a month already notified.
    """
    from wallet_api.services import Services

    services = Services.build(_settings(data_dir, database_url, rpc_url, deployments_dir))
    try:
        added = services.notices.notify_expiring(days=days)
    finally:
        services.close()
    out.print(f"{added} expiring-points notice(s) added")


@wallet.command("rotate-kek")
@_errors
def rotate_kek(
    new_kek_file: Annotated[Path, typer.Option(help="File (mode 0600) with the new base64 KEK.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Re-wrap every sealed key and record under a new KEK (resumable; the service may keep running).

    Afterwards point TAKASAGO_WALLET_KEK_FILE (or TAKASAGO_WALLET_KEK) at the new key;
    keep the old one in TAKASAGO_WALLET_OLD_KEKS until every process has restarted.
    """
    from wallet_api.crypto.envelope import KeyEncryptionKey
    from wallet_api.rotation import rotate
    from wallet_api.services import Services

    new = KeyEncryptionKey.from_file(new_kek_file)
    # a re-run after a finished rotation holds the KEK the database now records (issue 15 KEK check)
    os.environ["TAKASAGO_WALLET_OLD_KEKS"] = ",".join(
        filter(None, [os.environ.get("TAKASAGO_WALLET_OLD_KEKS"), new.to_base64()])
    )
    services = Services.build(_settings(data_dir, database_url, None, None))
    try:
        report = rotate(services.sessions, services.keyring.all_keks, new)
    finally:
        services.close()
    out.print(f"re-wrapped {report.rewrapped} sealed values; {report.already_current} were already under the new KEK")


@wallet.command()
def openapi() -> None:
    """Print the OpenAPI document of the wallet API."""
    from wallet_api.main import openapi_document

    typer.echo(json.dumps(openapi_document(), indent=2, ensure_ascii=False))


# `wallet statements` (issue 20, the paper statements) lives in its own module and adds itself to this group;
# so do `wallet sweep-expired`, `wallet expiry-report` and `wallet reconcile` (issue 20).
from scripts.cli import wallet_expiry, wallet_reconcile, wallet_statements  # noqa: E402,F401
