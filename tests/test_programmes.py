"""Programmes, claims with a photo, and QR check-in at events (issue 21), on SQLite and PostgreSQL, over the real node.

A resident lists what is open to her, with the rules in plain words and her points against
the monthly cap; a claim without the photo the programme asks for is refused; her photo
(stripped of its GPS tag, sealed) is shown to the deciding officer only, each showing on the
trail; a claim rejected says why; one approved pays once, and the points that arrived are
shown. At an event the organiser's QR (signed, expiring) checks a resident in once: a second
scan, an altered code, an expired one and an event outside its time are refused and move
nothing, and the cap holds for a check-in too. Then the same in real Chromium on SQLite: the
officer shows the event's QR, the resident checks in by camera once, claims with a photo, and
the officer opens it and approves (one wallet per database for the whole module: the suite's
time budget).
"""

from __future__ import annotations

import io
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import keccak
from PIL import Image

from tests.points import CAP_MONTH, MINTER_ROLE, programme_tuple
from tests.wallet_support import (
    OFFICER_PASSWORD,
    PASSWORD,
    Api,
    WalletServer,
    error_code,
    member,
    officer,
    settled,
    shared_points,
    shared_wallet,
)
from wallet_api.checkin import EventCodes, checkin_claim_id

points, wallet = shared_points, shared_wallet  # this module runs on the worker's shared chain and wallets

COMMUNITY_VERIFIER = keccak(text="COMMUNITY_VERIFIER_ROLE")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # as tests/browser_support.py finds it


def photo_with_gps() -> bytes:
    """A small JPEG carrying an EXIF GPS block, as a phone's camera writes it."""
    image = Image.new("RGB", (64, 48), (40, 120, 60))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (34.0, 45.0, 30.0), 3: "E", 4: (134.0, 47.0, 0.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def upload(api: Api, data: bytes, media_type: str) -> httpx.Response:
    return api.client.post("/v1/claim-photos", content=data, headers={**api.headers(), "Content-Type": media_type})


def mine(api: Api, claim_id: str) -> dict[str, object]:
    return next(c for c in api.get("/v1/programme-claims").json() if c["id"] == claim_id)


def test_claims_with_evidence_and_their_photo_trail(wallet: WalletServer) -> None:
    points = wallet.points
    cleanup = points.create_programme(name="河川敷清掃ボランティア", verifierRole=COMMUNITY_VERIFIER, rewardPoints=50,
                                      capPerPeriod=120, capPeriod=CAP_MONTH)  # fmt: skip
    automatic = points.create_programme(name="CO2削減（スマートメーター）", verifierRole=MINTER_ROLE)
    desk = officer(wallet)
    rules = desk.client.put(f"/v1/officer/programmes/{cleanup}/rules", headers=desk.headers(), json={
        "category": "volunteer", "evidence": "photo", "description_ja": "加古川の河川敷の清掃",
        "description_en": "Cleaning the Kakogawa river bank"})  # fmt: skip
    assert rules.status_code == 200, rules.text
    hana = member(wallet)

    # what is open to me: claimable ones first, the rules in plain words, my progress against the cap
    listed = {p["id"]: p for p in hana.get("/v1/programmes").json()}
    mine_first = listed[cleanup]
    assert mine_first["claimable"] and mine_first["open"] and mine_first["category"] == "volunteer"
    assert (
        "1回につき 50 ポイント" in mine_first["rules"]["ja"]
        and "上限は1か月 120 ポイントまで" in mine_first["rules"]["ja"]
    )
    assert "写真" in mine_first["rules"]["ja"] and "at most 120 points a month" in mine_first["rules"]["en"]
    assert (mine_first["granted_this_period"], mine_first["left_this_period"]) == (0, 120)
    assert not listed[automatic]["claimable"] and "自動" in listed[automatic]["rules"]["ja"]
    auto_claim = hana.post("/v1/programme-claims", {"programme_id": automatic, "evidence": "x"}, key=None)
    assert error_code(auto_claim) == "PROGRAMME_NOT_CLAIMABLE"
    # a shop's own programme (paid from its points) names a verifier role the wallet holds: still not the wallet's
    bakery = points.merchant()
    params = {"name": "パン屋のエコバッグ", "verifierRole": COMMUNITY_VERIFIER, "rewardPoints": 5, "rewardUnits": 1,
              "capPerPeriod": 0, "capPeriod": CAP_MONTH, "budget": 1_000, "startsAt": points.now() - 60,
              "endsAt": 2**40 - 1, "expiryPolicy": 1, "expiryDays": 365}  # fmt: skip
    receipt = points.send(bakery, points.programmes.functions.createBusinessProgramme(programme_tuple(params)))
    (created,) = points.events(receipt, points.programmes, "BusinessProgrammeCreated")
    shop_programme = int(created["args"]["programmeId"])
    shop_listed = next(p for p in hana.get("/v1/programmes").json() if p["id"] == shop_programme)
    assert not shop_listed["claimable"] and "お店・事業者" in shop_listed["rules"]["ja"]
    shop_claim = hana.post("/v1/programme-claims", {"programme_id": shop_programme, "evidence": "x"}, key=None)
    assert error_code(shop_claim) == "PROGRAMME_NOT_CLAIMABLE"

    # a claim without the photo the programme asks for: refused with a clear message, by either route
    bare = hana.post("/v1/programme-claims", {"programme_id": cleanup, "units": 2, "evidence": "5/3 清掃"}, key=None)
    assert bare.status_code == 422 and error_code(bare) == "EVIDENCE_PHOTO_REQUIRED"
    assert "写真" in bare.json()["error"]["messages"]["ja"] and "photo" in bare.json()["error"]["messages"]["en"]
    old_route = hana.post("/v1/claims", {"programme_id": cleanup, "units": 2, "evidence": "5/3 清掃"}, key=None)
    assert error_code(old_route) == "EVIDENCE_PHOTO_REQUIRED"

    # the photo: its type judged from its bytes, its size bounded, its GPS tag dropped
    assert error_code(upload(hana, b"not an image at all", "image/png")) == "PHOTO_TYPE"
    jpeg = photo_with_gps()
    assert error_code(upload(hana, jpeg, "image/png")) == "PHOTO_TYPE"  # the declared type must be the real one
    assert upload(hana, jpeg + b"\0" * 70_000, "image/jpeg").status_code == 413
    stored = upload(hana, jpeg, "image/jpeg")
    assert stored.status_code == 201 and stored.json()["media_type"] == "image/jpeg", stored.text
    photo = stored.json()["id"]
    claim = hana.post("/v1/programme-claims", {"programme_id": cleanup, "units": 2, "evidence": "5/3 清掃 2時間",
                                               "photo_id": photo}, key=None)  # fmt: skip
    assert claim.status_code == 201 and claim.json()["stage"] == "submitted" and claim.json()["has_photo"], claim.text
    claim_id = claim.json()["id"]
    reused = hana.post("/v1/programme-claims", {"programme_id": cleanup, "evidence": "again", "photo_id": photo},
                       key=None)  # fmt: skip
    assert error_code(reused) == "PHOTO_UNKNOWN"
    taro = member(wallet)
    second_photo = upload(hana, jpeg, "image/jpeg").json()["id"]
    stolen = taro.post("/v1/programme-claims", {"programme_id": cleanup, "evidence": "x", "photo_id": second_photo},
                       key=None)  # fmt: skip
    assert error_code(stolen) == "PHOTO_UNKNOWN"
    other = hana.post("/v1/programme-claims", {"programme_id": cleanup, "evidence": "5/10 清掃",
                                               "photo_id": second_photo}, key=None).json()  # fmt: skip

    # the photo is for officers only; each showing is on the claim's trail and the officers' read trail
    assert error_code(hana.get(f"/v1/officer/programme-claims/{claim_id}/photo")) == "FORBIDDEN"
    shown = desk.get(f"/v1/officer/programme-claims/{claim_id}/photo")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert shown.headers["cache-control"] == "no-store"
    with Image.open(io.BytesIO(shown.content)) as seen:
        assert seen.size == (64, 48) and 0x8825 not in seen.getexif()  # no location left in it
    queue = {c["id"]: c for c in desk.get("/v1/officer/programme-claims").json()}
    assert [v["officer"] for v in queue[claim_id]["photo_views"]] == ["officer1"]
    assert queue[claim_id]["resident"] == hana.info["short_code"] and queue[claim_id]["has_photo"]
    reads = desk.get("/v1/officer/reads", params={"limit": 5}).json()
    assert any("claim photo" in r["reason"] and r["account_login"] == hana.login_id for r in reads), reads

    # rejected: only with a reason, which the resident sees; approved: paid once, the points shown
    no_reason = desk.post(f"/v1/officer/programme-claims/{other['id']}/decision", {"approve": False})
    assert error_code(no_reason) == "REJECT_REASON_REQUIRED"
    rejected = desk.post(f"/v1/officer/programme-claims/{other['id']}/decision",
                         {"approve": False, "reason": "写真から活動が確認できません"})  # fmt: skip
    assert rejected.status_code == 200 and rejected.json()["stage"] == "rejected", rejected.text
    assert mine(hana, other["id"])["reason"] == "写真から活動が確認できません"
    approved = desk.post(f"/v1/officer/programme-claims/{claim_id}/decision", {"approve": True})
    assert approved.status_code == 200 and approved.json()["status"] in ("approving", "granted"), approved.text
    for _ in range(40):
        if mine(hana, claim_id)["stage"] == "paid":
            break
        time.sleep(0.25)
    assert mine(hana, claim_id)["stage"] == "paid" and mine(hana, claim_id)["points"] == 100
    assert hana.balance() == 100
    again = desk.post(f"/v1/officer/programme-claims/{claim_id}/decision", {"approve": True})
    assert error_code(again) == "CLAIM_NOT_PENDING" and hana.balance() == 100
    progress = next(p for p in hana.get("/v1/programmes").json() if p["id"] == cleanup)
    assert (progress["granted_this_period"], progress["left_this_period"]) == (100, 20)

    # once decided, only the officer who decided may see the photo again
    wallet.cli("add-officer", "officer2", "--name", "Officer Two", "--data-dir", str(wallet.data_dir),
               "--database-url", wallet.database_url)  # fmt: skip
    second = Api(wallet, "officer2", desk.password)
    assert second.login().status_code == 200
    assert error_code(second.get(f"/v1/officer/programme-claims/{claim_id}/photo")) == "PHOTO_NOT_YOURS"
    assert desk.get(f"/v1/officer/programme-claims/{claim_id}/photo").status_code == 200


def test_event_check_in_by_signed_qr_pays_once(wallet: WalletServer) -> None:
    points = wallet.points
    morning = points.create_programme(name="ボランティア活動", verifierRole=COMMUNITY_VERIFIER, rewardPoints=50,
                                      capPerPeriod=80, capPeriod=CAP_MONTH)  # fmt: skip
    automatic = points.create_programme(name="自動付与", verifierRole=MINTER_ROLE)
    desk = officer(wallet)
    now = datetime.now(UTC)
    window = {"starts_at": (now - timedelta(minutes=5)).isoformat(), "ends_at": (now + timedelta(hours=2)).isoformat()}

    def event(**body: object) -> httpx.Response:
        return desk.post("/v1/organiser/events", {"programme_id": morning, "title": "高砂海岸清掃", "points": 50,
                                                  **window, **body}, key=None)  # fmt: skip

    assert error_code(event(points=30)) == "EVENT_POINTS_UNREACHABLE"  # 50 per unit: 30 cannot be given exactly
    assert error_code(event(programme_id=automatic)) == "PROGRAMME_NOT_CLAIMABLE"
    assert error_code(event(ends_at=(now - timedelta(minutes=1)).isoformat())) == "EVENT_WINDOW_INVALID"
    created = event()
    assert created.status_code == 201, created.text
    beach = created.json()["id"]
    later = event(title="夕方の部", starts_at=(now + timedelta(hours=1)).isoformat()).json()["id"]
    resident = member(wallet)
    assert error_code(resident.post("/v1/organiser/events", {"programme_id": morning, "title": "x", "points": 50,
                                                             **window}, key=None)) == "FORBIDDEN"  # fmt: skip

    shown = desk.get(f"/v1/organiser/events/{beach}/qr").json()
    code = shown["code"]
    assert code.startswith(f"takasago-event:{beach}.") and shown["rotate_seconds"] == 60
    assert shown["expires_at"] - now.timestamp() <= 95 and shown["svg"].lstrip().startswith("<?xml")

    # altered: the id, the expiry or the tag changed; expired: a genuine code past its minute and a half
    event_part, expires, tag = code.removeprefix("takasago-event:").split(".")
    altered = [f"takasago-event:{later}.{expires}.{tag}", f"takasago-event:{event_part}.{int(expires) + 600}.{tag}",
               code[:-2] + ("AA" if not code.endswith("AA") else "BB"), "https://example.com/checkin"]  # fmt: skip
    for text in altered:
        refused = resident.post("/v1/checkins", {"code": text})
        assert refused.status_code == 400 and error_code(refused) == "EVENT_QR_INVALID", text
        assert "改ざん" in refused.json()["error"]["messages"]["ja"]
    secret = (wallet.data_dir / "token-secret").read_text().strip().encode()
    stale = EventCodes(secret).issue(beach, int(now.timestamp()) - 30)
    expired = resident.post("/v1/checkins", {"code": stale})
    assert expired.status_code == 410 and error_code(expired) == "EVENT_QR_EXPIRED"
    not_yet = resident.post("/v1/checkins", {"code": desk.get(f"/v1/organiser/events/{later}/qr").json()["code"]})
    assert error_code(not_yet) == "EVENT_NOT_OPEN" and "受付時間外" in not_yet.json()["error"]["messages"]["ja"]
    assert resident.balance() == 0

    # the first scan pays; the second (a new press, a new key) is refused and moves nothing
    first = resident.post("/v1/checkins", {"code": code})
    assert first.status_code in (200, 202), first.text
    assert settled(resident, first)["status"] == "confirmed" and first.json()["event"]["title"] == "高砂海岸清掃"
    assert resident.balance() == 50
    second = resident.post("/v1/checkins", {"code": code})
    assert second.status_code == 409 and error_code(second) == "CHECKIN_ALREADY"
    messages = second.json()["error"]["messages"]
    assert "1人1回" in messages["ja"] and "once per person" in messages["en"]
    assert resident.balance() == 50
    # on-chain too: the claim id is the (event, resident) pair's, already used
    events = desk.get("/v1/organiser/events").json()
    assert next(e for e in events if e["id"] == beach)["checkins"] == 1
    record = next(c for c in resident.get("/v1/programme-claims").json() if c["event"] == "高砂海岸清掃")
    assert record["stage"] == "paid" and record["points"] == 50
    assert points.programmes.functions.isClaimed(morning, checkin_claim_id(1, resident_row_id(wallet, resident))).call()

    # where to go: events not yet over, soonest first, and whether I already checked in
    upcoming = {e["title"]: e["checked_in"] for e in resident.get("/v1/events").json()}
    assert upcoming["高砂海岸清掃"] is True and upcoming["夕方の部"] is False

    # the cap holds for a check-in: a resident with 50 of 80 this month gets 30 more, not 50
    neighbour = member(wallet)
    assert settled(neighbour, neighbour.post("/v1/checkins", {"code": code}))["status"] == "confirmed"
    other = event(title="公園清掃").json()["id"]
    capped = neighbour.post("/v1/checkins", {"code": desk.get(f"/v1/organiser/events/{other}/qr").json()["code"]})
    assert settled(neighbour, capped)["status"] == "confirmed"
    assert neighbour.balance() == 80
    progress = next(p for p in neighbour.get("/v1/programmes").json() if p["id"] == morning)
    assert (progress["granted_this_period"], progress["left_this_period"]) == (80, 0)


def visible(page: Any, selector: str, timeout: float = 20_000) -> None:
    page.wait_for_selector(f"{selector}:not([hidden])", timeout=timeout)


def log_in(page: Any, login: str, password: str) -> None:
    visible(page, "section#login")
    page.fill("#login-form [name=login]", login)
    page.fill("#login-form [name=password]", password)
    page.click("#login-form button[type=submit]")


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium")
def test_in_chromium_check_in_by_camera_once_and_a_photo_claim_decided_on_the_desk(
    wallet: WalletServer, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The apps in real Chromium, on SQLite only (the same API paths run on both databases above).

    An officer creates an event and shows its QR on the desk; a resident checks in by camera (the
    QR fed as the fake camera) and gets the points exactly once, a second scan refused on screen.
    She claims with a photo from the app; the officer opens the photo (recorded) and approves; the
    app shows the points arrived. Screenshots at 360 px and 1280 px.
    """
    if not wallet.database_url.startswith("sqlite"):
        pytest.skip("the browser runs against the SQLite wallet; the API paths are tested on both databases")
    from tests.browser_support import browser, open_page, screen
    from tests.qr_video import write_qr_video

    playwright = request.getfixturevalue("playwright")
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
        ours = "#pgo-events li:has-text('海岸清掃（朝の部）') .pgo-show-qr"  # the list also holds earlier events
        desk.wait_for_selector(ours)
        desk.click(ours)
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
            assert "海岸清掃（朝の部）" in app.inner_text("#pg-events")
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


def resident_row_id(wallet: WalletServer, api: Api) -> int:
    """The resident's row id in the wallet's database (the claim id is derived from it)."""
    from sqlalchemy import text

    from wallet_api.db.engine import make_engine

    engine = make_engine(wallet.database_url)
    try:
        with engine.connect() as db:
            return int(db.execute(text("SELECT id FROM users WHERE login = :l"), {"l": api.login_id}).scalar_one())
    finally:
        engine.dispose()


def test_an_event_code_is_genuine_only_as_issued_and_only_until_it_expires() -> None:
    """The QR's signature alone (no server): any change to the id, the expiry or the key breaks it."""
    from wallet_api.errors import ApiError

    codes = EventCodes(b"s" * 48)
    event = "0b6e4f00-1111-4222-8333-944455556666"
    code = codes.issue(event, 2_000_000_000)
    assert codes.verify(code, 1_999_999_999) == event
    for forged in (code.replace(event, event[:-1] + "7"), code.replace("2000000000", "2000000001"),
                   EventCodes(b"t" * 48).issue(event, 2_000_000_000), code + "x", code.upper()):  # fmt: skip
        with pytest.raises(ApiError) as refused:
            codes.verify(forged, 1_999_999_999)
        assert refused.value.code == "EVENT_QR_INVALID", forged
    with pytest.raises(ApiError) as late:
        codes.verify(code, 2_000_000_001)
    assert late.value.code == "EVENT_QR_EXPIRED"
