"""The explorer's local hops per JST month (issue 21), computed in SQL on SQLite and PostgreSQL.

Known answers on hand-made index rows through the indexer's own models and migrations: hops on
either side of a JST month's first midnight land in the right month (2026-11-30 23:59:59 JST is
November, 00:00:00 the next second is December; December's end is 2026-12-31 23:59:59 +09:00),
payments, thanks and settlements are not hops, and on SQLite the query reads only the hops' rows
from the (kind, timestamp, amount) index however many other movements there are. The pages and
the CSV over a real node and indexer: ``tests/test_explorer.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event

from indexer import queries
from indexer.db.models import Block, PointMovement
from indexer.queries import JST
from tests.test_indexer import database, sessions

SHOP, SUPPLIER, FIRM, RESIDENT = ("0x" + c * 40 for c in "abcd")


def at(text: str) -> int:
    """Unix seconds of a moment in Japan time, e.g. ``2026-11-30 23:59:59``."""
    return int(datetime.fromisoformat(text).replace(tzinfo=JST).timestamp())


def block(number: int, timestamp: int) -> Block:
    return Block(number=number, hash=f"0x{number:064x}", parent_hash=f"0x{number - 1:064x}", timestamp=timestamp,
                 proposer=SHOP, tx_count=1, gas_used=0, transactions_root="0x" + "0" * 64)  # fmt: skip


def move(number: int, index: int, frm: str, to: str, amount: int, kind: str, timestamp: int) -> PointMovement:
    return PointMovement(block_number=number, log_index=index, tx_hash=f"0x{number:060x}{index:04x}", from_address=frm,
                         to_address=to, amount=amount, kind=kind, request_id=None, timestamp=timestamp)  # fmt: skip


MOVES = [  # (JST moment, from, to, amount, kind)
    ("2026-11-02 10:00:00", RESIDENT, SHOP, 900, "payment"),
    ("2026-11-30 23:59:59", SHOP, SUPPLIER, 300, "b2b"),
    ("2026-12-01 00:00:00", SHOP, FIRM, 200, "b2b"),
    ("2026-12-01 00:00:00", FIRM, RESIDENT, 50, "business-reward"),
    ("2026-12-15 12:00:00", SHOP, RESIDENT, 25, "business-reward"),
    ("2026-12-20 12:00:00", SHOP, "0x" + "0" * 40, 100, "settled"),
    ("2026-12-31 23:59:59", SUPPLIER, FIRM, 75, "b2b"),
    ("2027-01-01 00:00:00", RESIDENT, RESIDENT, 10, "thanks"),
]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_local_hops_per_jst_month_known_answers(kind: str, tmp_path: Any) -> None:
    made = sessions(database(kind, tmp_path))
    with made.begin() as db:
        for number, (moment, frm, to, amount, what) in enumerate(MOVES, start=1):
            db.add(block(number, at(moment)))
            db.flush()
            db.add(move(number, 0, frm, to, amount, what, at(moment)))
    with made() as db:
        hops = queries.local_hops(db)
    assert hops == [
        {"month": "2026-12", "starts_at": at("2026-12-01 00:00:00"), "ends_at": at("2026-12-31 23:59:59"),
         "b2b": 2, "b2b_points": 275, "rewards": 2, "reward_points": 75, "hops": 4, "points": 350},
        {"month": "2026-11", "starts_at": at("2026-11-01 00:00:00"), "ends_at": at("2026-11-30 23:59:59"),
         "b2b": 1, "b2b_points": 300, "rewards": 0, "reward_points": 0, "hops": 1, "points": 300},
    ]  # fmt: skip


def test_local_hops_read_only_the_hops_rows_from_the_index(tmp_path: Any) -> None:
    """Many payments and one hop: SQLite answers from ix_movements_kind_time, touching the hop's rows only."""
    made = sessions(database("sqlite", tmp_path))
    start = at("2026-12-01 09:00:00")
    with made.begin() as db:
        db.add_all(block(n, start + n) for n in range(1, 2001))
        db.flush()
        db.add_all(move(n, i, RESIDENT, SHOP, 1, "payment", start + n) for n in range(1, 2001) for i in range(10))
        db.add(move(2000, 10, SHOP, FIRM, 42, "b2b", start + 2000))
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = made.kw["bind"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        with made() as db:
            hops = queries.local_hops(db)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [(h["month"], h["b2b"], h["b2b_points"]) for h in hops] == [("2026-12", 1, 42)]
    statement, parameters = next((s, p) for s, p in seen if "movements" in s)
    with engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "COVERING INDEX ix_movements_kind_time" in plan, plan
