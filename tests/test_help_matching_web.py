"""Help matching end to end in real headless Chromium (issue 18), over the real node and wallet.

An elderly resident without a smartphone comes to the coordinator (社協) with her card: she
types her PIN to consent, the coordinator posts her request on the coordinators' desk, a
neighbour finds it on his phone and offers, the coordinator chooses him, he sees her name
and the place, the coordinator confirms it was done, and the balances move by exactly the
thanks — checked through the API and on the chain. Screens at 360 px and 1280 px.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.points import HELP_MODERATOR_ROLE, PointsSystem
from tests.test_wallet_help import matched
from tests.wallet_support import (
    OFFICER_PASSWORD,
    PASSWORD,
    WalletServer,
    coordinator,
    member,
    officer,
    running_wallet,
    shared_points,
)

# the worker's shared chain (no deployment of its own); the wallets stay this module's own
# (its help board lists every open request)
points = shared_points

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)
THANKS = 300


@pytest.fixture(scope="module")
def wallet(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    yield from running_wallet(points, tmp_path_factory.mktemp("help-web"), "sqlite")


def log_in(page: Any, login: str, password: str, ready: str) -> None:
    page.wait_for_selector("section#login:not([hidden])")
    page.fill("#login-form [name=login]", login)
    page.fill("#login-form [name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector(f"section#{ready}:not([hidden])")


def test_coordinator_posts_for_an_elder_a_neighbour_helps_and_is_thanked(wallet: WalletServer, playwright: Any) -> None:
    elder, neighbour = member(wallet, points=1_000), member(wallet)
    card = elder.post("/v1/me/card", {"pin": "135790"}, key=None).json()["card"]
    staff = coordinator(wallet)
    token = wallet.points.token.functions
    before = (token.balanceOf(elder.info["address"]).call(), token.balanceOf(neighbour.info["address"]).call())

    with browser(playwright) as chromium:
        # -- the coordinators' desk: the elder types her PIN to consent, then her request is posted
        desk = open_page(chromium, wallet.url, "/coordinator/", width=1280)
        log_in(desk, staff.login_id or "", OFFICER_PASSWORD, "desk")
        desk.fill("#link-form [name=member]", elder.info["short_code"])
        desk.fill("#link-form [name=card]", card)
        desk.fill("#link-form [name=pin]", "000000")  # a slip of the finger: refused, nothing recorded
        desk.click("#link-form button[type=submit]")
        desk.wait_for_selector("#desk-error:not([hidden])")
        assert desk.get_attribute("#desk-error", "data-code") == "PIN_INCORRECT"
        desk.fill("#link-form [name=pin]", "135790")
        desk.click("#link-form button[type=submit]")
        desk.wait_for_selector(f"#residents li[data-id='{elder.info['id']}']")
        screen(desk, "help-coordinator-desk")
        desk.click(f"#residents li[data-id='{elder.info['id']}']")
        desk.wait_for_selector("section#resident:not([hidden]) fieldset.tasks input[value='0']")
        desk.check("fieldset.tasks input[value='0']")  # 🛒 shopping
        desk.fill("#help-post-form [name=district]", "荒井町")
        desk.fill("#help-post-form [name=thanks]", str(THANKS))
        desk.fill("#help-post-form [name=details]", "米10kgとトイレットペーパー")
        desk.fill("#help-post-form [name=place]", "荒井町千鳥1-1 高砂ハイツ101")
        screen(desk, "help-coordinator-post")
        desk.click("#help-post-form button[type=submit]")
        desk.wait_for_selector("#resident-notice:not([hidden])", timeout=30_000)
        desk.wait_for_selector("#their-requests li[data-status='open']")
        request_id = desk.get_attribute("#their-requests li[data-status='open']", "data-id")
        assert elder.balance() == before[0] - THANKS  # escrowed from her own points

        # -- the neighbour's phone: 困りごと tab, find it near him, offer
        phone = open_page(chromium, wallet.url, "/app/")
        log_in(phone, neighbour.login_id or "", PASSWORD, "home")
        phone.click("#go-help")
        phone.wait_for_selector("section#help:not([hidden])")
        screen(phone, "help-resident-tab")
        phone.click("#help-go-browse")
        phone.wait_for_selector("section#help-browse:not([hidden])")
        phone.fill("#help-filter [name=district]", "荒井町")
        phone.fill("#help-offer-message", "午後に伺えます")
        phone.click("#help-filter button[type=submit]")
        offer = phone.locator(f"#help-open li[data-id='{request_id}'] button")
        offer.wait_for()
        listed = phone.locator(f"#help-open li[data-id='{request_id}']").inner_text()
        assert "荒井町" in listed and "高砂ハイツ" not in listed and "トイレット" not in listed  # public part only
        screen(phone, "help-resident-browse")
        offer.click()
        phone.wait_for_selector("#help-offered:not([hidden])")

        # -- the desk: the offer shows; the coordinator chooses him
        desk.click(f"#their-requests li[data-id='{request_id}']")
        choose = desk.locator(f"#help-detail-body li[data-helper='{neighbour.info['id']}'] button")
        choose.wait_for()
        assert "午後に伺えます" in desk.locator("#help-detail-body .offers").inner_text()
        screen(desk, "help-coordinator-offers")
        choose.click()
        desk.wait_for_selector("#help-detail-body .status[data-status='matched']", timeout=30_000)

        # -- the neighbour now sees her name and where to go
        phone.click("section#help-browse button.help-back")
        phone.wait_for_selector(f"#help-mine li[data-id='{request_id}'][data-status='matched']")
        phone.click(f"#help-mine li[data-id='{request_id}']")
        phone.wait_for_selector("#help-detail-body .place")
        assert "高砂ハイツ101" in phone.locator("#help-detail-body .place").inner_text()
        counterpart = phone.locator("#help-detail-body .counterpart").inner_text()
        assert elder.info["short_code"] in counterpart and "高砂 太郎" in counterpart  # her real name, once matched
        assert phone.locator("#help-detail-body button.primary").count() == 0  # a helper cannot pay himself
        assert phone.locator("#help-detail-body form.dispute").count() == 1  # but may ask the city
        screen(phone, "help-resident-matched")

        # -- done: the coordinator confirms for her; the thanks go to him, exactly once
        desk.fill("#help-detail-body form.complete [name=message]", "ありがとう、助かりました")
        desk.select_option("#help-detail-body form.complete [name=rating]", "5")
        desk.click("#help-detail-body form.complete button.primary")
        desk.wait_for_selector("#help-detail-body .status[data-status='completed']", timeout=30_000)
        screen(desk, "help-coordinator-done")
        assert not phone.errors and not desk.errors

    # this city offers no help vouchers: asking for them is refused with a reason, nothing is filed
    no_vouchers = staff.post(f"/v1/coordinator/residents/{elder.info['id']}/vouchers",
                             {"units": 1, "evidence": "通院"}, key=None)  # fmt: skip
    assert no_vouchers.status_code == 409 and no_vouchers.json()["error"]["code"] == "HELP_NO_VOUCHERS"
    # nor is watch-over set up beside this wallet: its routes say so instead of failing
    unavailable = elder.get("/v1/watch/wards")
    assert unavailable.status_code == 503 and unavailable.json()["error"]["code"] == "WATCH_UNAVAILABLE"
    assert unavailable.json()["error"]["messages"]["ja"].startswith("みまもりは現在")
    after = (token.balanceOf(elder.info["address"]).call(), token.balanceOf(neighbour.info["address"]).call())
    assert after == (before[0] - THANKS, before[1] + THANKS)
    assert (elder.balance(), neighbour.balance()) == after
    assert [r["status"] for r in neighbour.get("/v1/help/mine").json()] == ["completed"]
    assert neighbour.get(f"/v1/help/requests/{request_id}").json()["thank_message"] == "ありがとう、助かりました"
    # each showing of a real name is on the personal-record trail: who read whose, why
    reads = officer(wallet).get("/v1/officer/reads", params={"limit": 500}).json()
    assert any(r["account"] == elder.info["id"] and r["officer"] == neighbour.login_id
               and r["reason"].startswith("困りごと") for r in reads)  # fmt: skip


def test_the_city_decides_a_dispute_and_reads_reports_on_the_officer_desk(
    wallet: WalletServer, playwright: Any
) -> None:
    requester, helper, request_id = matched(wallet, thanks=300)
    assert (
        helper.post(f"/v1/help/requests/{request_id}/dispute", {"reason": "鍵が開いていませんでした"}).status_code
        == 200
    )
    assert requester.post("/v1/help/reports", {"member": helper.info["short_code"], "reason": "言葉づかいが乱暴"},
                          key=None).status_code == 201  # fmt: skip
    wallet.points.grant(HELP_MODERATOR_ROLE, wallet.service_address)
    with browser(playwright) as chromium:
        desk = open_page(chromium, wallet.url, "/officer/", width=1280)
        log_in(desk, "officer1", OFFICER_PASSWORD, "desk")
        case = desk.locator(f"#help-disputes li[data-id='{request_id}']")
        case.wait_for()
        assert "鍵が開いていませんでした" in case.inner_text()
        desk.locator("#help-reports li").first.wait_for()
        assert "言葉づかいが乱暴" in desk.locator("#help-reports").inner_text()
        screen(desk, "help-officer-moderation")
        case.locator("[name=to_helper]").fill("100")
        case.locator("[name=decision]").fill("移動の手間分として100pt")
        case.locator("button[type=submit]").click()
        desk.wait_for_selector(f"#help-disputes li[data-id='{request_id}']", state="detached", timeout=30_000)
        assert not desk.errors
    assert (requester.balance(), helper.balance()) == (900, 100)  # 300 held: 100 to the helper, 200 back
    assert requester.get(f"/v1/help/requests/{request_id}").json()["status"] == "resolved"
