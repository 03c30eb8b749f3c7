"""The AccountRegistry's roles, account kinds and statuses under the names officers type.

Data only (no CLI, no connection): the CLI's commands, ``takasago up``'s supervisor and
the bulk-mint library all read the same table. ``ROLE_NAMES`` maps the command-line name
(``minter``) to the role id; :func:`role_label` gives the Solidity constant's name
(``MINTER_ROLE``) that messages show beside it.
"""

from __future__ import annotations

from eth_utils import keccak

KIND_NAMES = {0: "none", 1: "resident", 2: "merchant", 3: "city", 4: "oracle", 5: "validator", 6: "business"}
STATUS_NAMES = {0: "unregistered", 1: "active", 2: "suspended", 3: "revoked"}

ROLE_NAMES: dict[str, bytes] = {
    "admin": b"\0" * 32,
    "registrar": keccak(text="REGISTRAR_ROLE"),
    "enroller": keccak(text="ENROLLER_ROLE"),
    "minter": keccak(text="MINTER_ROLE"),
    "oracle": keccak(text="ORACLE_ROLE"),
    "pauser": keccak(text="PAUSER_ROLE"),
    "quorum-reporter": keccak(text="QUORUM_REPORTER_ROLE"),
    "community-verifier": keccak(text="COMMUNITY_VERIFIER_ROLE"),
    "help-moderator": keccak(text="HELP_MODERATOR_ROLE"),
}

# What the wallet service's online key needs: register verified people, attest approved claims.
SERVICE_ROLES = ("enroller", "community-verifier")


def role_name(role_id: bytes) -> str | None:
    """The command-line name of ``role_id`` (``minter``), or None for a role this table does not know."""
    return next((name for name, value in ROLE_NAMES.items() if value == bytes(role_id)), None)


def role_label(role_id: bytes) -> str:
    """The role as the contracts name it: ``MINTER_ROLE``, ``DEFAULT_ADMIN_ROLE``, or its hex id."""
    name = role_name(role_id)
    if name is None:
        return "0x" + bytes(role_id).hex()
    return "DEFAULT_ADMIN_ROLE" if name == "admin" else name.upper().replace("-", "_") + "_ROLE"
