"""Volunteers' points for watch time (issue 19), settled on the real node exactly once, across a crash.

A day's batches (generated rows: the settlement reads only when each detector reported and
whether inside the city) give each volunteer active minutes in the city's watch hours; the
day is attested with ``attestBatch`` (one transaction per 500 volunteers), and a rerun after
a crash mid-settlement pays nobody twice.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import REPO
from tests.points import CAP_MONTH, MINTER_ROLE, PointsSystem
from watch import settlement
from watch.batches import new_device_key
from watch.chain import attest_batch
from watch.sealing import Sealer
from watch.settlement import Rules, compute_day, day_bounds, day_of, settle_day
from watch.store import BatchRecord, WatchStore

DAY = date(2026, 12, 3)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[WatchStore]:
    watch = WatchStore(f"sqlite:///{tmp_path / 'watch.db'}", Sealer.from_file(tmp_path / "kek", create=True))
    yield watch
    watch.close()


def reported(store: WatchStore, device: str, times: list[int], outside: bool = False) -> None:
    """Batches accepted from ``device`` at ``times`` (JST seconds of DAY)."""
    start, _ = day_bounds(DAY)
    with store.sessions.begin() as db:
        first = len(db.scalars(select(BatchRecord.id).where(BatchRecord.device == device)).all())
        for n, t in enumerate(times):
            db.add(BatchRecord(device=device, seq=first + n + 1, digest=secrets.token_hex(32), received_at=start + t,
                               sightings=0 if outside else 3, resolved=0, outside=3 if outside else 0))  # fmt: skip


def test_a_day_of_watching_is_paid_once_even_when_settlement_crashes(
    store: WatchStore, fresh_points: PointsSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    points = fresh_points
    programme = points.create_programme(name="みまもり", verifierRole=MINTER_ROLE, rewardPoints=1, rewardUnits=6,
                                        capPerPeriod=2_000, capPeriod=CAP_MONTH)  # fmt: skip
    walker, shopkeeper, far, stranger = points.resident(), points.resident(), points.resident(), points.new_account()
    for name, owner in (("phone-a", walker), ("phone-a2", walker), ("shop-b", shopkeeper), ("phone-c", far),
                        ("phone-x", stranger)):  # fmt: skip
        store.enrol_device(name, "M", new_device_key()[1], 0, owner.address)
    hour = 3600
    reported(store, "phone-a", [7 * hour + 300 * k for k in range(12)])  # 07:00–08:00: 60 min
    reported(store, "phone-a2", [7 * hour + 300 * k + 30 for k in range(12)])  # the same slots again: no extra
    reported(store, "phone-a2", [12 * hour, 20 * hour])  # outside the watch hours: nothing
    reported(store, "shop-b", [14 * hour + 60 * k for k in range(4 * 60 + 30)])  # 14:00–18:30: capped at 240
    reported(store, "phone-c", [8 * hour + 300 * k for k in range(6)], outside=True)  # all heard outside the city
    reported(store, "phone-x", [15 * hour + 300 * k for k in range(6)])  # 30 min, but not a resident's account

    results = {r.address: r for r in compute_day(store, DAY, Rules())}
    assert results[walker.address].minutes == 60 and results[shopkeeper.address].minutes == 240
    assert results[far.address].minutes == 0 and "inside the city" in results[far.address].reason
    assert results[stranger.address].minutes == 30

    sender = points.sender(points.admin)
    calls = [0]

    def crashing(items: list[tuple[str, int, bytes, int]]) -> dict[str, Any]:
        calls[0] += 1
        if calls[0] == 2:
            raise ConnectionError("the watch service died mid-settlement")
        return attest_batch(sender, points.programmes, programme, items)

    monkeypatch.setattr(settlement, "BATCH", 1)  # one volunteer a transaction, so the crash falls between two
    with pytest.raises(ConnectionError):
        settle_day(store, DAY, programme, list(results.values()), crashing)
    monkeypatch.setattr(settlement, "BATCH", 500)
    rerun = settle_day(store, DAY, programme, compute_day(store, DAY, Rules()),
                       lambda items: attest_batch(sender, points.programmes, programme, items))  # fmt: skip
    assert rerun["transactions"] == 1  # ≤ 1 transaction per 500 volunteers
    assert points.balance(walker) == 10 and points.balance(shopkeeper) == 40  # 1 pt per 6 minutes, once
    assert points.balance(far) == 0 and points.balance(stranger) == 0
    assert day_of(walker.address, store, DAY)["status"] == "paid"  # type: ignore[index]
    assert day_of(far.address, store, DAY)["status"] == "nothing"  # type: ignore[index]
    assert day_of(stranger.address, store, DAY)["reason"] == "not an active resident account"  # type: ignore[index]
    again = settle_day(store, DAY, programme, compute_day(store, DAY, Rules()),
                       lambda items: attest_batch(sender, points.programmes, programme, items))  # fmt: skip
    assert again["paid"] == 0 and again["skipped"] == 3  # a third run changes nothing
    assert points.balance(walker) == 10 and points.balance(shopkeeper) == 40
    assert day_of(walker.address, store, DAY)["points"] == 10  # type: ignore[index]


def test_takasago_watch_settle_pays_a_day_once(store: WatchStore, fresh_points: PointsSystem, tmp_path: Path) -> None:
    points = fresh_points
    programme = points.create_programme(name="みまもり", verifierRole=MINTER_ROLE, rewardPoints=1, rewardUnits=6)
    walker = points.resident()
    store.enrol_device("phone-cli", "M", new_device_key()[1], 0, walker.address)
    reported(store, "phone-cli", [16 * 3600 + 300 * k for k in range(6)])  # 30 minutes after school

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scripts.cli", "watch", "settle", "--programme", str(programme), "--rpc-url",
             points.node.url, "--deployments", str(points.deployments_dir), "--dev-keys",
             str(points.node.data_dir / "dev-keys.json"), "--data-dir", str(tmp_path), *extra],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    # the node is down at settlement time: a clear refusal, nothing recorded as paid; the next run pays once
    from tests.conftest import free_port

    down = run("--day", DAY.isoformat(), "--rpc-url", f"http://127.0.0.1:{free_port()}")
    assert down.returncode != 0 and "Traceback" not in down.stderr and down.stderr.strip(), down.stderr
    assert day_of(walker.address, store, DAY) is None or day_of(walker.address, store, DAY)["status"] != "paid"
    first = run("--day", DAY.isoformat())
    assert first.returncode == 0 and "1 paid" in first.stdout, first.stderr
    again = run("--day", DAY.isoformat())
    assert again.returncode == 0 and "0 paid, 1 skipped" in again.stdout, again.stderr
    assert points.balance(walker) == 5
    bad = run("--day", "3 December")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr
    for hours in ("9-7", "7-25", "morning"):
        wrong = run("--day", DAY.isoformat(), "--hours", hours)
        assert wrong.returncode == 2 and "--hours" in wrong.stderr and "Traceback" not in wrong.stderr, hours
