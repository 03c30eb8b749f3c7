"""The ``takasago`` console entry point: one command for the whole project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scripts import deploy_commands, node_commands

app = typer.Typer(
    help="Takasago regional points: ledger node, contracts and city tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(node_commands.app, name="node")
deploy_commands.register(app)


@app.command("up")
def up(
    data_dir: Annotated[Path, typer.Option(help="Where the embedded system keeps its data.")] = Path(".takasago"),
    rpc_port: Annotated[int, typer.Option(help="Node JSON-RPC port.", min=0, max=65535)] = 8545,
    mode: Annotated[str, typer.Option(help="Block production: instant or interval.")] = "instant",
) -> None:
    """Start the whole system on embedded defaults (today: a single-validator dev node).

    Creates a development chain under DATA_DIR/node on first use.
    """
    node_dir = data_dir / "node"
    if not (node_dir / "genesis.json").exists():
        node_commands.init(data_dir=node_dir, dev=True)
    node_commands.run(data_dir=node_dir, rpc_port=rpc_port, mode=mode)


if __name__ == "__main__":
    app()
