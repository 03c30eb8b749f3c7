"""Issue 21, in the residents' app (Chromium, real API, node and contracts): the confirm screen shows the
balance and refuses at once what cannot be paid, a request the shop cancelled is refused, an officer
is told the app is for residents, and thanks asks "send 50 pt to 鈴木 一郎さん?" before sending.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.wallet_support import (
    OFFICER_PASSWORD,
    WalletServer,
    member,
    shared_points,
    shared_sqlite_wallet,
)

points, wallet = shared_points, shared_sqlite_wallet  # this module runs on the worker's shared chain and wallet

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


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


def test_whose_account_times_in_jst_the_thanks_kind_and_caps_and_a_charged_code(
    wallet: WalletServer, playwright: Any
) -> None:
    """The rest of issue 21's first-run list: the home screen says whose account it is; history shows the date
    and time in JST, unambiguous in English (2026-12-03 … JST), and a thanks' kind and message to its
    recipient; the thanks screen and its refusal state the daily caps and when they reset; and the "show
    code" screen changes to the charge once a shop charged the code."""
    hanako = member(wallet, points=2_000, shop="はなこ")
    neighbour = member(wallet, points=100)
    shop = member(wallet, "merchant", shop="高砂ベーカリー")
    sent = neighbour.post("/v1/thanks", {"to": hanako.info["short_code"], "amount": 30, "category": "help",
                                         "message": "草むしりありがとう"})  # fmt: skip
    assert sent.status_code in (200, 202), sent.text
    with browser(playwright) as plain:
        app = open_page(plain, wallet.url, "/app/")
        log_in(app, str(hanako.login_id), hanako.password)
        visible(app, "home")
        whose = app.inner_text("#home-whose")
        assert whose == f"はなこさんのアカウント（会員コード {hanako.info['short_code']}）", whose
        screen(app, "resident-home-whose")

        # history: date and time (JST), the thanks' kind and message for its recipient
        app.click("#go-history")
        app.wait_for_selector("#history-list li:has-text('草むしりありがとう')")
        item = app.inner_text("#history-list li:has-text('草むしりありがとう')")
        assert "種類：お手伝い" in item and re.search(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}", item), item
        app.click("#lang-toggle")
        app.wait_for_selector("#history-list li:has-text('Kind: Help')")
        english = app.inner_text("#history-list li:has-text('Kind: Help')")
        assert re.search(r"\b20\d{2}-\d{2}-\d{2} \d{2}:\d{2} JST\b", english), english
        screen(app, "resident-history-times-english")
        app.click("#lang-toggle")
        app.click("#history button.back")

        # thanks: the caps and when they reset, on the screen and in the refusal (nothing sent)
        app.click("#go-thanks")
        app.wait_for_selector("#thanks-caps:not([hidden])")
        caps = app.inner_text("#thanks-caps")
        assert "1日 10 回・1,000 pt まで" in caps and "リセット" in caps, caps
        app.fill("#thanks-form [name=amount]", "1001")
        app.fill("#thanks-to", neighbour.info["short_code"])
        app.wait_for_timeout(500)  # the name lookup
        app.click("#thanks-form button[type=submit]")
        app.wait_for_selector("#thanks-question:not([hidden])")
        app.click("#thanks-form button[type=submit]")
        app.wait_for_selector("#thanks-error:not([hidden])")
        assert app.get_attribute("#thanks-error", "data-code") == "THANKS_DAILY_CAP"
        refusal = app.inner_text("#thanks-error")
        assert "午前0時にリセット" in refusal and "1日 10 回・1,000 pt まで" in refusal, refusal
        screen(app, "resident-thanks-caps")
        assert hanako.balance() == 2_030  # 2,000 and the neighbour's 30: the refused 1,001 never left
        app.click("#thanks button.back")

        # show a code; the shop charges it: the screen shows the payment, not the used code
        app.click("#go-show")
        app.wait_for_function("document.getElementById('code-qr').dataset.code")
        code = app.get_attribute("#code-qr", "data-code")
        charged = shop.post("/v1/merchant/charges", {"amount": 120, "code": code})
        assert charged.status_code in (200, 202), charged.text
        app.wait_for_selector("#code-state[data-state=paid]:not([hidden])", timeout=20_000)
        assert app.inner_text("#code-state") == "高砂ベーカリー に 120 pt を支払いました"
        assert app.is_hidden("#code-qr")
        screen(app, "resident-show-code-charged")
        assert not app.errors, app.errors
    assert hanako.balance() == 2_030 - 120
    other = neighbour.post("/v1/me/payment-codes/state", {"code": code}, key=None)
    assert other.status_code == 404  # another's code tells nothing
