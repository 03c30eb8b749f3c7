"""``takasago business …``: points that stay local (issue 21).

Shops and businesses pay each other (B2B) and reward residents from their own points; the
city caps each such transfer (``limits``, ``set-limits``, admin). A business (法人) holds its
own key, so it pays and rewards from here (``pay``, ``reward``, signed with ``--keystore``);
shops do the same from the till. Registering a business is ``takasago account register
--kind business`` (or the officer desk).
"""

from __future__ import annotations

from typing import Annotated

import typer

from scripts.cli.common import BadInput, checksum_address, out
from scripts.cli.officer import Officer, Reader, officer_command, reader_command
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
