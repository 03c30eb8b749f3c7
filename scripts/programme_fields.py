"""A reward programme's stored fields by id, from the RewardProgrammes contract.

Shared by the CLI's programme commands and the bulk-mint library (which must not import
the CLI). Field order is the contract's ``programme(id)`` tuple: ``[6]`` closed,
``[7]``/``[8]`` window, ``[9]`` budget, ``[10]`` issued, ``[11]`` verifier role, ``[12]`` name.
"""

from __future__ import annotations

from typing import Any, Protocol

from web3.contract import Contract


class WithProgrammes(Protocol):
    """Anything holding the RewardProgrammes contract (a ContractSet, the CLI's officer)."""

    @property
    def programmes(self) -> Contract: ...


class UnknownProgramme(ValueError):
    """No programme has this id; the message names the valid range."""


def programme_fields(chain: WithProgrammes, programme_id: int) -> Any:
    """The stored fields of programme ``programme_id``, or :class:`UnknownProgramme`."""
    count = int(chain.programmes.functions.programmeCount().call())
    if not 1 <= programme_id <= count:
        raise UnknownProgramme(f"unknown programme {programme_id} (programmes are 1 to {count})")
    return chain.programmes.functions.programme(programme_id).call()
