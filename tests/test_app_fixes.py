"""Issue 21, in the residents' app (Chromium, real API, node and contracts): the confirm screen shows the
balance and refuses at once what cannot be paid, a request the shop cancelled is refused, an officer
is told the app is for residents, and thanks asks "send 50 pt to 鈴木 一郎さん?" before sending.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.points import PointsSystem
from tests.wallet_support import OFFICER_PASSWORD, WalletServer, member, running_wallet

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


@pytest.fixture(scope="module")
def wallet(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    yield from running_wallet(points, tmp_path_factory.mktemp("app-fixes"), "sqlite")


def visible(page: Any, section: str, timeout: float = 15_000) -> None:
    page.wait_for_selector(f"section#{section}:not([hidden])", timeout=timeout)


def log_in(page: Any, login: str, password: str) -> None:
    visible(page, "login")
    page.fill("#login-form [name=login]", login)
    page.fill("#login-form [name=password]", password)
    page.click("#login-form button[type=submit]")


def photo_of(uri: str, path: Path) -> Path:
    import segno

    segno.make(uri, error="m").save(str(path), scale=6, border=4)
    return path


def scan_photo(app: Any, photo: Path) -> None:
    app.click("#go-scan")
    visible(app, "scan")
    app.set_input_files("#scan-file", str(photo))
    visible(app, "confirm")


def test_the_confirm_screen_shows_the_balance_and_refuses_what_cannot_be_paid(
    wallet: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    resident = member(wallet, points=500)
    shop = member(wallet, "merchant", shop="高砂ベーカリー")
    fine = shop.post("/v1/payment-requests", {"amount": 120}, key=None).json()
    too_much = shop.post("/v1/payment-requests", {"amount": 800}, key=None).json()
    with browser(playwright) as plain:
        app = open_page(plain, wallet.url, "/app/")
        log_in(app, str(resident.login_id), resident.password)
        visible(app, "home")

        # more than the balance: refused on the confirm screen at once, with the shop, the amount and the balance
        scan_photo(app, photo_of(too_much["uri"], tmp_path / "too-much.png"))
        assert "高砂ベーカリー" in app.inner_text("#confirm-shop") and "800" in app.inner_text("#confirm-amount")
        assert "500" in app.inner_text("#confirm-balance")
        app.wait_for_selector("#confirm-error:not([hidden])")
        assert app.get_attribute("#confirm-error", "data-code") == "INSUFFICIENT_BALANCE"
        assert not app.is_visible("#confirm-pay")
        screen(app, "resident-confirm-refused")
        app.click("#confirm button.back")
        visible(app, "home")

        # a payable request shows the balance; the shop cancels it (戻る) before the resident pays
        scan_photo(app, photo_of(fine["uri"], tmp_path / "fine.png"))
        assert "500" in app.inner_text("#confirm-balance") and app.is_visible("#confirm-pay")
        assert app.is_hidden("#confirm-error")
        screen(app, "resident-confirm-balance")
        assert shop.post(f"/v1/payment-requests/{fine['id']}/cancel", key=None).json()["status"] == "cancelled"
        app.click("#confirm-pay")
        app.wait_for_selector("#confirm-error:not([hidden])")
        assert app.get_attribute("#confirm-error", "data-code") == "PAYMENT_REQUEST_CANCELLED"
        assert "取り消しました" in app.inner_text("#confirm-error")
        assert not app.is_visible("#confirm-pay")
        app.click("#confirm button.back")
        visible(app, "home")

        # the same QR scanned again: refused from the preview, on the confirm screen
        scan_photo(app, photo_of(fine["uri"], tmp_path / "again.png"))
        app.wait_for_selector("#confirm-error:not([hidden])")
        assert app.get_attribute("#confirm-error", "data-code") == "PAYMENT_REQUEST_CANCELLED"
        assert not app.errors, app.errors
    assert resident.balance() == 500


def test_an_officer_is_told_the_app_is_for_residents(wallet: WalletServer, playwright: Any) -> None:
    with browser(playwright) as plain:
        app = open_page(plain, wallet.url, "/app/")
        log_in(app, "officer1", OFFICER_PASSWORD)
        app.wait_for_selector("#login-error:not([hidden])")
        assert app.get_attribute("#login-error", "data-code") == "WRONG_ACCOUNT_KIND"
        text = app.inner_text("#login-error")
        assert "住民の方専用" in text and "/officer/" in text
        assert app.is_visible("section#login") and not app.is_visible("section#home")
        assert app.evaluate("localStorage.getItem('app.access')") is None
        screen(app, "resident-wrong-account")


def test_thanks_asks_whom_by_display_name_before_sending_and_ignores_spaces_and_case(
    wallet: WalletServer, playwright: Any
) -> None:
    alice = member(wallet, points=200)
    suzuki = member(wallet, shop="鈴木 一郎")  # her chosen display name; the registered real name is 高砂 太郎
    code = suzuki.info["short_code"]
    typed = f"{code[:4].lower()} {code[4:].lower()}"
    with browser(playwright) as plain:
        app = open_page(plain, wallet.url, "/app/")
        log_in(app, str(alice.login_id), alice.password)
        visible(app, "home")
        app.click("#go-thanks")
        visible(app, "thanks")
        app.fill("#thanks-form [name=amount]", "50")
        app.fill("#thanks-to", typed)
        app.click("#thanks-form button[type=submit]")  # at once: the app asks first, nothing is sent
        app.wait_for_selector("#thanks-question:not([hidden])")
        question = app.inner_text("#thanks-question")
        assert question == "鈴木 一郎さんに 50 pt を送りますか？", question
        assert "高砂" not in question
        assert app.is_visible("section#thanks") and suzuki.balance() == 0
        screen(app, "resident-thanks-question")
        app.fill("#thanks-form [name=amount]", "60")  # a changed amount: the question follows it
        assert "60 pt" in app.inner_text("#thanks-question")
        app.click("#thanks-form button[type=submit]")
        visible(app, "done")
        assert not app.errors, app.errors
    assert suzuki.balance() == 60 and alice.balance() == 140


def test_an_unknown_code_is_refused_before_anything_is_asked(wallet: WalletServer, playwright: Any) -> None:
    alice = member(wallet, points=100)
    with browser(playwright) as plain:
        app = open_page(plain, wallet.url, "/app/")
        log_in(app, str(alice.login_id), alice.password)
        visible(app, "home")
        app.click("#go-thanks")
        app.fill("#thanks-form [name=amount]", "10")
        app.fill("#thanks-to", "zzzz 2222")
        app.click("#thanks-form button[type=submit]")
        app.wait_for_selector("#thanks-error:not([hidden])")
        assert app.get_attribute("#thanks-error", "data-code") == "UNKNOWN_RECIPIENT"
        assert app.is_hidden("#thanks-question")
    assert alice.balance() == 100
