"""Issue 21, shops: a shop applies from the till (bank account sealed), the city approves it (on-chain
registration follows), residents find it in the directory and pay by its printed QR within its limit,
the till hears the payment, settlements go requested → paid, the city's export carries the name and
bank account (UTF-8 with BOM, Shift_JIS); a refund after settlement is refused plainly.

The API on a real server, node and contracts, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno

from tests.browser_support import CHROMIUM, browser, open_page, screen
from tests.conftest import REPO
from tests.explorer_support import ExplorerServer
from tests.qr_video import write_qr_video
from tests.wallet_support import (
    Api,
    WalletServer,
    member,
    officer,
    settled,
    shared_points,
    shared_wallet,
    signup,
)

points, wallet = shared_points, shared_wallet  # this module runs on the worker's shared chain and wallets

BANK = {
    "bank": "播州信用金庫",
    "branch": "高砂支店",
    "account_type": "普通",
    "account_number": "1234567",
    "holder": "タカサゴベーカリー",
}
PROFILE = {
    "category": "パン",
    "district": "高砂町",
    "hours": "8:00-18:00（水曜休み）",
    "takes_cards": True,
    "static_limit": 1000,
}


def error(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json()["error"])


def refused(response: httpx.Response, code: str, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = error(response)
    assert body["code"] == code and body["messages"]["ja"] and body["messages"]["en"]
    assert body["messages"]["ja"] != body["messages"]["en"]
    return body


def put(api: Api, path: str, body: Any) -> httpx.Response:
    return httpx.put(api.server.url + path, json=body, headers=api.headers(), timeout=30)


def wait_active(api: Api) -> None:
    for _ in range(60):
        if api.me()["status"] == "active":
            return
        time.sleep(0.5)
    raise AssertionError("the merchant's registration did not confirm")


def test_a_shop_applies_is_approved_listed_and_paid_by_its_static_qr_within_its_limit(
    wallet: WalletServer, tmp_path: Path
) -> None:
    city = officer(wallet)
    shop = signup(wallet, "merchant", shop="仮の屋号")  # a new merchant account, not yet on the chain
    resident = member(wallet, points=2000)

    # the application from the till: bad input is refused in both languages, nothing is stored
    assert shop.get("/v1/merchant/shop").status_code == 404
    refused(put(shop, "/v1/merchant/shop", {"name": "高砂ベーカリー", **PROFILE}), "SHOP_APPLICATION_NEEDS_BANK", 422)
    refused(put(shop, "/v1/merchant/shop", {"name": "", **PROFILE, "bank": BANK}), "VALIDATION_ERROR", 422)
    bad_bank = {**BANK, "account_number": "12ab"}
    refused(
        put(shop, "/v1/merchant/shop", {"name": "高砂ベーカリー", **PROFILE, "bank": bad_bank}), "VALIDATION_ERROR", 422
    )
    assert shop.get("/v1/merchant/shop").status_code == 404
    applied = put(shop, "/v1/merchant/shop", {"name": "高砂ベーカリー", **PROFILE, "bank": BANK})
    assert applied.status_code == 200, applied.text
    profile = applied.json()
    assert profile["status"] == "pending" and profile["name"] is None and profile["static_uri"] is None
    assert profile["bank_on_file"] == "播州信用金庫 ****567" and "1234567" not in applied.text
    assert all(s["code"] != shop.info["short_code"] for s in httpx.get(wallet.url + "/v1/shops").json())

    # the city's desk: the application without the bank account; only an officer decides
    pending = city.get("/v1/officer/shops").json()
    mine = next(a for a in pending if a["id"] == shop.info["id"])
    assert mine["requested_name"] == "高砂ベーカリー" and mine["account_status"] == "pending"
    assert "1234567" not in city.get("/v1/officer/shops").text
    refused(resident.post(f"/v1/officer/shops/{shop.info['id']}/approve", {"reason": "ok"}), "FORBIDDEN", 403)
    refused(city.post(f"/v1/officer/shops/{shop.info['id']}/approve", {"reason": ""}), "VALIDATION_ERROR", 422)
    approved = city.post(f"/v1/officer/shops/{shop.info['id']}/approve", {"reason": "営業許可証を確認"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["name"] == "高砂ベーカリー"
    wait_active(shop)  # the on-chain registration followed the approval
    shop.info.update(shop.me())
    again = city.post(f"/v1/officer/shops/{shop.info['id']}/approve", {"reason": "twice"})
    refused(again, "SHOP_NOT_PENDING", 409)

    # the directory: searchable without logging in; the shop's page carries its printed QR
    listed = httpx.get(wallet.url + "/v1/shops", params={"q": "パン 高砂町"}).json()
    page = next(s for s in listed if s["code"] == shop.info["short_code"])
    assert page["name"] == "高砂ベーカリー" and page["takes_cards"] is True and page["static_limit"] == 1000
    assert page["static_uri"] == f"takasago-shop:{shop.info['address']}@{wallet.points.w3.eth.chain_id}"
    assert httpx.get(wallet.url + "/v1/shops", params={"q": "魚"}).json() == [] or all(
        s["code"] != shop.info["short_code"] for s in httpx.get(wallet.url + "/v1/shops", params={"q": "魚"}).json()
    )
    qr = httpx.get(wallet.url + f"/v1/shops/{shop.info['short_code']}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg")
    assert httpx.get(wallet.url + "/v1/shops/names").json()[shop.info["address"]] == "高砂ベーカリー"

    # the resident scans it: the registered name first, then the amount; over the limit nothing moves
    seen = resident.post("/v1/shops/resolve", {"uri": page["static_uri"]}, key=None)
    assert seen.status_code == 200 and seen.json()["name"] == "高砂ベーカリー"
    refused(resident.post("/v1/shops/resolve", {"uri": "takasago-shop:nonsense"}, key=None), "INVALID_SHOP_QR", 422)
    wrong_chain = page["static_uri"].rsplit("@", 1)[0] + "@999"
    refused(resident.post("/v1/shops/resolve", {"uri": wrong_chain}, key=None), "WRONG_CHAIN", 400)
    code = shop.info["short_code"]
    over = refused(resident.post(f"/v1/shops/{code}/preview", {"amount": 1001}, key=None), "STATIC_LIMIT_EXCEEDED", 422)
    assert over["detail"] == {"amount": 1001, "limit": 1000, "merchant_name": "高砂ベーカリー"}
    refused(resident.post(f"/v1/shops/{code}/payments", {"amount": 1001}), "STATIC_LIMIT_EXCEEDED", 422)
    refused(resident.post(f"/v1/shops/{code}/payments", {"amount": 0}), "VALIDATION_ERROR", 422)
    refused(shop.post(f"/v1/shops/{code}/payments", {"amount": 10}), "FORBIDDEN", 403)
    assert resident.balance() == 2000
    preview = resident.post(f"/v1/shops/{code}/preview", {"amount": 300}, key=None).json()
    assert preview["shop"]["name"] == "高砂ベーカリー" and preview["balance"] == 2000

    # the till listens; the payment (sent twice under one key) is paid once and heard at once
    cursor = shop.get("/v1/merchant/payments/heard").json()["cursor"]
    first = resident.post(f"/v1/shops/{code}/payments", {"amount": 300}, key="static-pay-1")
    assert first.status_code in (200, 202), first.text
    assert settled(resident, first)["status"] == "confirmed"
    retry = resident.post(f"/v1/shops/{code}/payments", {"amount": 300}, key="static-pay-1")
    assert retry.json()["operation"]["id"] == first.json()["operation"]["id"]
    assert retry.json()["payment_request"]["merchant_name"] == "高砂ベーカリー"
    assert resident.balance() == 1700
    heard = shop.get("/v1/merchant/payments/heard", params={"after": cursor, "wait": 5}).json()
    assert [p["amount"] for p in heard["payments"]] == [300]
    request_id = heard["payments"][0]["id"]
    assert heard["methods"][request_id] == "static"
    takings = shop.get("/v1/merchant/takings").json()
    assert [(r["id"], r["method"]) for r in takings["requests"]] == [(request_id, "static")]

    # settlement: requested (the city owes it) → paid with the transfer's date and reference;
    # a refund after the points went to the city is refused plainly, nothing moves
    settle = shop.post("/v1/merchant/settlements", {"amount": 300})
    assert settled(shop, settle)["status"] == "confirmed"
    [mine_settled] = shop.get("/v1/merchant/settlements").json()
    assert mine_settled["status"] == "requested" and mine_settled["shop_name"] == "高砂ベーカリー"
    late = refused(shop.post("/v1/merchant/refunds", {"payment_request_id": request_id, "amount": 100}),
                   "REFUND_AFTER_SETTLEMENT", 409)  # fmt: skip
    assert late["detail"]["balance"] == 0 and late["detail"]["settled"] == 300
    # why (the points went for settlement) and what to do (refund in cash), in both languages
    assert "換金申請済み" in late["messages"]["ja"] and "現金で返金" in late["messages"]["ja"], late
    assert "sent for settlement" in late["messages"]["en"] and "Refund in cash" in late["messages"]["en"], late
    assert resident.balance() == 1700
    refused(shop.post(f"/v1/officer/settlements/{mine_settled['id']}/paid", {}, key=None), "FORBIDDEN", 403)
    body = {"transfer_date": "2026-12-10", "transfer_reference": "FB-20261210-001"}
    refused(city.post(f"/v1/officer/settlements/{mine_settled['id']}/paid", {**body, "transfer_date": "2026-13-45"},
                      key=None), "VALIDATION_ERROR", 422)  # fmt: skip
    csv_requested = city.get("/v1/officer/settlements.csv", params={"status": "requested"})
    assert csv_requested.content.startswith(b"\xef\xbb\xbf")
    lines = csv_requested.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("精算ID,店舗名") and any(
        "高砂ベーカリー" in line and "1234567" in line for line in lines
    )
    assert lines[-1].startswith("合計")
    marked = city.post(f"/v1/officer/settlements/{mine_settled['id']}/paid", body, key=None)
    assert marked.status_code == 200, marked.text
    assert marked.json()["status"] == "paid" and marked.json()["transfer_reference"] == "FB-20261210-001"
    refused(
        city.post(f"/v1/officer/settlements/{mine_settled['id']}/paid", body, key=None), "SETTLEMENT_ALREADY_PAID", 409
    )
    [paid] = shop.get("/v1/merchant/settlements").json()
    assert paid["status"] == "paid" and paid["transfer_date"] == "2026-12-10"
    sjis = city.get("/v1/officer/settlements.csv", params={"status": "paid", "encoding": "shift_jis"})
    assert "shift_jis" in sjis.headers["content-type"]
    text = sjis.content.decode("cp932")
    assert "高砂ベーカリー" in text and "タカサゴベーカリー" in text and "FB-20261210-001" in text
    # the same export from the command line (municipal accounting's batch)
    exported = tmp_path / "settlements.csv"
    command = ["shops", "export-settlements", "--officer", "officer1", "--out", str(exported), "--status", "paid",
               "--shift-jis", "--data-dir", str(wallet.data_dir), "--database-url", wallet.database_url]  # fmt: skip
    run = subprocess.run([sys.executable, "-m", "scripts.cli", *command], cwd=REPO, env=wallet._env(),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "1 settlement(s)" in run.stdout and exported.stat().st_mode & 0o777 == 0o600
    assert "高砂ベーカリー" in exported.read_bytes().decode("cp932")

    # a new name waits for the city; the directory keeps the registered one until then (no restart)
    renamed = put(shop, "/v1/merchant/shop", {"name": "たかさごパン工房", **PROFILE, "static_limit": 500})
    assert renamed.json()["status"] == "pending" and renamed.json()["name"] == "高砂ベーカリー"
    assert httpx.get(wallet.url + f"/v1/shops/{code}").json()["static_limit"] == 500
    assert httpx.get(wallet.url + f"/v1/shops/{code}").json()["name"] == "高砂ベーカリー"
    assert city.post(f"/v1/officer/shops/{shop.info['id']}/approve", {"reason": "商号変更"}).status_code == 200
    assert httpx.get(wallet.url + "/v1/shops/names").json()[shop.info["address"]] == "たかさごパン工房"
    assert city.get("/v1/officer/settlements").json()[0]["shop_name"] == "たかさごパン工房"
    refused(resident.post(f"/v1/shops/{code}/payments", {"amount": 600}), "STATIC_LIMIT_EXCEEDED", 422)
    assert resident.balance() == 1700


# -- in Chromium: the directory, the static QR by camera with the till hearing it, the desk ---------
browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs chromium")


def visible(page: Any, section: str, timeout: float = 15_000) -> None:
    page.wait_for_selector(f"section#{section}:not([hidden])", timeout=timeout)


def log_in(page: Any, api: Api) -> None:
    visible(page, "login")
    page.fill("#login-form [name=login]", str(api.login_id))
    page.fill("#login-form [name=password]", api.password)
    page.click("#login-form button[type=submit]")


@browser_only
def test_in_chromium_a_shop_applies_the_city_approves_and_a_resident_pays_its_printed_qr_by_camera(
    wallet: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    if not wallet.database_url.startswith("sqlite"):
        pytest.skip("the browser runs once (SQLite); the same API paths run on both databases above")
    shop = member(wallet, "merchant", shop="荒井の八百屋")
    resident = member(wallet, points=3000)
    with browser(playwright) as plain:
        # the shop applies from the till
        till = open_page(plain, wallet.url, "/till/")
        log_in(till, shop)
        visible(till, "entry")
        till.click("#go-shop-qr")
        till.wait_for_selector("section#shop[data-ready]")
        form = "#shop-form"
        till.fill(f"{form} [name=name]", "荒井の八百屋")
        till.fill(f"{form} [name=category]", "青果")
        till.fill(f"{form} [name=district]", "荒井町")
        till.fill(f"{form} [name=hours]", "9:00-19:00")
        till.check(f"{form} [name=takes_cards]")
        till.fill(f"{form} [name=static_limit]", "2000")
        till.fill(f"{form} [name=bank]", "姫路信用金庫")
        till.fill(f"{form} [name=branch]", "荒井支店")
        till.fill(f"{form} [name=account_number]", "7654321")
        till.fill(f"{form} [name=holder]", "アライノヤオヤ")
        till.click(f"{form} button[type=submit]")
        till.wait_for_selector("#shop-state:not([hidden])")
        assert "市の確認待ち" in till.inner_text("#shop-state")
        screen(till, "till-shop-application")

        # the city approves it on the officer desk
        desk = open_page(plain, wallet.url, "/officer/", width=1280)
        log_in(desk, officer(wallet))
        desk.wait_for_selector(f"#shops-applications li[data-id='{shop.info['id']}']")
        row = f"#shops-applications li[data-id='{shop.info['id']}']"
        desk.fill(f"{row} [name=reason]", "営業許可証を確認")
        desk.click(f"{row} button[value=approve]")
        desk.wait_for_selector("#shops-notice:not([hidden])")
        assert "荒井の八百屋" in desk.inner_text("#shops-notice")
        screen(desk, "officer-shops-applications")

        # the till shows the shop's printed QR and listens
        till.click("#shop button.back")
        visible(till, "entry")
        till.click("#go-shop-qr")
        visible(till, "shop")
        till.wait_for_selector("#shop-listed:not([hidden])")
        uri = till.get_attribute("#shop-qr", "data-uri")
        assert uri == f"takasago-shop:{shop.info['address']}@{wallet.points.w3.eth.chain_id}"
        screen(till, "till-shop-qr")

    video = write_qr_video(uri, tmp_path / "shop.y4m")
    with browser(playwright, video) as camera:
        app = open_page(camera, wallet.url, "/app/")
        log_in(app, resident)
        visible(app, "home")
        app.click("#go-shops")
        visible(app, "shops")
        app.fill("#shops-search [name=q]", "青果")
        app.click("#shops-search button[type=submit]")
        app.wait_for_selector(f"#shops-list li[data-code='{shop.info['short_code']}']")
        screen(app, "resident-shops-directory")
        app.click(f"#shops-list li[data-code='{shop.info['short_code']}'] button")
        visible(app, "shop-page")
        assert app.get_attribute("#shop-page-qr", "data-uri") == uri
        screen(app, "resident-shops-page")
        app.click("#shop-page-scan")
        visible(app, "shop-pay", timeout=30_000)  # read by the camera
        assert app.inner_text("#shop-pay-name") == "荒井の八百屋"
        app.fill("#shop-pay-amount", "2500")  # over the shop's limit: refused, nothing paid
        app.click("#shop-pay-form button[type=submit]")
        app.wait_for_selector("#shop-pay-error:not([hidden])")
        assert app.get_attribute("#shop-pay-error", "data-code") == "STATIC_LIMIT_EXCEEDED"
        screen(app, "resident-shops-over-limit")
        app.fill("#shop-pay-amount", "480")
        app.click("#shop-pay-form button[type=submit]")
        visible(app, "shop-confirm")
        assert "荒井の八百屋 に 480" in app.inner_text("#shop-confirm-question")
        screen(app, "resident-shops-confirm")
        app.click("#shop-confirm-pay")
        visible(app, "done", timeout=30_000)
        assert "荒井の八百屋" in app.inner_text("#done-text")
        # the app's own 読み取って支払う hands a shop QR over for the amount too
        app.click("#done button.back")
        visible(app, "home")
        app.click("#go-scan")
        visible(app, "shop-pay", timeout=30_000)
        assert app.inner_text("#shop-pay-name") == "荒井の八百屋"
    assert resident.balance() == 2520
    with browser(playwright) as plain:
        till = open_page(plain, wallet.url, "/till/")
        log_in(till, shop)
        visible(till, "entry")
        till.click("#go-shop-qr")
        visible(till, "shop")
        till.wait_for_selector("#shop-listed:not([hidden])")
        # heard at once: a payment made while the till listens (by the same static QR, over the API)
        till.wait_for_timeout(300)
        paid = resident.post(f"/v1/shops/{shop.info['short_code']}/payments", {"amount": 120})
        assert settled(resident, paid)["status"] == "confirmed"
        till.wait_for_selector("#shop-heard li", timeout=10_000)
        assert "120" in till.inner_text("#shop-heard")
        screen(till, "till-shop-heard")

    # the explorer: the shop directory and the shop's page with its QR, names read live from the wallet
    saved = {k: os.environ.get(k) for k in ("TAKASAGO_INDEXER_SHOPS_URL", "TAKASAGO_INDEXER_SHOPS_REFRESH_SECONDS")}
    os.environ.update({"TAKASAGO_INDEXER_SHOPS_URL": wallet.url, "TAKASAGO_INDEXER_SHOPS_REFRESH_SECONDS": "0.5"})
    explorer = ExplorerServer(wallet.points, tmp_path / "explorer", f"sqlite:///{tmp_path / 'explorer.db'}")
    explorer.data_dir.mkdir()
    try:
        explorer.start()
        explorer.caught_up()
        with browser(playwright) as plain:
            page = open_page(plain, explorer.url, "/shops?q=青果", width=1280)
            page.wait_for_selector(f"#shops tr[data-code='{shop.info['short_code']}']")
            assert "荒井の八百屋" in page.inner_text("#shops")
            screen(page, "explorer-shops-directory")
            page.click(f"#shops tr[data-code='{shop.info['short_code']}'] a")
            page.wait_for_selector("#shop-qr svg")
            assert page.get_attribute("#shop-qr", "data-uri") == uri
            screen(page, "explorer-shops-page")
        assert "荒井の八百屋" in httpx.get(explorer.url + "/merchants", timeout=30).text
        # renamed and approved in the wallet: the explorer follows without a restart
        put(shop, "/v1/merchant/shop", {"name": "荒井青果店", **PROFILE, "category": "青果", "district": "荒井町"})
        city = officer(wallet)
        assert city.post(f"/v1/officer/shops/{shop.info['id']}/approve", {"reason": "商号変更"}).status_code == 200
        time.sleep(0.6)
        assert "荒井青果店" in httpx.get(explorer.url + "/merchants", timeout=30).text
    finally:
        explorer.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@browser_only
def test_in_chromium_the_request_qr_by_camera_a_typed_confirmed_refund_and_a_settlement_paid(
    wallet: WalletServer, playwright: Any, tmp_path: Path
) -> None:
    if not wallet.database_url.startswith("sqlite"):
        pytest.skip("the browser runs once (SQLite); the same API paths run on both databases above")
    shop = member(wallet, "merchant", shop="曽根の魚屋")
    resident = member(wallet, points=1000)
    request = shop.post("/v1/payment-requests", {"amount": 400}, key=None).json()
    video = write_qr_video(request["uri"], tmp_path / "request.y4m")
    with browser(playwright, video) as camera:  # the till's request QR, read by the app's camera
        app = open_page(camera, wallet.url, "/app/")
        log_in(app, resident)
        visible(app, "home")
        app.click("#go-scan")
        visible(app, "confirm", timeout=30_000)
        assert "曽根の魚屋" in app.inner_text("#confirm-shop")
        app.click("#confirm-pay")
        visible(app, "done", timeout=30_000)
    assert resident.balance() == 600

    code = resident.post("/v1/me/payment-codes", key=None).json()["code"]
    assert shop.post("/v1/merchant/charges", {"amount": 10, "code": code}).status_code == 200
    used = tmp_path / "used-code.png"
    segno.make(code, error="m").save(str(used), scale=8, border=4)
    with browser(playwright) as plain:  # no camera here
        till = open_page(plain, wallet.url, "/till/")
        log_in(till, shop)
        visible(till, "entry")
        # a used code read from a photo: the API's own message stays, the camera's trouble goes beside it
        till.fill("#amount", "10")
        till.click("#scan-customer")
        till.wait_for_selector("#scan-error[data-code=CAMERA]")
        till.set_input_files("#scan-file", str(used))
        till.wait_for_selector("#scan-error[data-code=CODE_INVALID]:not([hidden])", timeout=15_000)
        till.wait_for_selector("#scan-status:not([hidden])")
        till.wait_for_timeout(300)
        assert till.get_attribute("#scan-error", "data-code") == "CODE_INVALID"
        assert "カメラ" in till.inner_text("#scan-status")
        till.click("#scan button.back")
        visible(till, "entry")
        till.click("#go-takings")
        row = f"#takings-list li[data-request='{request['id']}']"
        till.wait_for_selector(row)
        assert till.input_value(f"{row} input") == ""  # typed, never pre-filled with the whole payment
        assert "QR" in till.inner_text(row) and request["id"][:8] in till.inner_text(row)
        assert re.search(r"\b20\d\d/\d\d/\d\d \d\d:\d\d\b", till.inner_text(row)), till.inner_text(
            row
        )  # Japanese: 2026/12/03 14:05
        till.fill(f"{row} input", "150")
        till.click(f"{row} button[type=submit]")
        till.wait_for_selector(f"{row} .confirm-refund:not([hidden])")
        assert "150" in till.inner_text(f"{row} .confirm-refund")
        screen(till, "till-shop-refund-confirm")
        assert resident.balance() == 590  # nothing moves before the clerk confirms
        till.click(f"{row} .refund-yes")
        till.wait_for_selector("#settle-done:not([hidden])", timeout=30_000)
        assert resident.balance() == 740

        # the rest is settled; the city marks it paid; the till shows it with the transfer
        assert settled(shop, shop.post("/v1/merchant/settlements", {"amount": 250}))["status"] == "confirmed"
        [settlement] = shop.get("/v1/merchant/settlements").json()
        desk = open_page(plain, wallet.url, "/officer/", width=1280)
        log_in(desk, officer(wallet))
        mine = f"#shops-settlements li[data-id='{settlement['id']}']"
        desk.wait_for_selector(mine)
        assert "曽根の魚屋" in desk.inner_text(mine)
        with desk.expect_download() as download:  # the desk's export for municipal accounting, in Shift_JIS
            desk.click("#shops-export-sjis")
        exported = Path(download.value.path()).read_bytes().decode("cp932")
        assert "曽根の魚屋" in exported and exported.splitlines()[-1].startswith("合計")
        desk.fill(f"{mine} [name=transfer_reference]", "FB-1204-07")
        desk.click(f"{mine} button[type=submit]")
        desk.wait_for_selector(f"#shops-settlements li[data-id='{settlement['id']}'][data-status=paid]")
        screen(desk, "officer-shops-settlements")
        till.click("#takings button.back")
        visible(till, "entry")
        till.click("#go-shop-qr")
        till.wait_for_selector(f"#shop-settlements li[data-id='{settlement['id']}'][data-status=paid]")
        assert "FB-1204-07" in till.inner_text("#shop-settlements")
        screen(till, "till-shop-settlement-paid")

        # in English every date is unambiguous: 2026-12-03 14:05 JST, never 03/12/2026 (issue 21)
        iso_time, day_first = r"\b20\d\d-\d\d-\d\d \d\d:\d\d JST\b", r"\b\d\d/\d\d/20\d\d\b"
        till.click("#lang-toggle")
        till.wait_for_function("document.getElementById('shop-settlements').innerText.includes('transferred')")
        paid_row = till.inner_text(f"#shop-settlements li[data-id='{settlement['id']}']")
        assert re.search(iso_time, paid_row) and re.search(r"transferred 20\d\d-\d\d-\d\d,", paid_row), paid_row
        assert not re.search(day_first, paid_row), paid_row
        till.click("#shop button.back")
        visible(till, "entry")
        till.click("#go-takings")  # the list is drawn again, now in English
        till.wait_for_function(f"document.querySelector(\"{row}\")?.innerText.includes('Refunded')")
        sale = till.inner_text(row)
        assert re.search(iso_time, sale) and not re.search(day_first, sale), sale
        till.click("#lang-toggle")  # back to Japanese: the list follows
        till.wait_for_function(
            f'/20\\d\\d\\/\\d\\d\\/\\d\\d \\d\\d:\\d\\d/.test(document.querySelector("{row}").innerText)'
        )


def test_a_kek_rotation_rewraps_the_shops_bank_accounts(tmp_path: Path) -> None:
    """After ``rotate-kek`` the old KEK may be destroyed: a shop's sealed bank account must open without it."""
    from datetime import UTC, datetime

    from wallet_api.crypto.envelope import KeyEncryptionKey, kek_id_of, open_sealed, seal
    from wallet_api.db.engine import make_engine, make_sessions, migrate
    from wallet_api.db.models import User
    from wallet_api.db.models_shops import Shop, ShopStatus
    from wallet_api.rotation import rotate
    from wallet_api.shops import bank_context

    url = f"sqlite:///{tmp_path / 'wallet.db'}"
    migrate(url)
    engine = make_engine(url)
    sessions = make_sessions(engine)
    old, new = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    shop = User(public_id="4f0c1c2e-0000-4000-8000-000000000001", login="bakery", role="merchant", status="active",
                password_hash="-", short_code="SHOP0001", created_at=datetime.now(UTC))  # fmt: skip
    with sessions.begin() as db:
        db.add(shop)
        db.flush()
        sealed = seal(old, b'{"account_number": "1234567"}', bank_context(shop))
        db.add(Shop(user_id=shop.id, name="高砂ベーカリー", requested_name="高砂ベーカリー", category="パン",
                    district="高砂町", hours="8-18", takes_cards=True, static_limit=1000, status=ShopStatus.APPROVED,
                    sealed_bank=sealed, applied_at=datetime.now(UTC)))  # fmt: skip
    rotate(sessions, (old,), new)
    with sessions() as db:
        row = db.get(Shop, shop.id)
        assert row is not None and kek_id_of(row.sealed_bank) == new.key_id
        assert b"1234567" in open_sealed((new,), row.sealed_bank, bank_context(shop))
    engine.dispose()
