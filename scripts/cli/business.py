"""``takasago business …``: points that stay local (issue 21).

Shops and businesses pay each other (B2B) and reward residents from their own points; the
city caps each such transfer (``limits``, ``set-limits``, admin). A business (法人) holds its
own key, so it pays and rewards from here (``pay``, ``reward``, signed with ``--keystore``),
and runs programmes of its own, paid from its points (``programme-create``; each claim granted
with ``takasago mint ADDRESS UNITS --programme ID``, exactly once per claim id); shops do the
same from the till. Registering a business is ``takasago account register
--kind business`` (or the officer desk).
"""

from __future__ import annotations

from typing import Annotated

import typer

from scripts.cli.common import BadInput, checksum_address, out
from scripts.cli.officer import Officer, Reader, officer_command, reader_command
from scripts.cli.programmes import (
    Cap,
    CapPeriod,
    Ends,
    Expiry,
    ProgrammeBudget,
    ProgrammeName,
    RewardPoints,
    RewardUnits,
    Starts,
    print_programme_id,
    programme_params,
)
from scripts.registry_names import KIND_NAMES, STATUS_NAMES

business = typer.Typer(
    help="Local circulation: the city's caps on shop/business payments (B2B) and business rewards.",
    no_args_is_help=True,
)

MAX_MONTHS_AHEAD = 24  # RegionalPoints.MAX_MONTHS_AHEAD


@business.command("limits")
@reader_command
def business_limits(reader: Reader) -> None:
    """Show the caps on one B2B payment and one business reward, and when a shop's passed-on points expire."""
    payment, reward, months = (int(x) for x in reader.token.functions.localCirculationLimits().call())
    out.print(
        f"largest B2B payment (shop/business → shop/business): {payment:,} points" + (" (closed)" * (not payment))
    )
    out.print(f"largest reward (shop/business → resident): {reward:,} points" + (" (closed)" * (not reward)))
    out.print(f"points leaving a shop's ledger expire at the end of the month {months} month(s) ahead")


@business.command("set-limits")
@officer_command
def business_set_limits(
    officer: Officer,
    max_payment: Annotated[int, typer.Option(help="Largest B2B payment in points (0 closes B2B).", min=0)] = 100_000,
    max_reward: Annotated[
        int, typer.Option(help="Largest reward to a resident in points (0 closes it).", min=0)
    ] = 10_000,
    shop_points_months: Annotated[
        int, typer.Option(help="Months ahead that points leaving a shop's ledger expire (0-24).", min=0)
    ] = 6,
) -> None:
    """Set the local-circulation caps (admin only); the change is an event on the chain."""
    if shop_points_months > MAX_MONTHS_AHEAD:
        raise BadInput(f"--shop-points-months {shop_points_months}: at most {MAX_MONTHS_AHEAD}")
    if max(max_payment, max_reward) >= 2**64:
        raise BadInput("a cap must be below 2^64 points")
    officer.write(
        "business set-limits",
        {"max_payment": max_payment, "max_reward": max_reward, "shop_points_months": shop_points_months},
        officer.token.functions.setLocalCirculationLimits(max_payment, max_reward, shop_points_months),
    )


Points = Annotated[int, typer.Argument(help="Whole points.", min=1)]


def _text32(value: str, what: str) -> bytes:
    raw = value.encode()
    if len(raw) > 32:
        raise BadInput(f"{what} {value!r} is longer than 32 bytes")
    return raw.ljust(32, b"\0")


def _party(officer: Officer, address: str, what: str) -> tuple[str, str]:
    address = checksum_address(address, what)
    kind, status, _ = officer.registry.functions.accountOf(address).call()
    return address, f"{KIND_NAMES[int(kind)]}, {STATUS_NAMES[int(status)]}"


@business.command("pay")
@officer_command
def business_pay(
    officer: Officer,
    to: Annotated[str, typer.Argument(help="The shop's or business's address.")],
    amount: Points,
    reference: Annotated[
        str, typer.Option(help="Your invoice reference (at most 32 bytes).", show_default="none")
    ] = "",
) -> None:
    """Pay a participating shop or business from your own points (B2B), signed with your key (--keystore)."""
    address, standing = _party(officer, to, "supplier")
    out.print(f"paying {amount:,} points to {address} ({standing})")
    fn = officer.token.functions.payBusiness(address, amount, _text32(reference, "--reference"))
    officer.write("business pay", {"to": address, "amount": amount, "reference": reference}, fn, points=amount)


@business.command("reward")
@officer_command
def business_reward(
    officer: Officer,
    resident: Annotated[str, typer.Argument(help="The resident's address (an employee, a customer).")],
    amount: Points,
    category: Annotated[str, typer.Option(help="Why, e.g. commute, customer, staff (at most 32 bytes).")] = "commute",
) -> None:
    """Reward a resident from your own points (a business's or shop's key, --keystore); the months travel."""
    address, standing = _party(officer, resident, "resident")
    out.print(f"rewarding {address} ({standing}) with {amount:,} points")
    fn = officer.token.functions.rewardResident(address, amount, _text32(category, "--category"))
    officer.write("business reward", {"to": address, "amount": amount, "category": category}, fn, points=amount)


@business.command("programme-create")
@officer_command
def business_programme_create(
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
) -> None:
    """Create a programme of your own (a business's or shop's key, --keystore), paid from your points,
    never minted: e.g. 10 points per cycled commute, --reward-points 10 --cap 200 --budget 50000. Grant
    each claim with `takasago mint ADDRESS UNITS --programme ID` signed with the same key."""
    # The verifier role is unused: the business itself attests its programme's claims.
    params = programme_params(officer.w3, name, budget, (reward_points, reward_units), (cap, cap_period),
                              (starts, ends), expiry, bytes(32))  # fmt: skip
    fn = officer.programmes.functions.createBusinessProgramme(params)
    receipt = officer.write("business programme-create", {"name": name, "budget": budget}, fn)
    print_programme_id(receipt, officer.programmes)
