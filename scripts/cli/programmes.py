"""``takasago programme …``: the city's reward programmes, and ``pause``/``unpause``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table
from web3.logs import DISCARD

from ledger_client.contract_set import ContractSet
from ledger_client.jst import JST
from scripts.cli.common import BadInput, out
from scripts.cli.officer import Officer, Reader, officer_command, reader_command
from scripts.programme_fields import UnknownProgramme, programme_fields
from scripts.registry_names import ROLE_NAMES

programmes = typer.Typer(help="Create, list and close reward programmes.", no_args_is_help=True)

CAP_PERIODS = {"day": 0, "month": 1, "fiscal-year": 2, "programme": 3}
CAP_PERIOD_NAMES = {v: k for k, v in CAP_PERIODS.items()}
FAR_FUTURE = 2**40 - 1


def parse_date(value: str, what: str, end_of_day: bool = False) -> int:
    """A JST calendar date (YYYY-MM-DD) as a unix time: its first second, or its last."""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=JST)
    except ValueError:
        raise BadInput(f"{what} {value!r} is not a date like 2026-04-01") from None
    if end_of_day:
        day += timedelta(days=1, seconds=-1)
    return int(day.timestamp())


def parse_expiry(value: str) -> tuple[int, int]:
    if value == "fiscal-year":
        return 0, 0
    match = re.fullmatch(r"days:(\d{1,3})", value)
    if match and 1 <= int(match[1]) <= 700:
        return 1, int(match[1])
    raise BadInput(f"--expiry {value!r}: use fiscal-year (end of March) or days:N with N from 1 to 700")


def role_id(value: str) -> bytes:
    if value in ROLE_NAMES:
        return ROLE_NAMES[value]
    if re.fullmatch(r"0x[0-9a-fA-F]{64}", value):
        return bytes.fromhex(value[2:])
    raise BadInput(f"--verifier-role {value!r}: one of {', '.join(ROLE_NAMES)} or a 0x-prefixed 32-byte role id")


def load_programme(chain: ContractSet, programme_id: int) -> Any:
    """The programme's stored fields, or BadInput naming the valid ids."""
    try:
        return programme_fields(chain, programme_id)
    except UnknownProgramme as exc:
        raise BadInput(f"{exc}; see `takasago programme list`") from None


ProgrammeName = Annotated[str, typer.Option(help="Public name, e.g. 'CO2 reduction, FY2026'.")]
ProgrammeBudget = Annotated[int, typer.Option(help="Total points the programme may ever grant.", min=1)]
RewardPoints = Annotated[int, typer.Option(help="Points granted per REWARD_UNITS units.", min=1)]
RewardUnits = Annotated[int, typer.Option(help="Units of activity per REWARD_POINTS points.", min=1)]
Cap = Annotated[int, typer.Option(help="Per-person cap per period (0: none).", min=0)]
CapPeriod = Annotated[str, typer.Option(help="day, month, fiscal-year or programme.")]
Starts = Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD, JST).", show_default="now")]
Ends = Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD, JST).", show_default="open-ended")]
Expiry = Annotated[str, typer.Option(help="fiscal-year, or days:N (end of the month N days after).")]


def programme_params(
    w3: Any,
    name: str,
    budget: int,
    reward: tuple[int, int],
    cap: tuple[int, str],
    window: tuple[str | None, str | None],
    expiry: str,
    verifier_role: bytes,
) -> tuple[Any, ...]:
    """``ProgrammeParams`` for ``createProgramme`` and ``createBusinessProgramme``, every option
    checked first: ``reward`` is (points, units), ``cap`` (points, period), ``window`` (starts, ends)."""
    reward_points, reward_units = reward
    cap_points, cap_period = cap
    if not name.strip() or len(name.encode()) > 100:
        raise BadInput("--name must be 1 to 100 bytes")
    if cap_period not in CAP_PERIODS:
        raise BadInput(f"--cap-period {cap_period!r}: one of {', '.join(CAP_PERIODS)}")
    if reward_points >= 2**64 or reward_units >= 2**64 or cap_points >= 2**64 or budget >= 2**128:
        raise BadInput("reward, cap or budget out of range")
    now = int(w3.eth.get_block("latest")["timestamp"])
    starts_at = parse_date(window[0], "--starts") if window[0] else now
    ends_at = parse_date(window[1], "--ends", end_of_day=True) if window[1] else FAR_FUTURE
    if ends_at <= starts_at:
        raise BadInput("--ends must be after --starts")
    policy, days = parse_expiry(expiry)
    return (name, verifier_role, reward_points, reward_units, cap_points, CAP_PERIODS[cap_period], budget,
            starts_at, ends_at, policy, days)  # fmt: skip


def print_programme_id(receipt: Any, programmes: Any) -> None:
    """Prints the id a ``ProgrammeCreated`` event in ``receipt`` gave the new programme."""
    if receipt is not None:
        event = programmes.events.ProgrammeCreated().process_receipt(receipt, errors=DISCARD)[0]
        out.print(f"programme id {event['args']['programmeId']}")


@programmes.command("create")
@officer_command
def programme_create(
    officer: Officer,
    name: ProgrammeName,
    budget: ProgrammeBudget,
    reward_points: RewardPoints = 1,
    reward_units: RewardUnits = 1,
    cap: Cap = 0,
    cap_period: CapPeriod = "month",
    starts: Starts = None,
    ends: Ends = None,
    expiry: Expiry = "fiscal-year",
    verifier_role: Annotated[
        str, typer.Option(help="Role that may attest: minter, oracle, quorum-reporter, …")
    ] = "minter",
) -> None:
    """Create a reward programme (admin only). Example: 10 points per kg of CO2 (units in grams):
    --reward-points 10 --reward-units 1000 --cap 3000 --cap-period month --budget 5000000."""
    params = programme_params(officer.w3, name, budget, (reward_points, reward_units), (cap, cap_period),
                              (starts, ends), expiry, role_id(verifier_role))  # fmt: skip
    fn = officer.programmes.functions.createProgramme(params)
    print_programme_id(officer.write("programme create", {"name": name, "budget": budget}, fn), officer.programmes)


@programmes.command("list")
@reader_command
def programme_list(reader: Reader) -> None:
    """List programmes with their reward, cap, budget used and window (no key needed)."""
    count = int(reader.programmes.functions.programmeCount().call())
    table = Table("id", "name", "reward", "cap", "budget used", "window (JST)", "state")
    now = int(reader.w3.eth.get_block("latest")["timestamp"])
    for pid in range(1, count + 1):
        p = reader.programmes.functions.programme(pid).call()
        reward_points, reward_units, cap, cap_period, _policy, _days, closed, starts, ends, budget, issued = p[:11]
        window = f"{datetime.fromtimestamp(starts, JST):%Y-%m-%d} → " + (
            "open" if ends >= FAR_FUTURE else f"{datetime.fromtimestamp(ends, JST):%Y-%m-%d}"
        )
        state = "closed" if closed else ("active" if starts <= now <= ends else "outside window")
        cap_text = f"{cap:,}/{CAP_PERIOD_NAMES[cap_period]}" if cap else "none"
        table.add_row(str(pid), p[12], f"{reward_points} per {reward_units}", cap_text,
                      f"{issued:,} / {budget:,}", window, state)  # fmt: skip
    out.print(table)


@programmes.command("close")
@officer_command
def programme_close(officer: Officer, programme_id: Annotated[int, typer.Argument(help="Programme id.")]) -> None:
    """Close a programme for good (admin only)."""
    if load_programme(officer, programme_id)[6]:
        raise BadInput(f"programme {programme_id} is already closed")
    officer.write(
        "programme close", {"programme": programme_id}, officer.programmes.functions.closeProgramme(programme_id)
    )


@programmes.command("budget")
@officer_command
def programme_budget(
    officer: Officer,
    programme_id: Annotated[int, typer.Argument(help="Programme id.")],
    budget: Annotated[int, typer.Argument(help="The new total budget (not below what was issued).", min=0)],
) -> None:
    """Set a programme's total budget (admin only)."""
    issued = load_programme(officer, programme_id)[10]
    if budget < issued or budget >= 2**128:
        raise BadInput(f"the budget must be between the {issued:,} points already issued and 2^128")
    fn = officer.programmes.functions.setBudget(programme_id, budget)
    officer.write("programme budget", {"programme": programme_id, "budget": budget}, fn)


@officer_command
def pause(officer: Officer) -> None:
    """Stop every point movement at once (emergency; PAUSER role)."""
    if officer.token.functions.paused().call():
        out.print("already paused; nothing to do")
        return
    officer.write("pause", {}, officer.token.functions.pause())


@officer_command
def unpause(officer: Officer) -> None:
    """Resume point movements (PAUSER role)."""
    if not officer.token.functions.paused().call():
        out.print("not paused; nothing to do")
        return
    officer.write("unpause", {}, officer.token.functions.unpause())
