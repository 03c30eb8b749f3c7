"""``takasago analytics …``: the city's data platform (issue 22).

    takasago analytics serve                  the pages (127.0.0.1:8950), pulling the sources every few minutes
    takasago analytics refresh                one pull of every source and the indicators, then a summary
    takasago analytics export --out DIR       researchers' exports: Parquet and CSV, one folder per month
    takasago analytics census FILE            check an e-Stat census CSV (what the platform would read)

Sources and settings come from ``TAKASAGO_ANALYTICS_*`` (``analytics/settings.py``); ``takasago up``
sets them for the embedded system. Exit codes: 0 done; 2 bad input.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from scripts.cli.common import EXIT_BAD_INPUT, ErrorRule, exits_on, plain, service_settings

analytics = typer.Typer(no_args_is_help=True, help="The data platform: indicators, pages and exports (issue 22).")
DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Analytics data directory (env TAKASAGO_ANALYTICS_DATA_DIR).", show_default=".takasago/analytics"
    ),
]


def _error_rules() -> list[ErrorRule]:
    from analytics.census import CensusError

    return [((CensusError, ValueError, OSError), plain("bad input", EXIT_BAD_INPUT))]


_errors = exits_on(_error_rules)


def _settings(data_dir: Path | None) -> Any:
    from analytics.settings import AnalyticsSettings

    return service_settings(AnalyticsSettings, data_dir=data_dir)


@analytics.command()
@_errors
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Bind address.", show_default="127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Port.", min=1, max=65535, show_default="8950")] = None,
) -> None:
    """Serve the public pages, the officers' district view and the CSVs; pull the sources in the background."""
    import uvicorn

    settings = _settings(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["TAKASAGO_ANALYTICS_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run("analytics.main:app", host=host or settings.host, port=port or settings.port, log_level="info",
                access_log=False)  # fmt: skip


@analytics.command()
@_errors
def refresh(data_dir: DataDir = None) -> None:
    """Pull every configured source once, compute the indicators and say what was read."""
    from analytics.service import Platform

    platform = Platform.open(_settings(data_dir))
    platform.refresh()
    p = platform.published
    assert p is not None
    typer.echo(
        f"last block {platform.last_block}; months {len(p.months)}; errors: {', '.join(platform.errors) or 'none'}"
    )


@analytics.command()
@_errors
def export(
    out: Annotated[Path, typer.Option(help="Where to write the exports.", show_default="DATA_DIR/exports")] = Path(""),
    data_dir: DataDir = None,
) -> None:
    """Write the researchers' exports (k-rule applied, coarsened): Parquet and CSV, one folder per month."""
    from analytics import exports
    from analytics.service import Platform

    settings = _settings(data_dir)
    platform = Platform.open(settings)
    platform.refresh()
    assert platform.published is not None
    written = exports.write(platform.published, out if str(out) not in ("", ".") else settings.exports_dir)
    typer.echo(f"{len(written)} files written")


@analytics.command()
@_errors
def census(file: Annotated[Path, typer.Argument(help="An e-Stat small-area CSV (UTF-8 or Shift_JIS).")]) -> None:
    """Read a census file as the platform would and print people per district (set TAKASAGO_ANALYTICS_CENSUS_FILE)."""
    from analytics.census import load

    totals: dict[str, int] = {}
    for row in load(file):
        totals[row["district"]] = totals.get(row["district"], 0) + row["people"]
    for district, people in totals.items():
        typer.echo(f"{district}\t{people}")
