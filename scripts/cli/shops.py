"""``takasago shops``: the city's settlement export for municipal accounting (issue 21).

    takasago shops export-settlements --officer officer1 --out settlements.csv [--status requested] [--shift-jis]

writes each settlement with the shop's registered name (as the city approved it in the
wallet), its member code, state, amount and the bank account it is paid into (opened from
its sealed record; the export is on the counter's log under the officer's name), then a
totals row. UTF-8 with a BOM by default (spreadsheets open it as UTF-8); ``--shift-jis``
for accounting systems that import Shift_JIS (cp932). The same file as the officer desk's
download. Exit codes as the other wallet commands: 0 written; 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from scripts.cli.common import EXIT_BAD_INPUT, BadInput, ErrorRule, exits_on, out, plain
from scripts.cli.wallet import DatabaseUrl, DataDir, _error_rules, _officer_user, _settings

shops = typer.Typer(help="Shops: the city's settlement export (issue 21).", no_args_is_help=True)
STATES = ("requested", "paid", "sending", "failed", "all")


def _rules() -> list[ErrorRule]:
    return [((BadInput,), plain("bad input", EXIT_BAD_INPUT)), *_error_rules()]


_errors = exits_on(_rules)


@shops.command("export-settlements")
@_errors
def export_settlements(
    out_file: Annotated[Path, typer.Option("--out", help="The CSV to write (mode 600: it holds bank accounts).")],
    officer: Annotated[str, typer.Option(help="Your officer log-in (recorded with the export).")],
    status: Annotated[
        str, typer.Option(help="requested (the city owes them), paid, sending, failed or all.")
    ] = "requested",
    shift_jis: Annotated[
        bool,
        typer.Option("--shift-jis", help="Write Shift_JIS (cp932) instead of UTF-8 with a BOM.", show_default="off"),
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Settlements with shop name, bank account and amounts, and a totals row, for municipal accounting."""
    if status not in STATES:
        raise BadInput(f"--status must be one of {', '.join(STATES)}")
    from wallet_api.services import Services
    from wallet_api.shops import shops_of

    services: Any = Services.build(_settings(data_dir, database_url, None, None))
    try:
        reader = _officer_user(services, officer)
        content = shops_of(services).export_csv(reader, status, "shift_jis" if shift_jis else "utf-8")
    finally:
        services.close()
    out_file.write_bytes(content)
    out_file.chmod(0o600)
    rows = content.count(b"\r\n") - 2  # without the header and the totals row
    out.print(f"wrote {out_file}: {rows} settlement(s) ({status}, {'Shift_JIS' if shift_jis else 'UTF-8 with BOM'})")
