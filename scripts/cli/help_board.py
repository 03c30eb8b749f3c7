"""``takasago help-board …``: the city's side of help matching (issue 18) on the HelpBoard contract.

The menu of task types and their ranges of thanks, the per-requester limits, the list of
requests, and moderation: deciding disputes, taking requests down, suspending accounts from
the service. Writes go through the officer session (role checked on-chain, recorded in the
audit log); the texts a decision or takedown gives are kept in the audit log and only their
hash goes on-chain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from eth_utils import keccak
from rich.table import Table

from ledger_client.jst import JST
from scripts.cli.common import BadInput, checksum_address, out
from scripts.cli.officer import Officer, Reader, officer_command, reader_command

help_board = typer.Typer(help="Help matching: task menu, limits, requests and moderation.", no_args_is_help=True)

TASK_NAMES: dict[int, tuple[str, str]] = {
    0: ("買い物", "shopping"),
    1: ("ゴミ出し", "garbage out"),
    2: ("軽い家事", "light housework"),
    3: ("庭の手入れ", "garden"),
    4: ("家具の移動", "moving furniture"),
    5: ("通院・役所への付き添い", "accompanying to hospital or city hall"),
    6: ("スマホの操作", "smartphone help"),
    7: ("子どもの送迎", "child pick-up"),
    8: ("その他", "other"),
}
STATUS_NAMES = ("none", "open", "matched", "completed", "withdrawn", "cancelled", "expired", "disputed",
                "resolved", "removed")  # fmt: skip
MAX_TASK_TYPE = 63


def _task_type(value: int) -> int:
    if not 0 <= value <= MAX_TASK_TYPE:
        raise BadInput(f"task type {value}: a number from 0 to {MAX_TASK_TYPE}")
    return value


def _text(value: str, what: str) -> bytes:
    """The hash that goes on-chain for a moderator's text (the text itself stays in the audit log)."""
    if not value.strip() or len(value) > 500:
        raise BadInput(f"{what} must be 1 to 500 characters")
    return keccak(text=value.strip())


def _request(reader: Reader, request_id: int) -> list[object]:
    fields = list(reader.help_board.functions.requestOf(request_id).call())
    if fields[2] == 0:
        count = int(reader.help_board.functions.requestCount().call())
        raise BadInput(f"no help request {request_id} (requests are numbered 1 to {count})")
    return fields


@help_board.command("task-types")
@reader_command
def task_types(reader: Reader) -> None:
    """List the task types with their range of thanks (no key needed)."""
    table = Table("id", "task", "thanks (pt)", "offered")
    for task in range(MAX_TASK_TYPE + 1):
        low, high, enabled = reader.help_board.functions.taskTypeOf(task).call()
        if high == 0:
            continue
        ja, en = TASK_NAMES.get(task, ("", f"type {task}"))
        table.add_row(str(task), f"{ja} / {en}" if ja else en, f"{low:,}–{high:,}", "yes" if enabled else "no")
    out.print(table)
    max_open, monthly_cap = reader.help_board.functions.limits().call()
    out.print(f"limits per requester: {max_open or 'no limit'} unfinished requests, "
              f"{f'{monthly_cap:,} pt' if monthly_cap else 'no cap'} posted per month")  # fmt: skip


@help_board.command("set-task-type")
@officer_command
def set_task_type(
    officer: Officer,
    task_type: Annotated[int, typer.Argument(help="Task type number (0 to 63).")],
    min_thanks: Annotated[int, typer.Option("--min", help="Least thanks a request may offer.", min=1)],
    max_thanks: Annotated[int, typer.Option("--max", help="Most thanks a request may offer.", min=1)],
    disable: Annotated[bool, typer.Option(help="Stop offering this task type for new requests.")] = False,
) -> None:
    """Set a task type's range of thanks, or stop offering it (admin only)."""
    _task_type(task_type)
    if min_thanks > max_thanks or max_thanks >= 2**64:
        raise BadInput("--min must not be above --max, and --max below 2^64")
    fn = officer.help_board.functions.setTaskType(task_type, min_thanks, max_thanks, not disable)
    officer.write("help-board set-task-type", {"task_type": task_type, "min": min_thanks, "max": max_thanks,
                                               "enabled": not disable}, fn)  # fmt: skip


@help_board.command("set-limits")
@officer_command
def set_limits(
    officer: Officer,
    max_open: Annotated[int, typer.Option(help="Unfinished requests per requester (0: no limit).", min=0, max=65535)],
    monthly_cap: Annotated[int, typer.Option(help="Thanks a requester may post per month (0: no cap).", min=0)],
) -> None:
    """Set the per-requester limits (admin only)."""
    if monthly_cap >= 2**64:
        raise BadInput("--monthly-cap must be below 2^64")
    fn = officer.help_board.functions.setLimits((max_open, monthly_cap))
    officer.write("help-board set-limits", {"max_open": max_open, "monthly_cap": monthly_cap}, fn)


@help_board.command("requests")
@reader_command
def requests_list(
    reader: Reader,
    status: Annotated[
        str | None, typer.Option(help=f"Only this status: {', '.join(STATUS_NAMES[1:])}.", show_default="all")
    ] = None,
    last: Annotated[int, typer.Option(help="How many of the newest requests to look at.", min=1, max=10_000)] = 100,
) -> None:
    """List the newest help requests: addresses, task, thanks, window and status (no key needed)."""
    if status is not None and status not in STATUS_NAMES[1:]:
        raise BadInput(f"--status {status!r}: one of {', '.join(STATUS_NAMES[1:])}")
    count = int(reader.help_board.functions.requestCount().call())
    table = Table("id", "requester", "helper", "task", "thanks", "window (JST)", "status")
    for request_id in range(count, max(0, count - last), -1):
        requester, task, code, starts, ends, helper, thanks, _details = _request(reader, request_id)
        if status is not None and STATUS_NAMES[int(code)] != status:  # type: ignore[call-overload]
            continue
        window = (f"{datetime.fromtimestamp(int(starts), JST):%Y-%m-%d %H:%M} → "  # type: ignore[call-overload]
                  f"{datetime.fromtimestamp(int(ends), JST):%H:%M}")  # type: ignore[call-overload]  # fmt: skip
        no_helper = helper == "0x0000000000000000000000000000000000000000"
        table.add_row(str(request_id), str(requester), "" if no_helper else str(helper),
                      TASK_NAMES.get(int(task), ("", str(task)))[1], f"{thanks:,}", window,  # type: ignore[call-overload]
                      STATUS_NAMES[int(code)])  # type: ignore[call-overload]  # fmt: skip
    out.print(table)
    escrowed, paid, returned = reader.help_board.functions.totals().call()
    out.print(f"in escrow {escrowed:,} pt; paid to helpers {paid:,} pt; returned {returned:,} pt")


@help_board.command("resolve")
@officer_command
def resolve(
    officer: Officer,
    request_id: Annotated[int, typer.Argument(help="The disputed request's number.", min=1)],
    to_helper: Annotated[int, typer.Option(help="Points the helper receives; the rest returns.", min=0)],
    decision: Annotated[str, typer.Option(help="The decision as recorded (kept in the audit log; hashed on-chain).")],
) -> None:
    """Decide a disputed request (help moderator)."""
    fields = _request(officer, request_id)
    if STATUS_NAMES[int(fields[2])] != "disputed":  # type: ignore[call-overload]
        raise BadInput(f"help request {request_id} is {STATUS_NAMES[int(fields[2])]}, not disputed")  # type: ignore[call-overload]
    if to_helper > int(fields[6]):  # type: ignore[call-overload]
        raise BadInput(f"--to-helper {to_helper:,} is more than the request's thanks ({int(fields[6]):,} pt)")  # type: ignore[call-overload]
    fn = officer.help_board.functions.resolve(request_id, to_helper, _text(decision, "--decision"))
    officer.write("help-board resolve", {"request": request_id, "to_helper": to_helper, "decision": decision},
                  fn, points=to_helper)  # fmt: skip


@help_board.command("remove")
@officer_command
def remove(
    officer: Officer,
    request_id: Annotated[int, typer.Argument(help="The request's number.", min=1)],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log; hashed on-chain).")],
) -> None:
    """Take an open or matched request down; its thanks return to the requester (help moderator)."""
    _request(officer, request_id)
    fn = officer.help_board.functions.remove(request_id, _text(reason, "--reason"))
    officer.write("help-board remove", {"request": request_id, "reason": reason}, fn)


@help_board.command("suspend")
@officer_command
def suspend(
    officer: Officer,
    address: Annotated[str, typer.Argument(help="The account to suspend from help matching.")],
    readmit: Annotated[bool, typer.Option(help="Readmit the account instead.")] = False,
) -> None:
    """Suspend an account from help matching (no posting, not choosable), or readmit it (help moderator)."""
    account = checksum_address(address)
    fn = officer.help_board.functions.setSuspended(account, not readmit)
    officer.write("help-board suspend", {"account": account, "suspended": not readmit}, fn)
