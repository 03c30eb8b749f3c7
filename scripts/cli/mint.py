"""``takasago mint``: administrative points for one resident, or thousands from a CSV."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from eth_utils import keccak
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger_client.jst import JST
from scripts.bulk_mint import (
    BatchResult,
    LacksVerifierRole,
    MintCheckError,
    MintPlan,
    already_paid,
    check_accounts,
    check_budget,
    check_programme,
    submit,
)
from scripts.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    BadInput,
    MissingRole,
    checksum_address,
    console,
    out,
)
from scripts.cli.officer import Officer, officer_command
from scripts.mint_csv import CsvError, MintRow, decode, parse_amount, parse_mint_csv, read_members, resolve_member
from scripts.programme_fields import UnknownProgramme

T = TypeVar("T")


def default_claim_id(programme_id: int, address: str, units: int, repeat: int = 0) -> int:
    """Same resident, amount, programme and JST day → same claim id: a command run twice by
    mistake mints once. ``repeat`` n > 0 (``--again``) is the day's (n+1)-th deliberate mint."""
    day = datetime.now(JST).strftime("%Y-%m-%d")
    suffix = f"|again {repeat}" if repeat else ""
    return int.from_bytes(keccak(text=f"{programme_id}|{address}|{units}|{day}{suffix}")[:8], "big")


def _checked(check: Callable[[], T]) -> T:
    """Runs a bulk-mint check, turning its refusals into the CLI's errors (a missing role is named)."""
    try:
        return check()
    except LacksVerifierRole as exc:
        raise MissingRole(exc.account, exc.role_id) from None
    except MintCheckError as exc:
        raise BadInput(str(exc)) from None
    except UnknownProgramme as exc:
        raise BadInput(f"{exc}; see `takasago programme list`") from None


@officer_command
def mint(
    officer: Officer,
    address: Annotated[
        str | None,
        typer.Argument(help="The resident: EIP-55 address, or member code / account id with --members."),
    ] = None,
    points: Annotated[str | None, typer.Argument(help="Points (units of the programme) to grant.")] = None,
    programme: Annotated[
        int,
        typer.Option(
            "--programme", help="Programme to grant from (see `programme list`); required.", show_default="none"
        ),
    ] = 0,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="CSV of rows: address, points[, note].", show_default="none")
    ] = None,
    members: Annotated[
        Path | None,
        typer.Option(
            "--members",
            help="`takasago wallet export-accounts` file: member codes and account ids in place of addresses.",
            show_default="none",
        ),
    ] = None,
    batch_id: Annotated[
        int | None,
        typer.Option(
            help="With --csv (required there): this file's batch number; re-run with the same to resume.",
            show_default="none",
        ),
    ] = None,
    claim_id: Annotated[
        int | None,
        typer.Option(help="Single mint: claim id.", show_default="one per resident, amount and JST day"),
    ] = None,
    again: Annotated[
        bool,
        typer.Option(
            "--again",
            help="Single mint: mint again although the same amount went to the same resident today.",
            show_default="off",
        ),
    ] = False,
    encoding: Annotated[
        str | None, typer.Option(help="CSV encoding: utf-8, utf-8-sig or cp932.", show_default="detect UTF-8 / cp932")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Send the valid rows even if some are bad.", show_default="off")
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(help="Rows per transaction.", min=1, max=2000, show_default="by the block gas limit"),
    ] = None,
) -> None:
    """Grant administrative points from a programme the officer attests for.

    One resident: `takasago mint 0xAbC… 500 --programme 1` (or by member code:
    `takasago mint --members accounts.csv K7M3Q9XA 500 --programme 1`). Thousands:
    `takasago mint --csv residents.csv --programme 1 --batch-id 20261101`. Every row is
    checked before anything is sent; an interrupted run resumes when re-run with the
    same file and batch id, and never mints a row twice.

    The same amount to the same resident from the same programme mints once per JST day:
    a repeat says "already minted today" with the claim id and sends nothing (exit 0);
    `--again` mints it once more on purpose.
    """
    if programme <= 0:
        raise BadInput("--programme is required (see `takasago programme list`)")
    directory = _members(members, encoding)
    if csv_file is not None:
        if address is not None or points is not None:
            raise BadInput("give either ADDRESS POINTS or --csv FILE, not both")
        if batch_id is None or not 1 <= batch_id < 2**63:
            raise BadInput("--batch-id is required with --csv (a number from 1 to 2^63-1 identifying this file)")
        _mint_csv(officer, programme, csv_file, batch_id, encoding, skip_invalid, batch_size, directory)
        return
    if address is None or points is None:
        raise BadInput("give ADDRESS and POINTS, or --csv FILE")
    if again and claim_id is not None:
        raise BadInput("give --again or --claim-id, not both")
    if directory is not None:
        resolved = resolve_member(address, directory)
        if isinstance(resolved, tuple):
            raise BadInput(resolved[0])
        address = resolved
    _mint_one(officer, programme, address, points, claim_id, again)


def _members(path: Path | None, encoding: str | None) -> dict[str, str] | None:
    """Member code / account id → address from an exported accounts file (the wallet is not asked)."""
    if path is None:
        return None
    try:
        return read_members(decode(path.read_bytes(), encoding)[0])
    except (CsvError, OSError) as exc:
        raise BadInput(f"{path}: {exc}") from None


def _mint_one(
    officer: Officer, programme: int, address: str, raw_points: str, claim_id: int | None, again: bool
) -> None:
    address = checksum_address(address)
    units = parse_amount(raw_points)
    if isinstance(units, str):
        raise BadInput(units)
    _checked(lambda: check_programme(officer, programme))
    problems = check_accounts(officer, [MintRow(0, address, units, "")])
    if problems:
        raise BadInput(problems[0].message)
    is_claimed = officer.programmes.functions.isClaimed
    if claim_id is not None:
        cid = claim_id
        if is_claimed(programme, cid).call():
            out.print(f"claim {cid} of programme {programme} was already paid; nothing to do")
            return
    else:
        repeat = 0
        cid = default_claim_id(programme, address, units)
        while is_claimed(programme, cid).call():
            if not again:
                _say_already_minted(programme, address, units, cid)
                return
            repeat += 1
            cid = default_claim_id(programme, address, units, repeat)
    evidence = keccak(text=f"cli|{address}|{units}")
    fn = officer.programmes.functions.attest(programme, address, units, evidence, cid)
    details = {"programme": programme, "account": address, "units": units, "claim": cid}
    officer.write("mint", details, fn, units)


def _say_already_minted(programme: int, address: str, units: int, cid: int) -> None:
    """A repeated same-day mint exits 0 (a command run twice by mistake is not an error), but says
    plainly that nothing was sent, under which claim the first one was paid, and how to mint again."""
    out.print(
        f"already minted today: {units:,} units of programme {programme} to {address}; claim {cid} was"
        " already paid, nothing sent. To mint the same amount again deliberately, pass --again (or a claim id of"
        " your own with --claim-id)",
        soft_wrap=True,
    )
    out.print(
        f"本日すでに付与済みです（請求ID {cid}）。同じ量を意図して再度付与する場合は --again を付けてください",
        soft_wrap=True,
    )


def _mint_csv(
    officer: Officer,
    programme_id: int,
    path: Path,
    batch_id: int,
    encoding: str | None,
    skip_invalid: bool,
    batch_size: int | None,
    members: dict[str, str] | None = None,
) -> None:
    try:
        text, used_encoding = decode(path.read_bytes(), encoding)
        rows, problems = parse_mint_csv(text, members)
    except CsvError as exc:
        raise BadInput(f"{path}: {exc}") from None
    programme = _checked(lambda: check_programme(officer, programme_id, batch=True))
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
    _checked(lambda: check_budget(plan, programme))
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
