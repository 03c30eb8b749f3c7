"""``takasago indexer serve`` (follow the chain and serve the explorer) and ``takasago audit verify``.

Exit codes of ``audit verify``: 0 everything checked out; 1 a discrepancy was found (the
report lists each); 2 bad input; 4 the node cannot be reached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from scripts.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CONNECTION,
    EXIT_DISCREPANCY,
    ErrorRule,
    NodeTokenFile,
    database_failure,
    exits_on,
    out,
    plain,
    service_settings,
)

indexer = typer.Typer(no_args_is_help=True, help="The indexer and the auditors' explorer.")
audit = typer.Typer(no_args_is_help=True, help="Independent checks of the ledger for auditors.")

# Defaults come from indexer.settings.IndexerSettings (TAKASAGO_INDEXER_* variables); None here means "the setting".
DataDir = Annotated[
    Path | None,
    typer.Option(help="Indexer data directory (env TAKASAGO_INDEXER_DATA_DIR).", show_default=".takasago/indexer"),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="sqlite:///… or postgresql://… (env TAKASAGO_INDEXER_DATABASE_URL).",
        show_default="SQLite in DATA_DIR",
    ),
]
RpcUrl = Annotated[
    str | None,
    typer.Option(help="Node JSON-RPC URL (env TAKASAGO_INDEXER_RPC_URL).", show_default="http://127.0.0.1:8545"),
]
DeploymentsDir = Annotated[
    Path | None,
    typer.Option(help="Deployment files (env TAKASAGO_INDEXER_DEPLOYMENTS_DIR).", show_default=".takasago/deployments"),
]


def _settings(**overrides: Any) -> Any:
    from indexer.settings import IndexerSettings

    return service_settings(IndexerSettings, **overrides)


def _error_rules() -> list[ErrorRule]:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from indexer.labels import LabelError
    from ledger_client.rpc import NodeUnavailable, RpcError

    return [
        ((NodeUnavailable,), plain("unreachable", EXIT_CONNECTION)),
        ((RpcError, LabelError, ValidationError, ValueError), plain("bad input", EXIT_BAD_INPUT)),
        ((SQLAlchemyError,), database_failure),
    ]


_errors = exits_on(_error_rules)


@indexer.command()
@_errors
def serve(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    rpc_url: RpcUrl = None,
    deployments_dir: DeploymentsDir = None,
    labels_file: Annotated[
        Path | None, typer.Option(help="Public labels: JSON of address → shop or city name.", show_default="none")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Bind address.", show_default="127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Port.", min=1, max=65535, show_default="8700")] = None,
    node_token_file: NodeTokenFile = None,
) -> None:
    """Follow the node into SQL (backfill from genesis, then the tail) and serve the explorer."""
    import os

    import uvicorn

    from indexer.labels import load_labels
    from ledger_client.node_access import use_token_file

    settings = _settings(
        data_dir=data_dir, database_url=database_url, rpc_url=rpc_url, deployments_dir=deployments_dir,
        labels_file=labels_file, host=host, port=port,
    )  # fmt: skip
    load_labels(settings.labels_file)  # refuse a bad labels file before starting
    use_token_file(node_token_file)  # and a bad service token file (a ValueError naming it)
    for name in ("data_dir", "database_url", "rpc_url", "deployments_dir", "labels_file"):
        value = getattr(settings, name)
        if value is not None:
            os.environ[f"TAKASAGO_INDEXER_{name.upper()}"] = str(value)
    uvicorn.run("indexer.main:app", host=settings.host, port=settings.port, log_level="info", access_log=False)


@audit.command()
@_errors
def verify(
    at: Annotated[
        int | None,
        typer.Option(help="Check balances and supply at this block.", min=0, show_default="the indexed head"),
    ] = None,
    first: Annotated[
        int,
        typer.Option(
            "--from",
            help="Check the chain from this block (its parent link against the node), not from genesis: "
            "for an auditor who verified the blocks before it already.",
            min=0,
        ),
    ] = 0,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    rpc_url: RpcUrl = None,
    deployments_dir: DeploymentsDir = None,
    chain_only: Annotated[
        bool, typer.Option("--chain-only", help="Check the chain only (no index database).", show_default="off")
    ] = False,
) -> None:
    """Re-check seals, parent links and transaction roots of every block, and the index's balances and supply."""
    from indexer.audit import Auditor
    from indexer.db.engine import engine_for, sessions_for
    from ledger_client.rpc import Rpc

    settings = _settings(data_dir=data_dir, database_url=database_url, rpc_url=rpc_url, deployments_dir=deployments_dir)
    sessions = None
    if not chain_only:
        if (
            settings.database.startswith("sqlite:///")
            and not Path(settings.database.removeprefix("sqlite:///")).exists()
        ):
            raise ValueError(f"no index at {settings.database} (run `takasago indexer serve`, or use --chain-only)")
        sessions = sessions_for(engine_for(settings.database))
    report = Auditor(Rpc(settings.rpc_url), sessions, settings.deployments_dir).verify(at, first)
    out.print(
        f"audit at block {report.at_block}: {report.blocks_checked} blocks, "
        f"{report.transactions_checked} transactions, {report.accounts_checked} accounts checked; "
        + report.finality_line()
    )
    if report.ok:
        out.print(
            "OK: seals, parent links, transaction roots"
            + ("" if chain_only else ", balances and supply")
            + " all agree"
        )
        return
    for problem in report.problems:
        out.print(f"DISCREPANCY: {problem}")
    raise typer.Exit(EXIT_DISCREPANCY)
