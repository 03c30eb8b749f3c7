"""Where the pseudonymous tables live and the indicator SQL runs: DuckDB by default, PostgreSQL
for a city that already has one.

Both engines get the same DDL (:data:`SCHEMA`) and the same indicator SQL
(``analytics/indicators.py``); the SQL keeps to what both understand (CTEs, window functions,
``percentile_cont … WITHIN GROUP``, ``CAST(… AS DOUBLE PRECISION)``) and takes months as text
computed at ingest, so no engine-specific date function is needed. ``tests/test_analytics.py``
runs every indicator on both and compares.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# Every table holds pseudonyms (``analytics/pseudonyms.py``: account numbers, BIGINT), never an address,
# name or birth date.
SCHEMA: dict[str, str] = {
    # one point movement (an ERC-20 Transfer) with the indexer's kind; month in JST, "YYYY-MM"
    "movements": "ts BIGINT, month VARCHAR(7), block BIGINT, from_id BIGINT, to_id BIGINT, "
    "amount BIGINT, kind VARCHAR(16)",
    # points issued by the oracle's grants (the decarbonisation service), per recipient
    "grants": "month VARCHAR(7), to_id BIGINT, amount BIGINT",
    # an account's kind, from the registry's AccountRegistered events
    "registry": "id BIGINT, kind VARCHAR(12)",
    # a resident's attributes, from the wallet's research feed (never for residents who opted out)
    "attributes": "id BIGINT, district VARCHAR(16), age_band VARCHAR(8), card INTEGER",
    # payments made with a printed card and PIN, by month and payer's district, as the wallet's feed counted them
    # (district "Σ": the month's total; NULL where the wallet suppressed a cell under 10 residents)
    "card_payments": "month VARCHAR(7), district VARCHAR(16), payments BIGINT, people BIGINT, points BIGINT",
    # the census (open statistics): people per district and 10-year age band
    "population": "district VARCHAR(16), age_band VARCHAR(8), people BIGINT",
    # Well-being survey answers, one row per item; the response id is random, not the resident's
    "survey": "response VARCHAR(32), year INTEGER, district VARCHAR(16), age_band VARCHAR(8), "
    "item VARCHAR(32), score INTEGER",
    # help requests (HelpBoard events): posted, a helper chosen, completed (unix seconds; 0: not yet)
    "help": "request VARCHAR(80), requester BIGINT, month VARCHAR(7), posted_ts BIGINT, "
    "matched_ts BIGINT, completed_ts BIGINT",
    # the oracle's public reports: one row per programme and period
    "co2": "programme INTEGER, period INTEGER, month VARCHAR(7), households BIGINT, grams BIGINT, wh BIGINT",
    # the oracle's public per-district totals of a report (no row under 10 households; "other" folds the small ones)
    "co2_district": "programme INTEGER, period INTEGER, month VARCHAR(7), district VARCHAR(16), households BIGINT, "
    "wh BIGINT, grams BIGINT",
    # watch-over coverage per month, district and band of hours ("school": the watch hours, "other"), with the
    # totals (district or hours "Σ"), as the watch service publishes it: NULL where it suppressed a count;
    # final = 1 once the month was over when pulled (never pulled again)
    "watch": "month VARCHAR(7), district VARCHAR(16), hours VARCHAR(16), volunteers BIGINT, wards BIGINT, "
    "sightings BIGINT, fixed_detectors BIGINT, final INTEGER",
}
# columns added after a table first shipped (ADD COLUMN IF NOT EXISTS: both engines)
ADDED_COLUMNS: dict[str, list[str]] = {
    "watch": ["wards BIGINT", "sightings BIGINT", "fixed_detectors BIGINT", "final INTEGER"],
}

# who an account is, as the indicators read it (unknown district or age band: "-")
VIEWS: dict[str, str] = {
    "accounts": "SELECT r.id, r.kind, COALESCE(a.district, '-') AS district, COALESCE(a.age_band, '-') AS age_band, "
    "COALESCE(a.card, 0) AS card FROM registry r LEFT JOIN attributes a ON a.id = r.id",
}


def create_tables(execute: Callable[[str], Any]) -> None:
    for table, columns in SCHEMA.items():
        execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
    for table, added in ADDED_COLUMNS.items():
        for column in added:
            execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column}")
    for view, select in VIEWS.items():
        execute(f"CREATE OR REPLACE VIEW {view} AS {select}")


Columns = Mapping[str, "Sequence[Any] | np.ndarray[Any, Any]"]


class Warehouse(Protocol):
    """What the ingest and the indicators need from an engine."""

    engine: str

    def replace(self, table: str, columns: Columns) -> None: ...

    def append(self, table: str, columns: Columns) -> None: ...

    def append_renamed(
        self, table: str, columns: Columns, renamed: tuple[str, ...], new_names: dict[str, int]
    ) -> None: ...

    def forget_names(self) -> None: ...

    def execute(self, sql: str) -> None: ...

    def query(self, sql: str) -> list[tuple[Any, ...]]: ...

    def select(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]: ...


class DuckWarehouse:
    """DuckDB on a local file (or in memory); columns arrive as NumPy arrays, scanned without copies."""

    engine = "duckdb"

    def __init__(self, path: Path | None = None) -> None:
        import duckdb

        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = duckdb.connect(str(path) if path is not None else ":memory:")
        self.lock = threading.Lock()  # one DuckDB connection, shared by the refresher and the pages
        self._coded_names: tuple[np.ndarray[Any, Any], ...] = ()  # the code → account table now in TEMP
        create_tables(self.connection.execute)

    def replace(self, table: str, columns: Columns) -> None:
        with self.lock:
            self.connection.execute(f"DELETE FROM {table}")
        self.append(table, columns)

    def append(self, table: str, columns: Columns) -> None:
        if not columns or not len(next(iter(columns.values()))):
            return
        arrays = {name: _array(values) for name, values in columns.items()}
        with self.lock:
            self.connection.register("incoming", arrays)
            try:
                names = ", ".join(arrays)
                self.connection.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM incoming")
            finally:
                self.connection.unregister("incoming")

    def append_renamed(self, table: str, columns: Columns, renamed: tuple[str, ...], new_names: dict[str, int]) -> None:
        """Inserts ``columns`` with the ``renamed`` columns' addresses replaced by pseudonyms, by a join in DuckDB.

        The address → pseudonym pairs live in a TEMP table (memory, never the database file), fed with
        ``new_names`` (only the addresses not given before) and emptied by :meth:`forget_names`.
        """
        if not len(next(iter(columns.values()))):
            return
        arrays = {name: _array(values) for name, values in columns.items()}
        with self.lock:
            self.connection.execute("CREATE TEMP TABLE IF NOT EXISTS pseudonym_map (address VARCHAR, id BIGINT)")
            if new_names:
                names = {"address": np.array(list(new_names), dtype=object),
                         "id": np.array(list(new_names.values()), dtype=np.int64)}  # fmt: skip
                self.connection.register("new_names", names)
                self.connection.execute("INSERT INTO pseudonym_map SELECT address, id FROM new_names")
                self.connection.unregister("new_names")
            self.connection.register("incoming", arrays)
            try:
                joins = " ".join(
                    f"JOIN pseudonym_map n{i} ON n{i}.address = incoming.{column}" for i, column in enumerate(renamed)
                )
                picks = ", ".join(
                    f"n{renamed.index(name)}.id" if name in renamed else f"incoming.{name}" for name in arrays
                )
                self.connection.execute(
                    f"INSERT INTO {table} ({', '.join(arrays)}) SELECT {picks} FROM incoming {joins}"
                )
            finally:
                self.connection.unregister("incoming")

    def forget_names(self) -> None:
        with self.lock:
            self.connection.execute("DROP TABLE IF EXISTS pseudonym_map")

    def append_coded(self, table: np.ndarray[Any, Any], names: np.ndarray[Any, Any], kinds: list[str]) -> None:
        """Movements as integer columns (block, ts, from code, to code, amount, kind code), decoded by joins.

        ``names[code]`` is the pseudonym of an address code, ``kinds[code]`` a kind; months are computed
        from the timestamps as integers and named through a table of the few months present.
        """
        from analytics.indexer_source import JST_OFFSET

        timestamps = table[:, 1]
        month_index = ((timestamps + JST_OFFSET).astype("datetime64[s]").astype("datetime64[M]")).astype(np.int64)
        present = np.unique(month_index)
        incoming = {"block": table[:, 0], "ts": timestamps, "f": table[:, 2], "t": table[:, 3],
                    "amount": table[:, 4], "k": table[:, 5], "m": month_index}  # fmt: skip
        months = {"m": present, "label": present.astype("datetime64[M]").astype(str).astype(object)}
        with self.lock:
            if not self._coded_names or self._coded_names[0] is not names:
                codes = {"code": np.arange(len(names), dtype=np.int64), "id": names}
                kind_table = {"code": np.arange(len(kinds), dtype=np.int64), "kind": np.array(kinds, dtype=object)}
                self.connection.register("code_names", codes)
                self.connection.execute("CREATE OR REPLACE TEMP TABLE coded_names AS SELECT * FROM code_names")
                self.connection.unregister("code_names")
                self.connection.register("kind_names", kind_table)
                self.connection.execute("CREATE OR REPLACE TEMP TABLE coded_kinds AS SELECT * FROM kind_names")
                self.connection.unregister("kind_names")
                self._coded_names = (names,)
            self.connection.register("incoming", incoming)
            self.connection.register("incoming_months", months)
            try:
                self.connection.execute(
                    "INSERT INTO movements (ts, month, block, from_id, to_id, amount, kind)"
                    " SELECT i.ts, mo.label, i.block, f.id, t.id, i.amount, k.kind FROM incoming i"
                    " JOIN coded_names f ON f.code = i.f JOIN coded_names t ON t.code = i.t"
                    " JOIN coded_kinds k ON k.code = i.k JOIN incoming_months mo ON mo.m = i.m"
                )
            finally:
                self.connection.unregister("incoming")
                self.connection.unregister("incoming_months")

    def execute(self, sql: str) -> None:
        with self.lock:
            self.connection.execute(sql)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.connection.execute(sql).fetchall()

    def select(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.lock:
            cursor = self.connection.execute(sql)
            return [d[0] for d in cursor.description], cursor.fetchall()

    def copy_partitioned(self, sql: str, directory: Path) -> None:
        """``sql``'s rows as Parquet files, one folder per month (``month=YYYY-MM/``)."""
        with self.lock:
            self.connection.execute(
                f"COPY ({sql}) TO '{_quoted(directory)}' (FORMAT PARQUET, PARTITION_BY (month), OVERWRITE_OR_IGNORE)"
            )

    def close(self) -> None:
        self.connection.close()


class PostgresWarehouse:
    """The same tables in a PostgreSQL database (a schema of its own), for a city that runs one."""

    engine = "postgresql"

    def __init__(self, url: str, schema: str = "analytics") -> None:
        import psycopg

        self.connection = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        self.lock = threading.Lock()
        self.names: dict[str, int] = {}
        self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        self.connection.execute(f"SET search_path TO {schema}")
        create_tables(self.connection.execute)

    def replace(self, table: str, columns: Columns) -> None:
        with self.lock:
            self.connection.execute(f"DELETE FROM {table}")  # type: ignore[arg-type]
        self.append(table, columns)

    def append(self, table: str, columns: Columns) -> None:
        if not columns or not len(next(iter(columns.values()))):
            return
        names = list(columns)
        rows = zip(*(_python(columns[name]) for name in names), strict=True)
        with self.lock, self.connection.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:  # type: ignore[arg-type]
                for row in rows:
                    copy.write_row(row)

    def append_renamed(self, table: str, columns: Columns, renamed: tuple[str, ...], new_names: dict[str, int]) -> None:
        """As DuckDB's, with the pairs kept in this process (PostgreSQL gets only the pseudonyms)."""
        self.names.update(new_names)
        out = dict(columns)
        for column in renamed:
            out[column] = [self.names[address] for address in _python(columns[column])]
        self.append(table, out)

    def forget_names(self) -> None:
        self.names = {}

    def execute(self, sql: str) -> None:
        with self.lock:
            self.connection.execute(sql)  # type: ignore[arg-type]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.connection.execute(sql).fetchall()  # type: ignore[arg-type]

    def select(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.lock:
            cursor = self.connection.execute(sql)  # type: ignore[arg-type]
            return [d.name for d in cursor.description or ()], cursor.fetchall()

    def close(self) -> None:
        self.connection.close()


def _array(values: Sequence[Any] | np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if isinstance(values, np.ndarray):
        return values
    listed = list(values)
    if listed and all(isinstance(v, int) for v in listed):
        return np.array(listed, dtype=np.int64)
    return np.array(listed, dtype=object)


def _python(values: Sequence[Any] | np.ndarray[Any, Any]) -> Iterable[Any]:
    return values.tolist() if isinstance(values, np.ndarray) else values


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
