"""``takasago wallet statements``: the month's paper statements for card-only residents (issue 20).

    takasago wallet statements --month 2026-11 --out DIR

writes ``DIR/2026-11/<district>.pdf`` (an address sheet, then one statement per resident) and
``manifest.json`` / ``manifest.csv`` (residents and points per district, no names). Interrupted,
the same command finishes what is missing; run again on a finished month it changes nothing.

Registered on the ``wallet`` command group by ``scripts/cli/wallet.py``. Exit codes as the
other wallet commands: 0 done (or nothing left to do); 2 bad input (month, output directory,
font); 4 node unreachable.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from scripts.cli.common import EXIT_BAD_INPUT, ErrorRule, NodeTokenFile, exits_on, out, plain
from scripts.cli.wallet import DatabaseUrl, DataDir, DeploymentsDir, RpcUrl, _error_rules, _settings, wallet

FAILPOINT_ENV = "TAKASAGO_STATEMENTS_FAILPOINT"  # tests only: "written:N" or "finished:N" kills the run there


def _statement_rules() -> list[ErrorRule]:
    from wallet_api.statement_pdf import StatementFontMissing
    from wallet_api.statements import StatementError

    return [((StatementError, StatementFontMissing), plain("bad input", EXIT_BAD_INPUT)), *_error_rules()]


def _failpoint() -> Callable[[str, int], None] | None:
    """The test-only interruption named in ``TAKASAGO_STATEMENTS_FAILPOINT``: SIGKILL, as a power cut would."""
    spec = os.environ.get(FAILPOINT_ENV, "")
    if ":" not in spec:
        return None
    stage, count = spec.split(":", 1)

    def hit(at: str, done: int) -> None:
        if at == stage and str(done) == count:
            os.kill(os.getpid(), signal.SIGKILL)

    return hit


@wallet.command("statements")
@exits_on(_statement_rules)
def statements(
    month: Annotated[str, typer.Option(help="The month the statements cover, YYYY-MM (JST).")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where to write: DIR/YYYY-MM/<district>.pdf and the manifests.")
    ] = Path(".takasago/statements"),
    counter: Annotated[str, typer.Option(help="The help counter printed on every statement.")] = (
        "高砂市役所 地域ポイント窓口（本庁舎1階）"
    ),
    counter_address: Annotated[str, typer.Option(help="The counter's postal address.")] = (
        "〒676-8501 兵庫県高砂市荒井町千鳥1丁目1番1号"
    ),
    phone: Annotated[str, typer.Option(help="The counter's telephone number.")] = "079-442-2101（代表）",
    hours: Annotated[str, typer.Option(help="The counter's opening hours.")] = (
        "平日 8時30分〜17時15分（土日・祝日・年末年始を除く）"
    ),
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    rpc_url: RpcUrl = None,
    deployments_dir: DeploymentsDir = None,
    node_token_file: NodeTokenFile = None,
) -> None:
    """Write the month's paper statements for card-only residents: one PDF per district, exactly once.

    Card-only: an active resident with a card who has not used the app since the card was
    issued. Balances are read at one block fixed by the month's first run, so a rerun after an
    interruption prints the same figures; finished districts are never written twice.
    """
    from ledger_client.node_access import use_token_file
    from wallet_api.statement_pdf import HelpContacts, font_path
    from wallet_api.statements import StatementRun, parse_month, summary_lines

    parse_month(month)  # bad input and a missing font are refused before anything is opened
    font_path()
    use_token_file(node_token_file)
    contacts = HelpContacts(counter=counter, address=counter_address, phone=phone, hours=hours)
    from wallet_api.services import Services

    services = Services.build(_settings(data_dir, database_url, rpc_url, deployments_dir))
    try:
        run = StatementRun(services.sessions, services.accounts, services.ledger, contacts, _failpoint())
        result = run.run(month, out_dir)
    finally:
        services.close()
    for line in summary_lines(result):
        out.print(line, soft_wrap=True)
    totals = result.manifest["totals"]
    if result.already_complete:
        out.print(f"{month}: already complete, nothing changed（作成済みです。変更はありません）", soft_wrap=True)
    out.print(
        f"{totals['residents']} statement(s) in {totals['districts']} district(s); "
        f"manifest {result.directory / 'manifest.json'}",
        soft_wrap=True,
    )
