"""A business (法人) that is not a shop takes part from the wallet (issue 21), not only from the CLI.

It applies from the till site (a custodial key sealed like every member's), the city approves it on
the officer desk (the wallet registers the address on-chain as kind Business through its outbox),
and it signs in at the till, where it sees only what a business does: its balance, paying a shop or
business after seeing the registered name, rewarding a resident within the city's cap, its own
programmes, its history. It takes no payments from residents: the till shows no such screen and
the API refuses with a message in Japanese and English. On the real node, SQLite and PostgreSQL;
then the till, the desk and the app in Chromium.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.wallet_support import (
    OFFICER_PASSWORD,
    PASSWORD,
    Api,
    WalletServer,
    apply_business,
    business_application,
    error_code,
    member,
    officer,
    settled,
    shared_points,
    shared_wallet,
)

points, wallet = shared_points, shared_wallet  # this module runs on the worker's shared chain and wallets

BUSINESS_KIND = 6
CORPORATE_NUMBER = "7000012050002"  # a real 法人番号 (its check digit holds)


def paid_shop(server: WalletServer, name: str, amount: int) -> Api:
    shop = member(server, "merchant", shop=name)
    customer = member(server, points=amount)
    request = shop.post("/v1/payment-requests", {"amount": amount}, key=None).json()
    assert customer.post("/v1/payments", {"uri": request["uri"]}).status_code == 200
    return shop


def messages(response: httpx.Response) -> dict[str, str]:
    return dict(response.json()["error"]["messages"])


def test_a_business_applies_is_approved_and_passes_points_on_but_takes_no_payments(wallet: WalletServer) -> None:
    p = wallet.points
    url = wallet.url + "/v1/business/applications"
    # bad applications: a precise message in both languages, nothing stored
    bad = httpx.post(url, json=business_application(corporate_number="7000012050003"), timeout=30)
    assert (bad.status_code, error_code(bad)) == (422, "CORPORATE_NUMBER_INVALID")
    assert "法人番号" in messages(bad)["ja"] and "corporate number" in messages(bad)["en"]
    for changes in ({"name": "   "}, {"extra": 1}, {"password": "short"}, {"corporate_number": 7000012050002}):
        refused = httpx.post(url, json=business_application(**changes), timeout=30)
        assert (refused.status_code, error_code(refused)) == (422, "VALIDATION_ERROR"), (changes, refused.text)
        assert messages(refused)["ja"] and messages(refused)["en"]
    firm = apply_business(wallet, "高砂運輸株式会社")
    taken = httpx.post(url, json=business_application(login=firm.login_id), timeout=30)
    assert (taken.status_code, error_code(taken)) == (409, "LOGIN_TAKEN")

    # waiting for the city: its own account only; no business movement yet
    assert firm.get("/v1/business/account").json()["status"] == "pending"
    assert error_code(firm.get("/v1/business/limits")) == "ACCOUNT_PENDING"
    resident = member(wallet)
    assert error_code(resident.get("/v1/officer/business-accounts")) == "FORBIDDEN"
    assert error_code(resident.get("/v1/business/account")) == "FORBIDDEN"
    refused = resident.post(f"/v1/officer/business-accounts/{firm.info['id']}/approve", {"reason": "x"})
    assert error_code(refused) == "FORBIDDEN"

    # the desk lists it (public details only) and approves: registered on-chain as kind Business, once
    desk = officer(wallet)
    pending = [a for a in desk.get("/v1/officer/business-accounts").json() if a["id"] == firm.info["id"]]
    assert [(a["name"], a["category"], a["status"]) for a in pending] == [("高砂運輸株式会社", "運輸", "pending")]
    assert "高砂 一郎" not in desk.get("/v1/officer/business-accounts").text  # the representative stays sealed
    path = f"/v1/officer/business-accounts/{firm.info['id']}/approve"
    assert error_code(desk.post(path, {"reason": ""})) == "VALIDATION_ERROR"
    sent = desk.post(path, {"reason": "登記簿を確認"}, key=f"approve-{firm.info['id']}")
    assert settled(desk, sent)["status"] == "confirmed"
    retried = desk.post(path, {"reason": "登記簿を確認"}, key=f"approve-{firm.info['id']}")  # the same operation
    assert retried.json()["operation"]["id"] == sent.json()["operation"]["id"]
    again = desk.post(path, {"reason": "二度目"})
    assert (again.status_code, error_code(again)) == (409, "BUSINESS_NOT_PENDING")
    firm.info.update(firm.me())
    assert firm.info["role"] == "business" and firm.info["status"] == "active"
    assert p.registry.functions.accountOf(firm.info["address"]).call()[0] == BUSINESS_KIND
    account = firm.get("/v1/business/account").json()
    assert (account["name"], account["status"], account["code"]) == (
        "高砂運輸株式会社",
        "active",
        firm.info["short_code"],
    )
    trail = desk.get("/v1/counter/trail").json()
    assert any(t["action"] == "business approved" and "登記簿を確認" in t["reason"] for t in trail), trail[:3]

    # a shop pays it (its registered name shown first); it passes points on: a reward, a supplier, a programme
    bakery = paid_shop(wallet, "高砂ベーカリー駅前店", 1_000)
    preview = bakery.post("/v1/business/suppliers/preview", {"to": firm.info["short_code"]}, key=None).json()
    assert (preview["name"], preview["kind"]) == ("高砂運輸株式会社", "business")
    assert bakery.post("/v1/business/payments", {"to": firm.info["short_code"], "amount": 600}).status_code == 200
    assert firm.balance() == 600
    employee = member(wallet, shop="さとうさん")
    reward = firm.post("/v1/business/rewards/preview", {"member": employee.info["short_code"]}, key=None).json()
    assert (reward["name"], reward["limit"], reward["balance"]) == ("さとうさん", 10_000, 600)
    sent = firm.post(
        "/v1/business/rewards", {"member": employee.info["short_code"], "amount": 50, "category": "commute"}
    )
    assert sent.status_code == 200, sent.text
    received = employee.get("/v1/business/rewards/received").json()
    assert [(r["from"], r["amount"], r["note"]) for r in received] == [("高砂運輸株式会社", 50, "commute")]
    over = firm.post("/v1/business/rewards", {"member": employee.info["short_code"], "amount": 10_001})
    assert error_code(over) == "BUSINESS_OVER_LIMIT" and "上限" in messages(over)["ja"]
    grocer = member(wallet, "merchant", shop="荒井の八百屋")
    supplier = firm.post("/v1/business/suppliers/preview", {"to": grocer.info["short_code"], "amount": 100}, key=None)
    assert supplier.json()["name"] == "荒井の八百屋"
    assert firm.post("/v1/business/payments", {"to": grocer.info["short_code"], "amount": 100}).status_code == 200
    assert error_code(firm.post("/v1/business/payments", {"to": employee.info["short_code"], "amount": 1})) == (
        "SUPPLIER_IS_RESIDENT"
    )
    created = firm.post("/v1/business/programmes", {"name": "自転車通勤", "points_per_claim": 20, "budget": 200})
    assert created.status_code == 200, created.text
    (programme,) = firm.get("/v1/business/programmes").json()
    claims = f"/v1/business/programmes/{programme['id']}/claims"
    assert firm.post(claims, {"member": employee.info["short_code"], "claim_id": 3}).status_code == 200
    twice = firm.post(claims, {"member": employee.info["short_code"], "claim_id": 3})
    assert (twice.status_code, error_code(twice)) == (409, "CLAIM_ALREADY_GRANTED")
    assert firm.balance() == 600 - 50 - 100 - 20 and employee.balance() == 70 and grocer.balance() == 100
    sent_rows = firm.get("/v1/business/transfers").json()
    assert [(t["kind"], t["amount"], t["claim_id"]) for t in sent_rows] == [
        ("reward", 20, 3),  # the programme's claim, by its number
        ("b2b", 100, None),
        ("reward", 50, None),
    ]
    assert all(t["at"].endswith("+00:00") for t in sent_rows)  # ISO 8601 with its offset
    history = firm.get("/v1/me/history").json()["items"]
    assert [h["amount"] for h in history][:4] == [20, 100, 50, 600] and all(h["timestamp"] for h in history)

    # not a shop: no payment request, no takings, no settlement; a message in both languages
    for method, route, body in (
        ("post", "/v1/payment-requests", {"amount": 10}),
        ("get", "/v1/merchant/takings", None),
        ("post", "/v1/merchant/settlements", {"amount": 10}),
        ("get", "/v1/merchant/shop", None),
    ):
        refused = firm.post(route, body) if method == "post" else firm.get(route)
        assert (refused.status_code, error_code(refused)) == (403, "BUSINESS_NOT_A_SHOP"), (route, refused.text)
        assert "受け取れません" in messages(refused)["ja"] and "cannot take payments" in messages(refused)["en"]
    # nor is it a resident: thanks and paying a shop's QR are for residents
    assert error_code(firm.post("/v1/thanks", {"to": employee.info["short_code"], "amount": 1})) == "FORBIDDEN"
    assert firm.balance() == 430

    # once decided, the desk's member list finds it, and suspends it (the registrar's command shown) and back
    pending_list = desk.get("/v1/officer/members", params={"status": "pending"}).json()
    assert firm.info["id"] not in [m["id"] for m in pending_list]  # applications are decided in the business part
    (row,) = desk.get("/v1/officer/members", params={"code": firm.info["short_code"]}).json()
    assert (row["id"], row["role"], row["name"]) == (firm.info["id"], "business", "高砂 一郎")  # an audited read
    suspended = desk.post(f"/v1/officer/accounts/{firm.info['id']}/suspend", {"reason": "市の調査中"}, key=None)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["registrar_command"] == f"takasago account suspend {firm.info['address']}"
    assert error_code(firm.get("/v1/business/limits")) == "ACCOUNT_NOT_ACTIVE"
    back = desk.post(f"/v1/officer/accounts/{firm.info['id']}/reactivate", {"reason": "調査終了"}, key=None)
    assert back.status_code == 200 and firm.login().status_code == 200
    assert firm.get("/v1/business/limits").json()["balance"] == 430


def test_the_desk_rejects_an_application_with_a_reason_the_business_sees(wallet: WalletServer) -> None:
    firm = apply_business(wallet, "未確認の商会")
    desk = officer(wallet)
    rejected = desk.post(
        f"/v1/officer/business-accounts/{firm.info['id']}/reject", {"reason": "法人番号が登記と違います"}
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text
    assert rejected.json()["reason"] == "法人番号が登記と違います"
    assert error_code(firm.get("/v1/business/account")) == "ACCOUNT_NOT_ACTIVE"  # its session ends
    login = firm.login()  # at the till's log-in it learns why
    assert (login.status_code, error_code(login)) == (403, "ACCOUNT_REJECTED"), login.text
    assert login.json()["error"]["detail"]["reason"] == "法人番号が登記と違います"
    late = desk.post(f"/v1/officer/business-accounts/{firm.info['id']}/approve", {"reason": "x"})
    assert (late.status_code, error_code(late)) == (409, "BUSINESS_NOT_PENDING")
    assert error_code(desk.post(f"/v1/officer/business-accounts/{secrets.token_hex(4)}/reject", {"reason": "x"})) == (
        "NOT_FOUND"
    )
    assert wallet.points.registry.functions.accountOf(firm.info["address"]).call()[0] == 0


# -- the till, the desk and the app in Chromium ----------------------------------------------------------
from tests.browser_support import CHROMIUM, browser, open_page, screen  # noqa: E402

browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs chromium")


def visible(page: Any, selector: str, timeout: float = 15_000) -> None:
    page.wait_for_selector(f"{selector}:not([hidden])", timeout=timeout)


def log_in(page: Any, login: str, password: str) -> None:
    visible(page, "section#login")
    page.fill("#login-form [name=login]", login)
    page.fill("#login-form [name=password]", password)
    page.click("#login-form button[type=submit]")


@browser_only
def test_a_business_applies_at_the_till_is_approved_at_the_desk_rewards_a_resident_and_pays_a_shop(
    wallet: WalletServer, playwright: Any
) -> None:
    if "postgresql" in wallet.database_url:
        pytest.skip("the browser run uses the SQLite server (the API paths above run on both)")
    bakery = paid_shop(wallet, "高砂ベーカリー北店", 800)
    grocer = member(wallet, "merchant", shop="曽根の八百屋")
    employee = member(wallet, shop="たなかさん")
    login = f"firm-{secrets.token_hex(4)}"
    with browser(playwright) as plain:
        till = open_page(plain, wallet.url, "/till/")
        # a resident cannot sign in at the till
        log_in(till, str(employee.login_id), employee.password)
        visible(till, "#login-error")
        assert "アプリ" in till.inner_text("#login-error") and till.is_visible("section#login")
        # the business applies from the till's log-in screen
        till.click("#go-business-apply")
        visible(till, "section#business-apply")
        form = "#business-apply-form"
        for name, value in (("name", "高砂運輸株式会社"), ("category", "運輸"), ("corporate_number", "7000012050003"),
                            ("representative", "高砂 一郎"), ("postal_address", "兵庫県高砂市高砂町浜田町1-1"),
                            ("login", login), ("password", PASSWORD)):  # fmt: skip
            till.fill(f"{form} [name={name}]", value)
        till.click(f"{form} button[type=submit]")
        visible(till, "#business-apply-error")
        assert till.get_attribute("#business-apply-error", "data-code") == "CORPORATE_NUMBER_INVALID"
        assert "法人番号" in till.inner_text("#business-apply-error")
        till.fill(f"{form} [name=corporate_number]", CORPORATE_NUMBER)
        screen(till, "till-business-account-apply")
        till.click(f"{form} button[type=submit]")
        visible(till, "section#business-state")
        assert "市の確認を待っています" in till.inner_text("#business-state-text")
        screen(till, "till-business-account-pending")

        # the city approves it on the officer desk: registered on-chain as kind Business
        desk = open_page(plain, wallet.url, "/officer/", width=1280)
        log_in(desk, "officer1", OFFICER_PASSWORD)
        row = "#business-applications li:has-text('高砂運輸株式会社')"
        desk.wait_for_selector(row, timeout=15_000)
        desk.fill(f"{row} [name=reason]", "登記簿と法人番号を確認")
        desk.click(f"{row} .approve-business")
        visible(desk, "#business-apps-notice", timeout=30_000)
        assert "高砂運輸株式会社" in desk.inner_text("#business-apps-notice")
        screen(desk, "till-business-account-desk")
        assert not desk.errors, desk.errors
        firm = Api(wallet, login)
        assert firm.login().status_code == 200
        firm.info.update(firm.me())
        assert wallet.points.registry.functions.accountOf(firm.info["address"]).call()[0] == BUSINESS_KIND
        paid = bakery.post("/v1/business/payments", {"to": firm.info["short_code"], "amount": 500})  # its first points
        assert paid.status_code == 200, paid.text

        # signed in, the till shows only the business's screens
        till.reload()
        till.wait_for_selector("section#business[data-ready]", timeout=30_000)
        assert "高砂運輸株式会社" in till.inner_text("#business-whoami") and "500" in till.inner_text(
            "#business-limits"
        )
        for customer_screen in ("#entry", "#go-takings", "#go-shop-qr", "#scan-customer", "#business-back"):
            assert not till.is_visible(customer_screen), customer_screen
        assert "10,000" in till.inner_text("#reward-cap")  # the cap stated
        # a reward for a resident, asked about by display name first
        till.fill("#reward-form [name=member]", employee.info["short_code"])
        till.fill("#reward-form [name=amount]", "60")
        till.select_option("#reward-form [name=category]", "commute")
        till.click("#reward-form button[type=submit]")
        visible(till, "#reward-confirm")
        assert "たなかさん" in till.inner_text("#reward-question") and "60" in till.inner_text("#reward-question")
        till.click("#reward-send")
        visible(till, "#reward-done", timeout=30_000)
        # paying a shop: its registered name before confirming
        till.fill("#b2b-form [name=to]", grocer.info["short_code"])
        till.fill("#b2b-form [name=amount]", "120")
        till.click("#b2b-form button[type=submit]")
        visible(till, "#b2b-confirm")
        assert "曽根の八百屋" in till.inner_text("#b2b-question")
        screen(till, "till-business-account-confirm")
        till.click("#b2b-send")
        visible(till, "#b2b-done", timeout=30_000)
        till.wait_for_function("document.querySelectorAll('#business-ledger li').length === 3")
        ledger = till.inner_text("#business-ledger")
        assert "曽根の八百屋" in ledger and re.search(r"^20\d\d/\d\d/\d\d \d\d:\d\d ", ledger), ledger
        screen(till, "till-business-account-home")
        till.click("#lang-toggle")
        till.wait_for_function("document.documentElement.lang === 'en'")
        till.wait_for_selector("section#business[data-ready]")
        till.wait_for_function("document.querySelectorAll('#business-ledger li').length === 3")
        assert "Our programmes" in till.inner_text("section#business")
        assert "(business, code " in till.inner_text("#business-whoami")
        english = till.inner_text("#business-ledger")  # 2026-12-05 09:41 JST: an unambiguous date
        assert re.search(r"^20\d\d-\d\d-\d\d \d\d:\d\d JST ", english), english
        screen(till, "till-business-account-en")
        assert not till.errors, till.errors

        # the resident sees the reward in the app, with the business's name
        app = open_page(plain, wallet.url, "/app/")
        log_in(app, str(employee.login_id), employee.password)
        visible(app, "#business-received")
        assert "高砂運輸株式会社" in app.inner_text("#business-received")
        assert not app.errors, app.errors
        # the business is refused in the residents' app, told where to go
        other = open_page(plain, wallet.url, "/app/")
        log_in(other, login, PASSWORD)
        visible(other, "#login-error")
        assert "事業者" in other.inner_text("#login-error") and "/till/" in other.inner_text("#login-error")
    assert employee.balance() == 60 and grocer.balance() == 120
    assert wallet.points.balance(firm.info["address"]) == 500 - 60 - 120
