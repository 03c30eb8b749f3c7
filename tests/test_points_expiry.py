"""Expiry on the real node, with the dev chain's clock moved to the exact seconds that matter."""

from __future__ import annotations

from ledger_client import jst
from tests.points import PointsSystem, text32

HELP = text32("help")


def test_points_are_spendable_up_to_the_last_second_of_their_month(fresh_points: PointsSystem) -> None:
    p = fresh_points
    a, b = p.resident(), p.resident()
    month = p.current_month()
    p.mint(a, 100, month)
    end = jst.month_end(month)
    assert p.token.functions.expiryOf(month).call() == end
    p.mine_at(end - 10)
    p.next_block_at(end)
    receipt = p.thank(a, b, 40)
    assert p.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == end
    assert (p.balance(a), p.balance(b)) == (60, 40)


def test_points_expire_one_second_after_their_month(fresh_points: PointsSystem) -> None:
    p = fresh_points
    a, b = p.resident(), p.resident()
    month = p.current_month()
    p.mint(a, 100, month)
    p.mint(a, 5, month + 1)
    supply = p.token.functions.totalSupply().call()
    p.mine_at(jst.month_end(month) + 1)
    assert p.current_month() == month + 1
    assert p.balance(a) == 5
    assert p.token.functions.expiredBalanceOf(a.address, month).call() == 100
    error = p.reverts(a, p.token.functions.thank(b.address, 6, HELP, b"\0" * 32), "InsufficientUnexpiredBalance")
    assert (error.args["available"], error.args["needed"]) == (5, 6)
    # Expired points still count in the supply until they are swept.
    assert p.token.functions.totalSupply().call() == supply


def test_spending_takes_the_soonest_expiring_bucket_first_across_slots(fresh_points: PointsSystem) -> None:
    p = fresh_points
    a, shop = p.resident(), p.merchant()
    month = p.current_month()
    for offset in (6, 0, 3, 4, 5):  # crosses packed-slot boundaries (four months per slot)
        p.mint(a, 10 * (offset + 1), month + offset)
    p.pay(a, shop, 10 + 40 + 45)  # month+0 (10), month+3 (40), 45 of month+4 (50)
    expiry = p.token.functions.expiryOf
    assert p.token.functions.bucketsOf(a.address).call() == [
        [expiry(month + 4).call(), expiry(month + 5).call(), expiry(month + 6).call()],
        [5, 60, 70],
    ]


def test_twenty_five_live_buckets_and_bounded_gas(fresh_points: PointsSystem) -> None:
    p = fresh_points
    a, b = p.resident(), p.resident()
    month = p.current_month()
    for offset in range(25):
        p.mint(a, 1, month + offset)
    assert len(p.token.functions.bucketsOf(a.address).call()[0]) == 25
    p.send(p.admin, p.token.functions.setThanksLimits(10, 1_000))
    receipt = p.thank(a, b, 25)  # empties every bucket in one transfer
    assert p.balance(a) == 0 and p.balance(b) == 25
    # Seven packed slots read and written on each side: bounded, whatever the history.
    assert receipt["gasUsed"] < 400_000


def test_bucket_rollover_into_a_new_month(fresh_points: PointsSystem) -> None:
    p = fresh_points
    a, shop = p.resident(), p.merchant()
    month = p.current_month()
    p.mint(a, 10, month)
    p.mint(a, 10, month + 1)
    p.mine_at(jst.month_end(month) + 1)
    p.mint(a, 7, month + 25)  # a new furthest month is allowed once time moved on
    assert p.balance(a) == 17
    p.pay(a, shop, 12)
    expiry = p.token.functions.expiryOf
    assert p.token.functions.bucketsOf(a.address).call() == [[expiry(month + 25).call()], [5]]
    assert p.token.functions.expiredBalanceOf(a.address, month).call() == 10


def test_sweep_burns_expired_points_back_to_the_city(fresh_points: PointsSystem) -> None:
    p = fresh_points
    a, b = p.resident(), p.resident()
    month = p.current_month()
    p.mint(a, 100, month)
    p.mint(a, 1, month + 2)
    p.mint(b, 50, month + 1)
    p.mine_at(jst.month_end(month + 1) + 1)
    supply = p.token.functions.totalSupply().call()
    p.reverts(p.admin, p.token.functions.sweepExpired([a.address], month + 2), "MonthNotExpired")
    receipt = p.send(b, p.token.functions.sweepExpired([a.address, b.address], month - 1))
    swept = {e["args"]["account"]: e["args"]["amount"] for e in p.events(receipt, p.token, "ExpiredPointsSwept")}
    assert swept == {a.address: 100, b.address: 50}
    assert p.token.functions.totalSupply().call() == supply - 150
    issued, settled, total_swept = p.token.functions.totals().call()
    assert total_swept == 150 and issued - settled - total_swept == p.token.functions.totalSupply().call()
    again = p.send(b, p.token.functions.sweepExpired([a.address, b.address], month - 1))
    assert p.events(again, p.token, "ExpiredPointsSwept") == []
    assert p.balance(a) == 1


def test_refund_of_points_that_expired_meanwhile_returns_them_for_this_month(fresh_points: PointsSystem) -> None:
    p = fresh_points
    a, shop = p.resident(), p.merchant()
    month = p.current_month()
    p.mint(a, 100, month)
    request = p.pay(a, shop, 80)
    p.mine_at(jst.month_end(month) + 1)
    p.send(shop, p.token.functions.refund(request, 30))
    assert p.token.functions.bucketsOf(a.address).call() == [[jst.month_end(month + 1)], [30]]
    # A refund before expiry goes back to the payment's own month.
    p.mint(a, 50, month + 3)
    request = p.pay(a, shop, 60)  # 30 of month+1, 30 of month+3
    p.send(shop, p.token.functions.refund(request, 60))
    assert p.token.functions.bucketsOf(a.address).call() == [[jst.month_end(month + 3)], [80]]


def test_daily_thanks_cap_resets_at_midnight_jst(fresh_points: PointsSystem) -> None:
    p = fresh_points
    a, b = p.resident(), p.resident()
    p.mint(a, 1_000)
    p.send(p.admin, p.token.functions.setThanksLimits(2, 1_000))
    p.thank(a, b, 1)
    p.thank(a, b, 1)
    p.reverts(a, p.token.functions.thank(b.address, 1, HELP, b"\0" * 32), "DailyThanksLimitReached")
    next_midnight_jst = (jst.day_index(p.now()) + 1) * 86400 - 9 * 3600
    p.mine_at(next_midnight_jst - 1)
    p.reverts(a, p.token.functions.thank(b.address, 1, HELP, b"\0" * 32), "DailyThanksLimitReached")
    p.mine_at(next_midnight_jst)
    p.thank(a, b, 1)
    assert p.token.functions.thanksSentToday(a.address).call() == [1, 1]
