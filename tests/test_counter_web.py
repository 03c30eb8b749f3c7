"""The city counter end to end in real headless Chromium (issue 20), over the real node, wallet and contracts.

An elderly resident with no phone is signed up at the counter after an ID check and gets a card
once she has typed her PIN twice on the PIN pad (the desk's screen never shows it). She is
granted points, checks her balance at a shop's till with the card (nothing paid), pays, loses the
card — blocked at once, refused at the till — and gets a new one at the counter that keeps her
balance. The officer prints a balance slip. Screens at 360 and 1280 px: the counter desk, the PIN
pad, the slip, the till's balance.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ledger_client.jst import JST
from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.conftest import REPO
from tests.qr_video import write_qr_video
from tests.wallet_support import (
    OFFICER_PASSWORD,
    PASSWORD,
    WalletServer,
    member,
    officer,
    shared_points,
    shared_sqlite_wallet,
)

points, wallet = shared_points, shared_sqlite_wallet  # this module runs on the worker's shared chain and wallet

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


def log_in(page: Any, login: str, password: str, ready: str) -> None:
    page.wait_for_selector("section#login:not([hidden])")
    page.fill("#login-form [name=login]", login)
    page.fill("#login-form [name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector(f"section#{ready}:not([hidden])")


def decode(page: Any, selector: str, tmp_path: Path) -> str:
    shot = tmp_path / "qr.png"
    page.locator(selector).screenshot(path=str(shot))
    result = subprocess.run(["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(shot)],
                            capture_output=True, text=True, check=True)  # fmt: skip
    return result.stdout.strip()


def type_pin(desk: Any, pin: str) -> None:
    """The resident's fingers on the PIN pad: the PIN twice."""
    desk.wait_for_selector("section#pinpad:not([hidden])")
    for _ in range(2):
        for digit in pin:
            desk.click(f"#pinpad-keys button[data-key='{digit}']")
        desk.wait_for_timeout(250)


def test_an_elder_without_a_phone_is_served_at_the_counter_and_pays_with_her_card(
    wallet: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    shop = member(wallet, "merchant", shop="高砂食堂")
    with browser(playwright) as chromium:
        desk = open_page(chromium, wallet.url, "/counter/", width=1280)
        log_in(desk, "officer1", OFFICER_PASSWORD, "counter")
        desk.fill("#signup-form [name=full_name]", "高砂 ふみ")
        desk.fill("#signup-form [name=postal_address]", "兵庫県高砂市曽根町2-3-4")
        desk.fill("#signup-form [name=date_of_birth]", "1940-02-11")
        desk.select_option("#signup-form [name=id_document]", "マイナンバーカード")
        desk.click("#signup-form button[type=submit]")
        desk.wait_for_selector("#member:not([hidden])", timeout=60_000)
        line = desk.inner_text("#member-line")
        assert "高砂 ふみ" in line and "active" in line, line
        short_code = line.split(" ／ ")[3]
        screen(desk, "counter-desk")

        desk.click("#issue-card")
        desk.wait_for_selector("section#pinpad:not([hidden])")
        for digit in "24":
            desk.click(f"#pinpad-keys button[data-key='{digit}']")
        assert desk.inner_text("#pinpad-dots") == "●●○○○○"  # dots only, never the digits
        screen(desk, "counter-pinpad")
        desk.click("#pinpad-keys button[data-key='⌫']")
        desk.click("#pinpad-keys button[data-key='⌫']")
        type_pin(desk, "246810")
        desk.wait_for_selector("#counter-card-qr", timeout=30_000)
        desk.wait_for_function("document.getElementById('counter-card-qr').naturalWidth > 0")
        card = decode(desk, "#counter-card-qr", tmp_path)
        assert card.startswith("takasago-card:") and "246810" not in desk.content()
        found = officer(wallet).post("/v1/counter/search", {"reason": "試験", "member_code": short_code}, key=None)
        address = found.json()[0]["address"]
        wallet.points.mint(address, 1_000)

        # at the shop: the balance with the card and PIN, nothing paid; then a payment
        with browser(playwright, write_qr_video(card, tmp_path / "card.y4m")) as camera:
            till = open_page(camera, wallet.url, "/till/")
            log_in(till, shop.login_id or "", PASSWORD, "entry")
            till.click("#check-balance")
            till.wait_for_selector("section#pin:not([hidden])", timeout=30_000)
            till.fill("#pin-input", "246810")
            till.click("#pin-form button[type=submit]")
            till.wait_for_selector("section#card-balance:not([hidden])")
            assert "1,000" in till.inner_text("#card-balance-amount")
            screen(till, "till-card-balance")
            assert wallet.points.balance(address) == 1_000
            till.click("#card-balance button.back")
            till.fill("#amount", "300")
            till.click("#scan-customer")
            till.wait_for_selector("section#pin:not([hidden])", timeout=30_000)
            till.fill("#pin-input", "246810")
            till.click("#pin-form button[type=submit]")
            till.wait_for_selector("section#paid:not([hidden])", timeout=30_000)
            assert wallet.points.balance(address) == 700

            # the card is lost: blocked at the counter, refused at the till at once
            desk.fill("#block-form [name=reason]", "紛失届（本人来庁）")
            desk.click("#block-form button[type=submit]")
            desk.wait_for_function("document.getElementById('member-line').innerText.includes('カード停止中')")
            till.click("#paid button.back")
            till.click("#check-balance")
            till.wait_for_selector("section#pin:not([hidden])", timeout=30_000)
            till.fill("#pin-input", "246810")
            till.click("#pin-form button[type=submit]")
            till.wait_for_selector("#pin-error:not([hidden])")
            assert till.get_attribute("#pin-error", "data-code") == "CARD_BLOCKED"
            assert not till.errors

        # a new card keeps the balance; the slip shows it
        desk.click("#issue-card")
        type_pin(desk, "975310")
        desk.wait_for_selector("#counter-card-qr", timeout=30_000)
        desk.wait_for_function("document.getElementById('counter-card-qr').naturalWidth > 0")
        new_card = decode(desk, "#counter-card-qr", tmp_path)
        assert new_card.startswith("takasago-card:") and new_card != card
        desk.fill("#slip-form [name=reason]", "本人の依頼")
        desk.click("#slip-form button[type=submit]")
        desk.wait_for_selector("#slip-balance")
        assert "700" in desk.inner_text("#slip-balance")
        screen(desk, "counter-slip")
        desk.wait_for_selector("#trail li[data-action='balance_slip']")
        slip_line = desk.inner_text("#trail li[data-action='balance_slip']")
        assert re.search(r"^20\d\d/\d\d/\d\d \d\d:\d\d ／", slip_line), slip_line  # Japanese: 2026/12/03 14:05
        assert re.search(r"\b20\d\d/\d\d/\d\d \d\d:\d\d\b", desk.inner_text("#printout")), desk.inner_text("#printout")
        desk.click("#lang-toggle")  # English: the trail's times are ISO dates in JST, never 03/12/2026
        desk.wait_for_function(
            "/^20\\d\\d-\\d\\d-\\d\\d \\d\\d:\\d\\d JST/.test("
            "document.querySelector(\"#trail li[data-action='balance_slip']\").innerText)"
        )
        assert not re.search(r"\b\d\d/\d\d/20\d\d\b", desk.inner_text("#trail"))
        desk.click("#lang-toggle")

        # her daughter, a verified resident, is registered at the counter as her proxy and thanks a neighbour for her
        daughter, neighbour = member(wallet), member(wallet)
        desk.fill("#proxy-form [name=proxy_member_code]", daughter.info["short_code"])
        desk.fill("#proxy-form [name=relationship]", "娘")
        desk.fill("#proxy-form [name=daily_limit]", "500")
        desk.fill("#proxy-form [name=reason]", "本人と娘の本人確認書類・続柄を確認")
        desk.click("#proxy-form button[type=submit]")
        desk.wait_for_selector(f"#proxies li[data-proxy='{daughter.info['short_code']}']")
        phone = open_page(chromium, wallet.url, "/app/")
        log_in(phone, daughter.login_id or "", PASSWORD, "home")
        phone.click("#go-proxy")
        phone.click(f"#proxy-for li[data-principal='{short_code}'] button.act")
        phone.wait_for_function("document.getElementById('proxy-balance').textContent.includes('700')")
        phone.fill("#proxy-thanks-form [name=to]", neighbour.info["short_code"])
        phone.fill("#proxy-thanks-form [name=amount]", "100")
        phone.fill("#proxy-thanks-form [name=message]", "母の買い物を手伝ってくれてありがとう")
        phone.click("#proxy-thanks-form button[type=submit]")
        phone.wait_for_selector("#proxy-done:not([hidden])", timeout=30_000)
        screen(phone, "proxy-daughter")
        assert wallet.points.balance(address) == 600 and wallet.points.balance(neighbour.info["address"]) == 100
        assert not phone.errors

        # the month's paper statement shows all of it: her balance, when it expires, the payment and the thanks
        month = datetime.now(JST).strftime("%Y-%m")
        out = tmp_path / "statements"
        made = subprocess.run([sys.executable, "-m", "scripts.cli", "wallet", "statements", "--month", month,
                               "--out", str(out), *wallet._args()], cwd=REPO, env=wallet._env(),
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert made.returncode == 0, made.stderr
        pdf = out / month / "曽根町.pdf"
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        flat = text.replace(" ", "")
        assert "高砂ふみ" in flat and "600" in flat and ("有効期限" in flat or "まで" in flat), text[:2000]
        assert "300" in flat and "100" in flat, text[:2000]

        # her account itself is lost later: the desk prepares the recovery and shows the officers' commands
        desk.fill("#recovery-form [name=reason]", "アカウント紛失・本人来庁")
        desk.click("#recovery-form button[type=submit]")
        desk.wait_for_selector("#recovery-state[data-state='prepared']")
        assert "takasago account recover" in desk.inner_text("#printout")
        screen(desk, "counter-recovery")
        assert not desk.errors
    seen = shop.post("/v1/merchant/card-balance", {"card": new_card, "pin": "975310"}, key=None)
    assert seen.json()["balance"] == 600
    assert "975310" not in wallet.log() and "246810" not in wallet.log()


def test_a_resident_who_forgot_her_password_gets_a_code_at_the_counter_and_sets_a_new_one(
    wallet: WalletServer, playwright: Any
) -> None:
    from tests.wallet_support import signup

    resident = signup(wallet)  # pending: she signed up in the app and waits for the counter
    with browser(playwright) as chromium:
        app = open_page(chromium, wallet.url, "/app/")
        app.wait_for_selector("section#login:not([hidden])")
        app.click("#to-signup")
        rules = app.inner_text("section#signup")
        assert "3〜64文字" in rules and "10文字以上" in rules and "昭和" in rules  # said before she types
        assert app.get_attribute("#signup-dob", "max") and app.get_attribute("#signup-dob", "min")
        app.click("#to-login")
        log_in(app, resident.login_id or "", PASSWORD, "pending")
        assert "本人確認書類" in app.inner_text("section#pending") and "窓口" in app.inner_text("section#pending")
        screen(app, "resident-pending")

        desk = open_page(chromium, wallet.url, "/counter/", width=1280)
        log_in(desk, "officer1", OFFICER_PASSWORD, "counter")
        desk.fill("#search-form [name=member_code]", resident.info["short_code"])
        desk.fill("#search-form [name=reason]", "パスワード再設定の依頼（本人来庁）")
        desk.click("#search-form button[type=submit]")
        desk.click(f"#results li[data-id='{resident.info['id']}'] button")
        desk.click("#reset-code")
        desk.wait_for_selector("#reset-code-value")
        paper = desk.inner_text("#reset-code-value")
        assert "-" in paper  # printed in two groups, read off the paper as typed

        app.evaluate("TAKASAGO.tokens.clear()")
        app.reload()
        app.wait_for_selector("section#login:not([hidden])")
        app.click("#to-reset")
        app.fill("#reset-form [name=login]", resident.login_id or "")
        app.fill("#reset-form [name=code]", paper)
        app.fill("#reset-form [name=new_password]", "a-new-password-2026")
        app.click("#reset-form button[type=submit]")
        app.wait_for_selector("#reset-done:not([hidden])")
        screen(app, "resident-reset-password")
        app.fill("#reset-form [name=login]", resident.login_id or "")
        app.fill("#reset-form [name=code]", paper)  # the same code again: refused, with the reason
        app.fill("#reset-form [name=new_password]", "another-password-2026")
        app.click("#reset-form button[type=submit]")
        app.wait_for_selector("#reset-error:not([hidden])")
        assert app.get_attribute("#reset-error", "data-code") == "RESET_CODE_USED"
        app.click("#reset-to-login")
        log_in(app, resident.login_id or "", "a-new-password-2026", "pending")
        assert not app.errors and not desk.errors
