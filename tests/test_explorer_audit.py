"""Auditors' tools: ``takasago audit verify`` (and a planted inconsistency it must catch), the explorer
in a real browser, and schemathesis over the Etherscan-compatible API."""

from __future__ import annotations

import csv
import io
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from sqlalchemy import create_engine, text

from oracle.settlement import Report, post, sign_report
from tests.browser_support import browser, open_page, screen
from tests.explorer_support import ExplorerServer, running_explorer
from tests.points import CAP_MONTH, ORACLE, ORACLE_ROLE, QUORUM_REPORTER_ROLE, PointsSystem
from tests.test_indexer import activity
from tests.wallet_support import officer, signup


def co2_report(points: PointsSystem) -> dict[str, Any]:
    """An accepted oracle report with grants (2 of 3 operators), as the CO2 oracle posts it."""
    operators = [points.new_account() for _ in range(2)]
    points.register(ORACLE, *operators)
    for operator in operators:
        points.grant(ORACLE_ROLE, operator)
    programme = points.create_programme(
        name="CO2 reduction", verifierRole=QUORUM_REPORTER_ROLE, rewardPoints=10, rewardUnits=1000,
        capPerPeriod=10**6, capPeriod=CAP_MONTH, budget=10**9,
    )  # fmt: skip
    residents = [points.resident() for _ in range(3)]
    leaves: list[tuple[int, str, int]] = [(i, r.address, 12_000 + i) for i, r in enumerate(residents)]
    report = Report(programme, 202604, leaves, ["0x" + f"{i:064x}" for i in range(3)])
    signatures = sign_report(report, operators, points.w3.eth.chain_id, points.reports.address)
    post(points.sender(operators[0]), points.reports, report, signatures)
    return {"programme": programme, "units": report.total_units}


@pytest.fixture(scope="module")
def world(
    points: PointsSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ExplorerServer, dict[str, Any]]]:
    who = activity(points)
    who["co2"] = co2_report(points)
    directory = tmp_path_factory.mktemp("audit")
    labels = {who["shop"]: "高砂ベーカリー"}
    for server in running_explorer(points, directory, f"sqlite:///{directory / 'indexer.db'}", labels):
        server.caught_up()
        yield server, who


def test_audit_verify_passes_and_catches_a_row_altered_in_the_index(
    world: tuple[ExplorerServer, dict[str, Any]],
) -> None:
    server, who = world
    clean = server.cli("audit", "verify", *server.args())
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "OK: seals, parent links, transaction roots, balances and supply all agree" in clean.stdout
    # one validator: no certificate exists to check, and the report says why instead of "0 verified"
    assert "a single validator seals every block" in clean.stdout and "0 commit certificates" not in clean.stdout
    chain_only = server.cli("audit", "verify", "--chain-only", "--rpc-url", server.points.node.url)
    assert chain_only.returncode == 0 and "blocks" in chain_only.stdout

    engine = create_engine(server.database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE movements SET amount = amount + 7 WHERE kind = 'payment' AND from_address = :a"),
            {"a": who["alice"]},
        )
    try:
        tampered = server.cli("audit", "verify", *server.args())
        assert tampered.returncode == 1, tampered.stdout
        assert f"DISCREPANCY: balance of {who['alice']}" in tampered.stdout
        assert "DISCREPANCY: balance of " + who["shop"] in tampered.stdout
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE movements SET amount = amount - 7 WHERE kind = 'payment' AND from_address = :a"),
                {"a": who["alice"]},
            )
        engine.dispose()
    assert server.cli("audit", "verify", *server.args()).returncode == 0
    head = int(clean.stdout.split("audit at block ")[1].split(":")[0])
    recent = server.cli("audit", "verify", "--from", str(head - 2), "--at", str(head), *server.args())  # 3 blocks
    assert recent.returncode == 0, recent.stdout + recent.stderr
    assert f"audit at block {head}: 3 blocks" in recent.stdout and "balances and supply all agree" in recent.stdout
    late = server.cli("audit", "verify", "--from", str(head + 1), "--at", str(head), *server.args())
    assert late.returncode == 1 and "after block" in late.stdout
    bad = server.cli("audit", "verify", "--at", "99999999", *server.args())
    assert bad.returncode == 1 and "beyond the indexed" in bad.stdout
    missing = server.cli("audit", "verify", "--data-dir", "/nonexistent", "--rpc-url", server.points.node.url)
    assert missing.returncode == 2 and "no index" in missing.stderr and "Traceback" not in missing.stderr


def test_co2_reports_and_programmes_appear_with_budget_used(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    server, who = world
    co2 = who["co2"]
    rows = list(csv.DictReader(io.StringIO(httpx.get(server.url + "/co2.csv", timeout=30).content.decode("utf-8-sig"))))
    mine = [r for r in rows if int(r["programme_id"]) == co2["programme"]]
    assert (
        mine and int(mine[0]["units"]) == co2["units"] and mine[0]["period"] == "202604" and mine[0]["signers"] == "2"
    )
    page = httpx.get(server.url + "/co2", timeout=30).text
    assert "<svg" in page and f"{co2['units']:,}" in page
    answer = httpx.get(server.url + "/programmes.csv", timeout=30)
    programmes = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    entry = next(p for p in programmes if int(p["id"]) == co2["programme"])
    assert entry["starts_at"].endswith("+09:00")  # Japan time, not Unix seconds
    assert int(entry["granted"]) == sum((12_000 + i) * 10 // 1000 for i in range(3)) and int(entry["grants"]) == 3
    assert server.cli("audit", "verify", *server.args()).returncode == 0


def test_the_explorer_in_a_real_browser(
    world: tuple[ExplorerServer, dict[str, Any]], playwright: Any, tmp_path: Path
) -> None:
    server, who = world
    with browser(playwright) as chromium:
        page = open_page(chromium, server.url, "/", width=1280)
        screen(page, "explorer-home")
        page.fill("#q", who["alice"])
        page.click("form.search button")
        page.wait_for_url(f"**/address/{who['alice']}")
        screen(page, "explorer-address")
        page.click("table a[href^='/tx/']")
        page.wait_for_url("**/tx/*")
        assert page.locator("p.sentence").count() >= 1
        screen(page, "explorer-transaction")
        page.click("a[href='/merchants']")
        assert "高砂ベーカリー" in page.inner_text("main") and "住民の残高は一覧にしません" in page.inner_text("main")
        assert page.locator("a[href^='/holders']").count() == 0  # issue 22: no list of residents' balances
        with page.expect_download() as download_info:
            page.click("a[href='/merchants.csv']")
        download = download_info.value
        saved = tmp_path / "merchants.csv"
        download.save_as(saved)
        rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
        assert any(r["label"] == "高砂ベーカリー" for r in rows)
        screen(page, "explorer-merchants")
        # issue 21: the local hops per month under the merchants (a shop pays a business, which rewards a resident)
        points, token = server.points, server.points.token.functions
        shop, firm, buyer, employee = points.merchant(), points.new_account(), points.resident(), points.resident()
        points.register(6, firm)  # AccountRegistry.Kind.Business
        points.mint(buyer, 500)
        points.pay(buyer, shop, 500)
        points.send(shop, token.payBusiness(firm.address, 320, b"INV-7".ljust(32, b"\0")))
        points.send(firm, token.rewardResident(employee.address, 80, b"commute".ljust(32, b"\0")))
        server.caught_up()
        page.reload()
        hops = page.locator("#local-hops + p + table tbody tr:first-child td").all_text_contents()
        # the month, then the totals (what a phone's narrow table shows), then each kind
        assert hops[1:] == ["2", "400", "1", "320", "1", "80"], hops
        shop_row = page.locator(f"main table tbody tr:has(a[href='/address/{shop.address}']) td").all_text_contents()
        assert shop_row[-3:] == ["320", "0", "180"], shop_row  # passed on, received from businesses, balance
        page.locator("#local-hops").scroll_into_view_if_needed()
        screen(page, "explorer-hops")
        page.click("a[href='/help']")  # issue 18: help per month, shown only for 10 people or more
        assert "月別のお手伝い" in page.inner_text("main")
        screen(page, "explorer-help")
        page.click("#lang")
        assert "Merchants" in page.inner_text("header") and "Help given per month" in page.inner_text("main")
        page.goto(server.url + "/block/not-a-number")
        assert "That request is not valid" in page.inner_text("main")
        screen(page, "explorer-bad-request")
        issue22_pages(page, server, who)


def issue22_pages(page: Any, server: ExplorerServer, who: dict[str, Any]) -> None:
    """The first-time run's findings, as a reader sees them: kinds and errors in Japanese, a shop found by
    its name, a registration in plain words."""
    page.goto(server.url + "/txs?lang=ja")
    kinds = page.locator("main table tbody tr td:nth-child(4)").all_inner_texts()
    assert "発行" in kinds and not {"issue", "payment", "thanks", "registration"} & set(kinds), kinds
    screen(page, "explorer-transactions")
    page.fill("#q", "ベーカリー")
    page.click("form.search button")
    page.wait_for_url(f"**/address/{who['shop']}")
    assert "高砂ベーカリー" in page.inner_text("main")
    screen(page, "explorer-search-shop")
    registry = server.points.registry
    logs = registry.events.AccountRegistered().get_logs(from_block=0, argument_filters={"account": who["alice"]})
    page.goto(server.url + f"/tx/{logs[0]['transactionHash'].to_0x_hex()}")
    assert page.inner_text("p.headline") == "住民アカウントが登録されました"
    screen(page, "explorer-registration")
    page.goto(server.url + "/txs?from=2026-02-30")
    assert "開始日 2026-02-30 は存在しない日付です" in page.inner_text("main")
    screen(page, "explorer-error-ja")


def test_schemathesis_finds_no_server_error_in_the_api(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    server, _ = world
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    failures: list[str] = []
    calls = [0]
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema fails the test here
        for mode in GenerationMode:

            @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(mode))
            def run(case: schemathesis.Case) -> None:
                response = case.call(base_url=server.url, timeout=30)
                calls[0] += 1
                if response.status_code >= 500:
                    failures.append(f"{case.path} {case.query}: {response.status_code}")

            run()
    assert calls[0] > 60 and not failures, failures[:10]


def test_search_finds_a_shop_by_the_name_the_wallet_lists(
    wallets: Any, session_points: PointsSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22: a shop is found by the name the city approved, read live from the wallet's public directory
    (``TAKASAGO_INDEXER_SHOPS_URL``), and the search leads to the shop's own page with its QR."""
    wallet = wallets("sqlite")
    name = f"検索の和菓子屋{secrets.randbelow(10**6):06d}"
    shop = signup(wallet, "merchant", shop=name)
    profile = {"name": name, "category": "和菓子", "district": "荒井町", "hours": "9:00-17:00",
               "takes_cards": True, "static_limit": 1000,
               "bank": {"bank": "播州信用金庫", "branch": "高砂支店", "account_type": "普通",
                        "account_number": "7654321", "holder": "ワガシヤ"}}  # fmt: skip
    applied = httpx.put(wallet.url + "/v1/merchant/shop", json=profile, headers=shop.headers(), timeout=30)
    assert applied.status_code == 200, applied.text
    approved = officer(wallet).post(f"/v1/officer/shops/{shop.info['id']}/approve", {"reason": "営業許可証を確認"})
    assert approved.status_code == 200, approved.text
    for _ in range(60):  # the on-chain registration follows the approval
        if shop.me()["status"] == "active":
            break
        time.sleep(0.5)
    code = shop.me()["short_code"]
    monkeypatch.setenv("TAKASAGO_INDEXER_SHOPS_URL", wallet.url)  # the explorer process inherits it
    for server in running_explorer(session_points, tmp_path, f"sqlite:///{tmp_path / 'indexer.db'}", {}):
        server.caught_up()
        found = httpx.get(server.url + "/search", params={"q": name[2:]}, timeout=30)
        assert found.status_code == 303 and found.headers["location"] == f"/shops/{code}", found.text[:300]
        page = httpx.get(server.url + found.headers["location"], timeout=30)
        assert page.status_code == 200 and name in page.text
