"""``takasago deploy``: put the point contracts on the chain, idempotently."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

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

console = Console(stderr=True)


def deploy(
    rpc_url: RpcUrl = DEFAULT_RPC_URL,
    deployments: DeploymentsDir = DEFAULT_DEPLOYMENTS,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev_keys: DevKeys = None,
    upgrade: Annotated[bool, typer.Option("--upgrade", help="Upgrade proxies whose implementation changed.")] = False,
    oracle_quorum: Annotated[int, typer.Option(help="Oracle signatures a report needs (first deploy).", min=1)] = 2,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be done; send nothing.")] = False,
) -> None:
    """Deploy (or complete the deployment of) the point contracts; re-running changes nothing.

    Signs with the city admin key. Addresses are recorded in DEPLOYMENTS/<chainId>.json.
    """
    from contracts.deploy import DeploySettings
    from contracts.deploy import deploy as run_deploy
    from ledger_client.deployment import DeploymentError
    from ledger_client.transactions import Sender, TransactionFailed

    try:
        w3 = connect(rpc_url)
        signer = load_signer(keystore, password_file, dev_keys, "admin")
        settings = DeploySettings(oracle_quorum=oracle_quorum)
        report = run_deploy(w3, Sender(w3, signer), deployments, settings, upgrade, dry_run)
    except (ConnectionError_, SignerError, DeploymentError, TransactionFailed, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for action in report.actions:
        console.print(f"[green]✓[/green] {action}")
    for pending in report.pending_upgrades:
        console.print(f"[yellow]![/yellow] {pending}; run `takasago deploy --upgrade` to upgrade it")
    if not report.changed:
        console.print("nothing to do: the deployment is complete")
    if dry_run:
        console.print("dry run: nothing was sent or written")
        return
    console.print(f"deployment file: {report.path}")
    for name, record in sorted(report.deployment.contracts.items()):
        typer.echo(f"{name:18} {record.address}")


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
