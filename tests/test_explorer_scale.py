"""The explorer on a large index (issue 15, finding 16): /api getLogs filters and pages in SQL, CSV exports
stream from the database, and the registry's kinds are brought up to date incrementally (rewinds included).

The index is filled with synthetic rows through the indexer's own models (``bench.explorer_queries``);
the app is the real explorer, served in-process.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.explorer_queries import PAID, REGISTERED, TOKEN, TRANSFER, ZERO, fill, topic_of
from contracts.predeploys import REGISTRY_ADDRESS
from indexer import queries
from indexer.db.engine import MIGRATIONS, engine_for, sessions_for, upgrade
from indexer.db.models import Block, Checkpoint, Event, PointMovement, Transaction
from indexer.queries import AccountKinds
from indexer.web.app import create_explorer
from ledger_client.rpc import Rpc
from tests.wallet_support import postgres_database

EVENTS, ACCOUNTS = 8_000, 500


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('explorer-scale') / 'indexer.db'}"
    accounts = fill(url, EVENTS, ACCOUNTS)
    engine = engine_for(url)
    sessions = sessions_for(engine)
    app = create_explorer(sessions, Rpc("http://127.0.0.1:9"), {}, {"RegionalPoints": TOKEN})
    with TestClient(app) as client:
        yield {"client": client, "sessions": sessions, "engine": engine, "accounts": accounts}


def statements(engine: Engine) -> tuple[list[str], Any]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return seen, record


def peak_of(client: TestClient, path: str) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        response = client.get(path)
        return response, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_finding16_api_getlogs_and_csv_exports_are_paged_at_the_source(big: dict[str, Any]) -> None:
    client: TestClient = big["client"]
    sessions: sessionmaker[Session] = big["sessions"]
    someone = big["accounts"][60]
    with sessions() as db:  # what the answers must be, worked out the slow way
        every = list(db.scalars(select(Event).order_by(Event.block_number, Event.log_index)))
        tx_count = db.scalar(select(func.count()).select_from(Transaction)) or 0
    paid_by_someone = [
        e for e in every if e.topics[0] == PAID and len(e.topics) > 2 and e.topics[2] == topic_of(someone)
    ]
    transfers = [e for e in every if e.topics[0] == TRANSFER]
    assert len(every) >= EVENTS and len(transfers) > 2_000 and paid_by_someone

    seen, listener = statements(big["engine"])
    try:
        upper = "0x" + TRANSFER[2:].upper()  # topics match whatever their case
        response, peak = peak_of(client, f"/api?module=logs&action=getLogs&topic0={upper}&page=3&offset=50")
    finally:
        event.remove(big["engine"], "before_cursor_execute", listener)
    answer = response.json()
    assert answer["status"] == "1"
    assert [r["transactionHash"] for r in answer["result"]] == [e.tx_hash for e in transfers[100:150]]
    logs_sql = [s for s in seen if "FROM events" in s]
    assert logs_sql and all("LIMIT" in s for s in logs_sql)  # paged by the database, not in Python
    assert peak < 2 * 2**20, f"getLogs for 50 rows held {peak / 2**20:.1f} MiB"

    filtered = client.get(
        f"/api?module=logs&action=getLogs&address={TOKEN}&topic0={PAID}&topic2={topic_of(someone)}&offset=1000"
    ).json()["result"]
    assert [(int(r["blockNumber"], 16), int(r["logIndex"], 16)) for r in filtered] == [
        (e.block_number, e.log_index) for e in paid_by_someone
    ]
    assert client.get(f"/api?module=logs&action=getLogs&address={someone}").json()["result"] == []

    started = time.monotonic()
    response, peak = peak_of(client, "/txs.csv")
    elapsed = time.monotonic() - started
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert response.status_code == 200 and len(rows) == tx_count + 1 and rows[0][0] == "hash"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00", rows[1][3]), rows[1]  # JST, not Unix seconds
    # streamed: the export holds little more than the text the test client collects, not every row as objects
    assert peak < 3 * len(response.content) + 2**20, f"{peak / 2**20:.1f} MiB for {len(response.content):,} bytes"
    assert elapsed < 10
    # issue 22: no list of every holder (residents included) any more; old links lead to the merchants
    assert client.get("/holders.csv", follow_redirects=False).headers["location"] == "/merchants.csv"
    assert client.get("/holders?page=2", follow_redirects=False).headers["location"] == "/merchants"


def test_account_kinds_follow_new_blocks_and_rewinds(big: dict[str, Any], tmp_path: Path) -> None:
    sessions: sessionmaker[Session] = big["sessions"]
    kinds = AccountKinds()
    with sessions() as db:
        first = kinds.get(db)
        cp = db.get(Checkpoint, 1)
        assert cp is not None
        tip = cp.block_number
    assert len(first) == ACCOUNTS and first[big["accounts"][0]] == ("merchant", "active")
    newcomer = "0x" + "Ab" * 20
    with sessions.begin() as db:  # a new block registers one more account
        cp = db.get(Checkpoint, 1)
        assert cp is not None
        number, block_hash = tip + 1, "0x" + "ee" * 32
        db.add(Block(number=number, hash=block_hash, parent_hash=cp.block_hash, timestamp=int(time.time()),
                     proposer=newcomer, tx_count=0, gas_used=0, transactions_root="0x" + "00" * 32))  # fmt: skip
        db.flush()
        db.add(Event(block_number=number, log_index=0, tx_hash="0x" + "aa" * 32, contract="AccountRegistry",
                     address=REGISTRY_ADDRESS, name="AccountRegistered",
                     args={"account": newcomer, "kind": 1}, topics=[REGISTERED, topic_of(newcomer)], data="0x",
                     timestamp=int(time.time())))  # fmt: skip
        cp.block_number, cp.block_hash, previous_hash = number, block_hash, cp.block_hash
    with sessions() as db:
        grown = kinds.get(db)
    assert grown[newcomer] == ("resident", "active") and len(grown) == ACCOUNTS + 1
    assert newcomer not in first  # a view already handed out is never changed
    with sessions.begin() as db:  # the chain rewinds below that block
        db.execute(delete(Block).where(Block.number > tip))
        cp = db.get(Checkpoint, 1)
        assert cp is not None
        cp.block_number, cp.block_hash = tip, previous_hash
    with sessions() as db:
        assert newcomer not in kinds.get(db) and len(kinds.get(db)) == ACCOUNTS


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0002_fills_the_topic_columns_of_existing_events(kind: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'indexer.db'}" if kind == "sqlite" else postgres_database()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "0001")
    engine = engine_for(url)
    someone = "0x" + "Ab" * 20
    topics = json.dumps(["0x" + TRANSFER[2:].upper(), topic_of(someone)])  # stored as the node sent them
    with engine.begin() as conn:  # an index written before the topic columns existed
        conn.execute(text("INSERT INTO blocks VALUES (0, :h, :h, 0, :z, 0, 0, :h)"), {"h": "0x" + "00" * 32, "z": ZERO})
        conn.execute(
            text("INSERT INTO events (id, block_number, log_index, tx_hash, contract, address, name, args, topics,"
                 " data, timestamp) VALUES (1, 0, 0, :t, 'RegionalPoints', :a, 'Transfer', '{}', :topics, '0x', 0)"),
            {"t": "0x" + "aa" * 32, "a": TOKEN, "topics": topics},
        )  # fmt: skip
    engine.dispose()
    upgrade(url)
    engine = engine_for(url)
    with sessions_for(engine)() as db:
        found = db.scalars(select(Event)).one()
        assert (found.topic0, found.topic1, found.topic2, found.topic3) == (TRANSFER, topic_of(someone), None, None)
        assert [e.id for e in queries.logs(db, None, 0, 0, {1: topic_of(someone).upper()}, 1, 10)] == [1]
    engine.dispose()


class VmSteps:
    """Counts SQLite virtual-machine steps (in hundreds) on every connection a request uses: a statement that
    visits every row of a table takes at least one step per row, so a small count proves a bounded read."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.hundreds, self.connections = engine, 0, set[Any]()

    def _tick(self) -> int:
        self.hundreds += 1
        return 0

    def _attach(self, conn: Any, *_: Any) -> None:
        raw = conn.connection.dbapi_connection
        if raw not in self.connections:
            raw.set_progress_handler(self._tick, 100)
            self.connections.add(raw)

    def __enter__(self) -> VmSteps:
        event.listen(self.engine, "before_cursor_execute", self._attach)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._attach)
        for raw in self.connections:
            raw.set_progress_handler(None, 0)

    @property
    def steps(self) -> int:
        return self.hundreds * 100


def add_block(sessions: sessionmaker[Session], rows: Any) -> tuple[int, str]:
    """Indexes one more block holding ``rows(number, timestamp)``; returns the head it replaced."""
    with sessions.begin() as db:
        cp = db.get(Checkpoint, 1)
        assert cp is not None
        previous = (cp.block_number, cp.block_hash)
        number, block_hash, now = cp.block_number + 1, "0x" + f"{cp.block_number + 1:064x}", int(time.time())
        db.add(Block(number=number, hash=block_hash, parent_hash=cp.block_hash, timestamp=now, proposer=ZERO,
                     tx_count=0, gas_used=0, transactions_root="0x" + "00" * 32))  # fmt: skip
        db.flush()
        db.add_all(rows(number, now))
        cp.block_number, cp.block_hash = number, block_hash
    return previous


def rewind_to(sessions: sessionmaker[Session], head: tuple[int, str]) -> None:
    with sessions.begin() as db:
        db.execute(delete(Block).where(Block.number > head[0]))
        cp = db.get(Checkpoint, 1)
        assert cp is not None
        cp.block_number, cp.block_hash = head


def programme_events(number: int, now: int) -> list[Any]:
    def programme_event(index: int, name: str, args: dict[str, Any]) -> Event:
        return Event(block_number=number, log_index=index, tx_hash="0x" + f"{index:064x}", contract="RewardProgrammes",
                     address="0x" + "22" * 20, name=name, args=args, topics=["0x" + "33" * 32], data="0x",
                     timestamp=now)  # fmt: skip

    params = ["thanks", "0x" + "00" * 32, 1, 1, 0, 3, 1_000, now - 60, now + 86400, 0, 0]
    return [
        programme_event(0, "ProgrammeCreated", {"programmeId": 4, "name": "thanks", "params": params}),
        programme_event(1, "BudgetChanged", {"programmeId": 4, "previousBudget": 1_000, "newBudget": 5_000}),
        *(programme_event(2 + i, "Attested", {"programmeId": 4, "points": p}) for i, p in enumerate((5, 6, 2**40))),
        programme_event(9, "Attested", {"programmeId": 8, "points": 1}),  # no such programme: not shown
        PointMovement(block_number=number, log_index=20, tx_hash="0x" + "ab" * 32, from_address=ZERO,
                      to_address=ZERO[:-1] + "1", amount=7, kind="issued", request_id=None, timestamp=now),
        Transaction(hash="0x" + "ab" * 32, block_number=number, tx_index=0, sender=ZERO, to=TOKEN, status=1,
                    gas_used=1, method="mint", kind="issued", amount=7, counterparty=None, timestamp=now),
    ]  # fmt: skip


def test_issue17_home_getlogs_and_programmes_read_what_changed_not_the_whole_index(big: dict[str, Any]) -> None:
    """Before issue 17, every new head made the home page sum every movement again (143,100 SQLite steps
    here) and a getLogs filtered on a payer read the JSON topics of every event in range (96,300; 64,100 on
    topic1 alone) and /holders summed every movement (158,800): more steps than there are events. Now each
    reads what changed or what matches (300-500). /programmes sums the grants in SQL (the same figures;
    this index holds only a few of them)."""
    client: TestClient = big["client"]
    sessions: sessionmaker[Session] = big["sessions"]
    someone = big["accounts"][60]
    assert client.get("/").status_code == 200  # the totals read once, as at start-up
    before = add_block(sessions, programme_events)
    try:
        with VmSteps(big["engine"]) as counter:
            home = client.get("/")
        assert home.status_code == 200 and counter.steps < EVENTS, f"home page: {counter.steps:,} steps"
        explorer = client.app.state.explorer  # type: ignore[attr-defined]
        with sessions() as db:  # the same figures as summing everything again
            figures = explorer.home_figures(db)
            assert figures["supply"] == queries.supply(db)
            assert figures["today"] == queries.today(db)
            assert figures["series"] == queries.daily_series(db)
            for n in (1, 2, 40):  # every address's points kept at the head equal summing its movements
                assert [(a, explorer.points_of(db, a)) for a, _ in queries.holders(db, n)] == queries.holders(db, n)
        for path in (
            f"/api?module=logs&action=getLogs&address={TOKEN}&topic0={PAID}&topic2={topic_of(someone)}&offset=100",
            f"/api?module=logs&action=getLogs&topic1={topic_of(someone)}&offset=100",
            "/programmes",
        ):
            with VmSteps(big["engine"]) as counter:
                assert client.get(path).status_code == 200
            assert counter.steps < EVENTS, f"{path}: {counter.steps:,} steps"
        with sessions() as db:
            opened = db.get(Block, before[0] + 1)
            assert opened is not None
            assert queries.programmes(db) == [
                {"id": 4, "name": "thanks", "budget": 5_000, "granted": 11 + 2**40, "grants": 3, "closed": False,
                 "starts_at": int(time.time()) - 60 - (int(time.time()) - opened.timestamp),
                 "ends_at": opened.timestamp + 86400}
            ]  # fmt: skip
    finally:
        rewind_to(sessions, before)
    with sessions() as db:  # a rewind: the totals start over
        assert explorer.home_figures(db)["supply"] == queries.supply(db)
        assert [(a, explorer.points_of(db, a)) for a, _ in queries.holders(db, 1)] == queries.holders(db, 1)
        assert queries.programmes(db) == []


def merchant_movements(merchant: str, payer: str) -> Any:
    def rows(number: int, now: int) -> list[Any]:
        def move(index: int, frm: str, to: str, amount: int, kind: str) -> PointMovement:
            return PointMovement(block_number=number, log_index=index, tx_hash="0x" + f"{index:064x}",
                                 from_address=frm, to_address=to, amount=amount, kind=kind, request_id=None,
                                 timestamp=now)  # fmt: skip

        return [
            move(0, payer, merchant, 900, "payment"),
            move(1, merchant, payer, 40, "refund"),
            move(2, merchant, ZERO, 300, "settled"),
        ]

    return rows


def test_merchants_figures_are_kept_at_the_head_and_equal_summing_everything(big: dict[str, Any]) -> None:
    """/merchants used to group every payment, refund and settlement again at each new head; the explorer
    now adds only the new blocks' sums to the figures it keeps (and starts over on a rewind)."""
    client: TestClient = big["client"]
    sessions: sessionmaker[Session] = big["sessions"]
    explorer = client.app.state.explorer  # type: ignore[attr-defined]
    merchant, payer = big["accounts"][0], big["accounts"][60]
    assert client.get("/merchants").status_code == 200  # the figures read once
    with sessions() as db:
        assert explorer.merchants(db, explorer.kinds(db)) == queries.merchants(db)
    before = add_block(sessions, merchant_movements(merchant, payer))
    try:
        with VmSteps(big["engine"]) as counter:
            page = client.get("/merchants")
        assert page.status_code == 200 and counter.steps < EVENTS, f"/merchants: {counter.steps:,} steps"
        with sessions() as db:
            rows = explorer.merchants(db, explorer.kinds(db))
            assert rows == queries.merchants(db)
            mine = next(r for r in rows if r["address"] == merchant)
            assert (mine["refunded"], mine["settled"]) == (40, 300)
        exported = list(csv.reader(io.StringIO(client.get("/merchants.csv").text)))
        assert [r[0] for r in exported[1:]] == [r["address"] for r in rows]
    finally:
        rewind_to(sessions, before)
    with sessions() as db:
        assert explorer.merchants(db, explorer.kinds(db)) == queries.merchants(db)
        assert next(r for r in queries.merchants(db) if r["address"] == merchant)["settled"] == 0
