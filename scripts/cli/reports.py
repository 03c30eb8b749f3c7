"""``takasago settle`` and ``takasago status``: what the city pays merchants, and the ledger at a glance."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ledger_client import jst
from ledger_client.jst import JST
from scripts.cli.common import BadInput, out
from scripts.cli.officer import Reader, reader_command
from scripts.cli.programmes import parse_date
from scripts.event_logs import all_logs


def block_at_or_after(reader: Reader, timestamp: int) -> int:
    """The first block stamped at or after ``timestamp`` (head + 1 if none), by binary search."""
    head = int(reader.w3.eth.block_number)
    low, high = 0, head + 1
    while low < high:
        middle = (low + high) // 2
        if int(reader.w3.eth.get_block(middle)["timestamp"]) >= timestamp:
            high = middle
        else:
            low = middle + 1
    return low


def _reference_text(value: bytes) -> str:
    stripped = value.rstrip(b"\0")
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + value.hex()
    return text if text.isprintable() else "0x" + value.hex()


def settlements(reader: Reader, first_block: int, last_block: int) -> list[dict[str, Any]]:
    event = reader.token.events.SettlementRequested
    rows: list[dict[str, Any]] = []
    times: dict[int, int] = {}
    for log in all_logs(event, first_block, last_block):
        block = int(log["blockNumber"])
        if block not in times:
            times[block] = int(reader.w3.eth.get_block(block)["timestamp"])
        args = log["args"]
        rows.append({
            "settlement_id": int(args["settlementId"]),
            "requested_at": datetime.fromtimestamp(times[block], JST).strftime("%Y-%m-%d %H:%M:%S"),
            "merchant": args["merchant"],
            "amount_yen": int(args["amount"]),
            "reference": _reference_text(bytes(args["settlementReference"])),
            "tx": "0x" + bytes(log["transactionHash"]).hex(),
            "block": block,
        })  # fmt: skip
    return rows


@reader_command
def settle(
    reader: Reader,
    period_from: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, JST).")],
    period_to: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD, JST), included.")],
    merchant: Annotated[str | None, typer.Option(help="Only this merchant.", show_default="every merchant")] = None,
    csv_out: Annotated[
        Path | None,
        typer.Option("--csv", help="Write the settlements here for the payment system.", show_default="none"),
    ] = None,
    encoding: Annotated[str, typer.Option(help="CSV encoding: utf-8-sig (Excel) or cp932.")] = "utf-8-sig",
) -> None:
    """List merchants' settlement requests in a period (points burned = yen the city owes) and export them."""
    start = parse_date(period_from, "--from")
    end = parse_date(period_to, "--to", end_of_day=True)
    if end < start:
        raise BadInput("--to is before --from")
    if encoding not in ("utf-8", "utf-8-sig", "cp932"):
        raise BadInput("--encoding must be utf-8, utf-8-sig or cp932")
    first = block_at_or_after(reader, start)
    last = block_at_or_after(reader, end + 1) - 1
    rows = settlements(reader, first, last) if first <= last else []
    if merchant is not None:
        rows = [r for r in rows if r["merchant"].lower() == merchant.lower()]
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["merchant"]] += row["amount_yen"]
    table = Table("merchant", "settlements", "yen")
    for address, amount in sorted(totals.items()):
        table.add_row(address, str(sum(1 for r in rows if r["merchant"] == address)), f"{amount:,}")
    out.print(table)
    out.print(f"{len(rows)} settlements, {sum(totals.values()):,} yen, {period_from} to {period_to} (JST)")
    if csv_out is not None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [
            "settlement_id", "requested_at", "merchant", "amount_yen", "reference", "tx", "block"])  # fmt: skip
        writer.writeheader()
        writer.writerows(rows)
        csv_out.write_bytes(buffer.getvalue().encode(encoding))
        out.print(f"wrote {csv_out}")


@reader_command
def status(reader: Reader) -> None:
    """The ledger at a glance: head, validators, supply, points in circulation and expiring, programme budgets."""
    w3 = reader.w3
    head = w3.eth.get_block("latest")
    registry, token, programmes = reader.registry, reader.token, reader.programmes
    now = int(head["timestamp"])
    month = jst.month_index(now)
    out.print(
        f"chain {w3.eth.chain_id}, head #{head['number']} at {datetime.fromtimestamp(now, JST):%Y-%m-%d %H:%M:%S} JST"
    )
    out.print(f"validators: {', '.join(registry.functions.validators().call())}")
    supply = int(token.functions.totalSupply().call())
    issued, settled, swept = token.functions.totals().call()
    registered = all_logs(registry.events.AccountRegistered, 0, int(head["number"]))
    residents = sorted({log["args"]["account"] for log in registered if log["args"]["kind"] == 1})
    merchants = sorted({log["args"]["account"] for log in registered if log["args"]["kind"] == 2})
    circulating = expiring = 0
    for address in residents:
        expires, amounts = token.functions.bucketsOf(address).call()
        circulating += sum(amounts)
        expiring += sum(a for e, a in zip(expires, amounts, strict=True) if e == jst.month_end(month))
    merchants_hold = sum(int(token.functions.merchantLedgerOf(m).call()[0]) for m in merchants)
    out.print(f"total supply {supply:,} points (issued {issued:,} − settled {settled:,} − swept {swept:,})")
    out.print(f"held by residents, unexpired: {circulating:,}; by merchants (owed yen): {merchants_hold:,}")
    out.print(f"expiring at the end of this month ({jst.describe_month(month)}): {expiring:,}")
    out.print(f"paused: {'YES' if token.functions.paused().call() else 'no'}")
    table = Table("programme", "budget used", "%")
    for pid in range(1, int(programmes.functions.programmeCount().call()) + 1):
        p = programmes.functions.programme(pid).call()
        share = f"{100 * p[10] / p[9]:.1f}" if p[9] else "-"
        table.add_row(f"{pid} {p[12]}{' (closed)' if p[6] else ''}", f"{p[10]:,} / {p[9]:,}", share)
    out.print(table)
