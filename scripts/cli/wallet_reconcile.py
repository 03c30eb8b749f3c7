"""``takasago wallet reconcile``: does the wallet agree with the chain about every member's account?

    takasago wallet reconcile [--json]

Compares each resident's and merchant's status and address in the wallet with the
AccountRegistry's ``accountOf`` (kind and status) at one block and prints every difference in
English and Japanese; changes nothing. The API follows the registry's status changes by
itself (``wallet_api.reconcile``); a difference left means something to look at. Registered on
the ``wallet`` command group by ``scripts/cli/wallet.py``. Exit codes: 0 no difference;
1 differences found; 2 bad input; 4 node unreachable.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from scripts.cli.common import EXIT_DISCREPANCY, NodeTokenFile, exits_on, out
from scripts.cli.wallet import DatabaseUrl, DataDir, DeploymentsDir, RpcUrl, _error_rules, _settings, wallet


@wallet.command("reconcile")
@exits_on(_error_rules)
def reconcile(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the differences as one JSON object.", show_default="off")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    rpc_url: RpcUrl = None,
    deployments_dir: DeploymentsDir = None,
    node_token_file: NodeTokenFile = None,
) -> None:
    """Report every member whose wallet status or address disagrees with the AccountRegistry (exit 1 if any)."""
    from ledger_client.node_access import use_token_file
    from wallet_api.services import Services

    use_token_file(node_token_file)
    services = Services.build(_settings(data_dir, database_url, rpc_url, deployments_dir))
    try:
        block, compared, differences = services.reconciler.differences()
    finally:
        services.close()
    if as_json:
        body = {"block": block, "members": compared, "differences": [d.as_dict() for d in differences]}
        typer.echo(json.dumps(body, ensure_ascii=False))
    else:
        for d in differences:
            out.print(f"{d.english}（{d.japanese}）", soft_wrap=True, markup=False, highlight=False)
        if differences:
            out.print(f"{len(differences)} difference(s) among {compared} member(s) at block {block}"
                      f"（{compared} 件中 {len(differences)} 件の不一致）", soft_wrap=True)  # fmt: skip
        else:
            out.print(f"no differences: {compared} member(s) agree with the chain at block {block}"
                      f"（{compared} 件すべてチェーンと一致）", soft_wrap=True)  # fmt: skip
    if differences:
        raise typer.Exit(EXIT_DISCREPANCY)
