"""The explorer's heavy reads on a large synthetic index (issue 15, finding 16).

Fills an indexer database (SQLite, or ``--database-url``) through the indexer's own models
with ``--events`` events (``--accounts`` registrations, then point ``Transfer``s with their
movement and ``Paid`` events), then times each page, ``/api`` getLogs and the CSV exports
in-process and records the Python memory each one allocated at its peak (``tracemalloc``).
Before every request a new block is indexed (as on a live chain, where the head moves every
second), so nothing is served from a cache of an older head.

    .venv/bin/python -m bench.explorer_queries --events 50000

Run it on two checkouts to compare before and after.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address
from fastapi.testclient import TestClient

from contracts.predeploys import REGISTRY_ADDRESS
from indexer.db.engine import engine_for, sessions_for, upgrade
from indexer.db.models import Block, Checkpoint, Event, PointMovement, Transaction
from indexer.web.app import create_explorer
from ledger_client.rpc import Rpc

TOKEN = "0x" + "11" * 20
REGISTRY = REGISTRY_ADDRESS
TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
PAID = "0x" + keccak(text="Paid(address,address,bytes32,uint256)").hex()
REGISTERED = "0x" + keccak(text="AccountRegistered(address,uint8)").hex()
ZERO = "0x" + "00" * 20


def topic_of(address: str) -> str:
    return "0x" + address[2:].lower().rjust(64, "0")


def fill(url: str, events: int, addresses: int = 20_000, seed: int = 1) -> list[str]:
    """Writes a synthetic chain of ``events`` events; returns the account addresses."""
    rng = random.Random(seed)
    upgrade(url)
    sessions = sessions_for(engine_for(url))
    accounts = [str(to_checksum_address(rng.randbytes(20))) for _ in range(addresses)]
    merchants = accounts[:50]
    now = int(time.time())
    start = now - 60 * 86400
    per_block, number, written = 6, 0, 0
    token = str(to_checksum_address(TOKEN))
    with sessions.begin() as db:
        for i, account in enumerate(accounts):  # registrations first (block 0)
            if i == 0:
                db.add(Block(number=0, hash="0x" + "00" * 32, parent_hash="0x" + "00" * 32, timestamp=start,
                             proposer=ZERO, tx_count=0, gas_used=0, transactions_root="0x" + "00" * 32))  # fmt: skip
                db.flush()
            db.add(Event(block_number=0, log_index=i, tx_hash="0x" + keccak(text=f"reg{i}").hex(),
                         contract="AccountRegistry", address=REGISTRY, name="AccountRegistered",
                         args={"account": account, "kind": 2 if account in merchants else 1},
                         topics=[REGISTERED, topic_of(account)], data="0x", timestamp=start))  # fmt: skip
            written += 1
    batch: list[Any] = []
    while written < events:
        number += 1
        timestamp = start + (now - start) * number * per_block * 2 // max(events, 1)
        block_hash = "0x" + keccak(text=f"block{number}").hex()
        batch.append(Block(number=number, hash=block_hash, parent_hash="0x" + keccak(text=f"block{number - 1}").hex(),
                           timestamp=timestamp, proposer=ZERO, tx_count=per_block, gas_used=per_block * 60_000,
                           transactions_root="0x" + "00" * 32))  # fmt: skip
        for index in range(per_block):
            tx_hash = "0x" + keccak(text=f"tx{number}.{index}").hex()
            payer, merchant = rng.choice(accounts[50:]), rng.choice(merchants)
            minting = rng.random() < 0.3
            frm, to = (ZERO, payer) if minting else (payer, merchant)
            amount = rng.randint(1, 2_000)
            kind = "issued" if minting else "payment"
            batch.append(Transaction(hash=tx_hash, block_number=number, tx_index=index, sender=frm, to=token,
                                     status=1, gas_used=60_000, method="mint" if minting else "pay", kind=kind,
                                     amount=amount, counterparty=to, timestamp=timestamp))  # fmt: skip
            base = index * 2
            batch.append(Event(block_number=number, log_index=base, tx_hash=tx_hash, contract="RegionalPoints",
                               address=token, name="Transfer", args={"from": frm, "to": to, "value": amount},
                               topics=[TRANSFER, topic_of(frm), topic_of(to)], data=hex(amount),
                               timestamp=timestamp))  # fmt: skip
            request = "0x" + keccak(text=f"req{number}.{index}").hex()
            batch.append(Event(block_number=number, log_index=base + 1, tx_hash=tx_hash, contract="RegionalPoints",
                               address=token, name="Paid", args={"merchant": to, "payer": frm, "requestId": request,
                                                                 "amount": amount},
                               topics=[PAID, topic_of(to), topic_of(frm)], data=hex(amount),
                               timestamp=timestamp))  # fmt: skip
            batch.append(PointMovement(block_number=number, log_index=base, tx_hash=tx_hash, from_address=frm,
                                       to_address=to, amount=amount, kind=kind,
                                       request_id=None if minting else request, timestamp=timestamp))  # fmt: skip
            written += 2
        if len(batch) > 5_000:
            with sessions.begin() as db:
                db.add_all(batch)
            batch = []
    with sessions.begin() as db:
        db.add_all(batch)
        db.add(Checkpoint(id=1, chain_id=1, genesis_hash="0x" + "00" * 32, block_number=number,
                          block_hash="0x" + keccak(text=f"block{number}").hex(), rolled_back=0))  # fmt: skip
    return accounts


def new_head(url: str) -> None:
    """Indexes one more (empty) block, as the follower does on a live chain."""
    sessions = sessions_for(engine_for(url))
    with sessions.begin() as db:
        cp = db.get(Checkpoint, 1)
        assert cp is not None
        number = cp.block_number + 1
        block_hash = "0x" + keccak(text=f"block{number}").hex()
        db.add(Block(number=number, hash=block_hash, parent_hash=cp.block_hash, timestamp=int(time.time()),
                     proposer=ZERO, tx_count=0, gas_used=0, transactions_root="0x" + "00" * 32))  # fmt: skip
        cp.block_number, cp.block_hash = number, block_hash


def measure(client: TestClient, url: str, path: str, runs: int) -> tuple[float, float, int]:
    """(p50 ms, max ms, peak MiB allocated during one request) for ``path``, a new head before each."""
    times = []
    peak = 0
    for i in range(runs):
        new_head(url)
        if i == 0:
            tracemalloc.start()
        started = time.perf_counter()
        response = client.get(path)
        body = response.content
        times.append((time.perf_counter() - started) * 1000)
        if i == 0:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert response.status_code == 200, (path, response.status_code, body[:300])
    return statistics.median(times), max(times), peak // 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = options.database_url or f"sqlite:///{Path(directory) / 'indexer.db'}"
        started = time.perf_counter()
        accounts = fill(url, options.events, options.accounts)
        print(f"filled {options.events:,} events in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
        sessions = sessions_for(engine_for(url))
        app = create_explorer(sessions, Rpc("http://127.0.0.1:9"), {}, {"RegionalPoints": TOKEN})
        someone = accounts[60]
        print(f"{options.accounts:,} accounts; a new block is indexed before every request")
        paths = [
            "/",
            "/merchants",
            f"/api?module=logs&action=getLogs&topic0={TRANSFER}&offset=100",
            f"/api?module=logs&action=getLogs&address={TOKEN}&topic0={PAID}&topic2={topic_of(someone)}&offset=100",
            f"/api?module=account&action=tokentx&address={someone}&offset=100",
            "/txs.csv",
            "/blocks.csv",
            f"/address/{someone}/history.csv",
        ]
        with TestClient(app) as client:
            client.get("/")  # warm up templates and the kinds cache
            print(f"{'request':<70} {'p50 ms':>8} {'max ms':>8} {'peak MiB':>9}")
            for path in paths:
                p50, worst, peak = measure(client, url, path, options.runs)
                shown = path if len(path) <= 68 else path[:65] + "…"
                print(f"{shown:<70} {p50:>8.0f} {worst:>8.0f} {peak:>9}")


if __name__ == "__main__":
    main()
