"""The transaction pipeline under pressure: concurrent payments and crashes of the API and the node.

Every test ends by reconciling with the chain itself: balances from ``balanceOf`` and
the ``Paid`` events per request id, not what the API says.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.points import PointsSystem
from tests.wallet_support import Api, WalletServer, member, running_wallet


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def wallet(
    request: pytest.FixtureRequest, points: PointsSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalletServer]:
    yield from running_wallet(points, tmp_path_factory.mktemp(f"pipeline-{request.param}"), request.param)


def final(api: Api, response: httpx.Response) -> dict[str, Any]:
    """The operation's final state: polls after a 202."""
    body = response.json()
    op = body["operation"]
    deadline = time.monotonic() + 60
    while op["status"] not in ("confirmed", "failed"):
        assert time.monotonic() < deadline, f"operation {op['id']} never settled"
        time.sleep(0.2)
        op = api.get(f"/v1/operations/{op['id']}").json()
    return dict(op)


def paid_events(points: PointsSystem, merchant: str) -> list[Any]:
    return list(points.token.events.Paid().get_logs(from_block=0, argument_filters={"merchant": merchant}))


def pay_all(payers: list[Api], requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each payer pays its request, all at once; the final state of each payment."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        pairs = list(zip(payers, requests, strict=True))
        responses = list(pool.map(lambda pair: pair[0].post("/v1/payments", {"uri": pair[1]["uri"]}), pairs))
    return [final(payer, response) for payer, response in zip(payers, responses, strict=True)]


def _request(merchant: Api, amount: int) -> dict[str, Any]:
    response = merchant.post("/v1/payment-requests", {"amount": amount}, key=None)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_many_simultaneous_payments_from_one_account_end_with_exact_balances(wallet: WalletServer) -> None:
    resident = member(wallet, points=1_500)
    shop = member(wallet, "merchant")
    requests = [_request(shop, 100) for _ in range(20)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda r: resident.post("/v1/payments", {"uri": r["uri"]}), requests))
    assert all(r.status_code in (200, 202, 409) for r in responses), [r.text for r in responses if r.status_code >= 500]
    outcomes = []
    for response in responses:
        if "operation" in response.json():
            outcomes.append(final(resident, response))
        else:
            outcomes.append({"status": "refused", "error": response.json()["error"]})
    confirmed = [o for o in outcomes if o["status"] == "confirmed"]
    assert len(confirmed) == 15
    assert all(o["error"]["code"] == "INSUFFICIENT_BALANCE" for o in outcomes if o["status"] != "confirmed")
    points = wallet.points
    assert points.balance(resident.info["address"]) == 0
    events = paid_events(points, shop.info["address"])
    assert len(events) == 15 and sum(e.args.amount for e in events) == 1_500
    assert len({e.args.requestId for e in events}) == 15
    statuses = [shop.get(f"/v1/payment-requests/{r['id']}").json()["status"] for r in requests]
    assert statuses.count("paid") == 15 and statuses.count("open") == 5


def test_many_residents_paying_one_merchant_at_once(wallet: WalletServer) -> None:
    shop = member(wallet, "merchant")
    residents = [member(wallet, points=50) for _ in range(8)]
    requests = [_request(shop, 30) for _ in residents]
    assert all(op["status"] == "confirmed" for op in pay_all(residents, requests))
    assert shop.get("/v1/me/balance").json()["merchant"]["received"] == 240
    assert all(wallet.points.balance(r.info["address"]) == 20 for r in residents)


def test_one_request_paid_from_two_phones_at_the_same_moment(wallet: WalletServer) -> None:
    shop = member(wallet, "merchant")
    for _ in range(3):
        first, second = member(wallet, points=100), member(wallet, points=100)
        request = _request(shop, 70)
        with ThreadPoolExecutor(max_workers=2) as pool:
            uri = request["uri"]
            a, b = pool.map(lambda api, uri=uri: api.post("/v1/payments", {"uri": uri}), (first, second))
        codes = sorted([a.status_code, b.status_code])
        assert codes == [200, 409], (a.text, b.text)
        loser = a if a.status_code == 409 else b
        assert loser.json()["error"]["code"] == "REQUEST_ALREADY_PAID"
        assert sorted(
            [wallet.points.balance(first.info["address"]), wallet.points.balance(second.info["address"])]
        ) == [30, 100]
    assert len(paid_events(wallet.points, shop.info["address"])) == 3


@pytest.mark.parametrize("failpoint", ["after-accept", "after-sign", "after-broadcast"])
def test_api_crash_mid_payment_pays_exactly_once(wallet: WalletServer, failpoint: str) -> None:
    resident = member(wallet, points=1_000)
    shop = member(wallet, "merchant")
    request = _request(shop, 250)
    key = str(uuid.uuid4())
    wallet.stop()
    wallet.env["TAKASAGO_WALLET_FAILPOINT"] = failpoint
    wallet.start()
    try:
        with pytest.raises(httpx.HTTPError):  # the API dies while handling the payment
            resident.post("/v1/payments", {"uri": request["uri"]}, key=key)
        wallet.process.wait(timeout=30)  # type: ignore[union-attr]
        assert wallet.process.returncode == 86  # type: ignore[union-attr]
    finally:
        wallet.env.pop("TAKASAGO_WALLET_FAILPOINT")
        wallet.start()
    # the client retries with the same key: it gets the one payment, never a second
    retry = resident.post("/v1/payments", {"uri": request["uri"]}, key=key)
    assert retry.status_code in (200, 202), retry.text
    assert final(resident, retry)["status"] == "confirmed"
    again = resident.post("/v1/payments", {"uri": request["uri"]}, key=key)
    assert again.json()["operation"]["id"] == retry.json()["operation"]["id"]
    assert wallet.points.balance(resident.info["address"]) == 750
    assert [e.args.amount for e in paid_events(wallet.points, shop.info["address"])] == [250]


def test_node_crash_after_the_payment_was_accepted(wallet: WalletServer) -> None:
    """The API dies after broadcasting and the node is killed too (its pool is lost); both restart."""
    resident = member(wallet, points=600)
    shop = member(wallet, "merchant")
    requests = [_request(shop, 100) for _ in range(3)]
    wallet.stop()
    wallet.env["TAKASAGO_WALLET_FAILPOINT"] = "after-sign"
    wallet.start()
    try:
        with pytest.raises(httpx.HTTPError):
            resident.post("/v1/payments", {"uri": requests[0]["uri"]}, key="node-crash-0")
        wallet.process.wait(timeout=30)  # type: ignore[union-attr]
    finally:
        wallet.env.pop("TAKASAGO_WALLET_FAILPOINT")
    node = wallet.points.node
    node.kill()
    node.start()
    wallet.start()  # its worker re-sends the stored transaction to the restarted node
    retry = resident.post("/v1/payments", {"uri": requests[0]["uri"]}, key="node-crash-0")
    assert final(resident, retry)["status"] == "confirmed"
    # and the API keeps working against the restarted node
    for i, request in enumerate(requests[1:], start=1):
        response = resident.post("/v1/payments", {"uri": request["uri"]}, key=f"node-crash-{i}")
        assert final(resident, response)["status"] == "confirmed"
    assert wallet.points.balance(resident.info["address"]) == 300
    assert len(paid_events(wallet.points, shop.info["address"])) == 3


def test_node_down_means_503_and_nothing_accepted(wallet: WalletServer) -> None:
    resident = member(wallet, points=100)
    shop = member(wallet, "merchant")
    request = _request(shop, 10)
    node = wallet.points.node
    node.kill()
    try:
        refused = resident.post("/v1/payments", {"uri": request["uri"]})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "NODE_UNAVAILABLE"
        assert resident.get("/v1/me/balance").status_code == 503
        assert httpx.get(wallet.url + "/health").json()["node"] == "unreachable"
    finally:
        node.start()
    assert final(resident, resident.post("/v1/payments", {"uri": request["uri"]}))["status"] == "confirmed"


def test_two_api_processes_share_one_database_without_nonce_clashes(wallet: WalletServer) -> None:
    """Several API workers: payments from one account through two processes at once."""
    second = WalletServer(wallet.points, wallet.data_dir, wallet.database_url)
    second.start()
    try:
        resident = member(wallet, points=2_000)
        shop = member(wallet, "merchant")
        other = Api(second, resident.login_id)
        assert other.login().status_code == 200
        requests = [_request(shop, 100) for _ in range(16)]
        clients = [resident if i % 2 else other for i in range(16)]
        assert all(op["status"] == "confirmed" for op in pay_all(clients, requests))
        assert wallet.points.balance(resident.info["address"]) == 400
        assert len(paid_events(wallet.points, shop.info["address"])) == 16
    finally:
        second.stop()
    assert "unexpected" not in second.log()


def test_a_payment_sent_without_precheck_is_refused_as_the_precheck_would(wallet: WalletServer) -> None:
    """Once ``pay``'s gas is known, payments skip the ``eth_call`` precheck (issue 17): the ledger's
    refusal then comes from the failed receipt, with the same code, status and detail, the request
    opens again, and the failed operation stays on record under its idempotency key."""
    resident = member(wallet, points=30)
    shop = member(wallet, "merchant")
    first = resident.post("/v1/payments", {"uri": _request(shop, 10)["uri"]})  # teaches the gas book, if new
    assert final(resident, first)["status"] == "confirmed"
    request = _request(shop, 50)
    key = str(uuid.uuid4())
    refused = resident.client.post(
        "/v1/payments", json={"uri": request["uri"]}, headers=resident.headers(key, **{"Accept-Language": "en"})
    )
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["error"]["code"] == "INSUFFICIENT_BALANCE" and body["error"]["detail"]["available"] == 20
    assert body["operation"]["status"] == "failed" and body["error"]["messages"]["en"] == "Not enough points."
    again = resident.post("/v1/payments", {"uri": request["uri"]}, key=key)
    assert again.json()["operation"]["id"] == body["operation"]["id"]  # the same failure, not a second attempt
    till = shop.get(f"/v1/payment-requests/{request['id']}").json()
    assert till["status"] == "open"  # the shop can be paid by someone else, or by this resident later
    assert wallet.points.balance(resident.info["address"]) == 20
    assert not [e for e in paid_events(wallet.points, shop.info["address"]) if e.args.amount == 50]
    assert final(resident, resident.post("/v1/payments", {"uri": _request(shop, 20)["uri"]}))["status"] == "confirmed"
