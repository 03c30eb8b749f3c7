"""The officer desk's trail of personal-record reads, in real headless Chromium (issue 15).

Opening a person's sealed record is audited (who read whose record, why, when); the desk
lists that trail under the pending accounts, so officers see it where they work.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.wallet_support import (
    OFFICER_PASSWORD,
    WalletServer,
    officer,
    shared_points,
    shared_sqlite_wallet,
    signup,
)

points, wallet = shared_points, shared_sqlite_wallet  # this module runs on the worker's shared chain and wallet

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


def test_officer_desk_shows_who_read_whose_personal_record(wallet: WalletServer, playwright: Any) -> None:
    person = signup(wallet, name="監査 次郎")
    # another officer's read through the API, with its own reason, shows up too
    assert officer(wallet).get("/v1/officer/accounts", params={"reason": "電話照会"}).status_code == 200
    with browser(playwright) as chromium:
        desk = open_page(chromium, wallet.url, "/officer/", width=1280)
        desk.wait_for_selector("section#login:not([hidden])")
        desk.fill("#login-form [name=login]", "officer1")
        desk.fill("#login-form [name=password]", OFFICER_PASSWORD)
        desk.click("#login-form button[type=submit]")
        desk.wait_for_selector("section#desk:not([hidden])")
        assert "監査 次郎" in desk.locator(f"#accounts li[data-id='{person.info['id']}']").inner_text()
        reads = desk.locator(f"#reads li[data-account='{person.info['id']}']")
        reads.first.wait_for(timeout=15_000)
        texts = reads.all_inner_texts()
        # the desk's own listing (just now) and the API read above, newest first, by officer1
        assert "本人確認（市職員デスク）" in texts[0] and "Officer One (officer1)" in texts[0]
        assert any("電話照会" in t for t in texts[1:])
        assert all(person.login_id in t for t in texts) and "監査 次郎" not in " ".join(texts)
        assert desk.locator("h2[data-t=record_reads]").inner_text() == "個人情報の閲覧記録"
        screen(desk, "officer-desk-reads")
        desk.click("#lang-toggle")
        desk.wait_for_function("document.documentElement.lang === 'en'")
        assert desk.locator("h2[data-t=record_reads]").inner_text() == "Personal-record reads"
