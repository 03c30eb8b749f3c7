"""``takasago network …``: create and run a local QBFT network of several validators."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from scripts.cli.common import (
    DEFAULT_RPC_URL,
    DevKeys,
    Keystore,
    PasswordFile,
    RpcUrl,
    checksum_address,
    connect_node,
    handle_errors,
)
from scripts.cli.node import console, fail
from scripts.cli.signing import load_signer

network = typer.Typer(help="A local network of validators (QBFT) for demos and tests.", no_args_is_help=True)

NetworkDir = Annotated[Path, typer.Option("--dir", help="The network's directory.")]
DEFAULT_DIR = Path(".takasago/network")


@network.command("init")
def init(
    directory: NetworkDir = DEFAULT_DIR,
    validators: Annotated[int, typer.Option(help="Number of validators (4 tolerates one faulty).", min=1, max=64)] = 4,
    observers: Annotated[int, typer.Option(help="Non-validating nodes (an auditor's own node).", min=0, max=16)] = 1,
    chain_id: Annotated[int, typer.Option(help="Chain id (EIP-155).", min=1)] = 1337,
    rpc_port: Annotated[int, typer.Option(help="First node's JSON-RPC port; the others follow.", min=1)] = 8545,
    p2p_port: Annotated[int, typer.Option(help="First node's peer port; the others follow.", min=1)] = 30400,
    block_period: Annotated[int, typer.Option(help="Seconds before an empty block.", min=1, max=3600)] = 1,
    request_timeout: Annotated[
        float, typer.Option(help="QBFT round-0 timeout in seconds (doubles each round).", min=0.1, max=600)
    ] = 4.0,
) -> None:
    """Write one genesis and a data directory per node (development keys, INSECURE) into DIR."""
    from node.network_setup import init_network

    try:
        entries = init_network(
            directory,
            validators=validators,
            observers=observers,
            chain_id=chain_id,
            rpc_port=rpc_port,
            p2p_port=p2p_port,
            block_period=block_period,
            request_timeout=request_timeout,
        )
    except (FileExistsError, ValueError, RuntimeError, OSError) as exc:  # RuntimeError: py-evm the node cannot patch
        fail(str(exc))
        return
    console.print(f"[green]initialised[/green] a {validators}-validator network (chain {chain_id}) in {directory}")
    for entry in entries:
        console.print(
            f"  {entry.name:12} {entry.role:9} {entry.address}  rpc 127.0.0.1:{entry.rpc_port}  "
            f"peers 127.0.0.1:{entry.p2p_port}"
        )
    console.print(
        "  [yellow]development keys in each node's dev-keys.json (INSECURE); start with "
        f"`takasago network up --dir {directory}`[/yellow]"
    )


def load_network(directory: Path) -> dict[str, Any]:
    path = directory / "network.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"{path} not found: run `takasago network init --dir {directory}` first")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        fail(f"{path}: not valid JSON: {exc}")
    if not isinstance(document, dict) or not isinstance(document.get("nodes"), list):
        fail(f"{path}: expected an object with a nodes list")
    return document  # type: ignore[no-any-return]


@network.command("up")
def up(directory: NetworkDir = DEFAULT_DIR) -> None:
    """Start every node of the network in DIR and keep them running until Ctrl-C."""
    from scripts.supervisor import StartupError, Supervisor

    document = load_network(directory)
    supervisor = Supervisor(directory / "logs")
    supervisor.catch_signals()
    try:
        for node in document["nodes"]:
            args = ["node", "run", "--data-dir", str(directory / node["name"]), "--rpc-port", str(node["rpcPort"])]
            supervisor.start(node["name"], args)
        for node in document["nodes"]:
            supervisor.wait_http(node["name"], f"http://127.0.0.1:{node['rpcPort']}/health")
    except (StartupError, OSError, KeyError, TypeError) as exc:
        supervisor.stop()
        fail(str(exc))
    for node in document["nodes"]:
        typer.echo(
            f"{node['name']:12} {node['role']:9} http://127.0.0.1:{node['rpcPort']}  "
            f"log {directory / 'logs' / (node['name'] + '.log')}"
        )
    typer.echo("running; Ctrl-C stops every node")
    if not supervisor.run_until_stopped(typer.echo):
        raise typer.Exit(1)


def _registry(w3: Any) -> Any:
    """The AccountRegistry at the address the node reports (the genesis predeploy when it does not say)."""
    from ledger_client.contract_set import predeployed_registry

    registry = predeployed_registry(w3)
    try:
        address = w3.provider.make_request("takasago_nodeInfo", [])["result"]["registryAddress"]
    except (KeyError, TypeError):
        return registry
    return w3.eth.contract(address=w3.to_checksum_address(address), abi=registry.abi)


@network.command("validators")
def validators(rpc_url: RpcUrl = DEFAULT_RPC_URL) -> None:
    """The validator set now (in proposer order) and the node's view of the network."""

    @functools.partial(handle_errors, command="network validators")
    def show() -> None:
        w3: Any = connect_node(rpc_url)
        registry = _registry(w3)
        current = registry.functions.validators().call()
        typer.echo(f"{len(current)} validators (a block needs {-(-2 * len(current) // 3)} commit seals):")
        for address in current:
            typer.echo(f"  {address}")
        info = w3.provider.make_request("takasago_nodeInfo", [])["result"]
        consensus = info.get("consensus")
        if consensus:
            typer.echo(f"this node: height {consensus['height']}, round {consensus['round']}, "
                       f"{len(consensus['peers'])} peers linked")  # fmt: skip

    show()


@network.command("vote")
def vote(
    candidate: Annotated[str, typer.Argument(help="The validator to add or remove (EIP-55 address).")],
    add: Annotated[bool, typer.Option("--add/--remove", help="Vote to add CANDIDATE, or to remove it.")] = True,
    rpc_url: RpcUrl = DEFAULT_RPC_URL,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev_keys: DevKeys = None,
) -> None:
    """Cast this validator's vote on the validator set (signed with the validator key).

    More than half of the current validators must cast the same vote; the deciding vote
    changes the set for every block after the one that includes it.
    """
    from ledger_client.transactions import Sender

    @functools.partial(handle_errors, command="network vote")
    def cast() -> None:
        address = checksum_address(candidate, "candidate")
        w3 = connect_node(rpc_url)
        signer = load_signer(keystore, password_file, dev_keys, "validator")
        registry = _registry(w3)
        receipt = Sender(w3, signer).call_function(registry.functions.voteValidator(address, add))
        verb = "add" if add else "remove"
        from web3.logs import DISCARD

        (cast_event,) = registry.events.ValidatorVoteCast().process_receipt(receipt, errors=DISCARD)
        votes, needed = cast_event["args"]["votes"], cast_event["args"]["needed"]
        typer.echo(f"voted to {verb} {address}: {votes} of {needed} votes (block {receipt['blockNumber']})")
        if registry.events.ValidatorsChanged().process_receipt(receipt, errors=DISCARD):
            current = registry.functions.validators().call()
            typer.echo(f"the validator set changed; from block {receipt['blockNumber'] + 1}: {', '.join(current)}")

    cast()
