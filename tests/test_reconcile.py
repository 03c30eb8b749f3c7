"""The wallet follows the chain (issue 20), on SQLite and PostgreSQL, over the real node.

An officer suspends a member's account on-chain from the command line (``takasago account
suspend``): the wallet's registry follower marks the member suspended and the API refuses
them; reactivated on-chain, they are let in again; ``takasago wallet reconcile`` then finds
no difference. A difference forced into the wallet's database is reported in English and
Japanese with exit code 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import REPO
from tests.points import PointsSystem
from tests.wallet_support import Api, WalletServer, approved_business, member, running_wallet
from wallet_api.db.engine import make_engine


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def wallet(
    request: pytest.FixtureRequest, points: PointsSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalletServer]:
    directory = tmp_path_factory.mktemp(f"reconcile-{request.param}")
    yield from running_wallet(points, directory, request.param, TAKASAGO_WALLET_REGISTRY_FOLLOW_SECONDS="0.3")


def officer_cli(wallet: WalletServer, *args: str) -> None:
    """A city officer's ``takasago account …`` with their own (dev) key, as on the city's machines."""
    points = wallet.points
    subprocess.run(
        [sys.executable, "-m", "scripts.cli", "account", *args, "--rpc-url", wallet.rpc_url,
         "--deployments", str(points.deployments_dir), "--dev-keys", str(points.node.data_dir / "dev-keys.json"),
         "--audit-log", str(wallet.data_dir / "audit.log")],
        cwd=REPO, check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def reconcile(wallet: WalletServer) -> tuple[int, dict[str, Any], str]:
    base = ["--data-dir", str(wallet.data_dir), "--database-url", wallet.database_url,
            "--rpc-url", wallet.rpc_url, "--deployments-dir", str(wallet.points.deployments_dir)]  # fmt: skip
    as_json = wallet.cli("reconcile", "--json", *base, check=False)
    plain = wallet.cli("reconcile", *base, check=False)
    assert as_json.returncode == plain.returncode and "Traceback" not in plain.stderr, plain.stderr
    return as_json.returncode, json.loads(as_json.stdout), plain.stdout


def eventually(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def refused(api: Api) -> bool:
    response = api.get("/v1/me")
    return response.status_code in (401, 403) and response.json()["error"]["code"] == "ACCOUNT_NOT_ACTIVE"


def test_an_officers_suspension_on_chain_reaches_the_wallet(wallet: WalletServer) -> None:
    resident, neighbour = member(wallet, points=30), member(wallet)
    address = resident.info["address"]

    officer_cli(wallet, "suspend", address)
    eventually(lambda: refused(resident), "the wallet to refuse the suspended member")
    assert neighbour.get("/v1/me").status_code == 200  # only that member
    code, report, _ = reconcile(wallet)
    assert code == 0 and report["differences"] == [] and report["members"] >= 2, report

    officer_cli(wallet, "reactivate", address)
    eventually(lambda: resident.get("/v1/me").status_code == 200, "the wallet to let the member in again")
    assert resident.balance() == 30
    code, report, text_out = reconcile(wallet)
    assert code == 0 and report["differences"] == [] and "no differences" in text_out and "一致" in text_out


def test_a_difference_is_reported_in_both_languages(wallet: WalletServer) -> None:
    resident = member(wallet)
    address = resident.info["address"]
    engine = make_engine(wallet.database_url)
    try:
        with engine.begin() as conn:  # a hand-made change in the wallet's database, not on the chain
            conn.execute(text("UPDATE users SET status = 'suspended' WHERE address = :a"), {"a": address})
        code, report, text_out = reconcile(wallet)
        assert code == 1, report
        (difference,) = [d for d in report["differences"] if d["address"] == address]
        assert (difference["wallet_status"], difference["chain_status"]) == ("suspended", "active")
        assert resident.info["short_code"] in difference["en"] and "チェーン上では「有効」" in difference["ja"]
        assert address in text_out and "suspended in the wallet but active on-chain" in text_out
        assert "1 difference(s)" in text_out and "不一致" in text_out
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE users SET status = 'active' WHERE address = :a"), {"a": address})
        engine.dispose()
    assert reconcile(wallet)[0] == 0


def test_a_recovery_the_wallet_did_not_make_is_reported_with_the_successor(wallet: WalletServer) -> None:
    """Last in the module: the member stays at odds with the chain (the counter's recovery is the way)."""
    resident = member(wallet, points=20)
    lost = resident.info["address"]
    successor = wallet.points.new_account()
    wallet.points.recover(lost, successor)  # an officer's recovery from the command line, to a key made elsewhere
    time.sleep(1)  # the follower's passes: it leaves a recovered account to the counter's recovery
    assert resident.get("/v1/me").status_code == 200
    code, report, text_out = reconcile(wallet)
    assert code == 1
    (difference,) = [d for d in report["differences"] if d["address"] == lost]
    assert difference["chain_status"] == "revoked" and successor.address in difference["en"]
    assert "復旧済み" in difference["ja"] and successor.address in text_out


def test_a_business_suspended_on_chain_is_followed_and_reconciled_like_a_member(wallet: WalletServer) -> None:
    """A business (issue 21) has its own on-chain account: the follower and the reconciliation cover it too."""
    firm = approved_business(wallet, "高砂運輸")
    address = firm.info["address"]
    officer_cli(wallet, "suspend", address)
    eventually(lambda: refused(firm), "the wallet to refuse the suspended business")
    _, report, _ = reconcile(wallet)  # the module's other tests leave differences of their own members
    assert report["members"] >= 1 and not [d for d in report["differences"] if d["address"] == address], report

    officer_cli(wallet, "reactivate", address)
    eventually(lambda: firm.get("/v1/me").status_code == 200, "the wallet to let the business in again")
    _, report, _ = reconcile(wallet)  # the module's other tests leave differences of their own members
    assert report["members"] >= 1 and not [d for d in report["differences"] if d["address"] == address], report
