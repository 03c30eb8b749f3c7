"""``takasago account|merchant|roles …``: who may take part, and in which role."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from eth_utils import keccak

from ledger_client.contract_set import ContractSet
from ledger_client.jst import JST
from scripts.cli.common import BadInput, checksum_address, out
from scripts.cli.officer import Officer, Reader, officer_command, reader_command
from scripts.event_logs import all_logs
from scripts.registry_names import KIND_NAMES, ROLE_NAMES, SERVICE_ROLES, STATUS_NAMES, role_label, role_name

accounts = typer.Typer(help="Register, suspend, revoke and recover residents' accounts.", no_args_is_help=True)
merchants = typer.Typer(help="Register merchants (shops that accept points).", no_args_is_help=True)
roles = typer.Typer(help="Who holds which role; grant and revoke them (admin only).", no_args_is_help=True)

KINDS = {"resident": 1, "merchant": 2, "business": 6}  # AccountRegistry.Kind (business: issue 21)
ZERO_ADDRESS = "0x" + "00" * 20

Address = Annotated[str, typer.Argument(help="The account's EIP-55 address.")]
RecordHash = Annotated[
    str | None,
    typer.Option(
        "--record-hash",
        help="0x + 64 hex: hash of the off-chain real-name record (from the wallet API).",
        show_default="none (zero hash)",
    ),
]


def record_hash(value: str | None) -> bytes:
    if value is None:
        return b"\0" * 32
    if not (value.startswith("0x") and len(value) == 66):
        raise BadInput(f"--record-hash must be 0x followed by 64 hex digits, not {value[:70]!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise BadInput(f"--record-hash {value[:70]!r} is not hex") from None


def _standing(chain: ContractSet, address: str) -> tuple[int, int]:
    kind, status, _ = chain.registry.functions.accountOf(address).call()
    return int(kind), int(status)


def _register(officer: Officer, address: str, kind: str, record: str | None) -> None:
    address = checksum_address(address)
    current_kind, status = _standing(officer, address)
    if current_kind != 0:
        raise BadInput(f"{address} is already registered ({KIND_NAMES[current_kind]}, {STATUS_NAMES[status]})")
    fn = officer.registry.functions.register(address, KINDS[kind], record_hash(record))
    officer.write(f"{kind} register", {"account": address, "kind": kind}, fn)


AccountKind = Annotated[
    str,
    typer.Option(
        "--kind",
        help="resident, merchant (a shop) or business (法人: pays shops and businesses, rewards residents).",
    ),
]


@accounts.command("register")
@officer_command
def account_register(
    officer: Officer, address: Address, record_hash_: RecordHash = None, kind: AccountKind = "resident"
) -> None:
    """Register a resident, shop or business (active at once). Personal data stays off-chain: only a hash."""
    if kind not in KINDS:
        raise BadInput(f"--kind {kind!r}: one of {', '.join(KINDS)}")
    _register(officer, address, kind, record_hash_)


@merchants.command("register")
@officer_command
def merchant_register(officer: Officer, address: Address, record_hash_: RecordHash = None) -> None:
    """Register a merchant that may receive payments and request settlement."""
    _register(officer, address, "merchant", record_hash_)


@accounts.command("authorise-service")
@officer_command
def account_authorise_service(officer: Officer, address: Address) -> None:
    """Let a city service key (the wallet API's, from `takasago wallet init`) act for the city (admin only).

    Registers ADDRESS as a city account and grants it the enroller role (only to register
    the people officers verify) and community-verifier (to attest approved programme
    claims). An online key never holds registrar: recovery and status changes need an
    officer's own key. A service key that still holds registrar (granted by an older
    version) loses it here.
    """
    address = checksum_address(address)
    kind, status = _standing(officer, address)
    if kind == 0:
        city = 3  # AccountRegistry.Kind.City (only the admin may register it)
        fn = officer.registry.functions.register(address, city, keccak(text="takasago-city-service"))
        officer.write("service register", {"account": address, "kind": "city"}, fn)
    elif KIND_NAMES[kind] != "city" or status != 1:
        raise BadInput(
            f"{address} is already registered ({KIND_NAMES[kind]}, {STATUS_NAMES[status]}), not an active city account"
        )
    for role in SERVICE_ROLES:
        if officer.registry.functions.hasRole(ROLE_NAMES[role], address).call():
            out.print(f"{address} already holds {role}")
            continue
        officer.write(
            "roles grant",
            {"role": role, "account": address},
            officer.registry.functions.grantRole(ROLE_NAMES[role], address),
        )
    if officer.registry.functions.hasRole(ROLE_NAMES["registrar"], address).call():
        officer.write(
            "roles revoke",
            {"role": "registrar", "account": address, "reason": "a service key only enrols"},
            officer.registry.functions.revokeRole(ROLE_NAMES["registrar"], address),
        )


def _set_status(officer: Officer, address: str, status: int, verb: str) -> None:
    address = checksum_address(address)
    kind, current = _standing(officer, address)
    if kind == 0:
        raise BadInput(f"{address} is not registered")
    if current == 3:
        raise BadInput(f"{address} is revoked; a revoked account never returns (recover it to a new address)")
    if current == status:
        out.print(f"{address} is already {STATUS_NAMES[status]}; nothing to do")
        return
    officer.write(f"account {verb}", {"account": address}, officer.registry.functions.setStatus(address, status))


@accounts.command("suspend")
@officer_command
def account_suspend(officer: Officer, address: Address) -> None:
    """Suspend an account: it can neither send transactions nor hold or move points until reactivated."""
    _set_status(officer, address, 2, "suspend")


@accounts.command("reactivate")
@officer_command
def account_reactivate(officer: Officer, address: Address) -> None:
    """Reactivate a suspended account."""
    _set_status(officer, address, 1, "reactivate")


@accounts.command("revoke")
@officer_command
def account_revoke(officer: Officer, address: Address) -> None:
    """Revoke an account for good (lost or compromised key)."""
    _set_status(officer, address, 3, "revoke")


def _jst(timestamp: int) -> str:
    return f"{datetime.fromtimestamp(timestamp, JST):%Y-%m-%d %H:%M:%S} JST"


@accounts.command("recover")
@officer_command
def account_recover(
    officer: Officer,
    lost: Annotated[str, typer.Argument(help="The lost account.")],
    new: Annotated[str, typer.Argument(help="The resident's new address (unregistered).")],
    execute: Annotated[
        bool,
        typer.Option(
            "--execute", help="Complete a recovery announced at least the recovery delay ago.", show_default="off"
        ),
    ] = False,
    cancel: Annotated[
        bool, typer.Option("--cancel", help="Cancel the announced recovery of LOST.", show_default="off")
    ] = False,
) -> None:
    """Recovery after a lost phone, in two steps: announce, then (after the delay) --execute.

    Without options: announce that LOST will be replaced by NEW. The registry lets it be
    completed only after its recovery delay (72 h unless the city set another), so the
    resident and the other officers can see it and stop it (`--cancel`). With --execute:
    revoke LOST, register NEW in its place and move LOST's points to NEW.
    """
    lost = checksum_address(lost, "lost account")
    new = checksum_address(new, "new account")
    if execute and cancel:
        raise BadInput("give --execute or --cancel, not both")
    registry = officer.registry.functions
    kind, _ = _standing(officer, lost)
    if kind not in KINDS.values():
        raise BadInput(f"{lost} is {KIND_NAMES[kind]}: only residents, merchants and businesses are recovered")
    successor = registry.successorOf(lost).call()
    announced, executable_at = registry.recoveryOf(lost).call()
    if cancel:
        if announced == ZERO_ADDRESS:
            raise BadInput(f"no recovery of {lost} is announced; nothing to cancel")
        if announced != new:
            raise BadInput(f"the announced recovery of {lost} is to {announced}, not {new}")
        officer.write("account recover-cancel", {"lost": lost, "new": new}, registry.cancelRecovery(lost))
        return
    if successor == ZERO_ADDRESS:
        if announced not in (ZERO_ADDRESS, new):
            raise BadInput(f"a recovery of {lost} to {announced} is already announced; cancel it first (--cancel)")
        if not execute:
            if announced == new:
                raise BadInput(
                    f"the recovery of {lost} to {new} is already announced; complete it from"
                    f" {_jst(executable_at)} with --execute"
                )
            if _standing(officer, new)[0] != 0:
                raise BadInput(f"{new} is already registered; the new address must be fresh")
            receipt = officer.write(
                "account recover-announce", {"lost": lost, "new": new}, registry.announceRecovery(lost, new)
            )
            if receipt is not None:
                _, executable_at = registry.recoveryOf(lost).call()
                out.print(
                    f"recovery announced; it can be completed from {_jst(executable_at)} with"
                    f" `takasago account recover {lost} {new} --execute`"
                )
            return
        if announced == ZERO_ADDRESS:
            raise BadInput(f"no recovery of {lost} to {new} is announced: announce it first (without --execute)")
        now = int(officer.w3.eth.get_block("latest")["timestamp"])
        if now < executable_at:
            raise BadInput(f"the recovery of {lost} can be completed from {_jst(executable_at)}, not before")
        officer.write("account recover", {"lost": lost, "new": new}, registry.recover(lost, new))
    elif successor != new:
        raise BadInput(f"{lost} was already recovered to {successor}")
    elif not execute:
        raise BadInput(f"{lost} was already recovered to {new}; --execute moves any points left")
    balance = int(officer.token.functions.balanceOf(lost).call())
    if balance == 0:
        out.print(f"{lost} holds no unexpired points; nothing to move")
        return
    fn = officer.token.functions.recoverBalance(lost)
    officer.write("account recover-balance", {"lost": lost, "new": new, "points": balance}, fn, balance)


@accounts.command("show")
@reader_command
def account_show(reader: Reader, address: Address) -> None:
    """Show an account's kind, status, balance and live expiry buckets (no key needed)."""
    address = checksum_address(address)
    kind, status = _standing(reader, address)
    out.print(f"{address}: {KIND_NAMES[kind]}, {STATUS_NAMES[status]}")
    out.print(f"  balance {int(reader.token.functions.balanceOf(address).call()):,} points")
    expires, amounts = reader.token.functions.bucketsOf(address).call()

    for when, amount in zip(expires, amounts, strict=True):
        out.print(f"  {amount:>12,} expire after {_jst(when)}")


def _role(name: str) -> bytes:
    try:
        return ROLE_NAMES[name]
    except KeyError:
        raise BadInput(f"unknown role {name!r}; one of: {', '.join(ROLE_NAMES)}") from None


RoleName = Annotated[str, typer.Argument(help=f"One of: {', '.join(ROLE_NAMES)}.")]


def role_holders(reader: ContractSet) -> dict[bytes, list[str]]:
    """Who holds each known role now, in the order they were first seen.

    The registry is OpenZeppelin's AccessControl (not enumerable), so the candidates come from
    its ``RoleGranted`` events: each granted account, and each granting sender (that is how
    the genesis admin, whose role is in the genesis state rather than in an event, appears),
    plus the current validators. Every candidate is then asked ``hasRole`` at the head, so
    revoked and renounced roles drop out. Logs are read in chunks within the node's limits.
    """
    head = int(reader.w3.eth.block_number)
    granted: dict[bytes, list[str]] = {}
    candidates: list[str] = []
    for log in all_logs(reader.registry.events.RoleGranted, 0, head):
        role, account, sender = bytes(log["args"]["role"]), str(log["args"]["account"]), str(log["args"]["sender"])
        for address in (sender, account):
            if address not in candidates:
                candidates.append(address)
        granted.setdefault(role, [])
    candidates += [v for v in reader.registry.functions.validators().call() if v not in candidates]
    has_role = reader.registry.functions.hasRole
    roles = list(ROLE_NAMES.values()) + [r for r in granted if role_name(r) is None]
    holders = {role: [a for a in candidates if has_role(role, a).call()] for role in roles}
    return holders


@roles.command("list")
@reader_command
def roles_list(
    reader: Reader,
    role: Annotated[
        str | None, typer.Argument(help=f"Only this role (one of: {', '.join(ROLE_NAMES)}).", show_default="all")
    ] = None,
) -> None:
    """Who holds which role now, from the registry's role events (no key needed)."""
    wanted = _role(role) if role is not None else None
    for role_id, accounts in role_holders(reader).items():
        if wanted is not None and role_id != wanted:
            continue
        name = role_name(role_id) or "(unknown)"
        out.print(f"{name} ({role_label(role_id)}): {len(accounts)} holder{'s' if len(accounts) != 1 else ''}")
        for account in accounts:
            kind, status = _standing(reader, account)
            out.print(f"  {account}  {KIND_NAMES[kind]}, {STATUS_NAMES[status]}", soft_wrap=True)


@roles.command("grant")
@officer_command
def roles_grant(officer: Officer, role: RoleName, address: Address) -> None:
    """Grant ROLE to ADDRESS (admin only)."""
    address = checksum_address(address)
    role_id = _role(role)
    if officer.registry.functions.hasRole(role_id, address).call():
        out.print(f"{address} already holds {role}; nothing to do")
        return
    officer.write(
        "roles grant", {"role": role, "account": address}, officer.registry.functions.grantRole(role_id, address)
    )


@roles.command("revoke")
@officer_command
def roles_revoke(officer: Officer, role: RoleName, address: Address) -> None:
    """Revoke ROLE from ADDRESS (admin only)."""
    address = checksum_address(address)
    role_id = _role(role)
    if not officer.registry.functions.hasRole(role_id, address).call():
        out.print(f"{address} does not hold {role}; nothing to do")
        return
    fn = officer.registry.functions.revokeRole(role_id, address)
    officer.write("roles revoke", {"role": role, "account": address}, fn)
