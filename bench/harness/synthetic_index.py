"""A year of city activity written straight into an indexer database (``bench.indexer``, part 2).

The shape is ``bench.explorer_queries.fill``'s (registrations at block 0, then blocks of
``PER_BLOCK`` transactions, each one point ``Transfer``: 30 % mints to a resident, the rest
payments from a resident to a merchant with their ``Paid`` event), but written with one
multi-row INSERT per table and chunk, so a million movements take a minute or two, not an
hour of ORM objects. Timestamps spread evenly over the ``days`` before now.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak
from sqlalchemy import Connection, event, func, insert, select
from sqlalchemy.exc import OperationalError

from contracts.predeploys import REGISTRY_ADDRESS
from indexer.db.engine import engine_for, upgrade
from indexer.db.models import Block, Checkpoint, Event, PointMovement, Transaction
from indexer.decode import checksum_address

TOKEN = checksum_address("11" * 20)
TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
PAID = "0x" + keccak(text="Paid(address,address,bytes32,uint256)").hex()
REGISTERED = "0x" + keccak(text="AccountRegistered(address,uint8)").hex()
ZERO = "0x" + "00" * 20
ZERO_HASH = "0x" + "00" * 32
PER_BLOCK = 6
CHUNK_MOVEMENTS = 20_000  # movements (and their rows) per INSERT round


@dataclass(frozen=True)
class SyntheticIndex:
    """What was written: who to ask about, and the head."""

    residents: list[str]
    merchants: list[str]
    head: int
    movements: int
    first_timestamp: int


def topic_of(address: str) -> str:
    return "0x" + address[2:].lower().rjust(64, "0")


def block_hash(number: int) -> str:
    return "0x" + keccak(text=f"block{number}").hex()


def fill(
    url: str, movements: int, residents: int = 40_000, merchants: int = 200, days: int = 365, seed: int = 1
) -> SyntheticIndex:
    """Writes ``movements`` movements (with their blocks, transactions and events) into the database at ``url``."""
    rng = random.Random(seed)
    upgrade(url)
    engine = engine_for(url)
    if engine.dialect.name == "sqlite":  # setup, not what is measured: no fsync, a bigger page cache

        @event.listens_for(engine, "connect")
        def _fast_fill(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=OFF")
            dbapi_connection.execute("PRAGMA cache_size=-262144")

    people, shops = accounts(rng, residents, merchants)
    now = int(time.time())
    start = now - days * 86400
    blocks_needed = -(-movements // PER_BLOCK)
    with engine.begin() as conn:
        conn.execute(insert(Block), [block_row(0, start)])
        registrations = [
            event_row(0, i, "0x" + rng.randbytes(32).hex(), "AccountRegistry", REGISTRY_ADDRESS, "AccountRegistered",
                      {"account": who, "kind": 2 if i < merchants else 1}, [REGISTERED, topic_of(who)], "0x", start)
            for i, who in enumerate(shops + people)
        ]  # fmt: skip
        insert_rows(conn, Event, registrations)
    written, number = 0, 0
    while written < movements:
        rows: dict[Any, list[dict[str, Any]]] = {Block: [], Transaction: [], Event: [], PointMovement: []}
        chunk_end = min(movements, written + CHUNK_MOVEMENTS)
        while written < chunk_end:
            number += 1
            timestamp = start + (now - start - 60) * number // blocks_needed
            rows[Block].append(block_row(number, timestamp))
            for index in range(min(PER_BLOCK, chunk_end - written)):
                write_movement(rows, rng, number, index, timestamp, people, shops)
                written += 1
        with engine.begin() as conn:
            for model in (Block, Transaction, Event, PointMovement):
                insert_rows(conn, model, rows[model])
    with engine.begin() as conn:
        conn.execute(
            insert(Checkpoint),
            [{"id": 1, "chain_id": 1, "genesis_hash": ZERO_HASH, "block_number": number,
              "block_hash": block_hash(number), "rolled_back": 0}],
        )  # fmt: skip
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return SyntheticIndex(people, shops, number, written, start)


def accounts(rng: random.Random, residents: int, merchants: int) -> tuple[list[str], list[str]]:
    """(residents, merchants) of a fill, the first draws of its ``seed``."""
    people = [checksum_address(rng.randbytes(20).hex()) for _ in range(residents)]
    return people, [checksum_address(rng.randbytes(20).hex()) for _ in range(merchants)]


def reopen(url: str, residents: int = 40_000, merchants: int = 200, seed: int = 1) -> SyntheticIndex | None:
    """What ``fill`` returned for the index at ``url`` (same defaults), or None if it holds none."""
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            head = conn.execute(select(Checkpoint.block_number)).scalar()
            first = conn.execute(select(Block.timestamp).where(Block.number == 0)).scalar()
            movements = conn.execute(select(func.count()).select_from(PointMovement)).scalar()
    except OperationalError:
        return None
    finally:
        engine.dispose()
    if head is None or first is None:
        return None
    people, shops = accounts(random.Random(seed), residents, merchants)
    return SyntheticIndex(people, shops, int(head), int(movements or 0), int(first))


def insert_rows(conn: Connection, model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(model.__table__), rows)


def block_row(number: int, timestamp: int) -> dict[str, Any]:
    parent = block_hash(number - 1) if number else ZERO_HASH
    return {"number": number, "hash": block_hash(number), "parent_hash": parent,
            "timestamp": timestamp, "proposer": ZERO, "tx_count": PER_BLOCK, "gas_used": PER_BLOCK * 60_000,
            "transactions_root": ZERO_HASH}  # fmt: skip


def event_row(
    number: int, log_index: int, tx_hash: str, contract: str, address: str, name: str, args: dict[str, Any],
    topics: list[str], data: str, timestamp: int,
) -> dict[str, Any]:  # fmt: skip
    return {"block_number": number, "log_index": log_index, "tx_hash": tx_hash, "contract": contract,
            "address": address, "name": name, "args": args, "topics": topics, "data": data, "timestamp": timestamp,
            **{f"topic{s}": topics[s].lower() if s < len(topics) else None for s in range(4)}}  # fmt: skip


def write_movement(
    rows: dict[Any, list[dict[str, Any]]], rng: random.Random, number: int, index: int, timestamp: int,
    people: list[str], shops: list[str],
) -> None:  # fmt: skip
    tx_hash = "0x" + rng.randbytes(32).hex()
    payer = rng.choice(people)
    minting = rng.random() < 0.3
    frm, to = (ZERO, payer) if minting else (payer, rng.choice(shops))
    amount = rng.randint(1, 2_000)
    kind = "issued" if minting else "payment"
    request = None if minting else "0x" + rng.randbytes(32).hex()
    rows[Transaction].append(
        {"hash": tx_hash, "block_number": number, "tx_index": index, "sender": frm if not minting else shops[0],
         "to": TOKEN, "status": 1, "gas_used": 60_000, "method": "mint" if minting else "pay",
         "kind": "issue" if minting else "payment", "amount": amount, "counterparty": to, "timestamp": timestamp}
    )  # fmt: skip
    data = "0x" + amount.to_bytes(32, "big").hex()
    rows[Event].append(
        event_row(number, index * 2, tx_hash, "RegionalPoints", TOKEN, "Transfer", {"from": frm, "to": to,
                  "value": amount}, [TRANSFER, topic_of(frm), topic_of(to)], data, timestamp)
    )  # fmt: skip
    if not minting:
        rows[Event].append(
            event_row(number, index * 2 + 1, tx_hash, "RegionalPoints", TOKEN, "Paid", {"merchant": to, "payer": frm,
                      "requestId": request, "amount": amount}, [PAID, topic_of(to), topic_of(frm)], data, timestamp)
        )  # fmt: skip
    rows[PointMovement].append(
        {"block_number": number, "log_index": index * 2, "tx_hash": tx_hash, "from_address": frm, "to_address": to,
         "amount": amount, "kind": kind, "request_id": request, "timestamp": timestamp}
    )  # fmt: skip
