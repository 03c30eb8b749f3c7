"""HelpBoard (issue 18): every path of a help request, on the real node and the deployed contracts.

Residents post a request with thanks held in escrow by the token, a neighbour is chosen,
the requester confirms and the escrow pays the helper; withdraw, cancel, step back, expire,
dispute and the city's moderation return or split it. Each test reads the token's own
balances (requester, helper, and the escrow address) before and after, so a point lost or
paid twice fails it.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from tests.points import ADMIN_ROLE, HELP_MODERATOR_ROLE, MERCHANT, PointsSystem

OPEN, MATCHED, COMPLETED, WITHDRAWN, CANCELLED, EXPIRED, DISPUTED, RESOLVED, REMOVED = range(1, 10)
SHOPPING, GARBAGE, OTHER = 0, 1, 8
HOUR = 3600


@dataclass
class Posted:
    id: int
    requester: LocalAccount
    thanks: int
    escrow: str


def funded(points: PointsSystem, amount: int = 2_000) -> LocalAccount:
    resident = points.resident()
    if amount:
        points.mint(resident, amount)
    return resident


def post(
    points: PointsSystem,
    requester: LocalAccount,
    thanks: int = 300,
    task: int = SHOPPING,
    starts_in: int = HOUR,
    ends_in: int = 3 * HOUR,
) -> Posted:
    now = points.now()
    receipt = points.send(
        requester, points.board.functions.post(task, thanks, now + starts_in, now + ends_in, keccak(b"details"))
    )
    (event,) = points.events(receipt, points.board, "RequestPosted")
    request_id = int(event["args"]["id"])
    escrow = points.token.functions.escrowAddress(points.board.address, request_id.to_bytes(32, "big")).call()
    return Posted(request_id, requester, thanks, escrow)


def status(points: PointsSystem, request_id: int) -> int:
    return int(points.board.functions.requestOf(request_id).call()[2])


def escrowed(points: PointsSystem) -> int:
    return int(points.board.functions.totals().call()[0])


def test_post_escrows_the_thanks_and_complete_pays_the_chosen_helper_once(points: PointsSystem) -> None:
    requester, helper = funded(points), funded(points, 0)
    before = escrowed(points)
    request = post(points, requester, thanks=300)
    assert points.balance(requester) == 1_700
    assert points.balance(request.escrow) == 300
    assert escrowed(points) == before + 300
    assert status(points, request.id) == OPEN
    assert points.board.functions.usageOf(requester.address).call() == [1, 300]
    # the escrowed points keep their month: the escrow's bucket expires with the requester's
    expiry = points.token.functions.expiryOf(points.current_month() + 6).call()
    assert points.token.functions.bucketsOf(request.escrow).call() == [[expiry], [300]]
    assert points.token.functions.bucketsOf(requester.address).call() == [[expiry], [1_700]]

    receipt = points.send(requester, points.board.functions.choose(request.id, helper.address))
    (chosen,) = points.events(receipt, points.board, "HelperChosen")
    assert chosen["args"]["helper"] == helper.address
    points.reverts(helper, points.board.functions.complete(request.id), "NotRequester")
    receipt = points.send(requester, points.board.functions.complete(request.id))
    (done,) = points.events(receipt, points.board, "HelpCompleted")
    assert done["args"]["paid"] == 300
    assert points.balance(helper) == 300 and points.balance(request.escrow) == 0
    assert status(points, request.id) == COMPLETED
    assert escrowed(points) == before
    assert points.board.functions.usageOf(requester.address).call()[0] == 0
    # completing twice (two phones) pays nothing more
    error = points.reverts(requester, points.board.functions.complete(request.id), "WrongStatus")
    assert error.args["status"] == COMPLETED
    assert points.balance(helper) == 300


def test_posting_is_refused_with_a_precise_reason(points: PointsSystem) -> None:
    requester = funded(points, 250)
    shop = points.merchant()
    board = points.board
    now = points.now()
    points.reverts(shop, board.functions.post(SHOPPING, 300, now, now + HOUR, b"\0" * 32), "NotActiveResident")
    points.reverts(requester, board.functions.post(40, 300, now, now + HOUR, b"\0" * 32), "TaskTypeNotOffered")
    error = points.reverts(
        requester, board.functions.post(GARBAGE, 300, now, now + HOUR, b"\0" * 32), "ThanksOutOfRange"
    )
    assert (error.args["minThanks"], error.args["maxThanks"]) == (50, 200)
    points.reverts(requester, board.functions.post(SHOPPING, 100, now + HOUR, now, b"\0" * 32), "InvalidWindow")
    points.reverts(
        requester, board.functions.post(SHOPPING, 100, now - 2 * HOUR, now - HOUR, b"\0" * 32), "InvalidWindow"
    )
    error = points.reverts(
        requester, board.functions.post(SHOPPING, 300, now, now + HOUR, b"\0" * 32), "InsufficientUnexpiredBalance"
    )
    assert (error.args["available"], error.args["needed"]) == (250, 300)
    assert points.balance(requester) == 250


def test_open_request_limit_and_monthly_cap(points: PointsSystem) -> None:
    requester = funded(points, 5_000)
    for _ in range(3):
        post(points, requester, thanks=100)
    error = points.reverts(
        requester,
        points.board.functions.post(SHOPPING, 100, points.now(), points.now() + HOUR, b"\0" * 32),
        "TooManyOpenRequests",
    )
    assert error.args["limit"] == 3
    other = funded(points, 5_000)
    first = post(points, other, thanks=1_000, task=OTHER)
    points.send(other, points.board.functions.withdraw(first.id))  # withdrawn thanks still count this month
    post(points, other, thanks=1_000, task=OTHER)
    post(points, other, thanks=1_000, task=OTHER)
    error = points.reverts(
        other,
        points.board.functions.post(OTHER, 50, points.now(), points.now() + HOUR, b"\0" * 32),
        "MonthlyCapReached",
    )
    assert (error.args["posted"], error.args["cap"]) == (3_000, 3_000)
    assert points.balance(other) == 3_000


def test_withdraw_returns_the_escrow_only_to_the_requester_while_open(points: PointsSystem) -> None:
    requester, stranger = funded(points), funded(points)
    request = post(points, requester, thanks=200)
    points.reverts(stranger, points.board.functions.withdraw(request.id), "NotRequester")
    points.reverts(stranger, points.board.functions.withdraw(10**9), "UnknownRequest")
    receipt = points.send(requester, points.board.functions.withdraw(request.id))
    (returned,) = points.events(receipt, points.board, "EscrowReturned")
    assert (returned["args"]["status"], returned["args"]["returned"]) == (WITHDRAWN, 200)
    assert points.balance(requester) == 2_000 and points.balance(request.escrow) == 0
    points.reverts(requester, points.board.functions.withdraw(request.id), "WrongStatus")


def test_choosing_a_helper_is_refused_for_self_merchants_and_suspended_residents(points: PointsSystem) -> None:
    requester, helper = funded(points), funded(points, 0)
    request = post(points, requester)
    board = points.board
    points.reverts(requester, board.functions.choose(request.id, requester.address), "CannotHelpYourself")
    shop = points.merchant()
    points.reverts(requester, board.functions.choose(request.id, shop.address), "NotActiveResident")
    points.reverts(helper, board.functions.choose(request.id, helper.address), "NotRequester")
    points.grant(HELP_MODERATOR_ROLE, points.admin)
    points.send(points.admin, board.functions.setSuspended(helper.address, True))
    points.reverts(requester, board.functions.choose(request.id, helper.address), "SuspendedFromService")
    points.reverts(
        helper,
        board.functions.post(SHOPPING, 100, points.now(), points.now() + HOUR, b"\0" * 32),
        "SuspendedFromService",
    )
    points.send(points.admin, board.functions.setSuspended(helper.address, False))
    points.send(requester, board.functions.choose(request.id, helper.address))
    points.reverts(requester, board.functions.choose(request.id, helper.address), "WrongStatus")
    points.reverts(requester, board.functions.withdraw(request.id), "WrongStatus")
    assert points.registry.functions.accountOf(shop.address).call()[0] == MERCHANT


def test_cancel_before_the_start_returns_and_after_it_takes_a_dispute(points: PointsSystem) -> None:
    requester, helper = funded(points), funded(points, 0)
    early = post(points, requester, thanks=150, starts_in=HOUR)
    points.send(requester, points.board.functions.choose(early.id, helper.address))
    points.send(requester, points.board.functions.cancel(early.id))
    assert status(points, early.id) == CANCELLED
    assert points.balance(requester) == 2_000

    started = post(points, requester, thanks=150, starts_in=-60)
    points.send(requester, points.board.functions.choose(started.id, helper.address))
    points.reverts(requester, points.board.functions.cancel(started.id), "TooLateToCancel")
    assert points.balance(started.escrow) == 150


def test_the_helper_steps_back_and_the_request_reopens(points: PointsSystem) -> None:
    requester, first, second = funded(points), funded(points, 0), funded(points, 0)
    request = post(points, requester, thanks=250)
    points.send(requester, points.board.functions.choose(request.id, first.address))
    points.reverts(second, points.board.functions.stepBack(request.id), "NotAParty")
    receipt = points.send(first, points.board.functions.stepBack(request.id))
    (back,) = points.events(receipt, points.board, "HelperSteppedBack")
    assert back["args"]["reopened"] is True
    assert status(points, request.id) == OPEN
    points.send(requester, points.board.functions.choose(request.id, second.address))
    points.send(requester, points.board.functions.complete(request.id))
    assert (points.balance(first), points.balance(second)) == (0, 250)


def test_dispute_is_decided_by_the_city_and_split_between_the_parties(points: PointsSystem) -> None:
    requester, helper, stranger = funded(points), funded(points, 0), funded(points, 0)
    request = post(points, requester, thanks=400, task=OTHER)
    board = points.board
    points.reverts(requester, board.functions.dispute(request.id, b"\0" * 32), "WrongStatus")  # nobody chosen yet
    points.send(requester, board.functions.choose(request.id, helper.address))
    points.reverts(stranger, board.functions.dispute(request.id, b"\0" * 32), "NotAParty")
    points.send(helper, board.functions.dispute(request.id, keccak(b"not confirmed")))
    assert status(points, request.id) == DISPUTED
    points.reverts(requester, board.functions.complete(request.id), "WrongStatus")
    error = points.reverts(
        stranger, board.functions.resolve(request.id, 100, b"\0" * 32), "AccessControlUnauthorizedAccount"
    )
    assert error.args["neededRole"] == HELP_MODERATOR_ROLE
    points.grant(HELP_MODERATOR_ROLE, points.admin)
    points.reverts(points.admin, board.functions.resolve(request.id, 401, b"\0" * 32), "ExceedsThanks")
    receipt = points.send(points.admin, board.functions.resolve(request.id, 250, keccak(b"decision")))
    (decided,) = points.events(receipt, board, "DisputeResolved")
    assert (decided["args"]["toHelper"], decided["args"]["toRequester"]) == (250, 150)
    assert (points.balance(helper), points.balance(requester)) == (250, 1_750)
    assert points.balance(request.escrow) == 0 and status(points, request.id) == RESOLVED


def test_the_city_takes_a_request_down_and_the_escrow_returns(points: PointsSystem) -> None:
    requester, helper = funded(points), funded(points, 0)
    open_one, matched = post(points, requester, thanks=100), post(points, requester, thanks=120)
    points.send(requester, points.board.functions.choose(matched.id, helper.address))
    points.reverts(
        requester, points.board.functions.remove(open_one.id, b"\0" * 32), "AccessControlUnauthorizedAccount"
    )
    points.grant(HELP_MODERATOR_ROLE, points.admin)
    for request in (open_one, matched):
        points.send(points.admin, points.board.functions.remove(request.id, keccak(b"inappropriate")))
        assert status(points, request.id) == REMOVED
    assert points.balance(requester) == 2_000 and points.balance(helper) == 0
    points.reverts(points.admin, points.board.functions.remove(open_one.id, b"\0" * 32), "WrongStatus")


def test_only_the_board_moves_escrow_and_only_the_city_sets_the_menu(points: PointsSystem) -> None:
    resident = funded(points)
    token, board = points.token, points.board
    points.reverts(resident, token.functions.lockInEscrow(resident.address, b"\1" * 32, 10), "NotHelpBoard")
    points.reverts(resident, token.functions.releaseEscrow(b"\1" * 32, resident.address, 10), "NotHelpBoard")
    points.reverts(resident, token.functions.setHelpBoard(resident.address), "AccessControlUnauthorizedAccount")
    error = points.reverts(resident, board.functions.setTaskType(9, 10, 20, True), "AccessControlUnauthorizedAccount")
    assert error.args["neededRole"] == ADMIN_ROLE
    points.reverts(points.admin, board.functions.setTaskType(9, 30, 20, True), "InvalidSetting")
    points.reverts(points.admin, board.functions.setTaskType(64, 10, 20, True), "InvalidSetting")
    points.send(points.admin, board.functions.setTaskType(9, 10, 20, True))
    assert tuple(board.functions.taskTypeOf(9).call()) == (10, 20, True)
    points.send(points.admin, board.functions.setTaskType(9, 10, 20, False))
    now = points.now()
    points.reverts(resident, board.functions.post(9, 15, now, now + HOUR, b"\0" * 32), "TaskTypeNotOffered")
    assert token.functions.helpBoard().call() == board.address
    assert points.balance(resident) == 2_000


def test_windows_expiry_and_a_lost_phone_on_the_chain_clock(fresh_points: PointsSystem) -> None:
    """Unmatched requests expire after their window; escrowed points that expire pay what is left;
    a requester who lost their phone gets the escrow back on the account that replaced it."""
    points = fresh_points
    requester, helper, other = funded(points), funded(points, 0), funded(points)
    board = points.board
    unmatched = post(points, requester, thanks=100, starts_in=60, ends_in=120)
    late = post(points, requester, thanks=100, starts_in=60, ends_in=120)
    points.send(requester, board.functions.choose(late.id, helper.address))
    points.reverts(other, board.functions.expire(unmatched.id), "NotExpiredYet")
    points.mine_at(points.now() + 200)
    points.reverts(requester, board.functions.choose(unmatched.id, helper.address), "WindowOver")
    receipt = points.send(other, board.functions.expire(unmatched.id))  # anyone may
    (returned,) = points.events(receipt, board, "EscrowReturned")
    assert (returned["args"]["status"], returned["args"]["returned"]) == (EXPIRED, 100)
    receipt = points.send(helper, board.functions.stepBack(late.id))  # too late to reopen: the escrow returns
    (back,) = points.events(receipt, board, "HelperSteppedBack")
    assert back["args"]["reopened"] is False and status(points, late.id) == EXPIRED
    assert points.balance(requester) == 2_000

    # points that expire while escrowed: the helper is paid what is left (nothing here)
    short = points.resident()
    month = points.current_month()
    points.mint(short, 300, month)  # expire at the end of this JST month
    expiring = post(points, short, thanks=300, ends_in=90 * 86_400)
    points.send(short, board.functions.choose(expiring.id, helper.address))
    points.mine_at(int(points.token.functions.expiryOf(month).call()) + 1)
    receipt = points.send(short, board.functions.complete(expiring.id))
    (done,) = points.events(receipt, board, "HelpCompleted")
    assert done["args"]["paid"] == 0 and points.balance(helper) == 0
    assert escrowed(points) == 0  # the request is finished; its expired points await the token's sweep

    # a lost phone: the escrow returns to the account that replaced the requester
    lost = funded(points)
    pending = post(points, lost, thanks=200, ends_in=30 * 86_400)
    replacement = points.new_account()
    points.recover(lost, replacement)
    points.grant(HELP_MODERATOR_ROLE, points.admin)
    points.send(points.admin, board.functions.remove(pending.id, keccak(b"lost phone")))
    assert points.balance(replacement) == 200
