"""My CO2 end to end in Chromium (issue 21): a resident links their meter with the consent shown, the officer
approves it on the desk, the real oracle settles two months on the real node from the wallet's approved list,
and the resident sees last month's kWh, CO2 and points and why the month before did not count (in Japanese
and English); then withdraws the consent from the same screen. Screenshots at 360 and 1280 px."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oracle.generator import generate
from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.co2_support import Settler, running_oracle, service_token
from tests.points import PointsSystem
from tests.wallet_support import OFFICER_PASSWORD, WalletServer, member, running_wallet, shared_points

# the worker's shared chain (no deployment of its own); the wallets stay this module's own
# (with its own oracle)
points = shared_points

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


@pytest.fixture(scope="module")
def co2_web(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("co2-web")
    oracle_dir = data / "oracle"
    oracle_dir.mkdir()
    token = service_token(data / "secrets")
    with running_oracle(oracle_dir, token) as oracle_url:
        env = {"TAKASAGO_WALLET_ORACLE_URL": oracle_url, "TAKASAGO_WALLET_ORACLE_TOKEN_FILE": str(token)}
        for wallet in running_wallet(points, data / "wallet", "sqlite", **env):
            yield {"wallet": wallet, "oracle_dir": oracle_dir, "token": token}


def visible(page: Any, selector: str, timeout: float = 15_000) -> None:
    page.wait_for_selector(f"{selector}:not([hidden])", timeout=timeout)


def log_in(page: Any, login: str, password: str) -> None:
    visible(page, "section#login")
    page.fill("#login-form [name=login]", login)
    page.fill("#login-form [name=password]", password)
    page.click("#login-form button[type=submit]")


def test_a_resident_links_the_officer_approves_a_month_is_settled_and_the_resident_sees_it(
    co2_web: dict[str, Any], points: PointsSystem, playwright: Any
) -> None:
    wallet: WalletServer = co2_web["wallet"]
    resident = member(wallet)
    november = generate(2, 2026, 11, seed=83)
    october = generate(2, 2026, 10, seed=83, faults={0: {"gaps"}})
    meter = november[0].meter_id
    with browser(playwright) as chromium:
        app = open_page(chromium, wallet.url, "/app/")
        log_in(app, str(resident.login_id), resident.password)
        visible(app, "section#home")
        app.click("#go-co2")
        visible(app, "section#co2")
        visible(app, "#co2-enrol")
        assert "同意" in app.inner_text("#co2-consent-text") and "台帳" in app.inner_text("#co2-consent-text")
        visible(app, "#co2-months-empty")

        # linking without ticking the consent is refused with the API's words; nothing is linked
        app.fill("#co2-household", meter)
        app.click("#co2-enrol button[type=submit]")
        visible(app, "#co2-error")
        assert app.get_attribute("#co2-error", "data-code") == "CO2_CONSENT_REQUIRED"
        assert "同意" in app.inner_text("#co2-error")
        screen(app, "resident-co2-consent")
        app.check("#co2-consent")
        app.click("#co2-enrol button[type=submit]")
        app.wait_for_selector("#co2-link[data-status=pending]:not([hidden])")
        assert meter in app.inner_text("#co2-link-state") and app.is_visible("#co2-revoke")
        assert app.is_hidden("#co2-enrol")
        screen(app, "resident-co2-pending")

        # the officer approves it on the desk (the meters as the gateway registry lists them)
        desk = open_page(chromium, wallet.url, "/officer/", width=1280)
        log_in(desk, "officer1", OFFICER_PASSWORD)
        visible(desk, "#co2-desk")
        item = f"#co2-pending li:has-text('{meter}')"
        desk.wait_for_selector(item)
        assert resident.info["short_code"] in desk.inner_text(item)
        assert desk.input_value(f"{item} .co2-approve input[name=meters]") == meter
        screen(desk, "officer-co2-desk")
        desk.click(f"{item} .co2-approve button")
        visible(desk, "#co2-notice")
        desk.wait_for_selector(f"#co2-approved li:has-text('{meter}')")
        assert desk.is_visible("#co2-pending-empty") or meter not in desk.inner_text("#co2-pending")
        screen(desk, "officer-co2-approved")

        # the real oracle settles November (counted) and October (too few readings) on the real node
        settler = Settler(points, co2_web["oracle_dir"], co2_web["token"], wallet.url)
        history = {h.meter_id: {"2025-11": h.true_wh + 50_000} for h in november}  # last November: 50 kWh more
        settled = settler.settle("2026-11", november, history)
        assert settled.returncode == 0, settled.stdout + settled.stderr
        assert settler.settle("2026-10", october).returncode == 2  # nothing earned: no report, reasons kept
        assert points.balance(resident.info["address"]) == 175  # 50 kWh × 350 g = 17.5 kg → 175 points

        # the resident sees last month's kWh, CO2 and points, the city's total, and October's reason
        app.click("#co2 button.back")
        visible(app, "section#home")
        app.click("#go-co2")
        app.wait_for_selector("#co2-months li[data-month='2026-11']")
        app.wait_for_selector("#co2-link[data-status=approved]:not([hidden])")
        counted = app.inner_text("#co2-months li[data-month='2026-11']")
        used = f"{november[0].true_wh / 1000:,.1f}"
        assert used in counted and "削減 50.0 kWh" in counted and "CO2 17.5 kg" in counted, counted
        assert "175 pt" in counted and "市全体" in counted
        excluded = app.inner_text("#co2-months li[data-month='2026-10']")
        assert "計測データが不足していました（95 %未満）" in excluded and "どうすれば" in excluded, excluded
        screen(app, "resident-co2-months")
        app.click("#lang-toggle")
        app.wait_for_selector("#co2-months li[data-month='2026-10'] .co2-reason:has-text('Not enough meter data')")
        english = app.inner_text("#co2-months")
        assert (
            "Saved 50.0 kWh / CO2 17.5 kg" in english and "What to do" in english and "Points earned: 175 pt" in english
        )
        screen(app, "resident-co2-months-english")
        app.click("#lang-toggle")

        # withdrawn from the same screen (asked twice); the months already settled stay to be seen
        app.wait_for_selector("#co2-revoke:not([hidden])")
        app.click("#co2-revoke")
        assert "もう一度" in app.inner_text("#co2-revoke")
        app.click("#co2-revoke")
        app.wait_for_selector("#co2-link[data-status=revoked]:not([hidden])")
        assert app.is_visible("#co2-enrol") and app.locator("#co2-months li").count() == 2  # past months stay
        screen(app, "resident-co2-revoked")
        assert not app.errors and not desk.errors
