"""Points that stay local (issue 21) through the wallet API and the till.

The API on a real server, node and contracts, on SQLite and PostgreSQL: a shop pays a supplier
(a shop, or a business the officer desk registered) after seeing its registered name, rewards a
resident, runs its own programme whose claim numbers pay once; a resident or unknown supplier,
an amount over the city's cap and a programme out of points are refused with a ja/en message and
nothing moves. Then the till in Chromium: the shop pays a supplier and rewards an employee.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from tests.wallet_support import (
    OFFICER_PASSWORD,
    Api,
    WalletServer,
    error_code,
    member,
    officer,
    settled,
    shared_points,
    shared_wallet,
)

points, wallet = shared_points, shared_wallet  # this module runs on the worker's shared chain and wallets

BUSINESS, SUSPENDED = 6, 2


def error(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json()["error"])


def paid_shop(wallet: WalletServer, name: str, points: int) -> Api:
    """A shop that took ``points`` from a customer at its till (the only way points reach a shop)."""
    shop = member(wallet, "merchant", shop=name)
    customer = member(wallet, points=points)
    request = shop.post("/v1/payment-requests", {"amount": points}, key=None).json()
    assert customer.post("/v1/payments", {"uri": request["uri"]}).status_code == 200
    return shop


def register_business(wallet: WalletServer, name: str) -> dict[str, Any]:
    """A business the officer registers at the desk; it holds its own key (made here)."""
    desk = officer(wallet)
    key = Account.create()
    sent = desk.post("/v1/officer/businesses", {"name": name, "address": key.address, "category": "製粉"})
    assert sent.status_code in (200, 202), sent.text
    assert settled(desk, sent)["status"] == "confirmed"
    (row,) = [b for b in desk.get("/v1/officer/businesses").json() if b["address"] == key.address]
    assert row["status"] == "confirmed" and row["code"].startswith("B")
    return {**row, "account": key}


def test_a_shop_pays_its_supplier_and_a_business_after_seeing_their_names(wallet: WalletServer) -> None:
    p = wallet.points
    bakery = paid_shop(wallet, "高砂ベーカリー", 1_000)
    grocer = member(wallet, "merchant", shop="尾上青果")
    mill = register_business(wallet, "播磨製粉株式会社")
    assert p.registry.functions.accountOf(mill["address"]).call()[0] == BUSINESS

    limits = bakery.get("/v1/business/limits").json()
    assert limits == {"max_payment": 100_000, "max_reward": 10_000, "shop_points_months": 6, "balance": 1_000}
    # the supplier's registered name before confirming, by member code (typed loosely) or address
    code = grocer.info["short_code"]
    preview = bakery.post("/v1/business/suppliers/preview", {"to": f" {code[:4].lower()}-{code[4:]} "}, key=None)
    assert preview.status_code == 200, preview.text
    assert preview.json()["name"] == "尾上青果" and preview.json()["kind"] == "merchant"
    preview = bakery.post("/v1/business/suppliers/preview", {"to": mill["code"].lower(), "amount": 300}, key=None)
    assert (preview.json()["name"], preview.json()["kind"], preview.json()["to"]) == (
        "播磨製粉株式会社",
        "business",
        mill["address"],
    )
    sent = bakery.post("/v1/business/payments", {"to": code, "amount": 200, "reference": "INV-0001"})
    assert sent.status_code == 200, sent.text
    sent = bakery.post("/v1/business/payments", {"to": mill["address"], "amount": 300})
    assert sent.status_code == 200, sent.text
    assert bakery.balance() == 500 and grocer.balance() == 200
    assert p.balance(mill["address"]) == 300  # a business's points: a bucket 6 months ahead
    history = bakery.get("/v1/business/transfers").json()
    assert [(h["kind"], h["name"], h["amount"], h["status"]) for h in history] == [
        ("b2b", "播磨製粉株式会社", 300, "confirmed"),
        ("b2b", "尾上青果", 200, "confirmed"),
    ]
    # the business (its own key) pays the grocer on: the points keep circulating
    p.send(mill["account"], p.token.functions.payBusiness(grocer.info["address"], 100, b"\0" * 32))
    assert grocer.balance() == 300


def test_b2b_to_a_resident_a_stranger_or_over_the_cap_is_refused_and_nothing_moves(wallet: WalletServer) -> None:
    p = wallet.points
    bakery = paid_shop(wallet, "荒井パン", 400)
    resident = member(wallet)
    cases = [
        ({"to": resident.info["short_code"], "amount": 10}, 409, "SUPPLIER_IS_RESIDENT"),
        ({"to": "ZZZZ2222", "amount": 10}, 404, "SUPPLIER_NOT_REGISTERED"),
        ({"to": Account.create().address, "amount": 10}, 404, "SUPPLIER_NOT_REGISTERED"),
        ({"to": bakery.info["short_code"], "amount": 10}, 409, "CANNOT_PAY_YOURSELF"),
    ]
    supplier = member(wallet, "merchant", shop="伊保商店")
    cases += [
        ({"to": supplier.info["short_code"], "amount": 100_001}, 422, "BUSINESS_OVER_LIMIT"),
        ({"to": supplier.info["short_code"], "amount": 401}, 409, "INSUFFICIENT_BALANCE"),
    ]
    for body, status, code in cases:
        for path in ("/v1/business/suppliers/preview", "/v1/business/payments"):
            refused = bakery.post(path, body)
            assert (refused.status_code, error_code(refused)) == (status, code), (path, body, refused.text)
    refused = bakery.post("/v1/business/payments", {"to": resident.info["short_code"], "amount": 10})
    assert "市民" in error(refused)["messages"]["ja"] and "resident" in error(refused)["messages"]["en"]
    over = bakery.post("/v1/business/payments", {"to": supplier.info["short_code"], "amount": 100_001})
    assert error(over)["detail"] == {"limit": 100_000, "amount": 100_001}
    assert "上限" in error(over)["messages"]["ja"] and "limit" in error(over)["messages"]["en"]
    # a supplier the city suspended on-chain
    firm = register_business(wallet, "停止中の事業者")
    p.send(p.admin, p.registry.functions.setStatus(firm["address"], SUSPENDED))
    refused = bakery.post("/v1/business/payments", {"to": firm["code"], "amount": 10})
    assert (refused.status_code, error_code(refused)) == (409, "SUPPLIER_NOT_ACTIVE")
    # a resident has no B2B or reward path; the city's desk is for officers
    assert error_code(resident.post("/v1/business/payments", {"to": supplier.info["short_code"], "amount": 1})) == (
        "FORBIDDEN"
    )
    assert error_code(bakery.post("/v1/officer/businesses", {"name": "x", "address": firm["address"]})) == "FORBIDDEN"
    assert bakery.balance() == 400 and supplier.balance() == 0 and resident.balance() == 0
    assert bakery.get("/v1/business/transfers").json() == []


def test_a_shop_rewards_an_employee_and_runs_a_programme_that_pays_each_claim_once(wallet: WalletServer) -> None:
    bakery = paid_shop(wallet, "曽根ベーカリー", 600)
    employee = member(wallet, shop="すずきさん")
    other_shop = member(wallet, "merchant", shop="隣の店")
    preview = bakery.post("/v1/business/rewards/preview", {"member": employee.info["short_code"]}, key=None)
    assert preview.json()["name"] == "すずきさん" and "高砂" not in preview.text  # the display name only
    sent = bakery.post(
        "/v1/business/rewards", {"member": employee.info["short_code"], "amount": 50, "category": "commute"}
    )
    assert sent.status_code == 200, sent.text
    assert employee.balance() == 50
    refused = bakery.post("/v1/business/rewards", {"member": other_shop.info["short_code"], "amount": 5})
    assert (refused.status_code, error_code(refused)) == (409, "REWARD_NOT_RESIDENT")
    over = bakery.post("/v1/business/rewards", {"member": employee.info["short_code"], "amount": 10_001})
    assert error_code(over) == "BUSINESS_OVER_LIMIT"

    created = bakery.post("/v1/business/programmes", {"name": "自転車通勤", "points_per_claim": 30, "budget": 1_000})
    assert created.status_code == 200, created.text
    (programme,) = bakery.get("/v1/business/programmes").json()
    assert programme["chain_id"] is not None and programme["status"] == "confirmed"
    claims = f"/v1/business/programmes/{programme['id']}/claims"
    granted = bakery.post(claims, {"member": employee.info["short_code"], "claim_id": 7})
    assert granted.status_code == 200, granted.text
    again = bakery.post(claims, {"member": employee.info["short_code"], "claim_id": 7})
    assert (again.status_code, error_code(again)) == (409, "CLAIM_ALREADY_GRANTED")
    assert bakery.post(claims, {"member": employee.info["short_code"]}).status_code == 200  # the next number
    assert employee.balance() == 50 + 30 + 30
    (programme,) = bakery.get("/v1/business/programmes").json()
    assert programme["issued"] == 60

    # a programme that pays more per claim than the shop holds is refused plainly; nothing moves
    bakery.post("/v1/business/programmes", {"name": "大きなごほうび", "points_per_claim": 10_000, "budget": 50_000})
    big = next(p for p in bakery.get("/v1/business/programmes").json() if p["name"] == "大きなごほうび")
    refused = bakery.post(
        f"/v1/business/programmes/{big['id']}/claims", {"member": employee.info["short_code"], "claim_id": 1}
    )
    assert (refused.status_code, error_code(refused)) == (409, "BUSINESS_PROGRAMME_OUT_OF_POINTS")
    assert error(refused)["detail"] == {"available": 600 - 50 - 60, "needed": 10_000}
    assert "足りない" in error(refused)["messages"]["ja"] or "少ない" in error(refused)["messages"]["ja"]
    assert employee.balance() == 110 and bakery.balance() == 490
    other = bakery.post(f"/v1/business/programmes/{secrets.token_hex(8)}/claims", {"member": "x"})
    assert error_code(other) == "NOT_FOUND"

    received = employee.get("/v1/business/rewards/received").json()
    assert [(r["from"], r["amount"], r["note"]) for r in received] == [
        ("曽根ベーカリー", 30, "programme"),
        ("曽根ベーカリー", 30, "programme"),
        ("曽根ベーカリー", 50, "commute"),
    ]


def test_the_officer_desk_registers_a_business_once_with_a_valid_address(wallet: WalletServer) -> None:
    desk = officer(wallet)
    bad = desk.post("/v1/officer/businesses", {"name": "x", "address": "0x1234"})
    assert (bad.status_code, error_code(bad)) == (422, "BUSINESS_ADDRESS_INVALID")
    firm = register_business(wallet, "高砂化学")
    again = desk.post("/v1/officer/businesses", {"name": "別名", "address": firm["address"]})
    assert (again.status_code, error_code(again)) == (409, "BUSINESS_ALREADY_REGISTERED")
    resident = member(wallet)
    taken = desk.post("/v1/officer/businesses", {"name": "x", "address": resident.info["address"]})
    assert error_code(taken) == "BUSINESS_ALREADY_REGISTERED"


# -- the till in Chromium ------------------------------------------------------------------------
from tests.browser_support import CHROMIUM, browser, open_page, screen  # noqa: E402

browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs chromium")


def visible(page: Any, selector: str, timeout: float = 15_000) -> None:
    page.wait_for_selector(f"{selector}:not([hidden])", timeout=timeout)


@browser_only
def test_at_the_till_the_shop_pays_a_supplier_and_rewards_an_employee(wallet: WalletServer, playwright: Any) -> None:
    if "postgresql" in wallet.database_url:
        pytest.skip("the browser run uses the SQLite server (the API paths above run on both)")
    bakery = paid_shop(wallet, "高砂ベーカリー本店", 800)
    mill = register_business(wallet, "播磨製粉")
    employee = member(wallet, shop="やまださん")
    with browser(playwright) as plain:
        till = open_page(plain, wallet.url, "/till/")
        visible(till, "section#login")
        till.fill("#login-form [name=login]", str(bakery.login_id))
        till.fill("#login-form [name=password]", bakery.password)
        till.click("#login-form button[type=submit]")
        visible(till, "section#entry")
        till.click("#go-business")
        till.wait_for_selector("section#business[data-ready]")
        assert "800" in till.inner_text("#business-limits")
        # a resident's code as the supplier: the API's own message, nothing sent
        till.fill("#b2b-form [name=to]", employee.info["short_code"])
        till.fill("#b2b-form [name=amount]", "100")
        till.click("#b2b-form button[type=submit]")
        visible(till, "#b2b-error")
        assert till.get_attribute("#b2b-error", "data-code") == "SUPPLIER_IS_RESIDENT"
        # the supplier's registered name is asked about before paying
        till.fill("#b2b-form [name=to]", mill["code"])
        till.fill("#b2b-form [name=amount]", "300")
        till.fill("#b2b-form [name=reference]", "INV-42")
        till.click("#b2b-form button[type=submit]")
        visible(till, "#b2b-confirm")
        assert "播磨製粉" in till.inner_text("#b2b-question") and "300" in till.inner_text("#b2b-question")
        screen(till, "till-business-confirm")
        till.click("#b2b-send")
        visible(till, "#b2b-done", timeout=30_000)
        assert "播磨製粉" in till.inner_text("#b2b-done")
        # the employee's reward, by member code
        till.fill("#reward-form [name=member]", employee.info["short_code"])
        till.fill("#reward-form [name=amount]", "50")
        till.select_option("#reward-form [name=category]", "commute")
        till.click("#reward-form button[type=submit]")
        visible(till, "#reward-confirm")
        assert "やまださん" in till.inner_text("#reward-question")
        till.click("#reward-send")
        visible(till, "#reward-done", timeout=30_000)
        till.wait_for_function("document.querySelectorAll('#business-history li').length === 2")
        screen(till, "till-business-sent")
        # the shop's own programme: created, then one claim paid
        till.fill("#programme-form [name=name]", "自転車通勤")
        till.fill("#programme-form [name=points]", "20")
        till.fill("#programme-form [name=budget]", "500")
        till.click("#programme-form button[type=submit]")
        till.wait_for_selector("#business-programmes .award-form", timeout=30_000)
        till.fill("#business-programmes .award-form [name=member]", employee.info["short_code"])
        till.fill("#business-programmes .award-form [name=claim]", "1")
        till.click("#business-programmes .award-form button[type=submit]")
        till.wait_for_selector("#business-programmes .award-form .notice:not([hidden])", timeout=30_000)
        till.wait_for_function("document.querySelector('#business-programmes li').textContent.includes('付与済み 20')")
        screen(till, "till-business-programme")
        till.click("#lang-toggle")
        till.wait_for_function("document.documentElement.lang === 'en'")
        till.wait_for_selector("section#business[data-ready]")
        assert "Pay a supplier" in till.inner_text("section#business")
        screen(till, "till-business-en")
        assert not till.errors, till.errors

        # the employee sees the reward in the app, with the shop's name and why
        app = open_page(plain, wallet.url, "/app/")
        visible(app, "section#login")
        app.fill("#login-form [name=login]", str(employee.login_id))
        app.fill("#login-form [name=password]", employee.password)
        app.click("#login-form button[type=submit]")
        visible(app, "#business-received")
        received = app.inner_text("#business-received")
        assert "高砂ベーカリー本店" in received and "自転車・徒歩通勤" in received and "50" in received
        assert not app.errors, app.errors

        # the officer desk registers a business and shows its code
        desk = open_page(plain, wallet.url, "/officer/", width=1280)
        visible(desk, "section#login")
        desk.fill("#login-form [name=login]", "officer1")
        desk.fill("#login-form [name=password]", OFFICER_PASSWORD)
        desk.click("#login-form button[type=submit]")
        visible(desk, "#business-desk")
        firm = Account.create().address
        desk.fill("#business-register-form [name=name]", "高砂運輸株式会社")
        desk.fill("#business-register-form [name=address]", firm)
        desk.click("#business-register-form button[type=submit]")
        visible(desk, "#business-desk-notice", timeout=30_000)
        assert "高砂運輸株式会社" in desk.inner_text("#business-desk-notice")
        desk.wait_for_selector("#business-list li:has-text('高砂運輸株式会社')", timeout=15_000)
        assert not desk.errors, desk.errors
    assert wallet.points.registry.functions.accountOf(firm).call()[0] == BUSINESS
    assert employee.balance() == 70 and bakery.balance() == 800 - 300 - 50 - 20
    assert wallet.points.balance(mill["address"]) == 300
