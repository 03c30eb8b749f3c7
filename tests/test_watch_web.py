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
        # and the volunteer's notice centre has it too (the description only); the family's does not
        nearby = [n for n in volunteer.get("/v1/notices").json()["items"] if n["kind"] == "watch_nearby"]
        told = json.dumps(nearby[0]["texts"], ensure_ascii=False) if nearby else ""
        assert len(nearby) == 1 and "青い帽子と黄色い傘の小学生" in told, nearby
        assert family.info["short_code"] not in json.dumps(nearby)
        assert not [n for n in family.get("/v1/notices").json()["items"] if n["kind"] == "watch_nearby"]

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
    # and nothing in the indexer: index the whole chain, then search every row of its database
    import sqlite3

    from tests.explorer_support import running_explorer

    index_dir = data / "indexer"
    index_dir.mkdir()
    database = index_dir / "index.db"
    for explorer in running_explorer(wallet.points, index_dir, f"sqlite:///{database}", {}):
        explorer.caught_up(timeout=120)
        with sqlite3.connect(database) as db:
            dump = "\n".join(db.iterdump())
        log = explorer.log()
    assert "Attested" in dump or "attest" in dump.lower()  # the volunteer's points were indexed
    wards = httpx.get(
        watch_url + "/v1/families/wards",
        headers={"X-Watch-Service-Token": "watch-web-token-0123456789", "X-Watch-Member": family.info["short_code"]},
    ).json()
    for needle in [secret, rotating_id(bytes.fromhex(secret), now_window).hex(), "34.7565", "134.8005", "青い帽子",
                   wards[0]["id"]]:  # fmt: skip
        assert needle not in dump and needle not in log, needle


def test_a_volunteer_enrols_a_detector_and_the_city_reads_an_alert_on_the_officer_desk(
    system: tuple[WalletServer, str, Path], playwright: Any
) -> None:
    """The app enrols a detector by its public key and switches watch mode; the officer desk lists the alert,
    opens its sightings only with a reason, shares it with the police as the family allowed, shows coverage
    and sets the rules; every reading is on the desk's trail. A resident cannot reach the desk's API."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from tests.wallet_support import OFFICER_PASSWORD

    wallet, watch_url, data = system
    family, volunteer = member(wallet), member(wallet)
    phone_key = Ed25519PrivateKey.generate()
    public = base64.b64encode(phone_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    with browser(playwright) as chromium:
        app = open_page(chromium, wallet.url, "/app/")
        log_in(app, volunteer.login_id or "")
        app.click("#go-watch")
        app.wait_for_selector("#watch-devices-empty:not([hidden])")
        app.click("#watch-enrol summary")
        app.fill("#watch-enrol-form [name=public_key]", public)
        app.fill("#watch-enrol-form [name=label]", "わたしのスマホ")
        app.click("#watch-enrol-form button[type=submit]")
        app.wait_for_selector("#watch-enrolled:not([hidden])")
        device = (app.text_content("#watch-enrolled") or "").rsplit(": ", 1)[1].strip()
        row = app.locator(f"#watch-devices li[data-device='{device}']")
        assert "みまもり中" in row.inner_text() and "わたしのスマホ" in row.inner_text()
        row.locator("input[type=checkbox]").uncheck()
        app.wait_for_function(
            f"document.querySelector(\"#watch-devices li[data-device='{device}']\").innerText.includes('休止中')"
        )
        row.locator("input[type=checkbox]").check()
        app.wait_for_function(
            f"document.querySelector(\"#watch-devices li[data-device='{device}']\").innerText.includes('みまもり中')"
        )
        assert "きょうのみまもり時間" in (app.text_content("#watch-today") or "")
        screen(app, "watch-volunteer-devices")

        # the family's ward is heard by that phone; the family raises an alert, allowing the police to see it
        ward = family.post("/v1/watch/wards", {"consent": True}, key=None).json()
        now = int(time.time())
        tag = bytes.fromhex(ward["secret"])
        heard = {"id": rotating_id(tag, window_of(now - 3)).hex(), "at": now - 3, "lat": 34.7545, "lon": 134.7805}
        body = json.dumps({"device": device, "seq": 1, "sent_at": now, "lat": 34.7545, "lon": 134.7805,
                           "sightings": [heard]}).encode()  # fmt: skip
        assert httpx.post(watch_url + "/v1/batches", content=body,
                          headers={"X-Watch-Signature": sign(phone_key, body)}).json()["kept"] == 1  # fmt: skip
        raised = family.post(f"/v1/watch/wards/{ward['ward']}/alert",
                             {"description": "白い帽子の高齢男性", "share_outside": True}, key=None)  # fmt: skip
        assert raised.status_code == 201, raised.text
        assert family.get("/v1/officer/watch/alerts").status_code == 403  # a resident is not the city

        desk = open_page(chromium, wallet.url, "/officer/", width=1280)
        desk.wait_for_selector("section#login:not([hidden])")
        desk.fill("#login-form [name=login]", "officer1")
        desk.fill("#login-form [name=password]", OFFICER_PASSWORD)
        desk.click("#login-form button[type=submit]")
        alert = desk.locator(f"#ow-alerts li[data-alert='{raised.json()['alert']}']")
        alert.wait_for()
        assert "白い帽子の高齢男性" in alert.inner_text() and family.info["short_code"] in alert.inner_text()
        alert.locator(".ow-open [name=reason]").fill("家族から電話で捜索依頼")
        alert.locator(".ow-open button").click()
        desk.wait_for_selector("#ow-sightings:not([hidden]) li")
        assert desk.locator("#ow-sightings-list li").first.get_attribute("data-at") == str(now - 3)
        alert.locator(".ow-share [name=granted_to]").fill("高砂警察署")
        alert.locator(".ow-share button").click()
        desk.wait_for_selector("#ow-share-link:not([hidden])")
        link = (desk.text_content("#ow-share-link") or "").split(": ", 1)[1].strip()
        police = httpx.get(link)  # the police open the link: no log-in, the alert's sightings only
        assert police.status_code == 200 and police.json()["description"] == "白い帽子の高齢男性"
        assert family.info["short_code"] not in police.text
        desk.wait_for_selector("#ow-coverage tr[data-district='arai'] td[data-hour]")
        desk.fill("#ow-rules-form [name=hours]", "7-9,15-18")
        desk.fill("#ow-rules-form [name=max_minutes_per_day]", "180")
        desk.click("#ow-rules-form button[type=submit]")
        desk.wait_for_selector("#ow-rules-notice:not([hidden])")
        desk.wait_for_selector("#ow-trail li[data-action='set_rules']")
        trail = desk.locator("#ow-trail").inner_text()
        assert "家族から電話で捜索依頼" in trail and "share:高砂警察署" in trail and "officer:officer1" in trail
        screen(desk, "watch-officer-desk")
        assert not app.errors and not desk.errors
    assert volunteer.get("/v1/watch/today").json()["max_minutes"] == 180
