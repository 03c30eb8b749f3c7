"""``takasago deploy``: put the point contracts on the chain, idempotently."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger_client.connection import NodeUnreachable
from scripts.cli.common import (
    DEFAULT_DEPLOYMENTS,
    DEFAULT_RPC_URL,
    DeploymentsDir,
    DevKeys,
    DryRun,
    Keystore,
    PasswordFile,
    RpcUrl,
    connect_node,
    console,
    say,
)
from scripts.cli.signing import SignerError, load_signer


def deploy(
    rpc_url: RpcUrl = DEFAULT_RPC_URL,
    deployments: DeploymentsDir = DEFAULT_DEPLOYMENTS,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev_keys: DevKeys = None,
    upgrade: Annotated[
        bool, typer.Option("--upgrade", help="Upgrade proxies whose implementation changed.", show_default="off")
    ] = False,
    oracle_quorum: Annotated[int, typer.Option(help="Oracle signatures a report needs (first deploy).", min=1)] = 2,
    dry_run: DryRun = False,
) -> None:
    """Deploy (or complete the deployment of) the point contracts; re-running changes nothing.

    Signs with the city admin key. Addresses are recorded in DEPLOYMENTS/<chainId>.json.
    """
    from contracts.deploy import DeploySettings
    from contracts.deploy import deploy as run_deploy
    from ledger_client.deployment import DeploymentError
    from ledger_client.transactions import Sender, TransactionFailed

    try:
        w3 = connect_node(rpc_url)
        signer = load_signer(keystore, password_file, dev_keys, "admin")
        settings = DeploySettings(oracle_quorum=oracle_quorum)
        report = run_deploy(w3, Sender(w3, signer), deployments, settings, upgrade, dry_run)
    except (NodeUnreachable, SignerError, DeploymentError, TransactionFailed, OSError) as exc:
        say("bad input", str(exc))  # exit 2 for every failure here, as before (scripts rely on it)
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
