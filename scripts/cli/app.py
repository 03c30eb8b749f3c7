"""The ``takasago`` root command: composes each command group's sub-app, and ``up``.

The composition root of the project: the only place that wires the node, the services and
the city's tools together (``takasago up`` starts them as child processes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scripts.cli import (
    accounts,
    analytics,
    business,
    deploy,
    help_board,
    indexer,
    mint,
    network,
    node,
    oracle,
    programmes,
    reports,
    shops,
    wallet,
    wallet_officer,  # noqa: F401 - adds `wallet export-accounts` and `wallet match-register` (issue 20)
    watch,
)

app = typer.Typer(
    help="Takasago regional points: ledger node, contracts and city tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(node.app, name="node")
app.add_typer(network.network, name="network")
app.command("deploy")(deploy.deploy)
app.add_typer(accounts.accounts, name="account")
app.add_typer(accounts.merchants, name="merchant")
app.add_typer(accounts.roles, name="roles")
app.add_typer(programmes.programmes, name="programme")
app.add_typer(wallet.wallet, name="wallet")
app.add_typer(indexer.indexer, name="indexer")
app.add_typer(indexer.audit, name="audit")
app.add_typer(oracle.oracle, name="oracle")
app.add_typer(watch.watch, name="watch")
app.add_typer(help_board.help_board, name="help-board")
app.add_typer(analytics.analytics, name="analytics")
app.add_typer(shops.shops, name="shops")
app.add_typer(business.business, name="business")
app.command("mint")(mint.mint)
app.command("pause")(programmes.pause)
app.command("unpause")(programmes.unpause)
app.command("settle")(reports.settle)
app.command("status")(reports.status)


@app.command("up")
def up(
    data_dir: Annotated[Path, typer.Option(help="Where the embedded system keeps its data.")] = Path(".takasago"),
    rpc_port: Annotated[int, typer.Option(help="Node JSON-RPC port.", min=1, max=65535)] = 8545,
    wallet_port: Annotated[int, typer.Option(help="Wallet API port.", min=1, max=65535)] = 8600,
    explorer_port: Annotated[int, typer.Option(help="Explorer port.", min=1, max=65535)] = 8700,
    oracle_port: Annotated[int, typer.Option(help="CO2 oracle ingest port.", min=1, max=65535)] = 8800,
    watch_port: Annotated[int, typer.Option(help="Watch-over detectors' ingest port.", min=1, max=65535)] = 8900,
    analytics_port: Annotated[int, typer.Option(help="Data platform pages port.", min=1, max=65535)] = 8950,
    mode: Annotated[str, typer.Option(help="Block production: instant or interval.")] = "instant",
) -> None:
    """Start the whole system on embedded defaults and keep it running until Ctrl-C.

    A single-validator development chain under DATA_DIR/node (created on first use),
    and the point contracts deployed on it (first start; later starts check them).
    Deployment addresses: DATA_DIR/deployments/<chainId>.json; logs: DATA_DIR/logs.
    The wallet API runs on 127.0.0.1:WALLET_PORT with its SQLite database and secrets
    under DATA_DIR/wallet; its service key is granted the enroller (register verified
    people only) and community-verifier roles on first start, never registrar. The indexer follows the chain into SQLite
    under DATA_DIR/indexer and serves the auditors' explorer on 127.0.0.1:EXPLORER_PORT
    (shop names from DATA_DIR/labels.json when present). The wallet, indexer and oracle
    prove themselves to the node with a secret in DATA_DIR/node/service-token (0600, made on
    first start, named in node.json as rpc.serviceTokenFile), so they keep a lane of their own
    however busy anonymous clients keep the node. The data platform (issue 22) serves its pages on
    127.0.0.1:ANALYTICS_PORT, reading the indexer's SQLite read-only and the wallet's research feed.
    """
    from contracts.deploy import deploy as run_deploy
    from ledger_client.connection import NodeUnreachable
    from ledger_client.deployment import DeploymentError
    from ledger_client.node_access import TOKEN_FILE_ENV
    from ledger_client.transactions import Sender, TransactionFailed
    from scripts.cli.common import connect_node
    from scripts.cli.signing import SignerError, load_signer
    from scripts.supervisor import (
        StartupError,
        Supervisor,
        ensure_research_secret,
        ensure_service_token,
        share_oracle_token,
        start_analytics,
        start_indexer,
        start_oracle,
        start_wallet,
        start_watch,
    )

    if mode not in ("instant", "interval"):
        typer.echo(f"error: --mode must be instant or interval, not {mode!r}", err=True)
        raise typer.Exit(2)
    node_dir = data_dir / "node"
    if not (node_dir / "genesis.json").exists():
        node.init(data_dir=node_dir, dev=True)
    supervisor = Supervisor(data_dir / "logs")
    supervisor.catch_signals()
    url = f"http://127.0.0.1:{rpc_port}"
    try:
        # the services' own lane on the node (issue 15, finding 7): a secret, not their IP address
        token_file = ensure_service_token(node_dir)
        supervisor.env[TOKEN_FILE_ENV] = str(token_file)
        node_args = ["node", "run", "--data-dir", str(node_dir), "--rpc-port", str(rpc_port), "--mode", mode]
        node_args += ["--log-file", str(data_dir / "logs" / "node.log")]  # rotated by the node (issue 15, #27)
        supervisor.start("node", node_args)
        supervisor.wait_http("node", url + "/health")
        w3 = connect_node(url, token_file)
        signer = load_signer(None, None, node_dir / "dev-keys.json", "admin")
        report = run_deploy(w3, Sender(w3, signer), data_dir / "deployments")
        watch_url = start_watch(supervisor, data_dir, watch_port)  # first: the wallet forwards residents to it
        ensure_research_secret(supervisor, data_dir, wallet_port)  # the wallet's research feed (issue 22)
        share_oracle_token(supervisor, data_dir, oracle_port)  # the wallet reads households' months from it
        wallet_url = start_wallet(supervisor, w3, Sender(w3, signer), data_dir, url, wallet_port)
        explorer_url = start_indexer(supervisor, data_dir, url, explorer_port)
        oracle_url = start_oracle(supervisor, data_dir, oracle_port)
        analytics_url = start_analytics(supervisor, data_dir, analytics_port, oracle_url)
    except (
        StartupError,
        NodeUnreachable,
        SignerError,
        DeploymentError,
        TransactionFailed,
        OSError,
        KeyError,
        ValueError,
    ) as exc:
        supervisor.stop()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for action in report.actions:
        typer.echo(f"deploy: {action}")
    typer.echo(f"node     {url} (chain {w3.eth.chain_id}), log {data_dir / 'logs' / 'node.log'}")
    typer.echo(f"wallet   {wallet_url} (OpenAPI at {wallet_url}/docs), log {data_dir / 'logs' / 'wallet.log'}")
    typer.echo(f"apps     {wallet_url}/app/ (residents), {wallet_url}/till/ (shops), {wallet_url}/officer/ (city)")
    explorer_log = data_dir / "logs" / "indexer.log"
    typer.echo(f"explorer {explorer_url} (Etherscan-style API at {explorer_url}/api), log {explorer_log}")
    typer.echo(
        f"oracle   {oracle_url} (signed meter batches: POST /v1/batches), log {data_dir / 'logs' / 'oracle.log'}"
    )
    typer.echo(
        f"watch    {watch_url} (signed detector batches: POST /v1/batches), log {data_dir / 'logs' / 'watch.log'}"
    )
    typer.echo(f"analytics {analytics_url} (data platform pages), log {data_dir / 'logs' / 'analytics.log'}")
    for name, record in sorted(report.deployment.contracts.items()):
        typer.echo(f"{name:17} {record.address}")
    typer.echo("running; Ctrl-C stops everything")
    if not supervisor.run_until_stopped(typer.echo):
        raise typer.Exit(1)
