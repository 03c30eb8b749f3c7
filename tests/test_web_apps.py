"""The residents' app and the merchants' till in real headless Chromium, on the real API, node and contracts.

Cameras are Chromium's fake capture device playing a video of the QR code
(``--use-file-for-fake-video-capture``), so payments go through the same scanning code a
phone runs. Screenshots of every screen at 360 px and 1280 px land in ``docs/screens/``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.points import PointsSystem
from tests.qr_video import write_qr_video
from tests.wallet_support import (
    OFFICER_PASSWORD,
    PASSWORD,
    Api,
    WalletServer,
    member,
    officer,
    running_wallet,
    shared_points,
    shared_sqlite_wallet,
)

points, wallet = shared_points, shared_sqlite_wallet  # this module runs on the worker's shared chain and wallet

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


def visible(page: Any, section: str, timeout: float = 15_000) -> None:
    page.wait_for_selector(f"section#{section}:not([hidden])", timeout=timeout)


def log_in(page: Any, login: str, password: str = PASSWORD) -> None:
    visible(page, "login")
    page.fill("#login-form [name=login]", login)
    page.fill("#login-form [name=password]", password)
    page.click("#login-form button[type=submit]")


def decode_element(page: Any, selector: str, tmp_path: Path) -> str:
    """What a phone would read from the QR on screen (zbarimg on a screenshot of it)."""
    shot = tmp_path / "element.png"
    page.locator(selector).screenshot(path=str(shot))
    qr_only = ["-Sdisable", "-Sqrcode.enable"]  # zbar's other decoders now and then "see" a barcode in the modules
    result = subprocess.run(["zbarimg", "--raw", "-q", *qr_only, str(shot)], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_sign_up_verify_and_pay_a_shop_by_scanning_its_qr_with_the_camera(
    wallet: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    shop = member(wallet, "merchant", shop="高砂ベーカリー")
    with browser(playwright) as plain:
        app = open_page(plain, wallet.url, "/app/")
        visible(app, "login")
        screen(app, "resident-login")
        app.click("#to-signup")
        visible(app, "signup")
        login = "web-resident-" + os.urandom(3).hex()
        app.fill("#signup-form [name=login]", login)
        app.fill("#signup-form [name=password]", PASSWORD)
        app.fill("#signup-form [name=full_name]", "高砂 一郎")
        app.fill("#signup-form [name=postal_address]", "兵庫県高砂市高砂町1-1")
        app.fill("#signup-form [name=date_of_birth]", "1975-05-05")
        screen(app, "resident-signup")
        app.click("#signup-form button[type=submit]")
        visible(app, "pending")
        screen(app, "resident-pending")

        # a city officer checks the record at the desk and approves; the city mints points
        resident = Api(wallet, login)
        assert resident.login().status_code == 200
        resident_id = resident.me()["id"]
        desk = open_page(plain, wallet.url, "/officer/")
        log_in(desk, "officer1", OFFICER_PASSWORD)
        visible(desk, "desk")
        row = desk.locator(f"#accounts li[data-id='{resident_id}']")
        assert "高砂 一郎" in row.inner_text() and "1975-05-05" in row.inner_text()
        screen(desk, "officer-desk")
        row.locator(".decide button[data-action=approve]").click()  # the officer confirms, with the document checked
        row.locator("form.confirm[data-action=approve] [name=reason]").fill("マイナンバーカードで確認")
        row.locator("form.confirm[data-action=approve] button[type=submit]").click()
        desk.wait_for_selector(f"#accounts li[data-id='{resident_id}'][data-status=active]", timeout=30_000)
        assert resident.me()["status"] == "active"
        wallet.points.mint(resident.me()["address"], 2_000)

        till = open_page(plain, wallet.url, "/till/")
        log_in(till, shop.login_id)  # type: ignore[arg-type]
        visible(till, "entry")
        screen(till, "till-entry")
        till.fill("#amount", "480")
        till.click("#amount-form button[type=submit]")
        visible(till, "request")
        till.wait_for_function("document.getElementById('request-qr').naturalWidth > 0")
        screen(till, "till-request")
        uri = decode_element(till, "#request-qr", tmp_path)
        assert uri.startswith("ethereum:") and "uint256=480" in uri

        video = write_qr_video(uri, tmp_path / "shop-qr.y4m")
        with browser(playwright, video) as phone:
            app = open_page(phone, wallet.url, "/app/")
            log_in(app, login)
            visible(app, "home")
            app.wait_for_function("document.getElementById('balance').textContent.includes('2,000')")
            screen(app, "resident-home")
            app.click("#go-scan")
            visible(app, "confirm", timeout=30_000)  # the camera read the shop's QR
            assert "高砂ベーカリー" in app.inner_text("#confirm-shop")
            assert "480" in app.inner_text("#confirm-amount")
            screen(app, "resident-confirm")
            app.click("#confirm-pay")
            visible(app, "done")
            screen(app, "resident-paid")
        visible(till, "paid")  # the till turned green
        assert "480" in till.inner_text("#paid-amount")
        screen(till, "till-paid")
    assert resident.balance() == 1_520
    assert shop.get("/v1/me/balance").json()["merchant"]["received"] == 480


def _resident_with_points(wallet: WalletServer, points: int) -> Api:
    return member(wallet, points=points)


def test_the_shop_scans_a_one_time_code_once(wallet: WalletServer, playwright: Any, tmp_path: Path) -> None:
    resident = _resident_with_points(wallet, 1_000)
    shop = member(wallet, "merchant", shop="播磨商店")
    with browser(playwright) as plain:
        app = open_page(plain, wallet.url, "/app/")
        log_in(app, resident.login_id)  # type: ignore[arg-type]
        visible(app, "home")
        app.click("#go-show")
        visible(app, "show")
        app.wait_for_function("document.getElementById('code-qr').dataset.code")
        screen(app, "resident-show-code")
        shown = decode_element(app, "#code-qr", tmp_path)
        assert shown == app.get_attribute("#code-qr", "data-code") and shown.startswith("takasago-pay:")
    video = write_qr_video(shown, tmp_path / "code.y4m")
    with browser(playwright, video) as camera:
        till = open_page(camera, wallet.url, "/till/")
        log_in(till, shop.login_id)  # type: ignore[arg-type]
        visible(till, "entry")
        till.fill("#amount", "300")
        till.click("#scan-customer")
        visible(till, "paid", timeout=30_000)
        assert "300" in till.inner_text("#paid-amount")
        # the same code again (a screenshot replayed): refused
        till.click("#paid button.back")
        visible(till, "entry")
        till.fill("#amount", "300")
        till.click("#scan-customer")
        till.wait_for_selector("#scan-error:not([hidden])", timeout=30_000)
        assert till.get_attribute("#scan-error", "data-code") == "CODE_INVALID"
        assert "無効" in till.inner_text("#scan-error")
        screen(till, "till-code-replayed")
    assert resident.balance() == 700


def test_printed_card_and_pin_and_the_lock_after_three_wrong_pins(
    wallet: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    resident = _resident_with_points(wallet, 1_000)
    shop = member(wallet, "merchant", shop="尾上青果")
    with browser(playwright) as plain:
        app = open_page(plain, wallet.url, "/app/")
        log_in(app, resident.login_id)  # type: ignore[arg-type]
        visible(app, "home")
        app.click("#go-card")
        visible(app, "card")
        app.fill("#card-form [name=pin]", "258046")
        app.click("#card-form button[type=submit]")
        app.wait_for_selector("#printable-card:not([hidden])")
        app.wait_for_function("document.getElementById('card-qr').naturalWidth > 0")
        screen(app, "resident-card")
        card = decode_element(app, "#card-qr", tmp_path)
        assert card.startswith("takasago-card:")
    video = write_qr_video(card, tmp_path / "card.y4m")
    with browser(playwright, video) as camera:
        till = open_page(camera, wallet.url, "/till/")
        log_in(till, shop.login_id)  # type: ignore[arg-type]
        visible(till, "entry")
        till.fill("#amount", "150")
        till.click("#scan-customer")
        visible(till, "pin", timeout=30_000)
        screen(till, "till-pin")
        till.fill("#pin-input", "258046")
        till.click("#pin-form button[type=submit]")
        visible(till, "paid")
        assert resident.balance() == 850

        till.click("#paid button.back")
        till.fill("#amount", "150")
        till.click("#scan-customer")
        visible(till, "pin", timeout=30_000)
        codes = []
        for _ in range(3):
            till.fill("#pin-input", "0000")
            till.click("#pin-form button[type=submit]")
            till.wait_for_selector("#pin-error:not([hidden])")
            codes.append(till.get_attribute("#pin-error", "data-code"))
            till.evaluate("document.getElementById('pin-error').hidden = true")
        assert codes == ["PIN_INCORRECT", "PIN_INCORRECT", "CARD_LOCKED"]
        till.fill("#pin-input", "258046")  # even the right PIN waits out the lock
        till.click("#pin-form button[type=submit]")
        till.wait_for_selector("#pin-error:not([hidden])")
        assert till.get_attribute("#pin-error", "data-code") == "CARD_LOCKED"
        screen(till, "till-card-locked")
    assert resident.balance() == 850


def test_thanks_history_takings_refund_settlement_and_display_options(
    wallet: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    alice = _resident_with_points(wallet, 500)
    bob = member(wallet)
    shop = member(wallet, "merchant", shop="荒井カフェ")
    request = shop.post("/v1/payment-requests", {"amount": 200}, key=None).json()
    assert alice.post("/v1/payments", {"uri": request["uri"]}).status_code == 200
    with browser(playwright) as plain:
        app = open_page(plain, wallet.url, "/app/")
        log_in(app, alice.login_id)  # type: ignore[arg-type]
        visible(app, "home")
        app.click("#go-thanks")
        visible(app, "thanks")
        app.fill("#thanks-to", bob.info["short_code"])
        app.fill("#thanks-form [name=amount]", "400")
        app.fill("#thanks-form [name=message]", "ありがとう！")
        app.click("#thanks-form button[type=submit]")
        app.wait_for_selector("#thanks-error:not([hidden])")
        assert app.get_attribute("#thanks-error", "data-code") == "INSUFFICIENT_BALANCE"
        assert app.inner_text("#thanks-error") == "ポイントが足りません。"
        screen(app, "resident-thanks-error")
        app.fill("#thanks-form [name=amount]", "50")
        app.click("#thanks-form button[type=submit]")
        visible(app, "done")
        app.click("#done button.back")
        visible(app, "home")
        app.click("#go-history")
        app.wait_for_selector("#history-list li")
        texts = app.inner_text("#history-list")
        assert "さんへ「ありがとう」" in texts and "荒井カフェ で支払い" in texts
        screen(app, "resident-history")
        app.click("#history button.back")
        visible(app, "home")
        app.click("#lang-toggle")
        app.click("#large-toggle")
        app.click("#contrast-toggle")
        app.wait_for_function("document.documentElement.lang === 'en'")
        assert app.inner_text("#go-scan") == "Scan to pay"
        assert app.evaluate("document.body.classList.contains('large') && document.body.classList.contains('contrast')")
        screen(app, "resident-home-english-large-contrast")
        # installable: a manifest with icons and a service worker controlling the app's scope
        manifest = app.evaluate("fetch('/app/manifest.webmanifest').then(r => r.json())")
        assert manifest["display"] == "standalone" and {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
        scope = app.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
        assert scope == wallet.url + "/app/"

        till = open_page(plain, wallet.url, "/till/", width=1280)
        log_in(till, shop.login_id)  # type: ignore[arg-type]
        visible(till, "entry")
        till.click("#go-takings")
        till.wait_for_selector("#takings-list li form.refund")
        assert "200" in till.inner_text("#takings-total")
        screen(till, "till-takings")
        till.fill("#takings-list li form.refund input", "80")
        till.click("#takings-list li form.refund button")
        till.click("#takings-list li .refund-yes")  # a refund is confirmed before it is sent (issue 21)
        till.wait_for_selector("#takings-list li small")
        assert "120" in till.inner_text("#takings-total")
        till.fill("#settle-form [name=amount]", "100")
        till.click("#settle-form button[type=submit]")
        till.wait_for_selector("#settle-done:not([hidden])")
        screen(till, "till-settled")
    assert bob.balance() == 50 and alice.balance() == 500 - 200 + 80 - 50
    assert shop.get("/v1/me/balance").json()["merchant"] == {
        "balance": 20,
        "received": 200,
        "refunded": 80,
        "settled": 100,
    }
    assert officer(wallet).me()["role"] == "officer"


@pytest.fixture(scope="module")
def short_codes(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    """A wallet whose one-time codes live 10 s (the shortest allowed), to watch them rotate and expire."""
    directory = tmp_path_factory.mktemp("web-short-codes")
    yield from running_wallet(points, directory, "sqlite", TAKASAGO_WALLET_PAYMENT_CODE_SECONDS="10")


def test_one_time_codes_rotate_and_an_expired_code_is_refused(
    short_codes: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    resident = member(short_codes, points=500)
    shop = member(short_codes, "merchant", shop="曽根の店")
    with browser(playwright) as plain:
        app = open_page(plain, short_codes.url, "/app/")
        log_in(app, resident.login_id)  # type: ignore[arg-type]
        visible(app, "home")
        app.click("#go-show")
        app.wait_for_function("document.getElementById('code-qr').dataset.code")
        first = app.get_attribute("#code-qr", "data-code")
        # the app renews the code before it runs out
        app.wait_for_function(f"document.getElementById('code-qr').dataset.code !== {first!r}", timeout=20_000)
        app.wait_for_timeout(6_000)  # the first code's 10 s are over
    video = write_qr_video(str(first), tmp_path / "old-code.y4m")
    with browser(playwright, video) as camera:
        till = open_page(camera, short_codes.url, "/till/")
        log_in(till, shop.login_id)  # type: ignore[arg-type]
        visible(till, "entry")
        till.fill("#amount", "100")
        till.click("#scan-customer")
        till.wait_for_selector("#scan-error:not([hidden])", timeout=30_000)
        assert till.get_attribute("#scan-error", "data-code") == "CODE_INVALID"
    assert resident.balance() == 500


def test_a_photo_of_the_qr_works_when_there_is_no_camera(wallet: WalletServer, playwright: Any, tmp_path: Path) -> None:
    import segno

    resident = member(wallet, points=300)
    shop = member(wallet, "merchant", shop="写真の店")
    request = shop.post("/v1/payment-requests", {"amount": 120}, key=None).json()
    photo = tmp_path / "photo.png"
    segno.make(request["uri"], error="m").save(str(photo), scale=6, border=4)
    with browser(playwright) as plain:  # no fake camera: getUserMedia fails, the upload remains
        app = open_page(plain, wallet.url, "/app/")
        log_in(app, resident.login_id)  # type: ignore[arg-type]
        visible(app, "home")
        app.click("#go-scan")
        visible(app, "scan")
        app.set_input_files("#scan-file", str(photo))
        visible(app, "confirm")
        assert "写真の店" in app.inner_text("#confirm-shop")
        app.click("#confirm-pay")
        visible(app, "done")
    assert resident.balance() == 180
