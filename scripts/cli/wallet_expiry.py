"""``takasago wallet sweep-expired`` and ``takasago wallet expiry-report``: the monthly sweep of expired points.

    takasago wallet sweep-expired --month 2026-11     run (or resume) the month's sweep by hand
    takasago wallet expiry-report --month 2026-11     what the month's sweep did, for the city

The API runs the same sweep by itself after each month end (``wallet_api.expiry``); either way
a month is swept exactly once: a run interrupted resumes its remaining batches, a finished
one sends nothing. Registered on the ``wallet`` command group by ``scripts/cli/wallet.py``.
Exit codes as the other wallet commands: 0 done; 1 the supply identity does not hold;
2 bad input; 3 refused on-chain; 4 node unreachable.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer

from scripts.cli.common import EXIT_DISCREPANCY, NodeTokenFile, exits_on, out
from scripts.cli.wallet import DatabaseUrl, DataDir, DeploymentsDir, RpcUrl, _error_rules, _settings, wallet

Month = Annotated[
    str | None,
    typer.Option(help="The month that ended, YYYY-MM (JST).", show_default="the last month ended on the chain's clock"),
]


def _services(data_dir: Any, database_url: Any, rpc_url: Any, deployments_dir: Any, node_token_file: Any) -> Any:
    from ledger_client.node_access import use_token_file
    from wallet_api.services import Services

    use_token_file(node_token_file)
    return Services.build(_settings(data_dir, database_url, rpc_url, deployments_dir))


def _month(services: Any, month: str | None) -> int:
    from wallet_api.expiry import parse_month

    return parse_month(month) if month is not None else services.expiry.current_month() - 1


def _print(report: Any, supply: dict[str, int]) -> bool:
    """The report in English and Japanese; True when the supply identity holds."""
    lines = [
        f"month {report.month}（{report.month} 分の失効処理）: {report.state}",
        f"started by {report.started_by or '-'} at {report.started_at or '-'}; finished {report.finished_at or '-'}",
        f"buckets swept from {report.from_month or '-'} up to {report.month}（対象バケット）",
        f"accounts with expired points: {report.accounts:,}（失効ポイントのある口座）",
        f"accounts swept: {report.accounts_swept:,}（失効処理した口座）",
        f"points swept: {report.points_swept:,}（失効したポイント）",
        f"batches: {report.batches_done} of {report.batches} sent（バッチ）",
    ]
    lines += [f"  tx {tx}" for tx in report.tx_hashes]
    holds = supply["total_supply"] == supply["issued"] - supply["settled"] - supply["swept"]
    lines.append(
        f"supply at block {supply['block']}: totalSupply {supply['total_supply']:,} = issued {supply['issued']:,}"
        f" - settled {supply['settled']:,} - swept {supply['swept']:,}: "
        + ("holds（発行総量の恒等式は成立）" if holds else "DOES NOT HOLD（発行総量の恒等式が不成立）")
    )
    for line in lines:
        out.print(line, soft_wrap=True, markup=False, highlight=False)
    return holds


@wallet.command("sweep-expired")
@exits_on(_error_rules)
def sweep_expired(
    month: Month = None,
    by: Annotated[
        str | None, typer.Option(help="Who runs it, recorded on the run.", show_default="your system user name")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    rpc_url: RpcUrl = None,
    deployments_dir: DeploymentsDir = None,
    node_token_file: NodeTokenFile = None,
) -> None:
    """Sweep a month's expired points now: the same run as the API's scheduled job, exactly once per month.

    Burns the expired points of every resident and merchant of this wallet through the outbox,
    in batches (TAKASAGO_WALLET_EXPIRY_BATCH accounts per transaction, default 200). Interrupted,
    the same command sends only the batches not yet sent; on a finished month it sends nothing.
    """
    services = _services(data_dir, database_url, rpc_url, deployments_dir, node_token_file)
    try:
        index = _month(services, month)
        report = services.expiry.sweep(index, f"cli:{by or getpass.getuser()}")
        supply = services.expiry.supply()
    finally:
        services.close()
    if report.sent_now == 0:
        out.print(f"{report.month}: nothing sent now（送信したトランザクションはありません）", soft_wrap=True)
    if not _print(report, supply):
        raise typer.Exit(EXIT_DISCREPANCY)


@wallet.command("expiry-report")
@exits_on(_error_rules)
def expiry_report(
    month: Month = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as one JSON object.", show_default="off")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    rpc_url: RpcUrl = None,
    deployments_dir: DeploymentsDir = None,
    node_token_file: NodeTokenFile = None,
) -> None:
    """The city's report of a month's sweep: accounts and points swept, batches, transactions, supply identity."""
    services = _services(data_dir, database_url, rpc_url, deployments_dir, node_token_file)
    try:
        report = services.expiry.report(_month(services, month))
        supply = services.expiry.supply()
    finally:
        services.close()
    if as_json:
        holds = supply["total_supply"] == supply["issued"] - supply["settled"] - supply["swept"]
        typer.echo(json.dumps({**report.as_dict(), "supply": {**supply, "identity_holds": holds}}))
        if not holds:
            raise typer.Exit(EXIT_DISCREPANCY)
        return
    if report.state == "none":
        out.print(f"{report.month}: no sweep has run（この月の失効処理はまだ実行されていません）", soft_wrap=True)
    if not _print(report, supply):
        raise typer.Exit(EXIT_DISCREPANCY)
