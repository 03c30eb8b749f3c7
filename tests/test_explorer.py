"""The explorer over a real node and both databases: pages in plain words, search, CSV, the Etherscan API,
friendly errors, the tail, and a node that goes away."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.explorer_support import ExplorerServer, get, running_explorer
from tests.points import PointsSystem
from tests.test_indexer import activity, database, help_activity


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, points: PointsSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ExplorerServer, dict[str, Any]]]:
    who = activity(points)
    directory = tmp_path_factory.mktemp(f"explorer-{request.param}")
    labels = {who["shop"]: "高砂ベーカリー"}
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
    assert who["bob"] in get(server, "/holders").text or who["bob"][:6] in get(server, "/holders").text
    merchants = get(server, "/merchants")
    assert "高砂ベーカリー" in merchants.text
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
    page = get(server, "/help?lang=en").text
    if len({log["args"]["helper"] for log in before}) < 10:
        assert "not shown: fewer than 10 people" in page
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
        "/holders.csv",
        "/merchants.csv",
        "/settlements.csv",
        "/programmes.csv",
        "/co2.csv",
        f"/address/{who['alice']}/history.csv",
    ):
        response = get(server, path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv"), path
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows and rows[0], path
    merchant_rows = list(csv.DictReader(io.StringIO(get(server, "/merchants.csv").text)))
    shop = next(r for r in merchant_rows if r["address"] == who["shop"])
    assert shop["label"] == "高砂ベーカリー" and int(shop["received"]) >= 250
    none = list(csv.DictReader(io.StringIO(get(server, "/txs.csv?from=2001-01-01&to=2001-12-31").text)))
    assert none == []
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 9 * 3600))
    todays = list(csv.DictReader(io.StringIO(get(server, f"/txs.csv?from={today}&to={today}").text)))
    assert todays and len(todays) <= len(list(csv.DictReader(io.StringIO(get(server, "/txs.csv").text))))
    mine = list(csv.DictReader(io.StringIO(get(server, f"/address/{who['alice']}/history.csv").text)))
    assert {r["kind"] for r in mine} >= {"issued", "thanks", "payment", "refund"}


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
        "/search?q=%3Cscript%3E": 400,
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
    assert "<script>" not in get(server, "/search?q=%3Cscript%3E").text


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
    numbers = [int(r["number"]) for r in csv.DictReader(io.StringIO(get(server, "/blocks.csv").text))]
    assert sorted(numbers) == list(range(height + 1))  # no gap, no duplicate
