"""Issue 21, at the till: 戻る cancels the request, a cancelled or unpayable request is refused at once,
the preview shows the balance, member codes are looked up by display name only.

The API on a real server, node and contracts, on SQLite and PostgreSQL; the till in Chromium
(its 戻る, a wrong PIN's tries left, a resident refused at the till).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.qr_video import write_qr_video
from tests.wallet_support import Api, WalletServer, member, shared_points, shared_wallet

points, wallet = shared_points, shared_wallet  # this module runs on the worker's shared chain and wallets


def error(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json()["error"])


def _sql(server: WalletServer, statement: str, **params: Any) -> None:
    engine = create_engine(server.database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text(statement), params)
    engine.dispose()


# -- the API ---------------------------------------------------------------------------------
def test_a_request_lives_minutes_and_the_tills_cancel_stops_it_being_paid(wallet: WalletServer) -> None:
    resident = member(wallet, points=500)
    shop = member(wallet, "merchant", shop="高砂ベーカリー")
    other_shop = member(wallet, "merchant", shop="別の店")
    request = shop.post("/v1/payment-requests", {"amount": 120}, key=None).json()
    lifetime = datetime.fromisoformat(request["expires_at"]) - datetime.now(UTC)
    assert 60 < lifetime.total_seconds() <= 300  # minutes, not ten

    preview = resident.post("/v1/payments/preview", {"uri": request["uri"]}, key=None)
    assert preview.status_code == 200 and preview.json()["balance"] == 500

    # only the shop that made it cancels it; a resident cannot, another shop does not even see it
    assert error(resident.post(f"/v1/payment-requests/{request['id']}/cancel", key=None))["code"] == "FORBIDDEN"
    elsewhere = other_shop.post(f"/v1/payment-requests/{request['id']}/cancel", key=None)
    assert elsewhere.status_code == 404 and error(elsewhere)["code"] == "NOT_FOUND"
    cancelled = shop.post(f"/v1/payment-requests/{request['id']}/cancel", key=None)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = shop.post(f"/v1/payment-requests/{request['id']}/cancel", key=None)  # 戻る pressed twice
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert shop.get(f"/v1/payment-requests/{request['id']}").json()["status"] == "cancelled"

    # the QR still on a screen (or photographed) is refused clearly, from the preview and from pay
    for path in ("/v1/payments/preview", "/v1/payments"):
        refused = resident.post(path, {"uri": request["uri"]})
        assert refused.status_code == 410, refused.text
        assert error(refused)["code"] == "PAYMENT_REQUEST_CANCELLED"
        assert "cancelled" in error(refused)["messages"]["en"] and "取り消" in error(refused)["messages"]["ja"]
    assert resident.balance() == 500


def test_a_paid_request_cannot_be_cancelled_and_the_preview_says_it_is_paid(wallet: WalletServer) -> None:
    resident = member(wallet, points=300)
    shop = member(wallet, "merchant", shop="尾上青果")
    request = shop.post("/v1/payment-requests", {"amount": 100}, key=None).json()
    assert resident.post("/v1/payments", {"uri": request["uri"]}).status_code == 200
    refused = shop.post(f"/v1/payment-requests/{request['id']}/cancel", key=None)
    assert refused.status_code == 409 and error(refused)["code"] == "REQUEST_NOT_CANCELLABLE"
    assert error(refused)["detail"]["status"] == "paid"
    assert shop.get(f"/v1/payment-requests/{request['id']}").json()["status"] == "paid"

    seen = resident.post("/v1/payments/preview", {"uri": request["uri"]}, key=None)
    assert seen.status_code == 409 and error(seen)["code"] == "REQUEST_ALREADY_PAID"
    # the refusal still says what was asked, so the app can show it
    assert error(seen)["detail"] == {"status": "paid", "amount": 100, "merchant_name": "尾上青果", "balance": 200}
    assert resident.balance() == 200


def test_the_preview_refuses_an_expired_request_and_more_than_the_balance(wallet: WalletServer) -> None:
    resident = member(wallet, points=50)
    shop = member(wallet, "merchant", shop="荒井カフェ")
    too_much = shop.post("/v1/payment-requests", {"amount": 80}, key=None).json()
    refused = resident.post("/v1/payments/preview", {"uri": too_much["uri"]}, key=None)
    assert refused.status_code == 409 and error(refused)["code"] == "INSUFFICIENT_BALANCE"
    assert error(refused)["detail"]["balance"] == 50 and error(refused)["detail"]["amount"] == 80

    late = shop.post("/v1/payment-requests", {"amount": 10}, key=None).json()
    _sql(wallet, "UPDATE payment_requests SET expires_at = '2000-01-01 00:00:00.000000' WHERE id = :id", id=late["id"])
    expired = resident.post("/v1/payments/preview", {"uri": late["uri"]}, key=None)
    assert expired.status_code == 410 and error(expired)["code"] == "PAYMENT_REQUEST_EXPIRED"
    # an expired request is cancelled quietly too (the till's 戻る after it ran out)
    assert shop.post(f"/v1/payment-requests/{late['id']}/cancel", key=None).json()["status"] == "cancelled"
    assert resident.balance() == 50


def test_a_member_code_is_looked_up_by_display_name_only_ignoring_spaces_and_case(wallet: WalletServer) -> None:
    alice = member(wallet, points=100)
    suzuki = member(wallet, shop="すずきさん")  # the nickname chosen at sign-up; the real name is 高砂 太郎
    plain = member(wallet)  # no nickname
    code = suzuki.info["short_code"]
    typed = " " + code[:4].lower() + " " + code[4:].lower() + "-"
    found = alice.get(f"/v1/members/{typed}")
    assert found.status_code == 200 and found.json() == {"short_code": code, "display_name": "すずきさん"}
    assert "高砂" not in found.text
    assert alice.get(f"/v1/members/{plain.info['short_code']}").json()["display_name"] is None
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)  # typed on a Japanese keyboard
    assert alice.get(f"/v1/members/{full_width}").json()["short_code"] == code
    unknown = alice.get("/v1/members/ZZZZ2222")
    assert unknown.status_code == 404 and error(unknown)["code"] == "UNKNOWN_RECIPIENT"

    sent = alice.post("/v1/thanks", {"to": typed, "amount": 30})
    assert sent.status_code == 200, sent.text
    assert suzuki.balance() == 30 and alice.balance() == 70


# -- the till in Chromium ------------------------------------------------------------------------
browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs chromium")


@pytest.fixture(scope="module")
def web(wallets: Any) -> WalletServer:
    """The shared SQLite wallet, for the till in Chromium."""
    server: WalletServer = wallets("sqlite")
    return server


def visible(page: Any, section: str, timeout: float = 15_000) -> None:
    page.wait_for_selector(f"section#{section}:not([hidden])", timeout=timeout)


def log_in(page: Any, api: Api) -> None:
    visible(page, "login")
    page.fill("#login-form [name=login]", str(api.login_id))
    page.fill("#login-form [name=password]", api.password)
    page.click("#login-form button[type=submit]")


@browser_only
def test_the_tills_back_button_cancels_the_qr_and_shows_paid_when_the_customer_was_quicker(
    web: WalletServer, playwright: Any
) -> None:
    resident = member(web, points=400)
    shop = member(web, "merchant", shop="曽根の店")
    with browser(playwright) as plain:
        till = open_page(plain, web.url, "/till/")
        log_in(till, shop)
        visible(till, "entry")
        till.fill("#amount", "150")
        till.click("#amount-form button[type=submit]")
        visible(till, "request")
        till.wait_for_function("document.getElementById('request-qr').dataset.uri")
        uri = till.get_attribute("#request-qr", "data-uri")
        request_id = resident.post("/v1/payments/preview", {"uri": uri}, key=None).json()["payment_request_id"]
        till.click("#request-back")
        visible(till, "entry")
        assert shop.get(f"/v1/payment-requests/{request_id}").json()["status"] == "cancelled"
        refused = resident.post("/v1/payments", {"uri": uri})
        assert refused.status_code == 410 and error(refused)["code"] == "PAYMENT_REQUEST_CANCELLED"

        # the customer pays just before the clerk presses 戻る (the till not yet told by its event
        # stream, held back here): the till shows "paid" and nothing is cancelled
        till.route("**/events", lambda route: route.abort())
        till.fill("#amount", "90")
        till.click("#amount-form button[type=submit]")
        visible(till, "request")
        till.wait_for_function("document.getElementById('request-qr').dataset.uri")
        uri = till.get_attribute("#request-qr", "data-uri")
        assert resident.post("/v1/payments", {"uri": uri}).status_code == 200
        till.click("#request-back")
        visible(till, "paid")
        assert "90" in till.inner_text("#paid-amount")
        assert not till.errors, till.errors
    assert resident.balance() == 310


@browser_only
def test_a_wrong_pin_says_how_many_tries_are_left_in_both_languages(
    web: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    resident = member(web, points=500)
    shop = member(web, "merchant", shop="伊保の店")
    card = resident.post("/v1/me/card", {"pin": "258046"}, key=None).json()["card"]
    video = write_qr_video(card, tmp_path / "card.y4m")
    with browser(playwright, video) as camera:
        till = open_page(camera, web.url, "/till/")
        log_in(till, shop)
        visible(till, "entry")
        till.fill("#amount", "100")
        till.click("#scan-customer")
        visible(till, "pin", timeout=30_000)
        till.fill("#pin-input", "0000")
        till.click("#pin-form button[type=submit]")
        till.wait_for_selector("#pin-error:not([hidden])")
        assert till.get_attribute("#pin-error", "data-code") == "PIN_INCORRECT"
        assert "暗証番号が違います。" in till.inner_text("#pin-error") and "あと2回" in till.inner_text("#pin-error")
        screen(till, "till-pin-tries-left")
        till.evaluate("document.getElementById('pin-error').hidden = true")
        till.click("#lang-toggle")
        till.wait_for_function("document.documentElement.lang === 'en'")
        till.fill("#pin-input", "1111")
        till.click("#pin-form button[type=submit]")
        till.wait_for_selector("#pin-error:not([hidden])")
        assert "1 more tries left" in till.inner_text("#pin-error")
        till.fill("#pin-input", "258046")  # the right PIN before the lock still pays
        till.click("#pin-form button[type=submit]")
        visible(till, "paid")
    assert resident.balance() == 400


@browser_only
def test_a_resident_who_logs_in_at_the_till_is_told_it_is_for_shops(web: WalletServer, playwright: Any) -> None:
    resident = member(web)
    with browser(playwright) as plain:
        till = open_page(plain, web.url, "/till/")
        log_in(till, resident)
        till.wait_for_selector("#login-error:not([hidden])")
        assert till.get_attribute("#login-error", "data-code") == "WRONG_ACCOUNT_KIND"
        assert "お店のアカウント専用" in till.inner_text("#login-error") and "/app/" in till.inner_text("#login-error")
        assert till.is_visible("section#login") and not till.is_visible("section#entry")
        assert till.evaluate("localStorage.getItem('till.access')") is None
        screen(till, "till-wrong-account")
