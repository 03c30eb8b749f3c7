"""The wallet's research side (issue 22), on SQLite and PostgreSQL over the real node: what a resident
shares (district and 10-year age band, never the address or birth date), the opt-out honoured by
the feed, the Well-being survey at most once a year, and the feed only for the data platform,
read by the platform's own pull into its store."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics import feeds
from analytics import pseudonyms as platform_side
from analytics.warehouse import DuckWarehouse
from tests.co2_support import service_token
from tests.points import PointsSystem
from tests.wallet_support import PASSWORD, WalletServer, error_code, member, running_wallet
from wallet_api import research_feed as wallet_side


def test_both_sides_derive_the_same_token_and_pseudonyms() -> None:
    secret = b"0123456789abcdef-shared"
    address = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"
    assert wallet_side.feed_token(secret) == platform_side.feed_token(secret)
    assert wallet_side.pseudonym(wallet_side.pseudonym_key(secret), address) == platform_side.pseudonym(
        platform_side.pseudonym_key(secret), address
    )
    # the vector: a change on either side breaks the join between chain activity and attributes
    assert platform_side.pseudonym(platform_side.pseudonym_key(secret), address) == (
        wallet_side.pseudonym(wallet_side.pseudonym_key(secret), address.lower())
    )
    assert wallet_side.districts() == __import__("analytics.census", fromlist=["districts"]).districts()
    assert wallet_side.district_of("兵庫県高砂市阿弥陀町阿弥陀1-2") == "28216-0080"
    assert wallet_side.district_of("兵庫県加古川市") == "-"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def wallet(
    request: pytest.FixtureRequest, points: PointsSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WalletServer, bytes]]:
    directory = tmp_path_factory.mktemp(f"research-{request.param}")
    secret = secrets.token_urlsafe(32).encode()
    secret_file = directory / "research-secret"
    secret_file.write_bytes(secret)
    secret_file.chmod(0o600)
    oracle_token = service_token(directory / "secrets")  # the oracle's list of households (issue 22: districts)
    for server in running_wallet(
        points, directory, request.param, TAKASAGO_WALLET_RESEARCH_SECRET_FILE=str(secret_file),
        TAKASAGO_WALLET_ORACLE_TOKEN_FILE=str(oracle_token), TAKASAGO_WALLET_ORACLE_URL="http://127.0.0.1:9",
    ):  # fmt: skip
        yield server, secret


def test_a_resident_sees_what_is_shared_answers_once_a_year_and_can_opt_out(
    wallet: tuple[WalletServer, bytes], tmp_path: Path
) -> None:
    server, secret = wallet
    key = platform_side.pseudonym_key(secret)
    token = platform_side.feed_token(secret)
    hana, jiro = member(server), member(server)  # both live in 荒井町 and were born on 1980-04-01
    shop = member(server, "merchant", shop="高砂ベーカリー")
    shared = hana.get("/v1/research/me").json()
    assert (shared["district"], shared["district_name"], shared["age_band"]) == (
        "28216-0020", {"ja": "荒井町", "en": "Arai"}, "40-49")  # fmt: skip
    assert shared["opted_out"] is False and shared["survey_answered"] is False and shared["card"] is False
    assert "address" not in str(shared) and "1980" not in str(shared)
    assert error_code(shop.get("/v1/research/me")) == "FORBIDDEN"

    # the feed: only for the data platform's token, accounts by pseudonym, no personal data
    refused = server_get(server, "/v1/research/attributes", None)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "RESEARCH_FEED_REFUSED"
    assert refused.json()["error"]["messages"]["en"] and refused.json()["error"]["messages"]["ja"]
    assert server_get(server, "/v1/research/attributes", "wrong").status_code == 401
    feed = server_get(server, "/v1/research/attributes", token).json()
    by_id = {row["id"]: row for row in feed["accounts"]}
    hana_id = platform_side.pseudonym(key, hana.info["address"])
    jiro_id = platform_side.pseudonym(key, jiro.info["address"])
    assert by_id[hana_id] == {"id": hana_id, "district": "28216-0020", "age_band": "40-49", "card": False}
    assert platform_side.pseudonym(key, shop.info["address"]) not in by_id  # shops are not residents
    assert hana.info["address"].lower() not in str(feed).lower()
    assert server_get(server, "/v1/research/attributes?after=x", token).status_code == 422

    # the survey: scores 0-10 for known items, once per JST year, stored without the resident
    assert error_code(hana.post("/v1/research/survey", {"answers": {"life_satisfaction": 11}})) == "VALIDATION_ERROR"
    assert error_code(hana.post("/v1/research/survey", {"answers": {"salary": 5}})) == "VALIDATION_ERROR"
    answered = hana.post("/v1/research/survey", {"answers": {"life_satisfaction": 7, "happiness": 8}})
    assert answered.status_code == 201, answered.text
    again = hana.post("/v1/research/survey", {"answers": {"life_satisfaction": 2}})
    assert error_code(again) == "SURVEY_ALREADY_ANSWERED" and again.status_code == 409
    assert "来年" in again.json()["error"]["messages"]["ja"]
    assert hana.get("/v1/research/me").json()["survey_answered"] is True
    responses = server_get(server, "/v1/research/survey", token).json()["responses"]
    assert [(r["district"], r["age_band"], r["answers"]) for r in responses] == [
        ("28216-0020", "40-49", {"life_satisfaction": 7, "happiness": 8})]  # fmt: skip
    assert hana_id not in str(responses) and str(hana.info["id"]) not in responses[0]["response"]

    # opting out: jiro leaves the feed at once, and cannot answer the survey until he opts back in
    assert jiro.client.put("/v1/research/me", json={"opted_out": True}, headers=jiro.headers()).json()["opted_out"]
    after = {row["id"] for row in server_get(server, "/v1/research/attributes", token).json()["accounts"]}
    assert hana_id in after and jiro_id not in after
    assert error_code(jiro.post("/v1/research/survey", {"answers": {"happiness": 5}})) == "RESEARCH_OPTED_OUT"

    # the data platform's own pull puts exactly the shared rows in its store
    store = DuckWarehouse()
    accounts, answers = feeds.pull_wallet(store, server.url, token)
    assert answers == 1 and accounts == len(after)
    number = platform_side.account_number
    assert store.query(f"SELECT district, age_band, card FROM attributes WHERE id = {number(hana_id)}") == [
        ("28216-0020", "40-49", 0)]  # fmt: skip
    assert store.query(f"SELECT COUNT(*) FROM attributes WHERE id = {number(jiro_id)}") == [(0,)]
    assert number(hana_id) == platform_side.namer(key)(hana.info["address"])  # the same number as the chain's
    assert store.query("SELECT item, score FROM survey ORDER BY item") == [("happiness", 8), ("life_satisfaction", 7)]


def test_the_oracle_list_of_households_carries_the_shared_district_and_honours_the_opt_out(
    wallet: tuple[WalletServer, bytes],
) -> None:
    """The oracle's per-district CO2 totals need each approved household's coarse district: the wallet lists the
    code its research feed shares, "-" for a resident who opted out of research."""
    import httpx

    from oracle.enrolment import wallet_households
    from tests.wallet_support import officer

    server, _secret = wallet
    sharing, stopped = member(server), member(server)  # both in 荒井町
    assert sharing.get("/v1/research/me").json()["district"] == "28216-0020"
    stopped.client.put("/v1/research/me", json={"opted_out": True}, headers=stopped.headers())
    desk = officer(server)
    version = sharing.get("/v1/co2/consent").json()["version"]
    for api in (sharing, stopped):
        body = {"household": "M-" + api.info["short_code"], "consent": True, "consent_version": version}
        link = api.post("/v1/me/co2/household", body)
        assert link.status_code == 201, link.text
        assert desk.post(f"/v1/officer/co2/households/{link.json()['id']}/approve").status_code == 200
    token = Path(server.env["TAKASAGO_WALLET_ORACLE_TOKEN_FILE"]).read_text().strip()
    listed = httpx.get(server.url + "/v1/co2/oracle/households", headers={"X-Oracle-Service-Token": token}).json()
    by_household = {h["household_id"]: h for h in listed["households"]}
    assert by_household["M-" + sharing.info["short_code"]]["district"] == "28216-0020"
    assert by_household["M-" + stopped.info["short_code"]]["district"] == "-"
    homes, districts = wallet_households(server.url, token)  # the oracle's own pull
    assert districts["M-" + sharing.info["short_code"]] == "28216-0020" and len(homes) == len(districts)


def test_card_payments_are_counted_by_month_and_district_for_the_platform_only(
    wallet: tuple[WalletServer, bytes],
) -> None:
    """Ten residents of 荒井町 pay a shop 100 points each with their printed card and PIN; one pays with the
    app's one-time code (not a card payment) and one who opted out of research pays by card (left out)."""
    from datetime import UTC, datetime, timedelta

    from analytics import indicators
    from analytics.publish import publish

    server, secret = wallet
    if not server.database_url.startswith("sqlite"):
        pytest.skip("eleven real card payments take a while: the same ORM query is run on SQLite only")
    token = platform_side.feed_token(secret)
    shop = member(server, "merchant", shop="カード商店")
    before = server_get(server, "/v1/research/card-payments", token).json()["cells"]
    assert before == [], before  # no card payment yet in this module
    from concurrent.futures import ThreadPoolExecutor

    payers = [member(server, points=500) for _ in range(11)]  # one at a time: the test's minter has one nonce
    payers[10].client.put("/v1/research/me", json={"opted_out": True}, headers=payers[10].headers())

    def pays_by_card(payer: Any) -> None:
        card = payer.post("/v1/me/card", {"pin": "246810"}, key=None).json()["card"]
        paid = shop.post("/v1/merchant/charges", {"amount": 100, "card": card, "pin": "246810"})
        assert paid.json()["payment_request"]["status"] == "paid", paid.text

    with ThreadPoolExecutor(4) as pool:  # at four tills at once: the same payments, less waiting
        list(pool.map(pays_by_card, payers))
    code = payers[0].post("/v1/me/payment-codes", key=None).json()["code"]
    assert shop.post("/v1/merchant/charges", {"amount": 50, "code": code}).json()["payment_request"]["status"] == "paid"

    refused = server_get(server, "/v1/research/card-payments", "wrong")
    assert refused.status_code == 401 and error_code(refused) == "RESEARCH_FEED_REFUSED"
    assert server_get(server, "/v1/research/card-payments?since=2026-13", token).status_code == 422
    month = (datetime.now(UTC) + timedelta(hours=9)).strftime("%Y-%m")
    cells = server_get(server, "/v1/research/card-payments", token).json()["cells"]
    assert cells == [
        {"month": month, "district": "28216-0020", "payments": 10, "people": 10, "points": 1000},
        {"month": month, "district": "all", "payments": 10, "people": 10, "points": 1000},
    ]
    assert server_get(server, f"/v1/research/card-payments?since={month[:4]}-12", token).json()["cells"] in (
        [], cells)  # fmt: skip
    # a month's line never holds exactly one hidden cell: 3 in one district hides the smallest other too
    assert wallet_side._suppress_line({"a": 12, "b": 3, "c": 20, "all": 35}) == {"a", "b"}
    assert wallet_side._suppress_line({"a": 4, "all": 4}) == {"a", "all"}

    store = DuckWarehouse()
    assert feeds.pull_card_payments(store, server.url, token) == 2
    table = publish(indicators.compute(store), 10).card_payments
    assert (table.shown(month, "28216-0020", "payments"), table.shown(month, "Σ", "points")) == (10, 1000)


def server_get(server: WalletServer, path: str, token: str | None):  # type: ignore[no-untyped-def]
    import httpx

    headers = {"X-Research-Token": token} if token else {}
    return httpx.get(server.url + path, headers=headers, timeout=30)


def test_the_resident_app_shows_what_is_shared_takes_the_survey_and_stops_sharing(
    wallet: tuple[WalletServer, bytes], playwright: Any
) -> None:
    server, _secret = wallet
    if not server.database_url.startswith("sqlite"):
        pytest.skip("the page is the same on both databases; its API is covered on both above")
    from tests.browser_support import browser, open_page, screen

    resident = member(server)
    with browser(playwright) as chromium:
        app = open_page(chromium, server.url, "/app/")
        app.wait_for_selector("section#login:not([hidden])")
        app.fill("#login-form [name=login]", resident.login_id or "")
        app.fill("#login-form [name=password]", PASSWORD)
        app.click("#login-form button[type=submit]")
        app.wait_for_selector("section#home:not([hidden])")
        app.click("#go-research")
        app.wait_for_selector("section#research:not([hidden])")
        app.wait_for_selector("#rs-district:has-text('荒井町')")
        assert app.inner_text("#rs-age-band") == "40-49" and app.inner_text("#rs-card") == "なし"
        assert "提供しています" in app.inner_text("#rs-state")
        # sending nothing is refused in words, then one item answered
        app.click("#rs-survey button[type=submit]")
        assert "1つ以上" in app.inner_text("#rs-error")
        app.select_option("#rs-items select[name=life_satisfaction]", "8")
        screen(app, "analytics-resident-research")
        app.click("#rs-survey button[type=submit]")
        app.wait_for_selector("#rs-survey-state:not([hidden])")
        assert "回答済み" in app.inner_text("#rs-survey-state")
        app.click("#rs-toggle")
        app.wait_for_selector("#rs-state:has-text('停止しています')")
        app.click("#lang-toggle")
        app.wait_for_selector("#rs-toggle:has-text('Share again')")
        screen(app, "analytics-resident-research-stopped-en")
    assert resident.get("/v1/research/me").json()["opted_out"] is True
