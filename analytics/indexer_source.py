"""Pulling on-chain activity from the indexer's database, read-only, by plain SQL.

The indexer's tables (``movements``, ``events``, ``transactions``; ``docs/explorer.md``) are its
published read model; this module reads them with SQL only and imports nothing of the indexer.
SQLite is opened with ``mode=ro`` and PostgreSQL sessions are read-only, so a mistake here can
never write to the explorer's database.

Addresses are renamed to pseudonyms (``analytics/pseudonyms.py``) as rows arrive; the local
store never holds an address. Pulls are incremental by block: each pull re-reads the last
:data:`REREAD_BLOCKS` blocks (a dev chain may rewind a few; QBFT never does) after deleting them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.warehouse import DuckWarehouse, Warehouse

ZERO = "0x0000000000000000000000000000000000000000"
REREAD_BLOCKS = 12
CHUNK = 250_000
# the indexer's movement kinds (docs/explorer.md), coded as their position here on the fast path
KINDS = ["issued", "payment", "thanks", "transfer", "settled", "swept", "refund", "recovered", "help-escrow", "help",
         "help-return", "b2b", "business-reward"]  # fmt: skip
ACCOUNT_KINDS = {1: "resident", 2: "merchant", 3: "city", 4: "oracle", 5: "validator"}
JST_OFFSET = 9 * 3600


def months_of(timestamps: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Unix seconds to JST months ("YYYY-MM"), vectorised: months as integers, text only for the few distinct."""
    if not len(timestamps):
        return np.empty(0, dtype=object)
    months = (timestamps.astype(np.int64) + JST_OFFSET).astype("datetime64[s]").astype("datetime64[M]")
    index = months.astype(np.int64)
    low = int(index.min())
    labels = np.arange(low, int(index.max()) + 1).astype("datetime64[M]").astype(str).astype(object)
    return labels[index - low]


def month_of(timestamp: int) -> str:
    return str(months_of(np.array([timestamp]))[0])


@dataclass
class IndexerSource:
    """One read-only connection to the indexer's database (SQLite file or PostgreSQL URL)."""

    url: str
    rename: Callable[[str], int]  # address -> account number (pseudonyms.namer)

    def connect(self) -> Any:
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[1]
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        import psycopg

        postgres = psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://"))
        postgres.execute("SET default_transaction_read_only = on")
        return postgres

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[list[tuple[Any, ...]]]:
        connection = self.connect()
        try:
            marker = "?" if self.url.startswith("sqlite") else "%s"
            cursor = connection.cursor()
            cursor.execute(sql.replace("?", marker), params)
            while batch := cursor.fetchmany(CHUNK):
                yield batch
        finally:
            connection.close()

    def pull(self, store: Warehouse, since_block: int) -> int:
        """Brings the store up to the indexer's head; returns the last block read (or ``since_block``).

        Rows come in chunks of :data:`CHUNK`; each chunk is turned into columns at once (NumPy), only
        addresses not seen before are hashed, and the store renames them on insert
        (``Warehouse.append_renamed``), so no Python loop runs per movement.
        """
        start = max(0, since_block - REREAD_BLOCKS)
        store.execute(f"DELETE FROM movements WHERE block > {int(start)}")
        if self.url.startswith("sqlite") and isinstance(store, DuckWarehouse):
            last = self._pull_coded(store, start, since_block)
        else:
            last = self._pull_text(store, start, since_block)
        names: dict[str, int] = {ZERO: 0}

        def renamed(addresses: list[str]) -> np.ndarray[Any, Any]:
            out = np.empty(len(addresses), dtype=np.int64)
            for i, address in enumerate(addresses):
                name = names.get(address)
                if name is None:
                    name = names[address] = self.rename(address)
                out[i] = name
            return out

        self._pull_events(store, renamed)
        return last

    def _pull_coded(self, store: DuckWarehouse, start: int, since_block: int) -> int:
        """SQLite into DuckDB with numbers only: SQLite joins each address to a small code (a table in an
        attached in-memory database, so the indexer's file is never written), Python moves integer columns,
        DuckDB joins the codes to pseudonyms, kinds and months. About twice as fast as moving text."""
        path = self.url.split("///", 1)[1]
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        last = since_block
        try:
            connection.execute("ATTACH DATABASE ':memory:' AS scratch")
            connection.execute("CREATE TABLE scratch.codes (address TEXT PRIMARY KEY, code INTEGER) WITHOUT ROWID")
            addresses = [
                row[0]
                for row in connection.execute(
                    "SELECT from_address FROM movements WHERE block_number > ? GROUP BY from_address UNION "
                    "SELECT to_address FROM movements WHERE block_number > ? GROUP BY to_address",
                    (start, start),
                )
            ]
            connection.executemany("INSERT INTO scratch.codes VALUES (?, ?)", ((a, i) for i, a in enumerate(addresses)))
            # a first pull reads the whole table in its own order (no index, no sort: a third of the time);
            # later pulls find their few new blocks by the block index. Order does not matter to the store.
            block_filter = "+m.block_number > ?" if start == 0 else "m.block_number > ?"
            kinds = " ".join(f"WHEN '{kind}' THEN {code}" for code, kind in enumerate(KINDS))
            cursor = connection.execute(
                "SELECT m.block_number, m.timestamp, f.code, t.code, m.amount,"
                f" CASE m.kind {kinds} ELSE {len(KINDS)} END"
                " FROM movements m CROSS JOIN scratch.codes f CROSS JOIN scratch.codes t"
                f" WHERE {block_filter} AND f.address = m.from_address AND t.address = m.to_address",
                (start,),
            )
            names = np.array([(0 if a == ZERO else self.rename(a)) for a in addresses], dtype=np.int64)
            while batch := cursor.fetchmany(CHUNK):
                table = np.array(batch, dtype=np.int64)
                store.append_coded(table, names, [*KINDS, "other"])
                last = max(last, int(table[:, 0].max()))
        finally:
            connection.close()
        return last

    def _pull_text(self, store: Warehouse, start: int, since_block: int) -> int:
        """Any database into any warehouse: rows as text, addresses renamed by the store on insert."""
        last = since_block
        known: set[str] = set()
        query = (
            "SELECT block_number, timestamp, from_address, to_address, amount, kind FROM movements"
            " WHERE block_number > ? ORDER BY block_number, log_index"
        )
        for batch in self.rows(query, (start,)):
            table = np.array(batch, dtype=object)
            blocks, timestamps = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
            senders, receivers = table[:, 2], table[:, 3]
            new = (set(senders.tolist()) | set(receivers.tolist())) - known
            known |= new
            store.append_renamed(
                "movements",
                {
                    "ts": timestamps,
                    "month": months_of(timestamps),
                    "block": blocks,
                    "from_id": senders,
                    "to_id": receivers,
                    "amount": table[:, 4].astype(np.int64),
                    "kind": table[:, 5],
                },
                ("from_id", "to_id"),
                {address: (0 if address == ZERO else self.rename(address)) for address in new},
            )
            last = max(last, int(blocks[-1]))
        store.forget_names()
        return last

    def _pull_events(self, store: Warehouse, renamed: Callable[[list[str]], np.ndarray[Any, Any]]) -> None:
        """Accounts' kinds, help requests, grants and CO2 reports: small tables, re-read whole each pull."""
        kinds: dict[str, str] = {}
        posted: dict[str, list[Any]] = {}
        reports: list[tuple[int, int, str, int, int]] = []
        wanted = "('AccountRegistered', 'RequestPosted', 'HelperChosen', 'HelpCompleted', 'ReportAccepted')"
        sql = f"SELECT name, args, timestamp FROM events WHERE name IN {wanted} ORDER BY block_number, log_index"
        for batch in self.rows(sql):
            for name, raw, timestamp in batch:
                args = raw if isinstance(raw, dict) else json.loads(raw)
                if name == "AccountRegistered":
                    kinds[args["account"]] = ACCOUNT_KINDS.get(int(args["kind"]), "other")
                elif name == "RequestPosted":
                    posted[str(args["id"])] = [args["requester"], int(timestamp), 0, 0]
                elif name == "HelperChosen" and str(args["id"]) in posted:
                    posted[str(args["id"])][2] = int(timestamp)
                elif name == "HelpCompleted" and str(args["id"]) in posted:
                    posted[str(args["id"])][3] = int(timestamp)
                elif name == "ReportAccepted":
                    grams = int(args["totalUnits"])
                    reports.append((int(args["programmeId"]), int(args["period"]), month_of(int(timestamp)),
                                    int(args["households"]), grams))  # fmt: skip
        addresses = list(kinds)
        store.replace("registry", {"id": renamed(addresses), "kind": [kinds[a] for a in addresses]})
        ids = list(posted)
        store.replace(
            "help",
            {
                "request": ids,
                "requester": renamed([posted[i][0] for i in ids]),
                "month": [month_of(posted[i][1]) for i in ids],
                "posted_ts": [posted[i][1] for i in ids],
                "matched_ts": [posted[i][2] for i in ids],
                "completed_ts": [posted[i][3] for i in ids],
            },
        )
        store.replace(
            "co2",
            {
                "programme": [r[0] for r in reports],
                "period": [r[1] for r in reports],
                "month": [r[2] for r in reports],
                "households": [r[3] for r in reports],
                "grams": [r[4] for r in reports],
                "wh": [0 for _ in reports],
            },
        )
        grants = "SELECT m.timestamp, m.to_address, m.amount FROM movements m JOIN transactions t ON t.hash = m.tx_hash"
        grants += " WHERE m.kind = 'issued' AND t.method = 'grant'"
        stamps_all: list[int] = []
        receivers_all: list[str] = []
        amounts_all: list[int] = []
        for batch in self.rows(grants):
            for timestamp, receiver, amount in batch:
                stamps_all.append(int(timestamp))
                receivers_all.append(receiver)
                amounts_all.append(int(amount))
        store.replace(
            "grants",
            {
                "month": months_of(np.array(stamps_all, dtype=np.int64)) if stamps_all else [],
                "to_id": renamed(receivers_all),
                "amount": amounts_all,
            },
        )
