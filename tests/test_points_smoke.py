"""First end-to-end check: deploy, mint, thank, pay, refund, settle on the real node."""

from __future__ import annotations

from tests.points import MERCHANT, PointsSystem


def test_points_flow_mint_thank_pay_refund_settle(points: PointsSystem) -> None:
    a, b = points.resident(), points.resident()
    shop = points.merchant()
    points.mint(a, 1_000)
    assert points.balance(a) == 1_000
    points.thank(a, b, 50)
    assert (points.balance(a), points.balance(b)) == (950, 50)
    request = points.pay(a, shop, 420)
    assert points.balance(shop) == 420
    points.send(shop, points.token.functions.refund(request, 120))
    assert (points.balance(a), points.balance(shop)) == (650, 300)
    points.send(shop, points.token.functions.requestSettlement(300, b"INV-1".ljust(32, b"\0")))
    assert points.balance(shop) == 0
    assert points.token.functions.totals().call() == [1_000, 300, 0]
    assert points.token.functions.totalSupply().call() == 700
    assert MERCHANT == 2
