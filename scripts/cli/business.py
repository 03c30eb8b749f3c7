"""``takasago business …``: the city's limits on points that stay local (issue 21).

Shops and businesses pay each other (B2B) and reward residents from their own points; the
city caps each such transfer. Registering a business is ``takasago account register
--kind business``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from scripts.cli.common import BadInput, out
from scripts.cli.officer import Officer, Reader, officer_command, reader_command

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
