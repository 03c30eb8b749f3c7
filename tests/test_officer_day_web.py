"""An officer's working day at the desk (issue 20), in real headless Chromium over the real node and wallet.

The desk says who is logged in; lists pending accounts with member code, address and name; a
reject asks for a reason and a second press (an empty reason is not sent), and the row is then
updated where it is: the list keeps its order and what lies under the officer's finger is still
the same person. Approve likewise; on the active list the officer unlocks a member after failed
log-ins and suspends one (the wallet refuses them at once; the registrar's command is shown);
a member code search finds one account.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.points import PointsSystem
from tests.wallet_support import OFFICER_PASSWORD, WalletServer, running_wallet, shared_points, signup

# the worker's shared chain (no deployment of its own); the wallets stay this module's own
# (the desk lists every pending sign-up)
points = shared_points

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


@pytest.fixture(scope="module")
def wallet(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    yield from running_wallet(points, tmp_path_factory.mktemp("officer-day-web"), "sqlite")


def sql(server: WalletServer, query: str, **params: Any) -> list[Any]:
    engine = create_engine(server.database_url)
    try:
        with engine.begin() as db:
            result = db.execute(text(query), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


def order(desk: Any) -> list[str]:
    return list(desk.eval_on_selector_all("#accounts > li", "items => items.map((li) => li.dataset.id)"))


def confirm(desk: Any, row: Any, action: str, reason: str) -> None:
    """Press the row's button, give the reason, confirm; wait until the row says it is done."""
    row.locator(f".decide button[data-action={action}]").click()
    form = row.locator(f"form.confirm[data-action={action}]")
    form.locator("[name=reason]").fill(reason)
    form.locator("button[type=submit]").click()


def test_reject_with_a_reason_in_place_approve_unlock_and_suspend(wallet: WalletServer, playwright: Any) -> None:
    a = signup(wallet, name="窓口 一郎")
    b = signup(wallet, name="窓口 二郎")
    c = signup(wallet, name="窓口 三郎")
    ids = [a.info["id"], b.info["id"], c.info["id"]]
    with browser(playwright) as chromium:
        desk = open_page(chromium, wallet.url, "/officer/", width=1280)
        desk.wait_for_selector("section#login:not([hidden])")
        desk.fill("#login-form [name=login]", "officer1")
        desk.fill("#login-form [name=password]", OFFICER_PASSWORD)
        desk.click("#login-form button[type=submit]")
        desk.wait_for_selector("section#desk:not([hidden])")
        assert "Officer One (officer1)" in desk.inner_text("#officer-who")
        desk.wait_for_selector(f"#accounts li[data-id='{c.info['id']}']")
        assert [i for i in order(desk) if i in ids] == ids  # oldest first
        row_b = desk.locator(f"#accounts li[data-id='{b.info['id']}']")
        line = row_b.inner_text()
        assert "窓口 二郎" in line and b.me()["short_code"] in line and b.me()["address"] in line

        # reject: the first press only opens the reason; an empty reason is not sent
        reject = row_b.locator(".decide button[data-action=reject]")
        before = reject.bounding_box()
        reject.click()
        form = row_b.locator("form.confirm[data-action=reject]")
        form.wait_for()
        assert reject.bounding_box() == before  # the row's own buttons did not move
        form.locator("button[type=submit]").click()
        assert b.me()["status"] == "pending"
        form.locator("[name=reason]").fill("書類の住所が登録内容と異なります")
        screen(desk, "officer-day-reject-confirm")
        form.locator("button[type=submit]").scroll_into_view_if_needed()
        box = form.locator("button[type=submit]").bounding_box()
        form.locator("button[type=submit]").click()
        desk.wait_for_selector(f"#accounts li[data-id='{b.info['id']}'][data-status=rejected]")
        # updated in place: same order, and under the finger is still the same person's row
        assert [i for i in order(desk) if i in ids] == ids
        under = desk.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('li') && document.elementFromPoint(x, y)"
            ".closest('li').dataset.id",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        assert under == b.info["id"]
        rejected = desk.locator(f"#accounts li[data-id='{b.info['id']}']")
        assert rejected.locator(".decide button").count() == 0  # nothing left to press on a decided row
        assert b.login().status_code == 403
        notice = sql(wallet, "SELECT n.params FROM notices n JOIN users u ON u.id = n.user_id "
                     "WHERE u.public_id = :id AND n.kind = 'signup_rejected'", id=b.info["id"])  # fmt: skip
        params = notice[0][0] if isinstance(notice[0][0], dict) else json.loads(notice[0][0])
        assert params["message"] == "書類の住所が登録内容と異なります"  # the applicant's sign-up notice

        # approve a (confirmed with a reason); the row turns active where it is
        confirm(desk, desk.locator(f"#accounts li[data-id='{a.info['id']}']"), "approve", "運転免許証で確認")
        desk.wait_for_selector(f"#accounts li[data-id='{a.info['id']}'][data-status=active]", timeout=60_000)
        assert [i for i in order(desk) if i in ids] == ids
        assert a.me()["status"] == "active"
        address_a = a.me()["address"]

        # search the pending list by member code
        desk.fill("#member-search [name=code]", c.me()["short_code"].lower())
        desk.click("#member-search button[type=submit]")
        desk.wait_for_function(
            "id => [...document.querySelectorAll('#accounts > li')].map((li) => li.dataset.id).join() === id",
            arg=c.info["id"],
        )
        desk.fill("#member-search [name=code]", "")
        desk.click("#member-search button[type=submit]")

        # the active list: a locked member is unlocked, then suspended (the registrar's command shown)
        sql(wallet, "UPDATE users SET failed_logins = 4 WHERE public_id = :id", id=a.info["id"])
        desk.click("#account-tabs button[data-status=active]")
        row_a = desk.locator(f"#accounts li[data-id='{a.info['id']}']")
        row_a.wait_for()
        assert "ログイン失敗 4" in row_a.inner_text()
        confirm(desk, row_a, "unlock", "本人から電話で依頼")
        desk.wait_for_function(
            "id => { const li = document.querySelector(`#accounts li[data-id='${id}']`);"
            " return li && li.querySelector('.notice') && !li.innerText.includes('ログイン失敗'); }",
            arg=a.info["id"],
        )
        confirm(desk, desk.locator(f"#accounts li[data-id='{a.info['id']}']"), "suspend", "不正利用の疑い")
        suspended = desk.locator(f"#accounts li[data-id='{a.info['id']}'][data-status=suspended]")
        suspended.wait_for()
        assert f"takasago account suspend {address_a}" in suspended.locator(".notice code").inner_text()
        assert a.login().status_code == 403
        screen(desk, "officer-day-suspended")
        rows = sql(wallet, "SELECT c.action FROM counter_log c JOIN users u ON u.id = c.user_id "
                   "WHERE u.public_id IN (:a, :b) ORDER BY c.id", a=a.info["id"], b=b.info["id"])  # fmt: skip
        assert [r[0] for r in rows] == ["reject", "approve", "unlock", "suspend"]

        desk.click("#lang-toggle")
        desk.wait_for_function("document.documentElement.lang === 'en'")
        assert "Logged in: Officer One (officer1)" in desk.inner_text("#officer-who")
