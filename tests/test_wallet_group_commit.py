"""The wallet's write path under many concurrent requests (issue 17), without a node.

Group commit on SQLite: many requests' writes share one transaction, and a request whose
write fails is rolled back alone. The write lock file: a second writer (another worker
process has its own lock) waits for the first to commit instead of failing or being put
to sleep by SQLite's busy handler. A payment's chain record read from its receipt.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet_api.db.engine import make_engine, make_sessions
from wallet_api.db.group_commit import GroupCommit
from wallet_api.payments import PAID_TOPIC, _paid_event

MERCHANT = "0x" + "ab" * 20
PAYER = "0x" + "cd" * 20
TOKEN = "0x" + "12" * 20


def _database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'wallet.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE paid (reference TEXT PRIMARY KEY, amount INTEGER NOT NULL)")
    engine.dispose()
    return url


def test_concurrent_writes_share_transactions_and_a_failing_one_is_rolled_back_alone(tmp_path: Path) -> None:
    engine = make_engine(_database(tmp_path))
    sessions = make_sessions(engine)
    commits: list[int] = []
    event.listen(engine, "commit", lambda _connection: commits.append(1))
    group = GroupCommit(sessions)
    outcomes: dict[int, object] = {}

    def pay(i: int) -> None:
        reference = "duplicate" if i % 10 == 0 else f"ref-{i}"  # 0, 10, 20 ... all claim the same reference

        def unit(db: Session) -> int:
            db.execute(text("INSERT INTO paid VALUES (:r, :a)"), {"r": reference, "a": i})
            return i

        try:
            outcomes[i] = group.run(unit)
        except IntegrityError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    refused = [i for i, outcome in outcomes.items() if isinstance(outcome, IntegrityError)]
    assert len(outcomes) == 60 and len(refused) == 5  # one of the six "duplicate" writers won
    with sessions() as db:
        stored = dict(db.execute(text("SELECT reference, amount FROM paid")).all())
    assert len(stored) == 55  # 54 distinct references and the one duplicate that won
    assert all(outcomes[amount] == amount for amount in stored.values())
    assert len(commits) < 60  # writes waiting together were committed together
    engine.dispose()


def test_a_second_writer_waits_on_the_lock_file_for_the_first_to_commit(tmp_path: Path) -> None:
    url = _database(tmp_path)
    first_engine, second_engine = make_engine(url), make_engine(url)
    first, second = make_sessions(first_engine), make_sessions(second_engine)  # two workers: two lock holders
    holding = threading.Event()

    def slow_writer() -> None:
        with first.begin() as db:
            db.execute(text("INSERT INTO paid VALUES ('first', 1)"))
            holding.set()
            time.sleep(0.4)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert holding.wait(5)
    started = time.monotonic()
    with second.begin() as db:
        assert db.execute(text("SELECT amount FROM paid WHERE reference = 'first'")).scalar() == 1  # after its commit
        db.execute(text("INSERT INTO paid VALUES ('second', 2)"))
    assert time.monotonic() - started >= 0.2
    thread.join()
    first_engine.dispose()
    second_engine.dispose()


def _word(value: str) -> str:
    return "0x" + value.lower().removeprefix("0x").rjust(64, "0")


@pytest.mark.parametrize(
    ("merchant", "request_id", "found"),
    [(MERCHANT, b"\1" * 32, True), ("0x" + "ef" * 20, b"\1" * 32, False), (MERCHANT, b"\2" * 32, False)],
)
def test_the_payment_record_is_read_from_the_receipts_paid_event(merchant: str, request_id: bytes, found: bool) -> None:
    receipt = {
        "status": 1,
        "logs": [
            {"address": "0x" + "99" * 20, "topics": [PAID_TOPIC, _word(MERCHANT), _word(PAYER), _word("01" * 32)]},
            {
                "address": TOKEN,
                "topics": [PAID_TOPIC, _word(MERCHANT), _word(PAYER), "0x" + ("01" * 32)],
                "data": _word(hex(250)),
            },
        ],
    }
    record = _paid_event(receipt, TOKEN, merchant, request_id)
    if found:
        assert record is not None and record[0].lower() == PAYER and record[1] == 250
    else:
        assert record is None


def test_a_batch_with_a_failing_unit_runs_again_with_savepoints_and_the_rest_commit(tmp_path: Path) -> None:
    """The common batch runs without savepoints; one raising unit sends the batch round again, each alone in one."""
    engine = make_engine(_database(tmp_path))
    sessions = make_sessions(engine)
    savepoints: list[int] = []
    event.listen(engine, "savepoint", lambda *_args: savepoints.append(1))
    group = GroupCommit(sessions)
    runs: dict[str, int] = {}

    def insert(reference: str, fail: bool = False) -> object:
        def unit(db: Session) -> str:
            runs[reference] = runs.get(reference, 0) + 1
            db.execute(text("INSERT INTO paid VALUES (:r, 1)"), {"r": reference})
            if fail:
                raise ValueError("refused")
            return reference

        return unit

    assert group.run(insert("alone")) == "alone"  # a batch of one, no savepoint
    assert not savepoints
    release = threading.Event()

    def blocking(db: Session) -> str:  # keeps the committer busy while the next batch queues up
        release.wait(10)
        return "blocking"

    blocker = threading.Thread(target=group.run, args=(blocking,))
    blocker.start()
    time.sleep(0.2)
    good = [insert(f"good-{i}") for i in range(5)]
    bad = insert("bad", fail=True)
    results: list[object] = []
    threads = [threading.Thread(target=lambda u=u: results.append(_outcome(group, u))) for u in [*good, bad]]
    for t in threads:
        t.start()
    time.sleep(0.2)
    release.set()
    for t in [blocker, *threads]:
        t.join()
    assert sorted(str(r) for r in results) == sorted([*(f"good-{i}" for i in range(5)), "refused"])
    with engine.connect() as connection:
        stored = {row[0] for row in connection.exec_driver_sql("SELECT reference FROM paid")}
    assert stored == {"alone", *(f"good-{i}" for i in range(5))}  # the failing unit left nothing
    assert runs["bad"] >= 2 and savepoints  # run again, in a savepoint


def _outcome(group: GroupCommit, unit: object) -> object:
    try:
        return group.run(unit)  # type: ignore[arg-type]
    except ValueError as exc:
        return str(exc)


def test_postgres_reads_need_no_transaction_and_a_dead_idle_connection_is_replaced() -> None:
    """On PostgreSQL: ``reads()`` sends no BEGIN; a pooled connection killed while idle is found and replaced."""
    from tests.wallet_support import PG_ADMIN_URL, postgres_database
    from wallet_api.db import engine as engine_module
    from wallet_api.db.engine import reads

    url = postgres_database()
    engine = make_engine(url)
    sessions = make_sessions(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(str(args[2])))
    with sessions.begin() as db:
        pid = db.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with reads(sessions) as db:
        assert db.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid  # the pooled connection, reused
        time.sleep(0.05)
        # now() is when the transaction began: equal to this statement's start only if it is its own
        alone = db.execute(text("SELECT now() = statement_timestamp()")).scalar_one()
    assert alone  # autocommit: each statement its own transaction
    assert not any("select 1" in s.lower() for s in statements)  # used a moment ago: not pinged

    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(engine_module.PING_AFTER_IDLE_SECONDS + 0.2)
    with reads(sessions) as db:  # the dead connection is pinged, dropped and replaced: the read succeeds
        assert db.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    engine.dispose()
