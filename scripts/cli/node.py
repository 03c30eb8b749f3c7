"""``takasago node …``: create and run a ledger node."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from scripts.cli.common import EXIT_BAD_INPUT, console, say

app = typer.Typer(help="Create and run a ledger node.", no_args_is_help=True)

DataDir = Annotated[Path, typer.Option("--data-dir", help="Node data directory.")]
DEFAULT_DATA_DIR = Path(".takasago/node")


def fail(message: str) -> None:
    """One error line (English and Japanese) and exit code 2, for the node's and the network's set-up."""
    say("bad input", message)
    raise typer.Exit(EXIT_BAD_INPUT)


@app.command("init")
def init(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    chain_id: Annotated[int, typer.Option(help="Chain id (EIP-155).", min=1)] = 1337,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev", help="Development chain: plain-text keys in dev-keys.json (INSECURE).", show_default="off"
        ),
    ] = False,
    block_period: Annotated[int, typer.Option(help="Seconds between blocks in interval mode.", min=1, max=3600)] = 1,
    gas_limit: Annotated[int, typer.Option(help="Block gas limit.", min=5000)] = 100_000_000,
    password_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the keystore passphrase.", show_default="TAKASAGO_KEYSTORE_PASSWORD, else a prompt"
        ),
    ] = None,
) -> None:
    """Create a validator key, a city admin key and a genesis in DATA_DIR."""
    from node.keys import KeystoreError, resolve_passphrase
    from node.runner import init_data_dir

    try:
        passphrase = None
        if not dev or password_file is not None:
            passphrase = resolve_passphrase(password_file, "TAKASAGO_KEYSTORE_PASSWORD", "New keystore passphrase: ")
            if not passphrase:
                fail("the keystore passphrase must not be empty")
        result = init_data_dir(
            data_dir, chain_id=chain_id, dev=dev, passphrase=passphrase, block_period=block_period, gas_limit=gas_limit
        )
    except (
        FileExistsError,
        KeystoreError,
        ValueError,
        RuntimeError,
        OSError,
    ) as exc:  # RuntimeError: py-evm the node cannot patch
        fail(str(exc))
        return
    console.print(f"[green]initialised[/green] chain {result.chain_id} in {result.data_dir}")
    console.print(f"  validator  {result.validator}")
    console.print(f"  city admin {result.admin}")
    if dev:
        console.print(
            f"  [yellow]development chain: {len(result.dev_accounts)} pre-registered accounts; "
            f"plain-text keys in {data_dir / 'dev-keys.json'} (INSECURE)[/yellow]"
        )


@app.command("run")
def run(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    rpc_host: Annotated[str, typer.Option(help="Address to serve JSON-RPC on.")] = "127.0.0.1",
    rpc_port: Annotated[int, typer.Option(help="JSON-RPC port (HTTP and WebSocket).", min=0, max=65535)] = 8545,
    mode: Annotated[str, typer.Option(help="Block production: instant or interval.")] = "instant",
    block_period: Annotated[
        float | None,
        typer.Option(help="Override the genesis block period (interval mode).", show_default="the genesis period"),
    ] = None,
    rpc_token_file: Annotated[
        Path | None,
        typer.Option(help="File with a bearer token required on every RPC request.", show_default="no token"),
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the validator keystore passphrase.",
            show_default="TAKASAGO_KEYSTORE_PASSWORD, else a prompt",
        ),
    ] = None,
    ready_file: Annotated[
        Path | None, typer.Option(help="Write {port, pid} here once RPC is serving.", show_default="none")
    ] = None,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "INFO",
    log_file: Annotated[
        Path | None,
        typer.Option(
            help="Log to this file, rotated by size (node.json log.maxBytes/backupCount).", show_default="stderr"
        ),
    ] = None,
) -> None:
    """Run the node in DATA_DIR until interrupted."""
    from node.config import ConfigError
    from node.genesis import GenesisError
    from node.keys import KeystoreError
    from node.runner import serve

    if mode not in ("instant", "interval"):
        fail(f"--mode must be instant or interval, not {mode!r}")
    if block_period is not None and not 0.05 <= block_period <= 3600:
        fail("--block-period must be between 0.05 and 3600 seconds")
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = None
    if rpc_token_file is not None:
        try:
            token = rpc_token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            fail(f"cannot read {rpc_token_file}: {exc.strerror}")
        if not token or len(token) < 16:
            fail("the RPC token must be at least 16 characters")
    try:
        asyncio.run(serve(data_dir, rpc_host, rpc_port, mode, block_period, token, password_file, ready_file, log_file))
    except (ConfigError, GenesisError, KeystoreError, ValueError, RuntimeError, OSError) as exc:
        fail(str(exc))
