"""A fresh indexer catching up over a burst bigger than the node's log cap (issue 15, "also high").

    .venv/bin/python -m bench.indexer_catchup [--residents 6000] [--seconds 120]

Starts a fresh dev node, deploys, registers ``--residents`` residents (``registerBatch``,
500 a transaction) and mints to all of them (``mintBatch``, 500 a transaction): about two
logs per resident in a handful of blocks, as after a city-wide mint. Then a fresh indexer
with DEFAULT settings (SQLite) backfills the chain, retrying like ``follow_forever`` for
at most ``--seconds``; the report gives blocks and events committed, the time, and the
Python memory the indexer allocated at its peak (``tracemalloc``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from eth_account import Account
from sqlalchemy import func, select

from bench.harness.points import MINTER_ROLE, register_residents
from bench.harness.report import log
from bench.harness.systems import Takasago
from contracts.deploy import DeploySettings, deploy
from indexer.db.engine import engine_for, sessions_for, upgrade
from indexer.db.models import Checkpoint, Event
from indexer.follower import Follower
from indexer.settings import IndexerSettings
from ledger_client.connection import connect
from ledger_client.rpc import Rpc
from ledger_client.transactions import Sender


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=6_000)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="indexer-catchup-") as tmp:
        workdir = Path(tmp)
        node = Takasago(name="takasago", workdir=workdir)
        node.start()
        try:
            w3 = connect(node.url, timeout=120)
            admin = Account.from_key(node.funder_key)
            sender = Sender(w3, admin)
            deployment = deploy(w3, sender, workdir / "deployments", DeploySettings()).deployment
            registry, token = deployment.contract(w3, "AccountRegistry"), deployment.contract(w3, "RegionalPoints")
            sender.call_function(registry.functions.grantRole(MINTER_ROLE, admin.address))
            residents = [Account.create().address for _ in range(args.residents)]
            started = time.monotonic()
            register_residents(sender, registry, residents)
            month = int(token.functions.currentMonth().call()) + 6
            for start in range(0, len(residents), 500):
                chunk = residents[start : start + 500]
                sender.call_function(token.functions.mintBatch(chunk, [100] * len(chunk), month), gas=90_000_000)
            head = int(w3.eth.block_number)
            log(f"{args.residents:,} residents registered and minted to in {time.monotonic() - started:.0f} s")
            logs = sum(len(r["logs"]) for n in range(head + 1) for r in (w3.eth.get_block_receipts(n) or []))  # type: ignore[arg-type]
            log(f"chain: {head + 1} blocks, {logs:,} logs")

            url = f"sqlite:///{workdir / 'indexer.db'}"
            upgrade(url)
            sessions = sessions_for(engine_for(url))
            defaults = IndexerSettings()
            follower = Follower(Rpc(node.url), sessions, workdir / "deployments", defaults.batch_blocks)
            errors: list[str] = []
            tracemalloc.start()
            started = time.monotonic()
            while time.monotonic() - started < args.seconds:
                try:
                    follower.sync()
                    break
                except Exception as exc:  # noqa: BLE001 - what follow_forever does: log, wait 2 s, retry
                    errors.append(str(exc)[:120])
                    time.sleep(2)
            elapsed = time.monotonic() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            with sessions() as db:
                cp = db.get(Checkpoint, 1)
                events = db.scalar(select(func.count()).select_from(Event))
            indexed = -1 if cp is None else cp.block_number
            print(
                f"indexer (batch_blocks={defaults.batch_blocks}): indexed to block {indexed} of {head}, "
                f"{events:,} events, in {elapsed:.1f} s, peak {peak / 2**20:.0f} MiB; "
                f"{len(errors)} failed pass(es){': ' + errors[0] if errors else ''}"
            )
            return 0 if indexed == head else 1
        finally:
            node.stop()


if __name__ == "__main__":
    raise SystemExit(main())
