"""The oracle's evidence store: accepted batches and each household's verified months, in a database.

Why a database and not the inbox directory of loose files it replaces: a month is settled
from "every batch with a reading in the month", which is one indexed range query here
(each batch records the first and last half hour it reports) instead of reading every
file ever received; a replay is refused by the unique digest inside the same transaction
that stores the batch; and baselines come from the verified months this store keeps, so
a month can be re-settled from the store alone, with no history file beside it.

SQLite (WAL) is the embedded default; PostgreSQL by URL (``TAKASAGO_ORACLE_DATABASE_URL``).
The schema is migrated with Alembic (``oracle/migrations``). Payloads are kept byte for
byte, because the gateway's signature is over those bytes: the evidence can be
re-verified at any time.

Privacy: household ids and meter ids live only here, inside the oracle; nothing here is
published (the public report carries salted hashes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    BigInteger,
    Engine,
    Integer,
    LargeBinary,
    String,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from oracle.columnar_readings import Source

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    pass


class Batch(Base):
    """One accepted batch: the exact bytes a gateway signed, and the half hours it covers."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80))  # "<sha256>.jsonl" or ".csv": how its rows are cited
    gateway: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[int] = mapped_column(BigInteger)
    first_time: Mapped[int | None] = mapped_column(BigInteger, index=True)
    last_time: Mapped[int | None] = mapped_column(BigInteger, index=True)
    readings: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class VerifiedMonth(Base):
    """A household's verified consumption for one JST month: the baselines of later months."""

    __tablename__ = "verified_months"

    household_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)  # YYYYMM
    consumption_wh: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16))  # "settled" (by this oracle) or "imported"
    recorded_at: Mapped[int] = mapped_column(BigInteger)


class HouseholdMonth(Base):
    """One household's result of one settled month: its figures, or the reason it was excluded (issue 21).

    Kept for the household's own view (My CO2 in the residents' app, read through the wallet
    with the service token); never published. ``leaf_index`` is its leaf in the period's report
    when it earned (its claim id on-chain is ``month << 32 | leaf_index``).
    """

    __tablename__ = "household_months"

    household_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    programme_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)  # YYYYMM
    consumption_wh: Mapped[int | None] = mapped_column(BigInteger)
    baseline_wh: Mapped[int | None] = mapped_column(BigInteger)
    baseline_source: Mapped[str] = mapped_column(String(40))
    reduction_wh: Mapped[int] = mapped_column(BigInteger)
    co2_g: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(32))
    leaf_index: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[int] = mapped_column(BigInteger)


class SettledPeriod(Base):
    """A settled period's public totals (the city's figures) and the blocks its grants were sent in."""

    __tablename__ = "settled_periods"

    programme_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    households_verified: Mapped[int] = mapped_column(Integer)
    households_excluded: Mapped[int] = mapped_column(Integer)
    reduction_wh: Mapped[int] = mapped_column(BigInteger)
    co2_g: Mapped[int] = mapped_column(BigInteger)
    first_block: Mapped[int | None] = mapped_column(BigInteger)
    last_block: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class Stored:
    digest: str
    replay: bool


def engine_for(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def upgrade(url: str) -> None:
    """Migrates the store's schema to the latest revision (idempotent)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


class EvidenceStore:
    """Batches in, months of batches out; verified months in and out."""

    def __init__(self, url: str, migrate: bool = True) -> None:
        if migrate:
            upgrade(url)
        self.url = url
        self.engine = engine_for(url)

    def close(self) -> None:
        self.engine.dispose()

    # -- batches ---------------------------------------------------------------------------

    def add_batch(
        self,
        name: str,
        payload: bytes,
        digest: str,
        times: tuple[int, int] | None,
        readings: int,
        gateway: str | None = None,
        signature: str | None = None,
        received_at: int | None = None,
    ) -> Stored:
        """Stores a batch once; the same bytes again are a replay (nothing is stored twice)."""
        row = Batch(
            digest=digest, name=name, gateway=gateway, signature=signature,
            received_at=int(time.time()) if received_at is None else received_at,
            first_time=None if times is None else times[0], last_time=None if times is None else times[1],
            readings=readings, payload=payload,
        )  # fmt: skip
        with Session(self.engine) as session:
            if session.scalar(select(Batch.id).where(Batch.digest == digest)) is not None:
                return Stored(digest, replay=True)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # the same batch stored by a concurrent request just now
                return Stored(digest, replay=True)
        return Stored(digest, replay=False)

    def batch_count(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(Batch)) or 0)

    def batch_names(self) -> list[str]:
        with Session(self.engine) as session:
            return list(session.scalars(select(Batch.name).order_by(Batch.id)))

    def sources_between(self, start: int, end: int) -> Iterator[Source]:
        """Every stored batch with a reading between ``start`` and ``end``, in the order received.

        Streams one payload at a time (the ids first, then each row), so memory holds one
        batch, whatever the month's size.
        """
        overlapping = (Batch.first_time <= end) & (Batch.last_time >= start)
        with Session(self.engine) as session:
            ids = list(session.scalars(select(Batch.id).where(overlapping).order_by(Batch.id)))
        for first in range(0, len(ids), 64):
            with Session(self.engine) as session:
                rows = session.execute(
                    select(Batch.name, Batch.payload).where(Batch.id.in_(ids[first : first + 64])).order_by(Batch.id)
                ).all()
            for name, payload in rows:
                yield Source(name, data=bytes(payload))

    # -- verified months -------------------------------------------------------------------

    def record_months(self, months: Mapping[tuple[str, int], int], source: str) -> int:
        """Upserts verified consumption: {(household, YYYYMM): Wh}. A re-settled month replaces its figures."""
        now = int(time.time())
        rows = [
            {"household_id": h, "month": m, "consumption_wh": wh, "source": source, "recorded_at": now}
            for (h, m), wh in months.items()
        ]
        if not rows:
            return 0
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(VerifiedMonth)
        statement = statement.on_conflict_do_update(
            index_elements=["household_id", "month"],
            set_={
                "consumption_wh": statement.excluded.consumption_wh,
                "source": statement.excluded.source,
                "recorded_at": statement.excluded.recorded_at,
            },
        )
        with Session(self.engine) as session:
            session.execute(statement, rows)  # one statement, executed for many rows (not one huge VALUES list)
            session.commit()
        return len(rows)

    def history(
        self, households: Iterable[str], before: int, months: int = 13
    ) -> dict[str, dict[tuple[int, int], int]]:
        """Verified months of ``households`` in the ``months`` before YYYYMM ``before`` (what baselines use)."""
        year, month = divmod(before, 100)
        first_year, first_month = divmod(year * 12 + month - 1 - months, 12)
        first = first_year * 100 + first_month + 1
        wanted = set(households)
        history: dict[str, dict[tuple[int, int], int]] = {}
        with Session(self.engine) as session:
            rows = session.execute(
                select(VerifiedMonth.household_id, VerifiedMonth.month, VerifiedMonth.consumption_wh).where(
                    (VerifiedMonth.month >= first) & (VerifiedMonth.month < before)
                )
            )
            for household, stamp, wh in rows:
                if household in wanted:
                    history.setdefault(household, {})[divmod(stamp, 100)] = int(wh)
        return history

    # -- settled months, per household (issue 21) ------------------------------------------

    def record_results(self, programme_id: int, month: int, rows: Iterable[Mapping[str, Any]]) -> int:
        """Replaces the household results of (programme, month) with ``rows`` (a re-settled month replaces them)."""
        now = int(time.time())
        values = [{**row, "programme_id": programme_id, "month": month, "recorded_at": now} for row in rows]
        with Session(self.engine) as session:
            session.execute(
                delete(HouseholdMonth).where(
                    (HouseholdMonth.programme_id == programme_id) & (HouseholdMonth.month == month)
                )
            )
            if values:
                session.execute(insert(HouseholdMonth), values)
            session.commit()
        return len(values)

    def record_period(
        self, programme_id: int, month: int, totals: Mapping[str, int], blocks: tuple[int, int] | None
    ) -> None:
        """The period's totals; the blocks its grants went out in widen with every run that posted."""
        with Session(self.engine) as session:
            row = session.get(SettledPeriod, (programme_id, month), with_for_update=True)
            if row is None:
                row = SettledPeriod(programme_id=programme_id, month=month, first_block=None, last_block=None)
                session.add(row)
            row.households_verified = int(totals.get("households_verified", 0))
            row.households_excluded = int(totals.get("households_excluded", 0))
            row.reduction_wh = int(totals.get("reduction_wh", 0))
            row.co2_g = int(totals.get("co2_g", 0))
            row.recorded_at = int(time.time())
            if blocks is not None:
                row.first_block = blocks[0] if row.first_block is None else min(row.first_block, blocks[0])
                row.last_block = blocks[1] if row.last_block is None else max(row.last_block, blocks[1])
            session.commit()

    def months_of(self, household_id: str, limit: int = 24) -> list[dict[str, Any]]:
        """A household's settled months, newest first, each with its period's city totals."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(HouseholdMonth, SettledPeriod)
                .join(
                    SettledPeriod,
                    (SettledPeriod.programme_id == HouseholdMonth.programme_id)
                    & (SettledPeriod.month == HouseholdMonth.month),
                    isouter=True,
                )
                .where(HouseholdMonth.household_id == household_id)
                .order_by(HouseholdMonth.month.desc(), HouseholdMonth.programme_id)
                .limit(limit)
            ).all()
        out = []
        for mine, period in rows:
            city = None
            if period is not None:
                city = {
                    "households_verified": period.households_verified,
                    "households_excluded": period.households_excluded,
                    "reduction_wh": period.reduction_wh,
                    "co2_g": period.co2_g,
                }
            out.append(
                {
                    "programme_id": mine.programme_id, "month": mine.month, "consumption_wh": mine.consumption_wh,
                    "baseline_wh": mine.baseline_wh, "baseline_source": mine.baseline_source,
                    "reduction_wh": mine.reduction_wh, "co2_g": mine.co2_g, "reason": mine.reason,
                    "leaf_index": mine.leaf_index, "city": city,
                    "grant_blocks": None if period is None or period.first_block is None
                    else [period.first_block, period.last_block],
                }
            )  # fmt: skip
        return out

    def import_history(self, document: Mapping[str, Mapping[str, int]]) -> int:
        """``{household: {"YYYY-MM": Wh}}`` (the older history file) into the store, as imported figures."""
        months = {}
        for household, figures in document.items():
            for key, wh in figures.items():
                months[(str(household), int(key[:4]) * 100 + int(key[5:7]))] = int(wh)
        return self.record_months(months, "imported")

    def import_inbox(self, directory: Path) -> int:
        """Moves batches of the older inbox directory (files named by SHA-256, with .meta.json) into the store."""
        from oracle.readings import parse_readings

        count = 0
        for path in sorted(directory.glob("*")):
            if path.suffix not in (".jsonl", ".csv") or path.name.endswith(".part"):
                continue
            payload = path.read_bytes()
            meta_path = path.with_name(path.name + ".meta.json")
            meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
            readings, _ = parse_readings(path.name, payload, now=float("inf"))
            times = (min(r.time for r in readings), max(r.time for r in readings)) if readings else None
            stored = self.add_batch(
                path.name, payload, path.stem, times, len(readings), meta.get("gateway"), meta.get("signature"),
                meta.get("received_at"),
            )  # fmt: skip
            count += not stored.replay
        return count
