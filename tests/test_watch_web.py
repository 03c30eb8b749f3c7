"""Watch-over end to end in real headless Chromium (issue 19), over the real node, wallet and watch service.

A family registers a ward in the app's みまもり tab. A simulated volunteer walks past the ward, and
the family sees where and when. The family raises a missing alert; the volunteer's app shows the
notice without saying who. The next sighting reaches the family's screen live. The volunteer's day
is settled, and its points show in their app and on the chain. Screens at 360 and 1280 px.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.points import MINTER_ROLE, PointsSystem
from tests.wallet_support import PASSWORD, WalletServer, member, running_wallet
from tests.watch_support import takasago, watch_service
from watch.batches import sign
from watch.rotating_id import rotating_id, window_of

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)
JST = timezone(timedelta(hours=9))


@pytest.fixture(scope="module")
def system(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WalletServer, str, Path]]:
    data = tmp_path_factory.mktemp("watch-web")
    with watch_service(data, "watch-web-token-0123456789") as url:
        env = {"TAKASAGO_WALLET_WATCH_URL": url, "TAKASAGO_WALLET_WATCH_TOKEN_FILE": str(data / "service-token")}
        wallet_gen = running_wallet(points, data / "wallet", "sqlite", **env)
        wallet = next(wallet_gen)
        yield wallet, url, data
        next(wallet_gen, None)


def log_in(page: Any, login: str) -> None:
    page.wait_for_selector("section#login:not([hidden])")
    page.fill("#login-form [name=login]", login)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("section#home:not([hidden])")


def test_a_family_finds_their_ward_and_a_volunteer_is_thanked(
    system: tuple[WalletServer, str, Path], playwright: Any
) -> None:
    wallet, watch_url, data = system
    family, volunteer = member(wallet), member(wallet)
    programme = wallet.points.create_programme(name="みまもり", verifierRole=MINTER_ROLE, rewardPoints=2, rewardUnits=1)
    key = data / "volunteer.pem"
    enrolled = takasago("watch", "enrol-device", "volunteer-phone", "--owner", volunteer.info["short_code"],
                        "--owner-address", volunteer.info["address"], "--key-out", str(key),
                        "--data-dir", str(data / "w"))  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr

    with browser(playwright) as chromium:
        home = open_page(chromium, wallet.url, "/app/")
        log_in(home, family.login_id or "")
        home.click("#go-watch")
        home.wait_for_selector("section#watch:not([hidden])")
        home.check("#watch-register-form [name=consent]")
        home.click("#watch-register-form button[type=submit]")
        home.wait_for_selector("#watch-secret:not([hidden])")
        secret = home.get_attribute("#watch-secret", "data-secret") or ""
        (data / "tag.hex").write_text(secret)

        walked = takasago("watch", "simulate", "--device", "volunteer-phone", "--key", str(key), "--tag-secret",
                          str(data / "tag.hex"), "--minutes", "20", "--url", watch_url)  # fmt: skip
        assert walked.returncode == 0 and "refused" not in walked.stdout, walked.stdout + walked.stderr

        home.click("#watch button.back")  # and back in: the list shows where the ward was last seen
        home.click("#go-watch")
        ward = home.locator("#watch-wards li").first
        home.wait_for_function(
            "(document.querySelector('#watch-wards li') || {}).textContent?.includes('最後に見かけた')"
        )
        assert "最後に見かけた" in ward.inner_text(), walked.stdout
        screen(home, "watch-family")
        ward.click()
        home.wait_for_selector("#watch-sightings li")
        before = home.locator("#watch-sightings li").count()
        home.fill("#watch-alert-form [name=description]", "青い帽子と黄色い傘の小学生")
        home.click("#watch-alert-form button[type=submit]")
        home.wait_for_selector("#watch-clear:not([hidden])")

        # the volunteer's phone: the notice, without a name, a ward or a family
        phone = open_page(chromium, wallet.url, "/app/")
        log_in(phone, volunteer.login_id or "")
        phone.click("#go-watch")
        notice = phone.locator("#watch-notices li").first
        notice.wait_for()
        text = notice.inner_text()
        assert "青い帽子と黄色い傘の小学生" in text and family.info["short_code"] not in text
        screen(phone, "watch-volunteer-notice")

        # the next sighting reaches the family's open screen live
        now = int(time.time())
        sighting = {"id": rotating_id(bytes.fromhex(secret), window_of(now)).hex(), "at": now, "lat": 34.7565,
                    "lon": 134.8005}  # fmt: skip
        seq = int((data / "volunteer.seq").read_text()) + 1
        (data / "volunteer.seq").write_text(str(seq))
        body = json.dumps({"device": "volunteer-phone", "seq": seq, "sent_at": now, "sightings": [sighting]}).encode()
        private = load_pem_private_key(key.read_bytes(), None)
        sent = httpx.post(watch_url + "/v1/batches", content=body, headers={"X-Watch-Signature": sign(private, body)})  # type: ignore[arg-type]
        assert sent.status_code == 200 and sent.json()["kept"] == 1, sent.text
        home.wait_for_function(f"document.querySelectorAll('#watch-sightings li').length > {before}", timeout=15_000)
        assert home.locator("#watch-sightings li").first.get_attribute("data-at") == str(now)
        screen(home, "watch-ward-live")
        home.click("#watch-clear")
        home.wait_for_selector("#watch-alert-form:not([hidden])")

        # the volunteer's day is settled (all day counts here); the points show in the app and on the chain
        today = datetime.now(JST).date().isoformat()
        settled = takasago("watch", "settle", "--day", today, "--programme", str(programme), "--hours", "0-24",
                           "--rpc-url", wallet.points.node.url, "--deployments", str(wallet.points.deployments_dir),
                           "--dev-keys", str(wallet.points.node.data_dir / "dev-keys.json"),
                           "--data-dir", str(data / "w"))  # fmt: skip
        assert settled.returncode == 0 and "1 paid" in settled.stdout, settled.stdout + settled.stderr
        phone.click("#watch button.back")
        phone.click("#go-watch")
        day = phone.locator("#watch-days li").first
        day.wait_for()
        assert "pt" in day.inner_text()
        shown = day.inner_text().replace(",", "")
        screen(phone, "watch-volunteer-days")
        assert not home.errors and not phone.errors
    earned = wallet.points.balance(volunteer.info["address"])
    assert earned > 0 and f"{earned} pt" in shown, shown
    assert wallet.points.balance(family.info["address"]) == 0
    # nothing about the ward on the chain: no secret, no rotating id, no place, in any transaction or log
    w3 = wallet.points.w3
    chain_text = []
    for number in range(w3.eth.block_number + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        chain_text += [bytes(tx["input"]).hex() for tx in block["transactions"]]
    chain_text += [bytes(log["data"]).hex() + "".join(bytes(t).hex() for t in log["topics"])
                   for log in w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"})]  # fmt: skip
    everything = " ".join(chain_text)
    now_window = window_of(int(time.time()))
    for needle in [secret, rotating_id(bytes.fromhex(secret), now_window).hex(), b"34.7565".hex(),
                   "青い帽子".encode().hex()]:  # fmt: skip
        assert needle not in everything
