"""A coordinator's event screen (issue 21): a coordinator (社協, 民生委員) creates an event on the
coordinators' desk and shows its rotating signed QR with the live attendance count; residents check
in by the code read off that screen, each paid once, and the count follows.

The organisers' API is the same as the officer desk's; a coordinator is shown only the events they
created (another organiser's event is ``UNKNOWN_EVENT``), an officer every one, a resident none.
Runs on the worker's shared chain and SQLite wallet, one Chromium (the code is read off the
screenshot of the QR with zbarimg, as a phone's camera would). Screens at 360 and 1280 px.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.points import CAP_MONTH
from tests.wallet_support import (
    OFFICER_PASSWORD,
    WalletServer,
    coordinator,
    error_code,
    member,
    officer,
    settled,
    shared_points,
    shared_sqlite_wallet,
)

points, wallet = shared_points, shared_sqlite_wallet  # this module runs on the worker's shared chain and wallet

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


def read_qr(page: Any, selector: str, tmp_path: Path) -> str:
    """What a phone's camera reads off the screen: the QR image decoded by zbarimg."""
    shot = tmp_path / "event-qr.png"
    page.locator(selector).screenshot(path=str(shot))
    result = subprocess.run(["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(shot)],
                            capture_output=True, text=True, check=True)  # fmt: skip
    return result.stdout.strip()


def test_a_coordinator_shows_an_event_qr_and_the_attendance_count_follows_the_check_ins(
    wallet: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    verifier = keccak(text="COMMUNITY_VERIFIER_ROLE")
    programme = wallet.points.create_programme(name="地域の見守り研修", verifierRole=verifier, rewardPoints=40,
                                               capPerPeriod=400, capPeriod=CAP_MONTH)  # fmt: skip
    organiser = coordinator(wallet, "coordinator-events")
    desk, resident, neighbour = officer(wallet), member(wallet), member(wallet)
    now = datetime.now(UTC)
    window = {"starts_at": (now - timedelta(minutes=5)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()}
    theirs = desk.post("/v1/organiser/events", {"programme_id": programme, "title": "市役所の説明会", "points": 40,
                                                **window}, key=None).json()["id"]  # fmt: skip

    # the role checks: a resident is no organiser; a coordinator sees and shows only their own events
    assert error_code(resident.get("/v1/organiser/events")) == "FORBIDDEN"
    assert theirs not in [e["id"] for e in organiser.get("/v1/organiser/events").json()]
    other = organiser.get(f"/v1/organiser/events/{theirs}/qr")
    assert other.status_code == 404 and error_code(other) == "UNKNOWN_EVENT"
    assert (
        "そのイベント" in other.json()["error"]["messages"]["ja"]
        and "No such event" in other.json()["error"]["messages"]["en"]
    )

    with browser(playwright) as chromium:
        page = open_page(chromium, wallet.url, "/coordinator/", width=1280)
        page.wait_for_selector("section#login:not([hidden])")
        page.fill("#login-form [name=login]", "coordinator-events")
        page.fill("#login-form [name=password]", OFFICER_PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("section#desk:not([hidden])")
        page.click("#go-events")
        page.wait_for_selector("section#events:not([hidden])")
        page.wait_for_selector("#ce-events-empty:not([hidden])")  # a new coordinator organises nothing yet
        page.select_option("#ce-form [name=programme_id]", str(programme))
        page.fill("#ce-form [name=title]", "見守りボランティア研修（曽根公民館）")
        page.fill("#ce-form [name=points]", "40")
        page.click("#ce-form button[type=submit]")
        page.wait_for_selector("#ce-notice:not([hidden])")
        ours = "#ce-events li:has-text('見守りボランティア研修') .ce-show"
        page.click(ours)
        page.wait_for_selector("#ce-qr[data-code]")
        page.wait_for_function("document.getElementById('ce-qr').naturalWidth > 0")
        assert page.inner_text("#ce-count") == "0人"
        code = read_qr(page, "#ce-qr", tmp_path)
        assert code.startswith("takasago-event:") and code == page.get_attribute("#ce-qr", "data-code")
        screen(page, "coordinator-events-qr")

        # a resident checks in with the code off the screen: paid once, a second scan refused; the count follows
        first = resident.post("/v1/checkins", {"code": code})
        assert settled(resident, first)["status"] == "confirmed", first.text
        again = resident.post("/v1/checkins", {"code": code})
        assert again.status_code == 409 and error_code(again) == "CHECKIN_ALREADY"
        assert resident.balance() == 40
        page.wait_for_function("document.getElementById('ce-count').textContent === '1人'", timeout=15_000)
        assert settled(neighbour, neighbour.post("/v1/checkins", {"code": code}))["status"] == "confirmed"
        page.wait_for_function("document.getElementById('ce-count').textContent === '2人'", timeout=15_000)
        assert (resident.balance(), neighbour.balance()) == (40, 40)
        page.wait_for_function("document.querySelector('#ce-events li[data-event] strong').textContent.endsWith('2人')")
        screen(page, "coordinator-events-count")

        # in English: the same screen, its times unambiguous
        page.click("#lang-toggle")
        page.wait_for_function("document.getElementById('ce-qr-expiry').textContent.includes('JST')")
        page.wait_for_selector("#ce-qr[data-code]")
        assert page.inner_text("#ce-count") == "2"
        screen(page, "coordinator-events-en")

    # the officer's desk sees the coordinator's event and its count too
    listed = {e["title"]: e["checkins"] for e in desk.get("/v1/organiser/events").json()}
    assert listed["見守りボランティア研修（曽根公民館）"] == 2
