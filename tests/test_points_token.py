"""The point token's rules on the real node: who may hold, who may pay whom, caps, payments, refunds, settlement."""

from __future__ import annotations

import secrets

from eth_abi import encode as abi_encode
from eth_utils import keccak

from ledger_client.payment_uri import payment_request_id
from tests.points import MERCHANT, PAUSER_ROLE, RESIDENT, REVOKED, SUSPENDED, PointsSystem, text32

HELP = text32("help")
NO_MEMO = b"\0" * 32
ZERO_ADDRESS = "0x" + "00" * 20


def test_erc20_metadata_whole_points(points: PointsSystem) -> None:
    token = points.token.functions
    assert token.decimals().call() == 0
    assert token.name().call() == "Takasago Regional Points"
    assert token.symbol().call() == "TRP"


def test_mint_credits_a_resident_with_an_expiry_event(points: PointsSystem) -> None:
    resident = points.resident()
    month = points.current_month() + 3
    receipt = points.mint(resident, 500, month)
    (issued,) = points.events(receipt, points.token, "PointsIssued")
    assert issued["args"]["amount"] == 500
    assert issued["args"]["expiresAt"] == points.token.functions.expiryOf(month).call()
    (transfer,) = points.events(receipt, points.token, "Transfer")
    assert transfer["args"]["from"] == "0x" + "00" * 20 and transfer["args"]["value"] == 500
    assert points.token.functions.bucketsOf(resident.address).call() == [[issued["args"]["expiresAt"]], [500]]


def test_only_minters_mint(points: PointsSystem) -> None:
    resident = points.resident()
    month = points.current_month()
    error = points.reverts(
        resident, points.token.functions.mint(resident.address, 1, month), "AccessControlUnauthorizedAccount"
    )
    assert error.args["account"] == resident.address


def test_points_are_minted_to_active_residents_only(points: PointsSystem) -> None:
    month = points.current_month()
    merchant = points.merchant()
    error = points.reverts(
        points.admin, points.token.functions.mint(merchant.address, 1, month), "TransferNotPermitted"
    )
    assert error.args["toKind"] == MERCHANT
    stranger = points.new_account()
    error = points.reverts(points.admin, points.token.functions.mint(stranger.address, 1, month), "AccountNotActive")
    assert error.args["status"] == 0
    points.reverts(points.admin, points.token.functions.mint(points.resident().address, 0, month), "InvalidAmount")


def test_mint_expiry_must_be_this_month_or_at_most_24_ahead(points: PointsSystem) -> None:
    resident = points.resident()
    current = points.current_month()
    points.reverts(points.admin, points.token.functions.mint(resident.address, 1, current - 1), "ExpiryOutOfRange")
    error = points.reverts(
        points.admin, points.token.functions.mint(resident.address, 1, current + 25), "ExpiryOutOfRange"
    )
    assert (error.args["currentMonth"], error.args["latestMonth"]) == (current, current + 24)
    points.mint(resident, 1, current + 24)
    points.mint(resident, 1, current)
    assert points.balance(resident) == 2


def test_mint_batch(points: PointsSystem) -> None:
    residents = [points.resident() for _ in range(3)]
    month = points.current_month() + 1
    fn = points.token.functions.mintBatch([r.address for r in residents], [10, 20, 30], month)
    receipt = points.send(points.admin, fn)
    (batch,) = points.events(receipt, points.token, "PointsIssuedBatch")
    assert (batch["args"]["recipients"], batch["args"]["total"]) == (3, 60)
    assert batch["args"]["expiresAt"] == points.token.functions.expiryOf(month).call()
    mints = [e["args"] for e in points.events(receipt, points.token, "Transfer")]
    assert [(m["to"], m["value"]) for m in mints] == [
        (r.address, v) for r, v in zip(residents, [10, 20, 30], strict=True)
    ]
    assert [points.balance(r) for r in residents] == [10, 20, 30]
    points.reverts(
        points.admin, points.token.functions.mintBatch([residents[0].address], [1, 2], month), "LengthMismatch"
    )


def test_thanks_moves_points_with_their_expiry_and_an_event(points: PointsSystem) -> None:
    a, b = points.resident(), points.resident()
    current = points.current_month()
    points.mint(a, 30, current + 1)
    points.mint(a, 100, current + 5)
    receipt = points.thank(a, b, 50)
    (event,) = points.events(receipt, points.token, "Thanked")
    assert event["args"]["category"] == HELP and event["args"]["amount"] == 50
    expiry = points.token.functions.expiryOf
    # Soonest-expiring first: all 30 of month+1, then 20 of month+5 -- and b gets the same months.
    assert points.token.functions.bucketsOf(b.address).call() == [
        [expiry(current + 1).call(), expiry(current + 5).call()],
        [30, 20],
    ]
    assert points.token.functions.bucketsOf(a.address).call() == [[expiry(current + 5).call()], [80]]


def test_thanks_refusals(points: PointsSystem) -> None:
    a, b = points.resident(), points.resident()
    merchant = points.merchant()
    points.mint(a, 100)
    thank = points.token.functions.thank
    points.reverts(a, thank(a.address, 1, HELP, NO_MEMO), "CannotThankYourself")
    points.reverts(a, thank(b.address, 1, b"\0" * 32, NO_MEMO), "InvalidCategory")
    points.reverts(a, thank(b.address, 0, HELP, NO_MEMO), "InvalidAmount")
    error = points.reverts(a, thank(b.address, 101, HELP, NO_MEMO), "InsufficientUnexpiredBalance")
    assert (error.args["available"], error.args["needed"]) == (100, 101)
    # A merchant cannot thank, and a merchant cannot be thanked.
    error = points.reverts(merchant, thank(b.address, 1, HELP, NO_MEMO), "TransferNotPermitted")
    assert error.args["fromKind"] == MERCHANT
    points.reverts(a, thank(merchant.address, 1, HELP, NO_MEMO), "TransferNotPermitted")
    # An unregistered address cannot receive.
    error = points.reverts(a, thank(points.new_account().address, 1, HELP, NO_MEMO), "AccountNotActive")
    assert error.args["status"] == 0


def test_daily_thanks_caps_count_and_points(points: PointsSystem) -> None:
    a, b = points.resident(), points.resident()
    points.mint(a, 5_000)
    assert points.token.functions.thanksLimits().call() == [10, 1_000]
    for _ in range(10):
        points.thank(a, b, 50)
    assert points.token.functions.thanksSentToday(a.address).call() == [10, 500]
    error = points.reverts(a, points.token.functions.thank(b.address, 50, HELP, NO_MEMO), "DailyThanksLimitReached")
    assert error.args["limit"] == 10
    c = points.resident()
    points.mint(c, 5_000)
    points.thank(c, b, 990)
    error = points.reverts(c, points.token.functions.thank(b.address, 11, HELP, NO_MEMO), "DailyThanksPointsExceeded")
    assert (error.args["sentToday"], error.args["amount"], error.args["limit"]) == (990, 11, 1_000)
    points.thank(c, b, 10)


def test_thanks_limits_are_set_by_the_admin(points: PointsSystem) -> None:
    resident = points.resident()
    points.reverts(resident, points.token.functions.setThanksLimits(1, 1), "AccessControlUnauthorizedAccount")
    receipt = points.send(points.admin, points.token.functions.setThanksLimits(10, 1_000))
    assert points.events(receipt, points.token, "ThanksLimitsChanged")[0]["args"]["perDay"] == 10


def test_plain_erc20_transfers_only_pay_merchants(points: PointsSystem) -> None:
    a, b = points.resident(), points.resident()
    shop, other_shop = points.merchant(), points.merchant()
    points.mint(a, 100)
    transfer = points.token.functions.transfer
    error = points.reverts(a, transfer(b.address, 1), "TransferNotPermitted")
    assert (error.args["fromKind"], error.args["toKind"]) == (RESIDENT, RESIDENT)
    points.send(a, transfer(shop.address, 40))
    assert points.balance(shop) == 40
    points.reverts(shop, transfer(other_shop.address, 1), "TransferNotPermitted")
    points.reverts(shop, transfer(a.address, 1), "TransferNotPermitted")


def test_transfer_from_follows_the_same_rules(points: PointsSystem) -> None:
    a = points.resident()
    shop, spender = points.merchant(), points.resident()
    points.mint(a, 100)
    points.send(a, points.token.functions.approve(spender.address, 30))
    points.send(spender, points.token.functions.transferFrom(a.address, shop.address, 30))
    assert points.balance(shop) == 30
    points.reverts(
        spender, points.token.functions.transferFrom(a.address, shop.address, 1), "ERC20InsufficientAllowance"
    )


def test_payment_request_is_paid_once(points: PointsSystem) -> None:
    payer, other = points.resident(), points.resident()
    shop = points.merchant()
    points.mint(payer, 1_000)
    points.mint(other, 1_000)
    reference = secrets.token_bytes(32)
    request = payment_request_id(shop.address, 420, reference)
    assert points.token.functions.paymentRequestId(shop.address, 420, reference).call() == request
    receipt = points.send(payer, points.token.functions.pay(shop.address, 420, reference))
    (paid,) = points.events(receipt, points.token, "Paid")
    assert paid["args"]["requestId"] == request and paid["args"]["payer"] == payer.address
    assert points.token.functions.paymentOf(shop.address, request).call() == [payer.address, 420, 0]
    assert points.token.functions.paymentOf(shop.address, reference).call()[0] == ZERO_ADDRESS
    error = points.reverts(other, points.token.functions.pay(shop.address, 420, reference), "PaymentRequestAlreadyPaid")
    assert error.args["payer"] == payer.address and error.args["requestId"] == request
    # The same reference at another merchant is another request.
    points.pay(other, points.merchant(), 1, reference)
    pay = points.token.functions.pay
    points.reverts(payer, pay(shop.address, 1, b"\0" * 32), "InvalidRequestId")
    points.reverts(payer, pay(shop.address, 0, secrets.token_bytes(32)), "InvalidAmount")
    points.reverts(payer, pay(shop.address, 2**40, secrets.token_bytes(32)), "InvalidAmount")
    points.reverts(payer, pay(other.address, 1, secrets.token_bytes(32)), "TransferNotPermitted")
    error = points.reverts(payer, pay(shop.address, 581, secrets.token_bytes(32)), "InsufficientUnexpiredBalance")
    assert (error.args["available"], error.args["needed"]) == (580, 581)


def test_finding03_payment_of_other_amount_cannot_satisfy_request(points: PointsSystem) -> None:
    """Issue 15, finding 3: a 1-point payment against a printed reference must not take the
    merchant's 420-point request. The request id is derived from (merchant, amount,
    reference), so the squatter's payment lands elsewhere and the customer still pays."""
    squatter, customer, shop = points.resident(), points.resident(), points.merchant()
    points.mint(squatter, 10)
    points.mint(customer, 1_000)
    reference = secrets.token_bytes(32)  # printed in the till's QR for 420 points
    # Computed here from the agreed formula, not through the contract or the helpers under test.
    wanted = keccak(abi_encode(["address", "uint256", "bytes32"], [shop.address, 420, reference]))
    squat = points.send(squatter, points.token.functions.pay(shop.address, 1, reference))
    (squatted,) = points.events(squat, points.token, "Paid")
    assert squatted["args"]["requestId"] != wanted
    assert points.token.functions.paymentOf(shop.address, wanted).call() == [ZERO_ADDRESS, 0, 0]
    # The customer's payment of the requested amount still goes through, under the request's id.
    receipt = points.send(customer, points.token.functions.pay(shop.address, 420, reference))
    (paid,) = points.events(receipt, points.token, "Paid")
    assert (paid["args"]["requestId"], paid["args"]["payer"], paid["args"]["amount"]) == (
        wanted,
        customer.address,
        420,
    )
    assert points.token.functions.paymentOf(shop.address, wanted).call() == [customer.address, 420, 0]
    # And the squatter can no longer take that request with the right amount either.
    points.mint(squatter, 1_000)
    points.reverts(squatter, points.token.functions.pay(shop.address, 420, reference), "PaymentRequestAlreadyPaid")
    assert points.balance(shop) == 421


def test_refunds_partial_full_and_never_more_than_paid(points: PointsSystem) -> None:
    payer = points.resident()
    shop, other_shop = points.merchant(), points.merchant()
    points.mint(payer, 500)
    request = points.pay(payer, shop, 420)
    refund = points.token.functions.refund
    receipt = points.send(shop, refund(request, 120))
    (event,) = points.events(receipt, points.token, "Refunded")
    assert (event["args"]["amount"], event["args"]["totalRefunded"], event["args"]["payer"]) == (
        120,
        120,
        payer.address,
    )
    assert points.balance(payer) == 200
    error = points.reverts(shop, refund(request, 301), "RefundExceedsPayment")
    assert (error.args["refundable"], error.args["requested"]) == (300, 301)
    points.reverts(shop, refund(request, 0), "RefundExceedsPayment")
    points.reverts(other_shop, refund(request, 1), "UnknownPayment")
    points.reverts(shop, refund(secrets.token_bytes(32), 1), "UnknownPayment")
    points.send(shop, refund(request, 300))
    assert points.balance(payer) == 500 and points.balance(shop) == 0
    points.reverts(shop, refund(request, 1), "RefundExceedsPayment")
    assert points.token.functions.merchantLedgerOf(shop.address).call() == [0, 420, 420, 0]


def test_refund_reaches_a_recovered_payer(points: PointsSystem) -> None:
    payer, shop = points.resident(), points.merchant()
    points.mint(payer, 100)
    request = points.pay(payer, shop, 60)
    replacement = points.new_account()
    points.recover(payer, replacement)
    points.send(points.admin, points.token.functions.recoverBalance(payer.address))
    receipt = points.send(shop, points.token.functions.refund(request, 60))
    assert points.events(receipt, points.token, "Refunded")[0]["args"]["payer"] == replacement.address
    assert points.balance(replacement) == 100 and points.balance(payer) == 0


def test_settlement_burns_merchant_points_with_a_reference(points: PointsSystem) -> None:
    payer, shop = points.resident(), points.merchant()
    points.mint(payer, 1_000)
    points.pay(payer, shop, 700)
    supply = points.token.functions.totalSupply().call()
    before = points.token.functions.totals().call()
    reference = text32("INV-2026-11-0042")
    receipt = points.send(shop, points.token.functions.requestSettlement(500, reference))
    (event,) = points.events(receipt, points.token, "SettlementRequested")
    assert event["args"]["merchant"] == shop.address and event["args"]["settlementReference"] == reference
    assert event["args"]["settlementId"] == points.token.functions.settlementCount().call()
    (burn,) = points.events(receipt, points.token, "Transfer")
    assert burn["args"]["to"] == "0x" + "00" * 20 and burn["args"]["value"] == 500
    assert points.token.functions.totalSupply().call() == supply - 500
    assert points.token.functions.totals().call()[1] == before[1] + 500
    assert points.token.functions.merchantLedgerOf(shop.address).call() == [200, 700, 0, 500]
    error = points.reverts(shop, points.token.functions.requestSettlement(201, reference), "ERC20InsufficientBalance")
    assert (error.args["balance"], error.args["needed"]) == (200, 201)
    points.reverts(shop, points.token.functions.requestSettlement(0, reference), "InvalidAmount")
    points.reverts(payer, points.token.functions.requestSettlement(1, reference), "TransferNotPermitted")


def test_recovery_moves_every_bucket_to_the_successor(points: PointsSystem) -> None:
    lost = points.resident()
    current = points.current_month()
    points.mint(lost, 10, current)
    points.mint(lost, 20, current + 7)
    buckets = points.token.functions.bucketsOf(lost.address).call()
    replacement = points.new_account()
    points.reverts(points.admin, points.token.functions.recoverBalance(lost.address), "NoSuccessor")
    points.recover(lost, replacement)
    officer = points.resident()
    points.reverts(officer, points.token.functions.recoverBalance(lost.address), "AccessControlUnauthorizedAccount")
    receipt = points.send(points.admin, points.token.functions.recoverBalance(lost.address))
    (event,) = points.events(receipt, points.token, "BalanceRecovered")
    assert (event["args"]["newAccount"], event["args"]["amount"]) == (replacement.address, 30)
    assert points.token.functions.bucketsOf(replacement.address).call() == buckets
    assert points.balance(lost) == 0
    assert points.registry.functions.accountOf(lost.address).call()[1] == REVOKED


def test_merchant_recovery_keeps_its_settleable_balance(points: PointsSystem) -> None:
    payer, shop = points.resident(), points.merchant()
    points.mint(payer, 100)
    points.pay(payer, shop, 80)
    replacement = points.new_account()
    points.recover(shop, replacement)
    points.send(points.admin, points.token.functions.recoverBalance(shop.address))
    assert points.balance(replacement) == 80
    points.send(replacement, points.token.functions.requestSettlement(80, text32("after recovery")))
    assert points.token.functions.merchantLedgerOf(replacement.address).call() == [0, 80, 0, 80]


def test_pause_stops_every_movement_and_only_pausers_pause(points: PointsSystem) -> None:
    a, b, shop = points.resident(), points.resident(), points.merchant()
    points.mint(a, 100)
    points.reverts(a, points.token.functions.pause(), "AccessControlUnauthorizedAccount")
    receipt = points.send(points.admin, points.token.functions.pause())
    assert points.events(receipt, points.token, "Paused")[0]["args"]["account"] == points.admin.address
    try:
        assert points.token.functions.paused().call()
        points.reverts(a, points.token.functions.thank(b.address, 1, HELP, NO_MEMO), "EnforcedPause")
        points.reverts(a, points.token.functions.pay(shop.address, 1, secrets.token_bytes(32)), "EnforcedPause")
        points.reverts(points.admin, points.token.functions.mint(a.address, 1, points.current_month()), "EnforcedPause")
        points.reverts(points.admin, points.token.functions.pause(), "EnforcedPause")
        points.reverts(a, points.token.functions.unpause(), "AccessControlUnauthorizedAccount")
    finally:
        points.send(points.admin, points.token.functions.unpause())
    points.reverts(points.admin, points.token.functions.unpause(), "ExpectedPause")
    points.thank(a, b, 1)
    assert PAUSER_ROLE == keccak(text="PAUSER_ROLE")


def test_suspended_merchant_cannot_be_paid_or_settle(points: PointsSystem) -> None:
    payer, shop = points.resident(), points.merchant()
    points.mint(payer, 100)
    points.pay(payer, shop, 10)
    points.send(points.admin, points.registry.functions.setStatus(shop.address, SUSPENDED))
    error = points.reverts(
        payer, points.token.functions.pay(shop.address, 1, secrets.token_bytes(32)), "AccountNotActive"
    )
    assert error.args["status"] == SUSPENDED
