"""Issue 15, wallet side: payments the till can trust, history on a long chain, lost transactions.

Each test is named after its finding and runs the real wallet server on a real node
with the compiled contracts; what it checks is read back from the chain itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger_client.payment_uri import payment_request_id
from tests.points import PointsSystem, text32
from tests.wallet_support import PG_ADMIN_URL, Api, WalletServer, member, running_wallet

PIN = "246810"
HISTORY_BLOCKS = 10_300


@pytest.fixture(scope="module")
def wallet(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    # a short wait for receipts: slow payments come back as 202 and are followed, as a till does
    yield from running_wallet(
        points, tmp_path_factory.mktemp("payment-hardening"), "sqlite", TAKASAGO_WALLET_CONFIRM_WAIT_SECONDS="1"
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_wallet(
    request: pytest.FixtureRequest, points: PointsSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalletServer]:
    """The module's wallet on SQLite, or one on PostgreSQL: charges and confirmations lock rows on both."""
    if request.param == "sqlite":
        yield request.getfixturevalue("wallet")
        return
    yield from running_wallet(
        points, tmp_path_factory.mktemp("payment-hardening-pg"), "postgresql", TAKASAGO_WALLET_CONFIRM_WAIT_SECONDS="1"
    )


# -- helpers ------------------------------------------------------------------------------------
def final(api: Api, op: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while op["status"] not in ("confirmed", "failed"):
        assert time.monotonic() < deadline, f"operation {op['id']} never settled: {op}"
        time.sleep(0.2)
        response = api.get(f"/v1/operations/{op['id']}")
        assert response.status_code == 200, response.text
        op = response.json()
    return op


def new_request(shop: Api, amount: int) -> dict[str, Any]:
    response = shop.post("/v1/payment-requests", {"amount": amount}, key=None)
    assert response.status_code == 201, response.text
    return dict(response.json())


def request_status(api: Api, request: dict[str, Any], leave: tuple[str, ...] = ("paying",)) -> dict[str, Any]:
    """The request as the till sees it, once it has left the ``leave`` states."""
    deadline = time.monotonic() + 60
    while True:
        body = api.get(f"/v1/payment-requests/{request['id']}").json()
        if body["status"] not in leave:
            return dict(body)
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def attacker(points: PointsSystem, amount: int) -> LocalAccount:
    """A resident key held outside the wallet (registered on-chain, as the CLI or a CSV import does)."""
    account = points.resident()
    points.mint(account, amount)
    return account


def chain_payment(points: PointsSystem, merchant: str, amount: int, reference: str) -> tuple[str, int]:
    payer, paid, _ = points.token.functions.paymentOf(
        merchant, payment_request_id(merchant, amount, bytes.fromhex(reference[2:]))
    ).call()
    return payer, int(paid)


def paid_to(points: PointsSystem, shop: Api) -> list[Any]:
    """The shop's ``Paid`` events (since the shop was registered: a log query the node accepts on a long chain)."""
    since = max(0, points.w3.eth.block_number - 5_000)
    return list(
        points.token.events.Paid().get_logs(from_block=since, argument_filters={"merchant": shop.info["address"]})
    )


def restart_node(points: PointsSystem, mode: str = "instant", period: float | None = None) -> None:
    node = points.node
    node.stop()
    node.mode = mode
    node.extra_args = ("--block-period", str(period)) if period is not None else ()
    node.start()


def sse_statuses(api: Api, request: dict[str, Any], out: list[tuple[float, str]], stop: threading.Event) -> None:
    """Collects (time, status) from the request's event stream until it ends or ``stop`` is set."""
    try:
        with httpx.Client(base_url=api.server.url, timeout=60) as client:
            path = f"/v1/payment-requests/{request['id']}/events"
            with client.stream("GET", path, headers=api.headers()) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        out.append((time.monotonic(), json.loads(line[6:])["status"]))
                    if stop.is_set():
                        return
    except httpx.HTTPError:
        if not stop.is_set():
            raise


def error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    return dict(body.get("error") or {})


# -- finding 3 ----------------------------------------------------------------------------------
def test_finding03_till_never_shows_paid_for_a_different_payment(wallet: WalletServer) -> None:
    points = wallet.points
    resident = member(wallet, points=1_000)
    shop = member(wallet, "merchant", shop="八百屋")
    thief = attacker(points, 500)
    merchant = shop.info["address"]

    # 1. someone pays the printed reference with 1 point first: that lands under another request
    #    id (the id commits to the amount), and the resident's real payment still goes through
    first = new_request(shop, 100)
    points.send(thief, points.token.functions.pay(merchant, 1, bytes.fromhex(first["request_id"][2:])))
    paid = resident.post("/v1/payments", {"uri": first["uri"]})
    assert paid.status_code in (200, 202), paid.text
    assert final(resident, paid.json()["operation"])["status"] == "confirmed"
    assert request_status(shop, first)["status"] == "paid"
    assert chain_payment(points, merchant, 100, first["request_id"]) == (resident.info["address"], 100)

    # 2. the resident's payment is signed, then (before it reaches the node) someone else pays
    #    the same request in full; the wallet's transaction then reverts with "already paid".
    #    The till must not show "paid": the shop's record names another payer.
    second = new_request(shop, 100)
    wallet.stop()
    wallet.env["TAKASAGO_WALLET_FAILPOINT"] = "after-sign"
    wallet.start()
    try:
        with pytest.raises(httpx.HTTPError):
            resident.post("/v1/payments", {"uri": second["uri"]}, key="finding03-second")
        wallet.process.wait(timeout=30)  # type: ignore[union-attr]
    finally:
        wallet.env.pop("TAKASAGO_WALLET_FAILPOINT")
    points.send(thief, points.token.functions.pay(merchant, 100, bytes.fromhex(second["request_id"][2:])))
    wallet.start()  # the worker sends the stored transaction: it reverts
    held = request_status(shop, second)
    assert held["status"] == "review", held
    assert held["review"]["chain_payer"] == thief.address and held["review"]["chain_amount"] == 100
    retry = resident.post("/v1/payments", {"uri": second["uri"]}, key="finding03-second")
    op = final(resident, retry.json()["operation"])
    assert op["status"] == "failed" and op["error"]["code"] == "REQUEST_ALREADY_PAID"
    # the till's live stream says so too, in both languages
    events: list[tuple[float, str]] = []
    sse_statuses(shop, second, events, threading.Event())
    assert [s for _, s in events] == ["review"]

    # 3. paid in full by someone else before the resident even tries: refused, and held for review
    third = new_request(shop, 100)
    points.send(thief, points.token.functions.pay(merchant, 100, bytes.fromhex(third["request_id"][2:])))
    refused = resident.post("/v1/payments", {"uri": third["uri"]})
    assert refused.status_code == 409 and error(refused)["code"] == "REQUEST_ALREADY_PAID"
    assert set(error(refused)["messages"]) == {"ja", "en"}
    assert request_status(shop, third)["status"] == "review"

    # the resident paid exactly once; refunds use the chain's request id of the paid request
    assert points.balance(resident.info["address"]) == 900
    refund = shop.post("/v1/merchant/refunds", {"payment_request_id": first["id"], "amount": 40})
    assert final(shop, refund.json()["operation"])["status"] == "confirmed"
    assert points.balance(resident.info["address"]) == 940
    not_refundable = shop.post("/v1/merchant/refunds", {"payment_request_id": second["id"], "amount": 1})
    assert error(not_refundable)["code"] == "NOT_REFUNDABLE"


# -- finding 4 and 26 (history) -----------------------------------------------------------------
def mine(points: PointsSystem, blocks: int) -> None:
    """Seals ``blocks`` empty blocks (dev chain), 100 per JSON-RPC batch."""
    with httpx.Client(timeout=120) as client:
        for done in range(0, blocks, 100):
            batch = [
                {"jsonrpc": "2.0", "id": i, "method": "evm_mine", "params": []} for i in range(min(100, blocks - done))
            ]
            response = client.post(points.node.url, json=batch)
            assert response.status_code == 200 and all("result" in r for r in response.json()), response.text[:300]


def test_finding04_history_pages_through_a_chain_longer_than_the_node_log_range(wallet: WalletServer) -> None:
    points = wallet.points
    resident = member(wallet, points=1_000)
    shop = member(wallet, "merchant", shop="本屋")
    neighbour = member(wallet)
    early = new_request(shop, 30)
    assert (
        final(resident, resident.post("/v1/payments", {"uri": early["uri"]}).json()["operation"])["status"]
        == "confirmed"
    )
    start = points.w3.eth.block_number
    # just past the node's 10,000-block eth_getLogs range (20,000 blocks takes minutes on a shared
    # CI machine; the paging is the same: several windows, the oldest entries beyond the first)
    mine(points, HISTORY_BLOCKS)
    thanks = resident.post("/v1/thanks", {"to": neighbour.info["short_code"], "amount": 5, "message": "どうも"})
    assert final(resident, thanks.json()["operation"])["status"] == "confirmed"
    late = new_request(shop, 20)
    assert (
        final(resident, resident.post("/v1/payments", {"uri": late["uri"]}).json()["operation"])["status"]
        == "confirmed"
    )
    assert points.w3.eth.block_number - start > HISTORY_BLOCKS

    # page through, two at a time, following next_cursor to the end: never a 500
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"before": cursor} if cursor else {})}
        started = time.monotonic()
        response = resident.get("/v1/me/history", params=params)
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < 10
        items.extend(response.json()["items"])
        cursor = response.json()["next_cursor"]
        pages += 1
        assert pages < 50
        if cursor is None:
            break
    assert [(i["kind"], i["amount"]) for i in items] == [
        ("paid", 20),
        ("thanks_sent", 5),
        ("paid", 30),
        ("issued", 1_000),
    ]
    blocks = [i["block"] for i in items]
    assert blocks == sorted(blocks, reverse=True) and len(set(i["tx_hash"] for i in items)) == 4
    assert (
        items[0]["request_id"]
        == "0x" + payment_request_id(shop.info["address"], 20, bytes.fromhex(late["request_id"][2:])).hex()
    )

    # a node that cannot answer is a clear 503 in both languages, never a 500
    points.node.kill()
    try:
        down = resident.get("/v1/me/history")
        assert down.status_code == 503, down.text
        assert error(down)["code"] == "NODE_UNAVAILABLE" and set(error(down)["messages"]) == {"ja", "en"}
    finally:
        points.node.start()


def test_finding26_payment_request_stream_is_pushed_not_polled(wallet: WalletServer) -> None:
    """Twenty tills waiting cost the server little; a payment reaches its till at once."""
    resident = member(wallet, points=100)
    shop = member(wallet, "merchant")
    waiting = [new_request(shop, 1) for _ in range(20)]
    stop = threading.Event()
    streams = [threading.Thread(target=sse_statuses, args=(shop, r, [], stop), daemon=True) for r in waiting]
    for t in streams:
        t.start()
    time.sleep(1.0)
    pid = wallet.process.pid  # type: ignore[union-attr]

    def cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    before = cpu()
    time.sleep(4.0)
    idle_cpu = (cpu() - before) / 4.0
    # polling the database 10 times a second per stream took far more than this
    assert idle_cpu < 0.10, f"{idle_cpu:.3f} CPU-seconds per second for 20 idle event streams"

    request = new_request(shop, 7)
    events: list[tuple[float, str]] = []
    listener = threading.Thread(target=sse_statuses, args=(shop, request, events, stop), daemon=True)
    listener.start()
    deadline = time.monotonic() + 10
    while not events and time.monotonic() < deadline:
        time.sleep(0.05)
    response = resident.post("/v1/payments", {"uri": request["uri"]})
    assert final(resident, response.json()["operation"])["status"] == "confirmed"
    answered = time.monotonic()
    listener.join(timeout=10)
    statuses = [s for _, s in events]
    assert statuses[0] == "open" and statuses[-1] == "paid" and set(statuses) <= {"open", "paying", "paid"}
    assert events[-1][0] - answered < 0.5  # pushed when the payment settled, not found by a later poll
    stop.set()


# -- finding 5 ----------------------------------------------------------------------------------
def test_finding05_payment_sent_before_a_node_crash_is_resent_and_confirms_once(wallet: WalletServer) -> None:
    points = wallet.points
    resident = member(wallet, points=500)
    shop = member(wallet, "merchant")
    first, second = new_request(shop, 100), new_request(shop, 50)
    restart_node(points, "interval", 3600)  # a node that has not sealed the payment yet
    try:
        sent = resident.post("/v1/payments", {"uri": first["uri"]})
        assert sent.status_code == 202, sent.text
        op = resident.get(f"/v1/operations/{sent.json()['operation']['id']}").json()
        assert op["status"] == "sent"
        points.node.kill()  # SIGKILL: the node's pool dies with it
    finally:
        # the node's own pool journal (if any) is lost too: the wallet alone must re-send
        (points.node.data_dir / "txpool-journal.bin").unlink(missing_ok=True)
        restart_node(points)
    following = resident.post("/v1/payments", {"uri": second["uri"]})
    assert following.status_code in (200, 202), following.text
    ops = [final(resident, sent.json()["operation"]), final(resident, following.json()["operation"])]
    assert [o["status"] for o in ops] == ["confirmed", "confirmed"]
    paid = paid_to(points, shop)
    assert sorted(e.args.amount for e in paid) == [50, 100]  # each exactly once
    assert points.balance(resident.info["address"]) == 350
    assert f"operation {ops[0]['id']} had no receipt" in wallet.log()  # the wallet re-broadcast it
    with sqlite3.connect(wallet.database_url.removeprefix("sqlite:///")) as db:
        (broadcasts,) = db.execute("SELECT broadcasts FROM operations WHERE id = ?", (ops[0]["id"],)).fetchone()
    assert broadcasts >= 2


# -- finding 6 ----------------------------------------------------------------------------------
def test_finding06_slow_card_charge_is_followed_and_retried_without_charging_twice(wallet: WalletServer) -> None:
    points = wallet.points
    resident = member(wallet, points=1_000)
    shop = member(wallet, "merchant")
    card = resident.post("/v1/me/card", {"pin": PIN}, key=None)
    assert card.status_code == 201, card.text
    token = card.json()["card"]
    restart_node(points, "interval", 4)  # slower than the till's wait
    try:
        key = str(uuid.uuid4())
        slow = shop.post("/v1/merchant/charges", {"amount": 120, "card": token, "pin": PIN}, key=key)
        assert slow.status_code == 202, slow.text
        charge = slow.json()["operation"]
        assert charge["kind"] == "charge"
        # the till can read its own charge (it used to get the payer's operation: 404)
        polled = shop.get(f"/v1/operations/{charge['id']}")
        assert polled.status_code == 200, polled.text
        # and a retry under the same key is the same charge, never a second one
        retry = shop.post("/v1/merchant/charges", {"amount": 120, "card": token, "pin": PIN}, key=key)
        assert retry.status_code in (200, 202) and retry.json()["operation"]["id"] == charge["id"]
        assert final(shop, charge)["status"] == "confirmed"
        assert request_status(shop, slow.json()["payment_request"])["status"] == "paid"
    finally:
        restart_node(points)
    assert points.balance(resident.info["address"]) == 880
    paid = paid_to(points, shop)
    assert [e.args.amount for e in paid] == [120]


# -- finding 17 ---------------------------------------------------------------------------------
def test_finding17_idempotency_key_reused_for_another_request_is_refused(db_wallet: WalletServer) -> None:
    wallet = db_wallet
    resident = member(wallet, points=1_000)
    neighbour = member(wallet)
    shop = member(wallet, "merchant")
    code = resident.post("/v1/me/payment-codes", key=None).json()["code"]
    charged = shop.post("/v1/merchant/charges", {"amount": 10, "code": code}, key="shop-key-1")
    assert final(shop, charged.json()["operation"])["status"] == "confirmed"
    # the same key with another amount: refused, not the old result
    other_amount = shop.post("/v1/merchant/charges", {"amount": 99, "code": code}, key="shop-key-1")
    assert other_amount.status_code == 409 and error(other_amount)["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert set(error(other_amount)["messages"]) == {"ja", "en"}
    # the same key for another kind of operation, both ways round: refused, never a 500
    settle = shop.post("/v1/merchant/settlements", {"amount": 1}, key="shop-key-1")
    assert settle.status_code == 409 and error(settle)["code"] == "IDEMPOTENCY_KEY_REUSED"
    settled = shop.post("/v1/merchant/settlements", {"amount": 1}, key="shop-key-2")
    assert final(shop, settled.json()["operation"])["status"] == "confirmed"
    code2 = resident.post("/v1/me/payment-codes", key=None).json()["code"]
    cross = shop.post("/v1/merchant/charges", {"amount": 10, "code": code2}, key="shop-key-2")
    assert cross.status_code == 409 and error(cross)["code"] == "IDEMPOTENCY_KEY_REUSED", cross.text
    thanks = resident.post("/v1/thanks", {"to": neighbour.info["short_code"], "amount": 1}, key="resident-key")
    assert final(resident, thanks.json()["operation"])["status"] == "confirmed"
    request = new_request(shop, 5)
    as_payment = resident.post("/v1/payments", {"uri": request["uri"]}, key="resident-key")
    assert as_payment.status_code == 409 and error(as_payment)["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert wallet.points.balance(resident.info["address"]) == 1_000 - 10 - 1


# -- finding 23 ---------------------------------------------------------------------------------
def test_finding23_thanks_message_is_keyed_with_an_off_chain_salt(wallet: WalletServer) -> None:
    points = wallet.points
    sender = member(wallet, points=100)
    friend = member(wallet)
    sent = sender.post("/v1/thanks", {"to": friend.info["short_code"], "amount": 3, "message": "ありがとう"})
    op = final(sender, sent.json()["operation"])
    assert op["status"] == "confirmed"
    receipt = points.w3.eth.get_transaction_receipt(op["tx_hash"])
    (event,) = points.events(receipt, points.token, "Thanked")
    memo = bytes(event.args.memoHash)
    assert memo != keccak(text="ありがとう")  # a guessable plain hash before
    assert event.args.category == text32("thanks")
    # the recipient sees the message and its salt off-chain, and can check them against the chain
    (item,) = [i for i in friend.get("/v1/me/history").json()["items"] if i["tx_hash"] == op["tx_hash"]]
    assert item["message"] == "ありがとう"
    salt = bytes.fromhex(item["message_salt"][2:])
    assert len(salt) == 16 and hmac.new(salt, "ありがとう".encode(), hashlib.sha256).digest() == memo
    again = sender.post("/v1/thanks", {"to": friend.info["short_code"], "amount": 3, "message": "ありがとう"})
    receipt2 = points.w3.eth.get_transaction_receipt(final(sender, again.json()["operation"])["tx_hash"])
    assert bytes(points.events(receipt2, points.token, "Thanked")[0].args.memoHash) != memo  # a salt per message


# -- finding 25 ---------------------------------------------------------------------------------
def test_finding25_charge_above_the_residents_limit_waits_for_their_confirmation(db_wallet: WalletServer) -> None:
    wallet = db_wallet
    points = wallet.points
    resident = member(wallet, points=1_000)
    shop = member(wallet, "merchant", shop="魚屋")
    card = resident.post("/v1/me/card", {"pin": PIN, "max_amount": 100}, key=None)
    assert card.status_code == 201, card.text
    token = card.json()["card"]
    assert resident.get("/v1/me/card").json() == {"has_card": True, "max_amount": 100}

    within = shop.post("/v1/merchant/charges", {"amount": 100, "card": token, "pin": PIN})
    assert final(shop, within.json()["operation"])["status"] == "confirmed"
    above = shop.post("/v1/merchant/charges", {"amount": 150, "card": token, "pin": PIN})
    assert above.status_code == 202, above.text
    assert above.json()["operation"]["status"] == "awaiting_confirmation"
    assert above.json()["payment_request"]["status"] == "confirming"
    assert points.balance(resident.info["address"]) == 900  # nothing taken yet
    (waiting,) = resident.get("/v1/me/confirmations").json()
    assert waiting["amount"] == 150 and waiting["merchant_name"] == "魚屋"
    assert shop.post(f"/v1/me/confirmations/{waiting['payment_request_id']}", {"approve": True}).status_code == 403
    path = f"/v1/me/confirmations/{waiting['payment_request_id']}"
    with ThreadPoolExecutor(max_workers=2) as pool:  # a double tap: approved twice at once
        approvals = list(pool.map(lambda _: resident.post(path, {"approve": True}, key=None), range(2)))
    assert all(a.status_code in (200, 202) for a in approvals), [a.text for a in approvals]
    assert final(shop, above.json()["operation"])["status"] == "confirmed"  # the till's charge follows it
    twice = resident.post(path, {"approve": True}, key=None)
    assert {twice.json()["operation"]["id"]} == {a.json()["operation"]["id"] for a in approvals}
    assert points.balance(resident.info["address"]) == 750

    # a one-time code with its own limit; the resident declines
    code = resident.post("/v1/me/payment-codes", {"max_amount": 50}, key=None)
    assert code.status_code == 201, code.text
    held = shop.post("/v1/merchant/charges", {"amount": 80, "code": code.json()["code"]})
    assert held.json()["operation"]["status"] == "awaiting_confirmation"
    (waiting,) = resident.get("/v1/me/confirmations").json()
    declined = resident.post(f"/v1/me/confirmations/{waiting['payment_request_id']}", {"approve": False}, key=None)
    assert declined.status_code == 200 and declined.json()["payment_request"]["status"] == "declined"
    op = final(shop, held.json()["operation"])
    assert op["status"] == "failed" and op["error"]["code"] == "CHARGE_DECLINED"
    assert resident.get("/v1/me/confirmations").json() == []
    assert points.balance(resident.info["address"]) == 750

    # the limit is a setting in the app
    assert resident.client.put("/v1/me/card/limit", json={"max_amount": None}, headers=resident.headers()).json() == {
        "has_card": True,
        "max_amount": None,
    }
    big = shop.post("/v1/merchant/charges", {"amount": 300, "card": token, "pin": PIN})
    assert final(shop, big.json()["operation"])["status"] == "confirmed"
    assert points.balance(resident.info["address"]) == 450


# -- also: operation lookups check ownership first ----------------------------------------------
def test_also_operation_lookup_checks_ownership_before_touching_the_chain(wallet: WalletServer) -> None:
    points = wallet.points
    resident = member(wallet, points=100)
    stranger = member(wallet)
    shop = member(wallet, "merchant")
    request = new_request(shop, 10)
    restart_node(points, "interval", 3600)  # the payment stays on its way
    try:
        sent = resident.post("/v1/payments", {"uri": request["uri"]})
        assert sent.status_code == 202, sent.text
        op = sent.json()["operation"]
        points.node.kill()
        # the stranger learns nothing and the wallet does not even ask the node (it used to: a 503)
        peek = stranger.get(f"/v1/operations/{op['id']}")
        assert peek.status_code == 404 and error(peek)["code"] == "NOT_FOUND", peek.text
        assert shop.get(f"/v1/operations/{op['id']}").status_code == 404
        # the owner's own look-up does ask the node, and says it cannot be reached
        assert resident.get(f"/v1/operations/{op['id']}").status_code == 503
    finally:
        restart_node(points)
    assert final(resident, op)["status"] == "confirmed"


# -- the till page (Chromium): a slow charge, and a request the chain records differently --------
def test_finding06_till_page_follows_a_slow_card_charge_and_says_check_needed(
    wallet: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    from tests.browser_support import browser, open_page
    from tests.qr_video import write_qr_video

    points = wallet.points
    resident = member(wallet, points=1_000)
    shop = member(wallet, "merchant", shop="高砂鮮魚")
    card = resident.post("/v1/me/card", {"pin": PIN}, key=None).json()["card"]
    video = write_qr_video(card, tmp_path / "card.y4m")
    with browser(playwright, video) as camera:
        till = open_page(camera, wallet.url, "/till/")
        till.wait_for_selector("section#login:not([hidden])")
        till.fill("#login-form [name=login]", shop.login_id)  # type: ignore[arg-type]
        till.fill("#login-form [name=password]", shop.password)
        till.click("#login-form button[type=submit]")
        till.wait_for_selector("section#entry:not([hidden])")

        # a card charge slower than the till's wait: the page follows it to "paid", charging once
        restart_node(points, "interval", 4)
        try:
            till.fill("#amount", "150")
            till.click("#scan-customer")
            till.wait_for_selector("section#pin:not([hidden])", timeout=30_000)
            till.fill("#pin-input", PIN)
            till.click("#pin-form button[type=submit]")
            till.wait_for_selector("section#paid:not([hidden])", timeout=30_000)
        finally:
            restart_node(points)
        assert not till.is_visible("#pin-error")
        assert points.balance(resident.info["address"]) == 850
        paid = paid_to(points, shop)
        assert [e.args.amount for e in paid] == [150]

        # above the card's limit the till waits for the customer's approval in the app (finding 25)
        limit = resident.client.put("/v1/me/card/limit", json={"max_amount": 100}, headers=resident.headers())
        assert limit.status_code == 200, limit.text
        till.click("#paid button.back")
        till.fill("#amount", "200")
        till.click("#scan-customer")
        till.wait_for_selector("section#pin:not([hidden])", timeout=30_000)
        till.fill("#pin-input", PIN)
        till.click("#pin-form button[type=submit]")
        till.wait_for_function("document.getElementById('pin-status').textContent.includes('承認')", timeout=15_000)
        (waiting,) = resident.get("/v1/me/confirmations").json()
        assert waiting["amount"] == 200 and points.balance(resident.info["address"]) == 850
        resident.post(f"/v1/me/confirmations/{waiting['payment_request_id']}", {"approve": True}, key=None)
        till.wait_for_selector("section#paid:not([hidden])", timeout=30_000)
        assert points.balance(resident.info["address"]) == 650

        # the shop shows a QR; someone pays its printed reference outside the wallet first
        till.click("#paid button.back")
        till.fill("#amount", "80")
        till.click("#amount-form button[type=submit]")
        till.wait_for_selector("section#request:not([hidden])")
        till.wait_for_function("document.getElementById('request-qr').dataset.uri")
        uri = till.get_attribute("#request-qr", "data-uri")
        reference = bytes.fromhex(uri.rsplit("bytes32=0x", 1)[1])  # type: ignore[union-attr]
        thief = attacker(points, 100)
        points.send(thief, points.token.functions.pay(shop.info["address"], 80, reference))
        refused = resident.post("/v1/payments", {"uri": uri})
        assert error(refused)["code"] == "REQUEST_ALREADY_PAID"
        till.wait_for_selector("#request-status[data-status=review]", timeout=15_000)
        assert "要確認" in till.inner_text("#request-status")
        assert not till.is_visible("section#paid")
        assert not till.errors, till.errors


def test_database_connections_dropped_answer_503_in_both_languages_never_500(db_wallet: WalletServer) -> None:
    """PostgreSQL drops every connection of the wallet (a restart, a failover): a clear 503, then service again."""
    if db_wallet.database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only: its server is what can drop the wallet's connections")
    import psycopg

    resident = member(db_wallet, points=50)
    assert resident.get("/v1/me").status_code == 200
    database = db_wallet.database_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()
    assert dropped is not None and dropped[0] > 0
    answers = [resident.get("/v1/me") for _ in range(6)]
    for answer in answers:  # a connection just used is not pinged first: it may fail, never as a 500
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 503:
            assert error(answer)["code"] == "DATABASE_UNAVAILABLE" and set(error(answer)["messages"]) == {"ja", "en"}
    assert resident.get("/v1/me").status_code == 200  # the pool has reconnected
    assert resident.get("/v1/me/balance").json()["balance"] == 50
