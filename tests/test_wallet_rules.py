"""Refusals that depend on time and on the registry: expired points, expired requests and codes, suspension.

A node of its own (this module moves the chain's clock).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import free_port
from tests.points import PointsSystem, start_points_system
from tests.wallet_support import WalletServer, database_url, member

SUSPENDED = 2


@pytest.fixture(scope="module")
def wallet(tmp_path_factory: pytest.TempPathFactory, dev_chain_template: Path) -> Iterator[WalletServer]:
    base = tmp_path_factory.mktemp("wallet-rules")
    shutil.copytree(dev_chain_template, base / "node")
    points = start_points_system(base / "node", free_port(), base / "deployments")
    server = WalletServer(points, base / "wallet", database_url("sqlite", base / "wallet"))
    (base / "wallet").mkdir()
    server.init()
    server.start()
    yield server
    server.stop()
    points.node.stop()


def _sql(server: WalletServer, statement: str) -> None:
    engine = create_engine(server.database_url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_a_suspended_resident_is_told_so(wallet: WalletServer) -> None:
    alice = member(wallet, points=100)
    bob = member(wallet)
    points: PointsSystem = wallet.points
    points.send(points.admin, points.registry.functions.setStatus(alice.info["address"], SUSPENDED))
    refused = alice.post("/v1/thanks", {"to": bob.info["short_code"], "amount": 10})
    # refused by the ledger's precheck, or already at the door once the wallet's registry follower saw it
    assert refused.status_code == 403 and refused.json()["error"]["code"] in ("ACCOUNT_SUSPENDED", "ACCOUNT_NOT_ACTIVE")
    to_suspended = bob.post("/v1/thanks", {"to": alice.info["short_code"], "amount": 1})
    assert to_suspended.json()["error"]["code"] in ("RECIPIENT_NOT_ACTIVE", "INSUFFICIENT_BALANCE")


def test_expired_payment_request_and_one_time_code(wallet: WalletServer) -> None:
    resident = member(wallet, points=100)
    shop = member(wallet, "merchant")
    request = shop.post("/v1/payment-requests", {"amount": 10}, key=None).json()
    code = resident.post("/v1/me/payment-codes", key=None).json()["code"]
    _sql(wallet, "UPDATE payment_requests SET expires_at = '2000-01-01 00:00:00.000000'")
    _sql(wallet, "UPDATE payment_codes SET expires_at = '2000-01-01 00:00:00.000000'")
    late = resident.post("/v1/payments", {"uri": request["uri"]})
    assert late.status_code == 410 and late.json()["error"]["code"] == "PAYMENT_REQUEST_EXPIRED"
    assert shop.get(f"/v1/payment-requests/{request['id']}").json()["status"] == "expired"
    stale = shop.post("/v1/merchant/charges", {"amount": 10, "code": code})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "CODE_INVALID"
    assert resident.balance() == 100


def test_paying_with_expired_points_says_they_expired(wallet: WalletServer) -> None:
    points: PointsSystem = wallet.points
    resident = member(wallet)
    shop = member(wallet, "merchant")
    month = points.current_month()
    points.mint(resident.info["address"], 500, month)  # expires at the end of this JST month
    assert resident.get("/v1/me/balance").json()["expiring_soon"] == 500
    points.mine_at(int(points.token.functions.expiryOf(month).call()) + 1)
    assert resident.balance() == 0
    request = shop.post("/v1/payment-requests", {"amount": 200}, key=None).json()
    refused = resident.post("/v1/payments", {"uri": request["uri"]})
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "POINTS_EXPIRED" and error["messages"]["en"].startswith("Not enough points: some")
