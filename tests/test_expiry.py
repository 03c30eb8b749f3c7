"""Expiry done properly (issue 20), on SQLite and PostgreSQL, over the real node with its clock moved.

The wallet API's own scheduled job (``wallet_api.expiry``, every 0.5 s here) sends the
expiring-points notices before a month ends (once, however often it runs) and, once the
chain's clock has crossed the month end, sweeps the expired points of exactly the accounts
that hold them, once: balances end at zero, ``ExpiredPointsSwept`` names exactly those
accounts, a second pass sends nothing, and ``totalSupply == issued - settled - swept``.
The hand-run ``takasago wallet sweep-expired``, killed between two batches, resumes the
remaining batches and never sweeps an account twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from eth_utils import to_checksum_address

from tests.conftest import REPO
from tests.points import PointsSystem
from tests.wallet_support import Api, WalletServer, member, running_wallet

T = TypeVar("T")
DAY = 86400
_FAILPOINT = "TAKASAGO_EXPIRY_FAILPOINT"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def wallet(
    request: pytest.FixtureRequest, points: PointsSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalletServer]:
    directory = tmp_path_factory.mktemp(f"expiry-{request.param}")
    env = {"TAKASAGO_WALLET_EXPIRY_SECONDS": "0.5", "TAKASAGO_WALLET_EXPIRY_BATCH": "2"}
    yield from running_wallet(points, directory, request.param, **env)


def eventually(check: Callable[[], T | None], timeout: float = 30, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def expiring(api: Api) -> list[dict[str, Any]]:
    response = api.get("/v1/notices", params={"limit": 100})
    assert response.status_code == 200, response.text
    return [n for n in response.json()["items"] if n["kind"] == "points_expiring"]


def args(wallet: WalletServer) -> list[str]:
    return ["--data-dir", str(wallet.data_dir), "--database-url", wallet.database_url,
            "--rpc-url", wallet.rpc_url, "--deployments-dir", str(wallet.points.deployments_dir)]  # fmt: skip


def report(wallet: WalletServer, month: str) -> dict[str, Any]:
    result = wallet.cli("expiry-report", "--month", month, "--json", *args(wallet))
    return dict(json.loads(result.stdout))


def label(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def sweeps_on_chain(points: PointsSystem) -> Counter[str]:
    """How many ``ExpiredPointsSwept`` events name each account, over the whole chain."""
    logs = points.token.events.ExpiredPointsSwept().get_logs(from_block=0)
    return Counter(str(entry["args"]["account"]) for entry in logs)


def identity_holds(points: PointsSystem) -> tuple[bool, int]:
    issued, settled, swept = points.token.functions.totals().call()
    return int(points.token.functions.totalSupply().call()) == issued - settled - swept, int(swept)


def service_nonce(wallet: WalletServer) -> int:
    return int(wallet.points.w3.eth.get_transaction_count(to_checksum_address(wallet.service_address)))


def test_notices_before_the_month_end_then_one_sweep_after_it(wallet: WalletServer) -> None:
    points = wallet.points
    a, b, c = member(wallet), member(wallet), member(wallet)
    month = points.current_month() + 1
    points.mint(a.info["address"], 40, expiry_month=month)
    points.mint(b.info["address"], 25, expiry_month=month)
    points.mint(c.info["address"], 70, expiry_month=month + 2)  # not expiring this time
    ends = int(points.token.functions.expiryOf(month).call())

    # ten days before the month end (chain clock): the job's next pass notifies a and b, once each
    points.mine_at(ends - 10 * DAY)
    eventually(lambda: expiring(a) and expiring(b), what="the expiring-points notices")
    points.mine_at(ends - 9 * DAY)  # the next day: the job runs the notices again, nothing new
    time.sleep(1.5)
    assert [n["params"]["amount"] for n in expiring(a)] == [40]
    assert [n["params"]["amount"] for n in expiring(b)] == [25]
    assert expiring(a)[0]["params"]["month"] == label(month) and expiring(c) == []
    assert report(wallet, label(month))["state"] == "none"  # nothing swept before the month ended

    # across the month end: the job sweeps the month once, exactly a and b
    _, swept_before = identity_holds(points)
    points.mine_at(ends + 60)
    done = eventually(
        lambda: (r := report(wallet, label(month)))["state"] == "finished" and r, what="the month's sweep"
    )
    addresses = {a.info["address"]: 40, b.info["address"]: 25}
    assert done["swept"] == addresses and done["points_swept"] == 65 and done["accounts_swept"] == 2
    assert done["started_by"] == "scheduler" and done["batches"] == done["batches_done"] == 1
    assert len(done["tx_hashes"]) == 1 and done["supply"]["identity_holds"]
    receipt = points.w3.eth.get_transaction_receipt(done["tx_hashes"][0])
    events = points.events(receipt, points.token, "ExpiredPointsSwept")
    assert {e["args"]["account"]: e["args"]["amount"] for e in events} == addresses
    on_chain = sweeps_on_chain(points)
    assert on_chain[a.info["address"]] == on_chain[b.info["address"]] == 1 and on_chain[c.info["address"]] == 0
    assert points.balance(a.info["address"]) == points.balance(b.info["address"]) == 0
    assert points.token.functions.expiredBalanceOf(a.info["address"], 0).call() == 0
    assert points.balance(c.info["address"]) == 70
    holds, swept_after = identity_holds(points)
    assert holds and swept_after - swept_before == 65

    # later passes and a hand run send nothing for the month
    nonce = service_nonce(wallet)
    time.sleep(1.5)
    by_hand = wallet.cli("sweep-expired", "--month", label(month), *args(wallet))
    assert "nothing sent now" in by_hand.stdout and "holds" in by_hand.stdout, by_hand.stdout
    assert done["tx_hashes"][0] in by_hand.stdout
    assert service_nonce(wallet) == nonce and report(wallet, label(month))["tx_hashes"] == done["tx_hashes"]
    text = wallet.cli("expiry-report", "--month", label(month), *args(wallet)).stdout
    assert "points swept: 65" in text and "accounts swept: 2" in text and "失効したポイント" in text


def test_a_run_killed_between_batches_resumes_without_sweeping_twice(wallet: WalletServer) -> None:
    points = wallet.points
    wallet.stop()  # the scheduled job off: this test drives the sweep by hand
    wallet.env["TAKASAGO_WALLET_EXPIRY_SECONDS"] = "0"
    wallet.start()
    try:
        month = points.current_month()
        residents = [member(wallet) for _ in range(5)]
        amounts = {r.info["address"]: 11 * (i + 1) for i, r in enumerate(residents)}
        for address, amount in amounts.items():
            points.mint(address, amount, expiry_month=month)
        points.mine_at(int(points.token.functions.expiryOf(month).call()) + 60)
        _, swept_before = identity_holds(points)

        wallet.env[_FAILPOINT] = "after-batch:1"  # SIGKILL once the first batch (2 accounts) is confirmed
        killed = wallet.cli("sweep-expired", "--month", label(month), *args(wallet), check=False)
        del wallet.env[_FAILPOINT]
        assert killed.returncode == -9, killed.stderr
        halfway = report(wallet, label(month))
        assert (halfway["state"], halfway["batches"], halfway["batches_done"]) == ("running", 3, 1)
        assert halfway["started_by"].startswith("cli:") and len(halfway["swept"]) == 2

        resumed = wallet.cli("sweep-expired", "--month", label(month), "--by", "officer1", *args(wallet))
        assert "nothing sent now" not in resumed.stdout
        done = report(wallet, label(month))
        assert done["state"] == "finished" and done["batches_done"] == 3 and len(set(done["tx_hashes"])) == 3
        assert done["swept"] == amounts and done["points_swept"] == sum(amounts.values())
        assert done["tx_hashes"][0] == halfway["tx_hashes"][0]  # the first batch was not sent again
        on_chain = sweeps_on_chain(points)
        assert all(on_chain[address] == 1 for address in amounts), on_chain
        holds, swept_after = identity_holds(points)
        assert holds and swept_after - swept_before == sum(amounts.values())

        nonce = service_nonce(wallet)
        again = wallet.cli("sweep-expired", "--month", label(month), *args(wallet))
        assert "nothing sent now" in again.stdout and service_nonce(wallet) == nonce
    finally:
        wallet.stop()
        wallet.env["TAKASAGO_WALLET_EXPIRY_SECONDS"] = "0.5"
        wallet.start()


def test_bad_months_are_refused_in_both_languages(wallet: WalletServer) -> None:
    bad = wallet.cli("expiry-report", "--month", "2026-13", *args(wallet), check=False)
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr and "形式" in bad.stderr and "Traceback" not in bad.stderr
    future = label(wallet.points.current_month() + 1)
    early = wallet.cli("sweep-expired", "--month", future, *args(wallet), check=False)
    assert early.returncode == 2 and "has not ended" in early.stderr and "まだ終わっていません" in early.stderr
    assert "Traceback" not in early.stderr


def test_two_runners_at_once_send_each_batch_once(wallet: WalletServer) -> None:
    points = wallet.points
    wallet.stop()  # the scheduled job off: two hand runs race each other
    wallet.env["TAKASAGO_WALLET_EXPIRY_SECONDS"] = "0"
    wallet.start()
    try:
        month = points.current_month()
        residents = [member(wallet) for _ in range(4)]
        amounts = {r.info["address"]: 7 * (i + 1) for i, r in enumerate(residents)}
        for address, amount in amounts.items():
            points.mint(address, amount, expiry_month=month)
        points.mine_at(int(points.token.functions.expiryOf(month).call()) + 60)
        nonce = service_nonce(wallet)

        env = {**os.environ, "TAKASAGO_WALLET_EXPIRY_BATCH": "1"}
        command = [sys.executable, "-m", "scripts.cli", "wallet", "sweep-expired", "--month", label(month)]
        runners = [
            subprocess.Popen([*command, *args(wallet)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]  # fmt: skip
        outputs = [runner.communicate(timeout=180) for runner in runners]
        assert [runner.returncode for runner in runners] == [0, 0], outputs

        done = report(wallet, label(month))
        batches = done["batches"]  # one account each: these four, and the first test's 70 points now expired too
        assert done["state"] == "finished" and batches == done["batches_done"] == done["accounts"] >= 4
        assert {a: done["swept"][a] for a in amounts} == amounts and len(set(done["tx_hashes"])) == batches
        assert service_nonce(wallet) == nonce + batches  # one transaction per batch in all, not two
        on_chain = sweeps_on_chain(points)
        assert all(on_chain[address] == 1 for address in done["swept"]), on_chain
        assert identity_holds(points)[0]
    finally:
        wallet.stop()
        wallet.env["TAKASAGO_WALLET_EXPIRY_SECONDS"] = "0.5"
        wallet.start()
