"""The remaining revert paths and views, so every error a contract declares is exercised on the node."""

from __future__ import annotations

from eth_abi import encode as abi_encode
from eth_account import Account

from contracts.artifacts import load_artifact
from ledger_client import jst
from ledger_client.transactions import TransactionFailed
from tests.points import MINTER_ROLE, PointsSystem, text32

ZERO = "0x" + "00" * 20


def test_contracts_cannot_be_initialised_twice(points: PointsSystem) -> None:
    points.reverts(
        points.admin,
        points.registry.functions.initialize(points.admin.address, [], [points.admin.address]),
        "InvalidInitialization",
    )
    points.reverts(
        points.admin,
        points.token.functions.initialize(points.registry.address, "x", "x", 1, 1),
        "InvalidInitialization",
    )
    points.reverts(
        points.admin,
        points.programmes.functions.initialize(points.registry.address, points.token.address),
        "InvalidInitialization",
    )
    points.reverts(
        points.admin,
        points.reports.functions.initialize(points.registry.address, points.programmes.address, 1),
        "InvalidInitialization",
    )


def test_initialising_without_a_registry_is_refused(points: PointsSystem) -> None:
    sender = points.sender(points.admin)
    implementation = sender.send(None, load_artifact("RegionalPoints").bytecode)["contractAddress"]
    token = points.w3.eth.contract(abi=load_artifact("RegionalPoints").abi)
    init = bytes.fromhex(token.encode_abi("initialize", [ZERO, "x", "x", 1, 1])[2:])
    proxy_code = load_artifact("TakasagoProxy").bytecode + abi_encode(["address", "bytes"], [implementation, init])
    try:
        sender.send(None, proxy_code)
    except TransactionFailed as exc:
        assert exc.error is not None and exc.error.name == "RegistryRequired"
    else:
        raise AssertionError("a token without a registry was deployed")


def test_bucket_overflow_is_refused(points: PointsSystem) -> None:
    resident = points.resident()
    month = points.current_month()
    error = points.reverts(points.admin, points.token.functions.mint(resident.address, 2**64, month), "BucketOverflow")
    assert error.args["month"] == month
    points.mint(resident, 2**64 - 1, month)
    points.reverts(points.admin, points.token.functions.mint(resident.address, 1, month), "BucketOverflow")
    points.mint(resident, 1, month + 1)


def test_a_move_that_would_overflow_a_bucket_is_refused_in_every_lane(points: PointsSystem) -> None:
    """Moving points adds whole bucket groups (four months a word): an overflow in any month's
    lane, the top one included, is refused and names that month, and nothing moves."""
    recipient = points.resident()
    current = points.current_month()
    for month in range(current, current + 4):  # four consecutive months: each lane of a group once
        points.mint(recipient, 2**64 - 1, month)
    before = points.balance(recipient)
    for month in range(current, current + 4):
        sender = points.resident()
        points.mint(sender, 1, month)
        error = points.reverts(
            sender, points.token.functions.thank(recipient.address, 1, text32("help"), b"\0" * 32), "BucketOverflow"
        )
        assert error.args["account"] == recipient.address
        assert error.args["month"] == month
        assert points.balance(sender) == 1
    assert points.balance(recipient) == before


def test_calendar_views_match_the_python_calendar(points: PointsSystem) -> None:
    now = points.now()
    token = points.token.functions
    assert token.currentMonth().call() == jst.month_index(now)
    assert token.fiscalYearEndMonth().call() == jst.fiscal_year_end_month(jst.month_index(now))
    assert token.monthAfterDays(45).call() in (
        jst.month_index(now + 45 * 86400),
        jst.month_index(now + 45 * 86400 + 60),
    )
    for month in (
        jst.month_index(now),
        2027 * 12 + 1,
        2028 * 12 + 1,
        2100 * 12 + 11,
    ):  # Feb 2027, Feb 2028 (leap), Dec 2100
        assert token.expiryOf(month).call() == jst.month_end(month)


def test_only_the_admin_configures_the_token_and_programmes(points: PointsSystem) -> None:
    resident = points.resident()
    points.reverts(
        resident, points.token.functions.setThanksBonus(points.programmes.address), "AccessControlUnauthorizedAccount"
    )
    programme = points.create_programme()
    points.reverts(resident, points.programmes.functions.setBudget(programme, 10), "AccessControlUnauthorizedAccount")
    points.reverts(
        resident, points.programmes.functions.setThanksBonusProgramme(programme), "AccessControlUnauthorizedAccount"
    )
    points.reverts(points.admin, points.programmes.functions.setThanksBonusProgramme(10**9), "UnknownProgramme")
    points.reverts(points.admin, points.programmes.functions.setBudget(10**9, 1), "UnknownProgramme")


def test_sweeping_is_paused_too(points: PointsSystem) -> None:
    points.send(points.admin, points.token.functions.pause())
    try:
        points.reverts(points.admin, points.token.functions.sweepExpired([points.admin.address], 0), "EnforcedPause")
    finally:
        points.send(points.admin, points.token.functions.unpause())


def test_malformed_reports_and_signatures_are_refused(points: PointsSystem) -> None:
    programme = points.create_programme()
    submit = points.reports.functions.submitReport
    anyone = points.resident()
    root = b"\x01" * 32
    for report in [
        (programme, 1, b"\0" * 32, 1, 1),
        (programme, 1, root, 0, 1),
        (programme, 1, root, 2**32, 1),
        (programme, 1, root, 1, 2**128),
        (programme, 2**128, root, 1, 1),
    ]:
        points.reverts(anyone, submit(report, []), "InvalidReport")
    points.reverts(anyone, submit((programme, 1, root, 1, 1), [b"\x01" * 64]), "ECDSAInvalidSignatureLength")
    points.reverts(anyone, submit((programme, 1, root, 1, 1), []), "QuorumNotReached")


def test_a_minter_can_be_revoked(points: PointsSystem) -> None:
    officer = points.new_account()
    points.register(3, officer)
    points.grant(MINTER_ROLE, officer)
    resident = points.resident()
    month = points.current_month()
    points.send(officer, points.token.functions.mint(resident.address, 5, month))
    points.send(points.admin, points.registry.functions.revokeRole(MINTER_ROLE, officer.address))
    points.reverts(officer, points.token.functions.mint(resident.address, 5, month), "AccessControlUnauthorizedAccount")
    assert points.balance(resident) == 5
    assert Account.from_key(officer.key).address == officer.address
    assert text32("x")[:1] == b"x"
