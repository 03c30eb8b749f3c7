"""``takasago mint``: administrative points for one resident, or thousands from a CSV."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from eth_utils import keccak
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger_client.jst import JST
from scripts.bulk_mint import (
    DEFAULT_BATCH_SIZE,
    BatchResult,
    MintPlan,
    already_paid,
    check_accounts,
    check_budget,
    check_programme,
    submit,
)
from scripts.mint_csv import CsvError, MintRow, decode, parse_amount, parse_mint_csv
from scripts.officer import EXIT_BAD_INPUT, BadInput, Officer, checksum_address, console, officer_command, out

EXIT_INTERRUPTED = 130


def default_claim_id(programme_id: int, address: str, units: int) -> int:
    """Same resident, amount, programme and JST day → same claim id: a command run twice by
    mistake mints once. Pass --claim-id to mint the same amount twice on one day."""
    day = datetime.now(JST).strftime("%Y-%m-%d")
    return int.from_bytes(keccak(text=f"{programme_id}|{address}|{units}|{day}")[:8], "big")


@officer_command
def mint(
    officer: Officer,
    address: Annotated[str | None, typer.Argument(help="The resident (EIP-55 address).")] = None,
    points: Annotated[str | None, typer.Argument(help="Points (units of the programme) to grant.")] = None,
    programme: Annotated[int, typer.Option("--programme", help="Programme to grant from (see `programme list`).")] = 0,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="CSV of rows: address, points[, note].")] = None,
    batch_id: Annotated[
        int | None, typer.Option(help="With --csv: this file's batch number; re-run with the same to resume.")
    ] = None,
    claim_id: Annotated[
        int | None, typer.Option(help="Single mint: claim id (default: one per day and amount).")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding (default: detect UTF-8 / cp932).")] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Send the valid rows even if some are bad.")
    ] = False,
    batch_size: Annotated[int, typer.Option(help="Rows per transaction.", min=1, max=2000)] = DEFAULT_BATCH_SIZE,
) -> None:
    """Grant administrative points from a programme the officer attests for.

    One resident: `takasago mint 0xAbC… 500 --programme 1`. Thousands:
    `takasago mint --csv residents.csv --programme 1 --batch-id 20261101`. Every row is
    checked before anything is sent; an interrupted run resumes when re-run with the
    same file and batch id, and never mints a row twice.
    """
    if programme <= 0:
        raise BadInput("--programme is required (see `takasago programme list`)")
    if csv_file is not None:
        if address is not None or points is not None:
            raise BadInput("give either ADDRESS POINTS or --csv FILE, not both")
        if batch_id is None or not 1 <= batch_id < 2**63:
            raise BadInput("--batch-id is required with --csv (a number from 1 to 2^63-1 identifying this file)")
        _mint_csv(officer, programme, csv_file, batch_id, encoding, skip_invalid, batch_size)
        return
    if address is None or points is None:
        raise BadInput("give ADDRESS and POINTS, or --csv FILE")
    _mint_one(officer, programme, address, points, claim_id)


def _mint_one(officer: Officer, programme: int, address: str, raw_points: str, claim_id: int | None) -> None:
    address = checksum_address(address)
    units = parse_amount(raw_points)
    if isinstance(units, str):
        raise BadInput(units)
    check_programme(officer, programme)
    problems = check_accounts(officer, [MintRow(0, address, units, "")])
    if problems:
        raise BadInput(problems[0].message)
    cid = default_claim_id(programme, address, units) if claim_id is None else claim_id
    if officer.programmes.functions.isClaimed(programme, cid).call():
        out.print(f"claim {cid} of programme {programme} was already paid; nothing to do")
        return
    evidence = keccak(text=f"cli|{address}|{units}")
    fn = officer.programmes.functions.attest(programme, address, units, evidence, cid)
    details = {"programme": programme, "account": address, "units": units, "claim": cid}
    officer.write("mint", details, fn, units)


def _mint_csv(
    officer: Officer,
    programme_id: int,
    path: Path,
    batch_id: int,
    encoding: str | None,
    skip_invalid: bool,
    batch_size: int,
) -> None:
    try:
        text, used_encoding = decode(path.read_bytes(), encoding)
        rows, problems = parse_mint_csv(text)
    except CsvError as exc:
        raise BadInput(f"{path}: {exc}") from None
    programme = check_programme(officer, programme_id)
    problems += check_accounts(officer, rows)
    bad_lines = {p.line for p in problems}
    rows = [r for r in rows if r.line not in bad_lines]
    out.print(f"{path} ({used_encoding}): {len(rows) + len(bad_lines)} rows, {len(bad_lines)} with problems")
    if problems:
        for problem in sorted(problems, key=lambda p: p.line):
            console.print(f"[red]{path}:{problem.line}:[/red] {problem.message}")
        if not skip_invalid:
            console.print("[red]nothing sent[/red]: fix the rows above, or pass --skip-invalid to send the others")
            raise typer.Exit(EXIT_BAD_INPUT)
    plan = MintPlan(programme_id, batch_id, rows, points_per_unit=(programme[0], programme[1]))
    plan.done = already_paid(officer, programme_id, batch_id, rows)
    pending = plan.pending
    total = sum(plan.points(r) for r in pending)
    if plan.done:
        out.print(f"{len(plan.done)} rows were already minted under batch {batch_id}; {len(pending)} left")
    if not pending:
        out.print("nothing to do")
        return
    check_budget(plan, programme)
    out.print(f"{len(pending)} rows, {total:,} points (before per-person caps) from programme {programme_id}")
    if officer.dry_run:
        out.print("[yellow]dry run[/yellow]: every row checked; nothing sent")
        return
    officer.confirm(f"mint {total:,} points to {len(pending)} residents?", total)
    started = time.monotonic()
    granted = points = 0
    columns = (TextColumn("minting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("mint", total=len(pending))

        def on_batch(n: int, result: BatchResult) -> None:
            nonlocal granted, points
            granted += result.granted
            points += result.points
            progress.advance(task, n)

        try:
            submit(officer, plan, batch_size, on_batch)
        except KeyboardInterrupt:
            progress.stop()
            console.print(
                f"[yellow]interrupted[/yellow] after {granted} confirmed rows: run the same command again"
                " to mint the rest (nothing will be minted twice)"
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
    elapsed = time.monotonic() - started
    out.print(f"[green]✓[/green] minted {points:,} points to {granted} residents in {elapsed:.1f} s (batch {batch_id})")
