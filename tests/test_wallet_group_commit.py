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
