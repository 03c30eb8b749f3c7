"""The explorer over a real node and both databases: pages in plain words, search, CSV, the Etherscan API,
friendly errors, the tail, and a node that goes away."""

from __future__ import annotations

import csv
import html
import inspect
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from indexer import decode
from indexer.web.texts import EVENTS, KINDS, SENTENCES, kind_code, kind_name
from tests.conftest import REPO
from tests.explorer_support import ExplorerServer, get, running_explorer
from tests.points import PointsSystem
from tests.test_indexer import activity, database, help_activity


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, points: PointsSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ExplorerServer, dict[str, Any]]]:
    who = activity(points)
    who["second_shop"] = points.merchant().address
    directory = tmp_path_factory.mktemp(f"explorer-{request.param}")
    labels = {who["shop"]: "高砂ベーカリー", who["second_shop"]: "高砂ベーカリー 駅前店"}
    for server in running_explorer(points, directory, database(request.param, directory), labels):
        server.caught_up()
        yield server, who


def test_home_block_and_transaction_pages_in_plain_words(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    server, who = world
    home = get(server, "/")
    assert home.status_code == 200 and "流通ポイント" in home.text and "<svg" in home.text
    assert "script-src 'none'" in home.headers["content-security-policy"]
    english = get(server, "/?lang=en")
    assert "Points in circulation" in english.text
    assert 'class="tick">最大 ' in home.text and 'class="tick">max ' in english.text  # the charts' scale too
    payment = get(server, f"/search?q={who['request_id']}", follow_redirects=True)
    assert payment.status_code == 200 and "/tx/" in str(payment.url)
    assert "が 加盟店 高砂ベーカリー に 250 pt を支払い" in payment.text
    assert "paid Merchant 高砂ベーカリー 250 pt" in get(server, str(payment.url.path) + "?lang=en").text
    block = get(server, "/block/1")
    assert block.status_code == 200 and "#1" in block.text
    assert "単独の検証者の封印で確定" in block.text  # one validator: its seal is the quorum


def test_address_holders_merchants_programmes(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    server, who = world
    points = server.points
    page = get(server, f"/address/{who['alice']}")
    assert page.status_code == 200
    assert f"{points.balance(who['alice']):,} pt" in page.text
    payments_only = get(server, f"/address/{who['alice']}?kind=payment&lang=en")
    assert "paid" in payments_only.text and "thanked" not in payments_only.text
    merchants = get(server, "/merchants")
    assert "高砂ベーカリー" in merchants.text and "住民の残高は一覧にしません" in merchants.text
    assert get(server, "/programmes").status_code == 200 and get(server, "/co2").status_code == 200


def test_help_matching_reads_in_plain_words(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    """Issue 18: a neighbour paid from a help request's escrow, in words, without personal data."""
    server, _ = world
    helped = help_activity(server.points)
    server.caught_up()
    page = get(server, f"/address/{helped['helper']}")
    assert page.status_code == 200 and "がお手伝いのお礼 300 pt を受け取り" in page.text
    english = get(server, f"/address/{helped['helper']}?lang=en").text
    assert "received 300 pt of thanks for helping a neighbour" in english
    requester = get(server, f"/address/{helped['requester']}").text
    assert "が困りごとのお礼 300 pt を預け入れ" in requester and "困りごとのお礼 120 pt を" in requester


def test_help_totals_per_month_cover_at_least_ten_people(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    """The monthly help totals are shown only once a month's helpers and requesters are 10 or more."""
    server, _ = world
    points = server.points

    def completed() -> list[Any]:
        return list(points.board.events.HelpCompleted().get_logs(from_block=0))

    server.caught_up()
    before = completed()
    shown = get(server, "/help?lang=en").text
    if len({log["args"]["helper"] for log in before}) < 10:
        assert "not shown: fewer than 10 people" in shown
    for _ in range(10):
        help_activity(points)
    server.caught_up()
    logs = completed()
    page = get(server, "/help?lang=en")
    assert page.status_code == 200 and "not shown" not in page.text
    paid = sum(int(log["args"]["paid"]) for log in logs)
    helpers = len({log["args"]["helper"] for log in logs})
    assert f'<td class="num">{len(logs):,}</td><td class="num">{paid:,}</td><td class="num">{helpers}</td>' in page.text
    assert "月別のお手伝い" in get(server, "/help?lang=ja").text


def test_every_listing_exports_csv(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    server, who = world
    for path in (
        "/blocks.csv",
        "/txs.csv",
        "/merchants.csv",
        "/settlements.csv",
        "/programmes.csv",
        "/co2.csv",
        f"/address/{who['alice']}/history.csv",
    ):
        response = get(server, path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv"), path
        assert response.content.startswith(b"\xef\xbb\xbf"), path  # the BOM: Excel reads the names as UTF-8
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows and rows[0], path
    merchant_rows = table(server, "/merchants.csv")
    shop = next(r for r in merchant_rows if r["address"] == who["shop"])
    assert shop["label"] == "高砂ベーカリー" and int(shop["received"]) >= 250
    none = table(server, "/txs.csv?from=2001-01-01&to=2001-12-31")
    assert none == []
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 9 * 3600))
    todays = table(server, f"/txs.csv?from={today}&to={today}")
    assert todays and len(todays) <= len(table(server, "/txs.csv"))
    mine = table(server, f"/address/{who['alice']}/history.csv")
    assert {r["kind"] for r in mine} >= {"issued", "thanks", "payment", "refund"}


def test_local_hops_per_month_count_b2b_payments_and_business_rewards(
    world: tuple[ExplorerServer, dict[str, Any]],
) -> None:
    """Issue 21: the merchants page counts the points that moved again inside the city per JST month,
    with its CSV (BOM, the month's bounds in ISO 8601 +09:00). Known answers: this month's figures grow
    by exactly what this test sends (two B2B payments, two rewards) and nothing else counts."""
    server, _ = world
    points, token = server.points, server.points.token.functions
    server.caught_up()

    def this_month() -> dict[str, str]:
        month = (
            datetime.fromtimestamp(points.w3.eth.get_block("latest")["timestamp"], UTC)
            .astimezone(JST_ZONE)
            .strftime("%Y-%m")
        )
        rows = {r["month"]: r for r in table(server, "/hops.csv")}
        return rows.get(month, {"month": month, **dict.fromkeys(HOP_FIGURES, "0")})

    before = this_month()
    shop, supplier, firm = points.merchant(), points.merchant(), points.new_account()
    points.register(6, firm)  # AccountRegistry.Kind.Business
    employee, customer, buyer = points.resident(), points.resident(), points.resident()
    points.mint(buyer, 1_000)
    points.pay(buyer, shop, 900)  # a payment: not a hop
    invoice, commute = b"INV-1".ljust(32, b"\0"), b"commute".ljust(32, b"\0")
    points.send(shop, token.payBusiness(firm.address, 400, invoice))  # shop -> business
    points.send(shop, token.payBusiness(supplier.address, 150, invoice))  # shop -> shop
    points.send(firm, token.rewardResident(employee.address, 120, commute))  # business -> resident
    points.send(shop, token.rewardResident(customer.address, 30, commute))  # shop -> resident
    server.caught_up()
    after = this_month()
    grew = {k: int(after[k]) - int(before[k]) for k in HOP_FIGURES}
    assert grew == {"b2b_hops": 2, "b2b_points": 550, "reward_hops": 2, "reward_points": 150, "hops": 4,
                    "points": 700}, grew  # fmt: skip
    assert JST_TIME.fullmatch(after["starts_at"]) and after["starts_at"].endswith("-01T00:00:00+09:00"), after
    assert JST_TIME.fullmatch(after["ends_at"]) and after["ends_at"].endswith("T23:59:59+09:00"), after
    response = get(server, "/hops.csv")
    assert response.content.startswith(b"\xef\xbb\xbf") and response.headers["content-type"].startswith("text/csv")
    page, english = get(server, "/merchants").text, get(server, "/merchants?lang=en").text
    row = re.search(rf'<tr data-month="{after["month"]}">(.*?)</tr>', page)
    assert row and f'<td class="num">{int(after["hops"]):,}</td><td class="num">{int(after["points"]):,}</td>' in row[1]
    assert "地域内の循環" in page and "Local hops per month" in english and 'href="/hops.csv"' in page
    # the merchants' figures follow the hops: what a shop passed on and received leaves its balance the chain's
    merchants = {r["address"]: r for r in table(server, "/merchants.csv")}
    mine, theirs = merchants[shop.address], merchants[supplier.address]
    assert (mine["passed_on"], mine["from_businesses"], mine["balance"]) == ("580", "0", str(points.balance(shop)))
    assert (theirs["from_businesses"], theirs["balance"]) == ("150", str(points.balance(supplier)))


HOP_FIGURES = ["b2b_hops", "b2b_points", "reward_hops", "reward_points", "hops", "points"]
JST_ZONE = timezone(timedelta(hours=9))


def table(server: ExplorerServer, path: str) -> list[dict[str, str]]:
    """A CSV export as Excel reads it: UTF-8 after its BOM."""
    return list(csv.DictReader(io.StringIO(get(server, path).content.decode("utf-8-sig"))))


JST_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00")


def test_csv_times_are_japan_time_and_kinds_are_named_as_on_the_pages(
    world: tuple[ExplorerServer, dict[str, Any]],
) -> None:
    """Issue 22: a first-time reader opened the exports in Excel and saw Unix seconds, and ``issue`` in one
    file where another said ``issued`` and the page said 発行."""
    server, who = world
    w3 = server.points.w3
    blocks = table(server, "/blocks.csv")
    for row in blocks[1:4]:
        assert JST_TIME.fullmatch(row["timestamp"]), row
        stamp = w3.eth.get_block(int(row["number"]))["timestamp"]
        assert datetime.fromisoformat(row["timestamp"]) == datetime.fromtimestamp(stamp, UTC)
    txs = table(server, "/txs.csv")
    assert all(JST_TIME.fullmatch(r["timestamp"]) for r in txs)
    assert "issue" not in {r["kind"] for r in txs} and "issued" in {r["kind"] for r in txs}
    mine = table(server, f"/address/{who['alice']}/history.csv")
    assert all(JST_TIME.fullmatch(r["timestamp"]) for r in mine)
    txs_page, address_page = get(server, "/txs").text, get(server, f"/address/{who['alice']}").text
    for rows in (txs, mine):
        for row in rows:
            assert row["kind_name"] == KINDS[row["kind"]]["ja"], row  # every code has its one name
    for word in {r["kind_name"] for r in mine if r["kind"] in ("issued", "payment", "refund", "thanks")}:
        assert f"<td>{word}</td>" in address_page, word
    assert "<td>発行</td>" in txs_page and "<td>issue</td>" not in txs_page and "<td>payment</td>" not in txs_page
    english = table(server, f"/address/{who['alice']}/history.csv?lang=en")
    assert {r["kind_name"] for r in english} >= {"Issued", "Payment", "Refund", "Thanks"}
    assert "<td>Issued</td>" in get(server, "/txs?lang=en").text


def test_every_kind_has_one_name_in_both_languages() -> None:
    """Each kind the indexer can write (a movement's from ``classify``, a call's from ``METHOD_KINDS``) is named
    in the one table, in Japanese and English; b2b and business-reward (issue 21) included."""
    movement_kinds = set(re.findall(r'return "([a-z0-9-]+)"', inspect.getsource(decode.classify)))
    call_kinds = {kind_code(k) for k in decode.METHOD_KINDS.values()} | {"contract-call", "other"}
    assert {"b2b", "business-reward", "issued", "help-return"} <= movement_kinds
    assert movement_kinds <= set(SENTENCES["ja"]) == set(SENTENCES["en"])
    for code in movement_kinds | call_kinds:
        assert code in KINDS and KINDS[code]["ja"] and KINDS[code]["en"], code
        assert kind_name(code, "ja") != kind_name(code, "en"), code
    events = {
        item["name"]
        for artifact in (REPO / "contracts" / "build").glob("*.json")
        for item in json.loads(artifact.read_text(encoding="utf-8")).get("abi", [])
        if item.get("type") == "event"
    }
    assert {"Transfer", "AccountRegistered", "BusinessPaid"} <= events
    unnamed = sorted(e for e in events if not (e in EVENTS and JAPANESE.search(EVENTS[e]["ja"]) and EVENTS[e]["en"]))
    assert not unnamed, f"events with no Japanese and English name in texts.EVENTS: {unnamed}"


def test_search_finds_a_shop_by_its_name(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    server, who = world
    one = get(server, "/search?q=" + quote("駅前"))
    assert one.status_code == 303 and one.headers["location"] == f"/address/{who['second_shop']}"
    several = get(server, "/search?q=" + quote("ベーカリー"), follow_redirects=True)
    assert several.status_code == 200 and "名前が一致したお店" in several.text
    assert f"/address/{who['shop']}" in several.text and f"/address/{who['second_shop']}" in several.text
    residents_never = get(server, "/search?q=" + quote("住民"))
    assert residents_never.status_code == 404 and "その名前のお店もありません" in residents_never.text
    english = get(server, "/search?q=nowhere&lang=en")
    assert english.status_code == 404 and "no shop has that name" in english.text


def test_a_registration_reads_in_plain_words(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    server, who = world
    registry = server.points.registry
    logs = registry.events.AccountRegistered().get_logs(from_block=0, argument_filters={"account": who["alice"]})
    tx_hash = logs[0]["transactionHash"].to_0x_hex()
    page = get(server, f"/tx/{tx_hash}")
    assert page.status_code == 200 and '<p class="sentence headline">住民アカウントが登録されました</p>' in page.text
    assert "<dd>アカウント登録</dd>" in page.text  # the transaction's kind, from the same table
    assert '<td class="event">アカウントの登録<br>' in page.text  # and each event in words beside its name
    assert "A resident account was registered" in get(server, f"/tx/{tx_hash}?lang=en").text
    shop = registry.events.AccountRegistered().get_logs(from_block=0, argument_filters={"account": who["shop"]})
    assert "加盟店アカウントが登録されました" in get(server, f"/tx/{shop[0]['transactionHash'].to_0x_hex()}").text


def test_no_page_or_export_lists_residents_balances(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    """Issue 22: the list of every holder is gone; merchants (public business data) stay listed."""
    server, who = world
    home = get(server, "/").text
    assert 'href="/holders' not in home and 'href="/merchants"' in home
    for old, new in (("/holders", "/merchants"), ("/holders?page=2", "/merchants"), ("/holders.csv", "/merchants.csv")):
        moved = get(server, old)
        assert moved.status_code == 301 and moved.headers["location"] == new, old
    for path in ("/merchants", "/merchants.csv", "/settlements.csv", "/merchants?lang=en"):
        text = get(server, path, follow_redirects=True).text
        assert who["alice"] not in text and who["bob"] not in text, path
    assert who["shop"] in get(server, "/merchants.csv").text
    assert who["alice"] in get(server, f"/address/{who['alice']}").text  # one's own page, as before


def test_etherscan_compatible_api(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    server, who = world
    points = server.points
    transfers = get(server, f"/api?module=account&action=tokentx&address={who['alice']}&sort=asc").json()
    assert transfers["status"] == "1" and transfers["message"] == "OK"
    assert {t["kind"] for t in transfers["result"]} >= {"issued", "payment"}
    assert all(t["tokenDecimal"] == "0" for t in transfers["result"])
    balance = get(server, f"/api?module=account&action=balance&address={who['alice']}").json()
    assert balance == {"status": "1", "message": "OK", "result": str(points.balance(who["alice"]))}
    topic = points.token.events.Paid().topic
    found = get(server, f"/api?module=logs&action=getLogs&address={points.token.address}&topic0={topic}").json()
    assert found["status"] == "1" and found["result"] and all(e["topics"][0] == topic for e in found["result"])
    now = int(time.time()) + 5
    assert (
        get(server, f"/api?module=block&action=getblocknobytime&timestamp={now}&closest=before").json()["status"] == "1"
    )
    for bad in (
        "module=account&action=tokentx&address=0x123",
        "module=account&action=tokentx&startblock=10&endblock=2",
        "module=logs&action=getLogs&topic0=0xnothex",
        "module=account&action=balance",
        "module=nope&action=nope",
        "module=account&action=tokentx&page=0",
        "module=block&action=getblocknobytime&timestamp=abc&closest=before",
    ):
        answer = get(server, f"/api?{bad}")
        assert answer.status_code == 200 and answer.json()["status"] == "0", bad
        assert answer.json()["result"].startswith("Error! ")


def test_bad_input_gets_friendly_pages_never_a_500(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    server, _ = world
    cases = {
        "/block/abc": 400,
        "/block/999999999": 404,
        "/tx/0x123": 400,
        "/tx/0x" + "00" * 32: 404,
        "/address/not-an-address": 400,
        "/address/0x0000000000000000000000000000000000000001?kind=bogus": 400,
        "/blocks?page=0": 400,
        "/blocks?page=99999999999999": 400,
        "/search?q=": 400,
        "/search?q=%3Cscript%3E": 404,  # could be a shop's name: none has it
        "/search?q=0x" + "ab" * 32: 404,
        "/no/such/page": 404,
        "/address/zzz/history.csv": 400,
        "/txs?from=2026-13-01": 400,
        "/txs?from=2026-02-30": 400,
        "/txs?from=2026-05-01&to=2026-04-01": 400,
        "/txs.csv?from=yesterday": 400,
    }
    for path, status in cases.items():
        response = get(server, path)
        assert response.status_code == status, (path, response.status_code)
        if ".csv" not in path:
            assert '<a href="/">' in response.text, path
        message = error_message(response)  # Japanese pages say every error in Japanese
        assert JAPANESE.search(message) and not re.search(r"\b(not|is|must|a)\b", message), (path, message)
        english = error_message(get(server, path + ("&" if "?" in path else "?") + "lang=en"))
        assert not JAPANESE.search(english.replace("<script>", "")) or "search" in path, (path, english)
    assert "ブロック番号は整数で指定してください" in get(server, "/block/abc").text
    assert "a block number is a whole number" in get(server, "/block/abc?lang=en").text
    assert "このアドレスのページはありません" in get(server, "/no/such/page").text
    assert "<script>" not in get(server, "/search?q=%3Cscript%3E").text


JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def error_message(response: httpx.Response) -> str:
    """The refusal's words: the page's message paragraph, or a CSV URL's JSON error."""
    if response.headers["content-type"].startswith("application/json"):
        return str(response.json()["error"])
    found = re.search(r'<section class="error-page">\s*<h1>[^<]*</h1>\s*<p>([^<]*)</p>', response.text)
    assert found, response.text[:500]
    return html.unescape(found.group(1))


def test_the_tail_and_a_node_that_goes_away(world: tuple[ExplorerServer, dict[str, Any]]) -> None:
    server, who = world
    points = server.points
    points.mint(who["bob"], 5)
    server.caught_up(timeout=15)  # follows new heads without a restart
    points.node.stop()
    time.sleep(1.5)
    assert get(server, "/").status_code == 200  # keeps serving what it has
    unavailable = get(server, f"/address/{who['bob']}")
    assert unavailable.status_code == 200
    points.node.start()
    points.mint(who["bob"], 6)
    height = server.caught_up(timeout=60)
    numbers = [int(r["number"]) for r in table(server, "/blocks.csv")]
    assert sorted(numbers) == list(range(height + 1))  # no gap, no duplicate
