"""Atomic insert-or-update statements for SQLite and PostgreSQL (both speak ``ON CONFLICT``).

Shared counters (log-in throttling, rate limits) are bumped by many workers at once; a
read-then-write would lose updates, so each bump is one statement the database applies
atomically.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _insert(db: Session, table: Table | Any) -> Any:
    return postgresql.insert(table) if db.get_bind().dialect.name == "postgresql" else sqlite.insert(table)


def insert_ignore(db: Session, table: Any, **values: Any) -> None:
    """Inserts the row unless its key exists."""
    db.execute(_insert(db, table).values(**values).on_conflict_do_nothing())


def add_hit(db: Session, table: Any, key: str, minute: int) -> int:
    """Counts one hit of ``key`` in ``minute`` and returns that minute's total (one atomic statement)."""
    statement = _insert(db, table).values(key=key, minute=minute, hits=1)
    statement = statement.on_conflict_do_update(
        index_elements=["key", "minute"], set_={"hits": table.hits + 1}
    ).returning(table.hits)
    return int(db.execute(statement).scalar_one())
