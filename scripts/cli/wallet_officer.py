"""``takasago wallet export-accounts`` and ``takasago wallet match-register``: minting without hand-copied addresses.

    takasago wallet export-accounts --out accounts.csv [--points 500] [--with-names --officer LOGIN --reason …]
    takasago wallet match-register --register extract.csv --policy child-under-6 --points 10000 --out mint.csv

Both write a CSV in the layout ``takasago mint --csv`` reads (``address,points,note`` first, then
``short_code``, …; the mint command ignores the extra columns), and ``takasago mint --members
accounts.csv`` resolves member codes to addresses from the exported file. The resident register
extract is read on this machine only: nothing of it is stored or printed (unmatched rows are
reported by line number). Registered on the ``wallet`` group by ``scripts/cli/app.py``.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger_client.jst import JST
from scripts.cli.common import EXIT_BAD_INPUT, BadInput, ErrorRule, exits_on, out, plain
from scripts.cli.wallet import DatabaseUrl, DataDir, _error_rules, _officer_user, _settings, wallet
from scripts.mint_csv import CsvError, decode, parse_amount


def _rules() -> list[ErrorRule]:
    return [((BadInput,), plain("bad input", EXIT_BAD_INPUT)), *_error_rules()]


_errors = exits_on(_rules)
EXPORT_COLUMNS = ("address", "points", "note", "short_code", "account_id", "role", "display_name")


def _services(data_dir: Any, database_url: Any) -> Any:
    from wallet_api.services import Services

    return Services.build(_settings(data_dir, database_url, None, None))


def _points(raw: str | None) -> str:
    if raw is None:
        return ""
    value = parse_amount(raw)
    if isinstance(value, str):
        raise BadInput(f"--points: {value}")
    return str(value)


def _write(path: Path, header: tuple[str, ...], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    path.chmod(0o600)


@wallet.command("export-accounts")
@_errors
def export_accounts(
    out_file: Annotated[Path, typer.Option("--out", help="The CSV to write (mode 600).")],
    points: Annotated[
        str | None, typer.Option(help="Points to fill in on every row.", show_default="empty, to fill in")
    ] = None,
    note: Annotated[
        str, typer.Option(help="The note column of every row (kept off-chain).", show_default="empty")
    ] = "",
    role: Annotated[str, typer.Option(help="resident, merchant or all.")] = "resident",
    with_names: Annotated[
        bool,
        typer.Option(
            "--with-names", help="Add each member's real name (opens the records: audited).", show_default="off"
        ),
    ] = False,
    officer: Annotated[
        str | None,
        typer.Option(help="With --with-names: your officer log-in (recorded as the reader).", show_default="none"),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(help="With --with-names: why the records are opened (audited).", show_default="none"),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Active members as a mint CSV: address, points, note, short_code, account_id, role, display_name[, name].

    Fill in (or pass --points) and give it to `takasago mint --csv FILE`; or keep it to mint by
    member code with `takasago mint --members FILE CODE POINTS`. Real names only with
    --with-names, --officer and --reason (each record opened is on the officers' read trail).
    """
    from sqlalchemy import select

    from wallet_api.db.models import User
    from wallet_api.statuses import MEMBER_ROLES, AccountStatus

    if role not in ("resident", "merchant", "all"):
        raise BadInput("--role must be resident, merchant or all")
    if with_names and not (officer and reason):
        raise BadInput("--with-names opens real-name records: give --officer LOGIN and --reason")
    amount = _points(points)
    services = _services(data_dir, database_url)
    try:
        roles = MEMBER_ROLES if role == "all" else (role,)
        with services.sessions() as db:
            users = db.scalars(
                select(User)
                .where(User.status == AccountStatus.ACTIVE, User.role.in_(roles), User.address.is_not(None))
                .order_by(User.id)
            ).all()
        names: list[dict[str, Any]] = [{} for _ in users]
        if with_names:
            reader = _officer_user(services, officer or "")
            names = services.accounts.personal_records(users, reader, f"export-accounts: {reason}")
    finally:
        services.close()
    header = EXPORT_COLUMNS + (("name",) if with_names else ())
    rows = [
        [u.address, amount, note, u.short_code, u.public_id, u.role.value, u.display_name or ""]
        + ([record.get("name", "")] if with_names else [])
        for u, record in zip(users, names, strict=True)
    ]
    _write(out_file, header, rows)
    out.print(f"wrote {out_file}: {len(rows)} active member(s){' with names (audited)' if with_names else ''}")


@wallet.command("match-register")
@_errors
def match_register(
    register: Annotated[Path, typer.Option(help="The resident register extract (CSV, cp932 or UTF-8).")],
    policy: Annotated[str, typer.Option(help="child-under-N: households with a child younger than N years.")],
    points: Annotated[str, typer.Option(help="Points per row of the mint file.")],
    out_file: Annotated[Path, typer.Option("--out", help="The mint CSV to write (mode 600).")],
    as_of: Annotated[
        str | None, typer.Option(help="Reference date for ages, YYYY-MM-DD.", show_default="today (JST)")
    ] = None,
    per: Annotated[str, typer.Option(help="household (one row each) or adult (each verified adult).")] = "household",
    encoding: Annotated[
        str | None, typer.Option(help="utf-8, utf-8-sig or cp932.", show_default="detect UTF-8 / cp932")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Match a resident register extract against verified accounts and write a mint file for a policy.

    Columns: 氏名, 生年月日 (和暦 昭和16年5月3日 or 西暦), 住所, 世帯番号[, 続柄]. Matching is by
    the keyed name + birth-date index; no record is opened. The extract is read here only and
    never stored; unmatched rows are reported by line number, never by name.
    """
    from wallet_api.register_match import Policy, RegisterError, match

    amount = _points(points)
    try:
        day = date.fromisoformat(as_of) if as_of else datetime.now(JST).date()
    except ValueError:
        raise BadInput("--as-of must be YYYY-MM-DD") from None
    try:
        rule = Policy.parse(policy, day, per)
        text, used = decode(register.read_bytes(), encoding)
    except (RegisterError, CsvError) as exc:
        raise BadInput(f"{register}: {exc}") from None
    services = _services(data_dir, database_url)
    try:
        with services.sessions() as db:
            result = match(db, services.accounts.people, text, rule)
    except RegisterError as exc:
        raise BadInput(f"{register}: {exc}") from None
    finally:
        services.close()
    note = f"{policy} {day.isoformat()}"
    _write(out_file, EXPORT_COLUMNS[:4], [[a, amount, note, c] for a, c in result.rows])
    out.print(
        f"{register} ({used}): {result.households} household(s) under {policy} on {day.isoformat()};"
        f" wrote {out_file}: {len(result.rows)} row(s) of {amount} points",
        soft_wrap=True,
    )
    for line, why in result.unreadable:
        out.print(f"line {line}: not read: {why}", soft_wrap=True)
    if result.unmatched_lines:
        out.print(f"adults without a verified account, lines: {_lines(result.unmatched_lines)}", soft_wrap=True)
    if result.households_without_adult:
        out.print(
            f"households with no verified adult (first line of each): {_lines(result.households_without_adult)}",
            soft_wrap=True,
        )


def _lines(lines: list[int]) -> str:
    return ", ".join(str(n) for n in lines)
