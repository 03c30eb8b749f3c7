"""The residents' notice centre in real headless Chromium (issue 20), over the real node and wallet.

A neighbour thanks a resident with a message; the resident's app shows the bell with the
unread count, the notice centre lists the thanks with the message as written, newest first,
"mark all as read" clears the count, and English is one tap away like the rest of the app.
Screens at 360 px and 1280 px (``notices``, ``notices-english-large``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.wallet_support import PASSWORD, WalletServer, member, shared_points, shared_sqlite_wallet

points, wallet = shared_points, shared_sqlite_wallet  # this module runs on the worker's shared chain and wallet

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


def test_a_thanks_received_appears_in_the_notice_centre(wallet: WalletServer, playwright: Any) -> None:
    alice, bob = member(wallet, points=100), member(wallet)
    sent = alice.post(
        "/v1/thanks", {"to": bob.info["short_code"], "amount": 30, "category": "help", "message": "雪かき助かりました"}
    )
    assert sent.status_code == 200, sent.text

    with browser(playwright) as chromium:
        app = open_page(chromium, wallet.url, "/app/")
        app.wait_for_selector("section#login:not([hidden])")
        assert app.is_hidden("#bell")  # no bell before logging in
        app.fill("#login-form [name=login]", bob.login_id or "")
        app.fill("#login-form [name=password]", PASSWORD)
        app.click("#login-form button[type=submit]")
        app.wait_for_selector("section#home:not([hidden])")
        app.wait_for_selector("#bell-count:not([hidden])")
        assert app.inner_text("#bell-count") == "2"  # the city's welcome and the thanks

        app.click("#bell")
        app.wait_for_selector("section#notices:not([hidden]) #notice-list li")
        first = app.locator("#notice-list li").first
        assert first.get_attribute("data-kind") == "thanks_received"
        assert "「ありがとう」が届きました" in first.inner_text()
        assert "30 ポイント" in first.inner_text()
        assert first.locator("q").inner_text() == "雪かき助かりました"
        assert app.locator("#notice-list li.unread").count() == 2
        screen(app, "notices")

        app.click("#notices-read-all")
        app.wait_for_selector("#bell-count", state="hidden")
        assert app.locator("#notice-list li.unread").count() == 0
        assert app.inner_text("#notices-unread") == "すべて読みました"

        app.click("#lang-toggle")
        app.click("#large-toggle")
        app.wait_for_selector("#notice-list li strong:has-text('Thanks received')")
        assert "thanked you with 30 points" in app.locator("#notice-list li").first.inner_text()
        screen(app, "notices-english-large")
        app.click("section#notices button.back")
        app.wait_for_selector("section#home:not([hidden])")
    assert bob.get("/v1/notices").json()["unread"] == 0  # read in the app, read everywhere
