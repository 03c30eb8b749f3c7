"""Volunteers' daily settlement (issue 19): a city's day of watch time attested on a real node.

    .venv/bin/python -m bench.watch_settlement [--volunteers 5000] [--plain 200]

One run. A fresh dev node has the contracts, a watch-over programme (1 point per 6 minutes) and
``--volunteers`` registered residents. A watch store (SQLite) holds one detector per volunteer
and a day of accepted batches: generated rows, 6 to 48 five-minute slots each, some outside the
watch hours and some all outside the city. Timed:
- the watch side, ``compute_day``: every volunteer's minutes from the day's batches;
- the chain side, ``settle_day``: ``attestBatch``, 500 volunteers a transaction.
Goal: ≤ 10 s plus chain time for 5,000 volunteers, ≤ 1 transaction per 500.

In the same run, for ``--plain`` volunteers, the plain way: one query per volunteer, and one
``attest`` transaction each. Its cost per volunteer is set against ours.
"""

from __future__ import annotations

import argparse
import random
import secrets
import tempfile
import time
from datetime import date
from pathlib import Path

from eth_account import Account
from eth_utils import keccak
from sqlalchemy import func, insert, select

from bench.harness.points import register_residents
from bench.harness.report import git_commit, log, machine
from bench.harness.systems import Takasago
from contracts.deploy import DeploySettings, deploy
from ledger_client.connection import connect
from ledger_client.transactions import Sender
from watch.batches import new_device_key
from watch.chain import attest_batch
from watch.sealing import Sealer
from watch.settlement import Rules, compute_day, day_bounds, settle_day
from watch.store import BatchRecord, Device, WatchStore

MINTER_ROLE = keccak(text="MINTER_ROLE")
DAY = date(2026, 12, 3)
GOAL_SECONDS = 10.0


def generate(store: WatchStore, volunteers: list[str]) -> int:
    """One detector per volunteer and their day of batches (Core inserts); how many batch rows."""
    rng = random.Random(19)
    start, _ = day_bounds(DAY)
    _, public = new_device_key()
    devices = [{"id": f"d{i}", "owner": f"M{i:05d}", "owner_address": a, "public_key": public, "active": True,
                "enrolled_at": 0, "last_seq": 0, "last_hash": ""} for i, a in enumerate(volunteers)]  # fmt: skip
    batches = []
    for i in range(len(volunteers)):
        slots = rng.randint(6, 48)
        begin = rng.choice([7 * 3600, 14 * 3600, 15 * 3600, 19 * 3600])  # some evenings: outside the hours
        outside = rng.random() < 0.05
        for k in range(slots):
            batches.append({"device": f"d{i}", "seq": k + 1, "digest": secrets.token_hex(32),
                            "received_at": start + begin + 300 * k, "sightings": 0 if outside else 3, "resolved": 0,
                            "outside": 3 if outside else 0})  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(insert(Device.__table__), devices)  # type: ignore[arg-type]
        conn.execute(insert(BatchRecord.__table__), batches)  # type: ignore[arg-type]
    return len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--volunteers", type=int, default=5000)
    parser.add_argument("--plain", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-watch-settle-"))
    node = Takasago("takasago", work)
    node.start()
    try:
        w3 = connect(node.url, timeout=120)
        admin = Account.from_key(node.funder_key)
        sender = Sender(w3, admin)
        d = deploy(w3, sender, work / "deployments", DeploySettings()).deployment
        registry, programmes = d.contract(w3, "AccountRegistry"), d.contract(w3, "RewardProgrammes")
        sender.call_function(registry.functions.grantRole(MINTER_ROLE, admin.address))
        now = int(w3.eth.get_block("latest")["timestamp"])
        params = ("みまもり", MINTER_ROLE, 1, 6, 0, 3, 10**12, now - 60, 2**40 - 1, 0, 0)
        receipt = sender.call_function(programmes.functions.createProgramme(params))
        programme = int(programmes.events.ProgrammeCreated().process_receipt(receipt)[0]["args"]["programmeId"])
        volunteers = [Account.create().address for _ in range(args.volunteers)]
        plain_volunteers = [Account.create().address for _ in range(args.plain)]
        log(f"registering {len(volunteers) + len(plain_volunteers):,} residents")
        register_residents(sender, registry, volunteers + plain_volunteers)
        store = WatchStore(f"sqlite:///{work / 'watch.db'}", Sealer.from_file(work / "kek", create=True))
        rows = generate(store, volunteers)
        log(f"{rows:,} batch rows for {len(volunteers):,} volunteers")

        started = time.perf_counter()
        results = compute_day(store, DAY, Rules())
        computed = time.perf_counter() - started
        started = time.perf_counter()
        summary = settle_day(store, DAY, programme, results, lambda items: attest_batch(sender, programmes, programme,
                                                                                        items))  # fmt: skip
        chain = time.perf_counter() - started

        # the plain way, on its own volunteers: a query and an attest each
        plain_store = WatchStore(f"sqlite:///{work / 'plain.db'}", Sealer.from_file(work / "kek"))
        generate(plain_store, plain_volunteers)
        start, end = day_bounds(DAY)
        started = time.perf_counter()
        plain_paid = 0
        for i, address in enumerate(plain_volunteers):
            with plain_store.sessions() as db:
                times = db.scalars(select(BatchRecord.received_at).where(
                    BatchRecord.device == f"d{i}", BatchRecord.received_at >= start, BatchRecord.received_at < end,
                    BatchRecord.sightings > 0)).all()  # fmt: skip
            slots = {t // 300 for t in times if any(start + a * 3600 <= t < start + b * 3600 for a, b in Rules().hours)}
            minutes = min(len(slots) * 5, Rules().max_minutes_per_day)
            if minutes:
                sender.call_function(programmes.functions.attest(programme, address, minutes, b"\0" * 32, i + 1))
                plain_paid += 1
        plain_seconds = time.perf_counter() - started
        with store.sessions() as db:
            paid_rows = db.scalar(select(func.count()).select_from(BatchRecord))
        store.close()
        plain_store.close()
    finally:
        node.stop()
    per_ours = (computed + chain) / max(1, summary["earning"])
    per_plain = plain_seconds / max(1, plain_paid)
    print(f"\nwatch settlement: {args.volunteers:,} volunteers, {rows:,} batch rows; "
          f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC; commit {git_commit()}; {machine()}\n")  # fmt: skip
    print("| step | volunteers | seconds | transactions |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| watch side: `compute_day` | {len(results):,} | **{computed:.2f}** | – |")
    print(f"| chain side: `settle_day` (`attestBatch`, 500 a tx) | {summary['earning']:,} paid of {len(results):,} | "
          f"{chain:.2f} | {summary['transactions']} |")  # fmt: skip
    print(f"| plain: a query and an `attest` per volunteer | {plain_paid} paid of {args.plain} | {plain_seconds:.2f} | "
          f"{plain_paid} |")  # fmt: skip
    print(f"\n- goal ≤ {GOAL_SECONDS:.0f} s plus chain time: watch side {computed:.2f} s: "
          f"{'met' if computed <= GOAL_SECONDS else 'NOT met'}; ≤ 1 transaction per 500 volunteers: "
          f"{'met' if summary['transactions'] <= -(-summary['earning'] // 500) else 'NOT met'}")  # fmt: skip
    print(f"- per paid volunteer, end to end: ours {per_ours * 1e3:.2f} ms, plain {per_plain * 1e3:.1f} ms "
          f"({per_plain / per_ours:.0f}x); {paid_rows:,} batch rows read in one query")  # fmt: skip


if __name__ == "__main__":
    main()
