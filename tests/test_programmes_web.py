"""Issue 21 in real Chromium (SQLite; the same API paths run on both databases in test_programmes.py).

An officer creates an event and shows its QR on the desk; a resident checks in by camera (the QR
fed as the fake camera) and gets the points exactly once, a second scan refused on screen. She
claims with a photo from the app; the officer opens the photo (recorded) and approves; the app
shows the points arrived. Screenshots at 360 px and 1280 px.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from PIL import Image

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.points import CAP_MONTH, PointsSystem
from tests.qr_video import write_qr_video
from tests.wallet_support import OFFICER_PASSWORD, PASSWORD, WalletServer, member, officer, running_wallet

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


@pytest.fixture(scope="module")
def wallet(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    yield from running_wallet(points, tmp_path_factory.mktemp("programmes-web"), "sqlite")


def visible(page: Any, selector: str, timeout: float = 20_000) -> None:
    page.wait_for_selector(f"{selector}:not([hidden])", timeout=timeout)


def log_in(page: Any, login: str, password: str) -> None:
    visible(page, "section#login")
    page.fill("#login-form [name=login]", login)
    page.fill("#login-form [name=password]", password)
    page.click("#login-form button[type=submit]")


def test_check_in_by_camera_once_and_a_photo_claim_decided_on_the_desk(
    wallet: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    verifier = keccak(text="COMMUNITY_VERIFIER_ROLE")
    programme = wallet.points.create_programme(name="高砂海岸クリーン作戦", verifierRole=verifier, rewardPoints=50,
                                               capPerPeriod=300, capPeriod=CAP_MONTH)  # fmt: skip
    resident = member(wallet)
    photo = tmp_path / "beach.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (30, 110, 170)).save(buffer, format="JPEG")
    photo.write_bytes(buffer.getvalue())

    with browser(playwright) as plain:
        # the officer describes the programme (a photo needed), creates the morning's event and shows its QR
        desk = open_page(plain, wallet.url, "/officer/", width=1280)
        log_in(desk, "officer1", OFFICER_PASSWORD)
        visible(desk, "section#desk")
        desk.click("#go-programmes-desk")
        visible(desk, "section#programmes-desk")
        desk.select_option("#pgo-rules-form [name=programme_id]", str(programme))
        desk.select_option("#pgo-rules-form [name=category]", "volunteer")
        desk.select_option("#pgo-rules-form [name=evidence]", "photo")
        desk.fill("#pgo-rules-form [name=description_ja]", "高砂海岸の清掃活動です。軍手は貸し出します。")
        desk.fill("#pgo-rules-form [name=description_en]", "Cleaning Takasago beach. Gloves are lent.")
        desk.click("#pgo-rules-form button[type=submit]")
        visible(desk, "#pgo-notice")
        desk.select_option("#pgo-event-form [name=programme_id]", str(programme))
        desk.fill("#pgo-event-form [name=title]", "海岸清掃（朝の部）")
        desk.fill("#pgo-event-form [name=points]", "50")
        desk.click("#pgo-event-form button[type=submit]")
        desk.wait_for_selector("#pgo-events li .pgo-show-qr")
        desk.click("#pgo-events li .pgo-show-qr")
        desk.wait_for_selector("#pgo-qr[data-code]")
        desk.wait_for_function("document.getElementById('pgo-qr').naturalWidth > 0")
        code = desk.get_attribute("#pgo-qr", "data-code")
        assert code and code.startswith("takasago-event:")
        screen(desk, "officer-programmes-event-qr")

        # the resident checks in by camera: points once; the same code scanned again is refused
        with browser(playwright, write_qr_video(code, tmp_path / "event.y4m")) as camera:
            app = open_page(camera, wallet.url, "/app/")
            log_in(app, str(resident.login_id), PASSWORD)
            visible(app, "section#home")
            app.click("#go-programmes")
            visible(app, "section#programmes")
            app.wait_for_selector(f"#pg-list li[data-programme='{programme}'] .pg-claim")
            listed = app.inner_text(f"#pg-list li[data-programme='{programme}']")
            assert "1回につき 50 ポイント" in listed and "軍手" in listed and "300" in listed
            screen(app, "resident-programmes-list")
            app.click("#pg-checkin")
            visible(app, "#pg-scan-result", timeout=30_000)
            assert "海岸清掃（朝の部）" in app.inner_text("#pg-scan-result")
            assert resident.balance() == 50
            screen(app, "resident-programmes-checked-in")
            app.click("#pg-scan-again")
            visible(app, "#pg-scan-error", timeout=30_000)
            assert app.get_attribute("#pg-scan-error", "data-code") == "CHECKIN_ALREADY"
            assert "1人1回" in app.inner_text("#pg-scan-error")
            assert resident.balance() == 50
            screen(app, "resident-programmes-checkin-refused")

            # a claim: without the photo refused with the reason; with it, submitted
            app.click("#pg-scan button.pg-back")
            visible(app, "section#programmes")
            app.click(f"#pg-list li[data-programme='{programme}'] .pg-claim")
            visible(app, "section#pg-claim")
            app.fill("#pg-claim-form [name=evidence]", "12/6 高砂海岸 ごみ袋3つ分")
            app.click("#pg-claim-form button[type=submit]")
            visible(app, "#pg-claim-error")
            assert "写真" in app.inner_text("#pg-claim-error")
            app.set_input_files("#pg-photo", str(photo))
            visible(app, "#pg-photo-preview")
            screen(app, "resident-programmes-claim")
            app.click("#pg-claim-form button[type=submit]")
            visible(app, "section#programmes")
            app.wait_for_selector("#pg-claims li[data-stage='submitted']")

            # the officer sees the photo (recorded) and approves; the app shows the points arrived
            desk.click("#pgo-back")
            visible(desk, "section#desk")
            desk.click("#go-programmes-desk")
            desk.wait_for_selector("#pgo-claims li .pgo-see")
            desk.click("#pgo-claims li .pgo-see")
            desk.wait_for_function("document.querySelector('#pgo-claims li .pgo-photo').naturalWidth > 0")
            screen(desk, "officer-programmes-claim")
            desk.click("#pgo-claims li .pgo-approve")
            visible(desk, "#pgo-claims-empty")
            trail = officer(wallet).get("/v1/officer/programme-claims", params={"status": "granted"}).json()
            assert [v["officer"] for v in trail[-1]["photo_views"]] == ["officer1"]
            for _ in range(40):
                app.click("#programmes button.back")
                app.click("#go-programmes")
                visible(app, "section#programmes")
                app.wait_for_selector("#pg-claims li")
                if app.query_selector("#pg-claims li[data-stage='paid']") and resident.balance() == 100:
                    break
                app.wait_for_timeout(250)
            assert resident.balance() == 100
            paid = app.inner_text("#pg-claims")
            assert "ポイントが届きました" in paid and "+50" in paid
            screen(app, "resident-programmes-paid")
