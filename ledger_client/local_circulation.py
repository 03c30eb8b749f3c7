"""Points that stay local (issue 21): account kinds, the city's limits, and the calls' text fields.

What the wallet and the CLI share about shop/business payments (``payBusiness``), rewards
(``rewardResident``) and business programmes (``createBusinessProgramme``): the registry's
kinds by name, the token's per-transfer caps read in one call, and the ``bytes32`` text the
contracts take for an invoice reference or a reward's category.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class AccountKind(IntEnum):
    """``IAccountRegistry.Kind``, in the contract's order (Business appended by issue 21)."""

    NONE = 0
    RESIDENT = 1
    MERCHANT = 2
    CITY = 3
    ORACLE = 4
    VALIDATOR = 5
    BUSINESS = 6


PAYING_KINDS = (AccountKind.MERCHANT, AccountKind.BUSINESS)
"""The kinds that pay each other (B2B) and reward residents."""

ACTIVE = 1  # IAccountRegistry.Status.Active


@dataclass(frozen=True)
class LocalCirculationLimits:
    """The city's caps on one B2B payment and one reward (0: closed), and the months ahead that
    points leaving a shop's non-expiring ledger expire."""

    max_payment: int
    max_reward: int
    shop_points_months: int

    @classmethod
    def read(cls, token: Any) -> LocalCirculationLimits:
        """From the token (a web3 contract) in one ``eth_call``."""
        payment, reward, months = token.functions.localCirculationLimits().call()
        return cls(int(payment), int(reward), int(months))


def text32(text: str) -> bytes:
    """``text`` as the contracts' ``bytes32`` text (UTF-8, zero-padded); longer than 32 bytes is refused."""
    raw = text.encode()
    if len(raw) > 32:
        raise ValueError(f"{text!r} is longer than 32 bytes")
    return raw.ljust(32, b"\0")


def standing(registry: Any, address: str) -> tuple[AccountKind, int]:
    """(kind, status) of ``address`` in the AccountRegistry (a web3 contract); kind NONE when unknown."""
    kind, status, _ = registry.functions.accountOf(address).call()
    return AccountKind(int(kind)), int(status)
