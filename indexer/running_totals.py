"""The home page's totals per JST day, kept up to date with the indexed head instead of summed again.

On a live chain the head moves every second, so a cache keyed on the head alone is stale
at the next view, and the home page summed every movement again (issue 17: 1.6 s at p50
with 66,081 events). :class:`RunningTotals` keeps, per JST day, the transactions and the
movements' count and points per kind, and on a new head reads only the blocks indexed
since the head it last read (``ix_movements_block``, ``ix_transactions_block_index``). A
rewind (the block it last read is gone or has another hash) starts over from nothing.
:class:`RunningHolders` keeps every address's points the same way, for ``/holders``, and
:class:`RunningMerchants` every merchant's payments, refunds and settlements, for ``/merchants``.

Supply, today's figures and the 30-day series are then sums over these few hundred
entries, the same numbers ``queries.supply``, ``queries.today`` and ``queries.daily_series``
give.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from indexer import queries
from indexer.db.models import Block, PointMovement, Transaction
from indexer.decode import ZERO

DAY = 86400
JST_OFFSET = 9 * 3600
Anchor = tuple[int, str]  # (number, hash) of the head the totals were read at
CIRCULATION_SIGN = {"issued": 1, "settled": -1, "swept": -1}


def jst_day(timestamp: int) -> int:
    """Days since 1970-01-01 in JST (the day a timestamp falls on in Takasago)."""
    return (timestamp + JST_OFFSET) // DAY


@dataclass(frozen=True)
class DailyTotals:
    """Per JST day: ``moves[(day, kind)] = (count, points)`` and ``txs[day] = transactions``. Never modified."""

    moves: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)
    txs: dict[int, int] = field(default_factory=dict)

    def supply(self) -> queries.Supply:
        points: dict[str, int] = {}
        for (_day, kind), (_count, amount) in self.moves.items():
            points[kind] = points.get(kind, 0) + amount
        return queries.Supply(points.get("issued", 0), points.get("settled", 0), points.get("swept", 0))

    def today(self, day_start: int) -> dict[str, int]:
        """``queries.today``: transactions, and count and points per kind, from ``day_start`` on."""
        first = jst_day(day_start)
        out = {"transactions": sum(n for day, n in self.txs.items() if day >= first)}
        for (day, kind), (count, amount) in sorted(self.moves.items()):
            if day >= first:
                out[f"{kind}_count"] = out.get(f"{kind}_count", 0) + count
                out[f"{kind}_points"] = out.get(f"{kind}_points", 0) + amount
        return out

    def series(self, day_start: int, days: int = 30) -> list[dict[str, Any]]:
        """``queries.daily_series``: per day up to today, transactions and points in circulation at its end."""
        first = jst_day(day_start) + 1 - days
        running = 0
        deltas: dict[int, int] = {}
        for (day, kind), (_count, amount) in self.moves.items():
            signed = CIRCULATION_SIGN.get(kind, 0) * amount
            if day < first:
                running += signed
            else:
                deltas[day] = deltas.get(day, 0) + signed
        start = day_start + DAY - days * DAY
        series = []
        for offset in range(days):
            running += deltas.get(first + offset, 0)
            label = datetime.fromtimestamp(start + offset * DAY, queries.JST).strftime("%m/%d")
            series.append({"day": label, "transactions": self.txs.get(first + offset, 0), "circulating": running})
        return series


T = TypeVar("T")


class FollowsHead(Generic[T]):
    """A value derived from every indexed block, kept at the indexed head: each call adds only the
    blocks indexed since the head it last read (``_add``). A rewind below that head (its block is
    gone or has another hash) starts over from ``_empty``. Values handed out are never modified."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = self._empty()
        self._anchor: Anchor | None = None

    def _empty(self) -> T:
        raise NotImplementedError

    def _add(self, db: Session, value: T, after: int, upto: int) -> T:
        """``value`` plus the blocks ``after`` < number <= ``upto`` (a new value; ``value`` stays as it was)."""
        raise NotImplementedError

    def get(self, db: Session) -> T:
        cp = queries.head(db)
        with self._lock:
            if self._anchor is not None and (cp is None or not self._still_indexed(db, self._anchor, cp.block_number)):
                self._value, self._anchor = self._empty(), None  # rewound below it: start over
            if cp is None or self._anchor == (cp.block_number, cp.block_hash):
                return self._value
            after = -1 if self._anchor is None else self._anchor[0]
            self._value = self._add(db, self._value, after, cp.block_number)
            self._anchor = (cp.block_number, cp.block_hash)
            return self._value

    @staticmethod
    def _still_indexed(db: Session, anchor: Anchor, head: int) -> bool:
        number, block_hash = anchor
        return number <= head and db.scalar(select(Block.hash).where(Block.number == number)) == block_hash


class RunningTotals(FollowsHead[DailyTotals]):
    """:class:`DailyTotals` at the indexed head."""

    def _empty(self) -> DailyTotals:
        return DailyTotals()

    def _add(self, db: Session, value: DailyTotals, after: int, upto: int) -> DailyTotals:
        moves, txs = dict(value.moves), dict(value.txs)
        move_day = (PointMovement.timestamp + JST_OFFSET) // DAY
        for day, kind, count, amount in db.execute(
            select(move_day, PointMovement.kind, func.count(), func.coalesce(func.sum(PointMovement.amount), 0))
            .where(PointMovement.block_number > after, PointMovement.block_number <= upto)
            .group_by(move_day, PointMovement.kind)
        ):
            seen = moves.get((int(day), kind), (0, 0))
            moves[(int(day), kind)] = (seen[0] + int(count), seen[1] + int(amount))
        tx_day = (Transaction.timestamp + JST_OFFSET) // DAY
        for day, count in db.execute(
            select(tx_day, func.count())
            .where(Transaction.block_number > after, Transaction.block_number <= upto)
            .group_by(tx_day)
        ):
            txs[int(day)] = txs.get(int(day), 0) + int(count)
        return DailyTotals(moves, txs)


@dataclass(frozen=True)
class Holders:
    """Every address's points (``balances``) and the holders with points, largest first (``ranked``)."""

    balances: dict[str, int] = field(default_factory=dict)
    ranked: list[tuple[str, int]] = field(default_factory=list)

    def page(self, page: int = 1, size: int = queries.PAGE_SIZE) -> list[tuple[str, int]]:
        """``queries.holders``: points desc, then address (by code point; PostgreSQL's collation may
        order equal holders of ``holders.csv`` otherwise)."""
        return self.ranked[(page - 1) * size : page * size]


class RunningHolders(FollowsHead[Holders]):
    """:class:`Holders` at the indexed head: the ``/holders`` page without summing every movement per view."""

    def _empty(self) -> Holders:
        return Holders()

    def _add(self, db: Session, value: Holders, after: int, upto: int) -> Holders:
        balances = dict(value.balances)
        in_range = (PointMovement.block_number > after, PointMovement.block_number <= upto)
        changed = False
        for column, sign in ((PointMovement.to_address, 1), (PointMovement.from_address, -1)):
            for address, total in db.execute(
                select(column, func.sum(PointMovement.amount)).where(*in_range).group_by(column)
            ):
                balances[address] = balances.get(address, 0) + sign * int(total)
                changed = True
        if not changed:
            return Holders(balances, value.ranked)
        ranked = sorted(((a, b) for a, b in balances.items() if b > 0 and a != ZERO), key=lambda r: (-r[1], r[0]))
        return Holders(balances, ranked)


class RunningMerchants(FollowsHead[dict[str, queries.MerchantFigures]]):
    """Every merchant's payments, refunds and settlements at the indexed head (``/merchants``): each
    new head adds the grouped sums of only the blocks indexed since (``queries.merchant_figures``)."""

    def _empty(self) -> dict[str, queries.MerchantFigures]:
        return {}

    def _add(
        self, db: Session, value: dict[str, queries.MerchantFigures], after: int, upto: int
    ) -> dict[str, queries.MerchantFigures]:
        new = queries.merchant_figures(db, after, upto)
        if not new:
            return value
        merged = dict(value)
        for address, figures in new.items():
            merged[address] = merged.get(address, queries.MerchantFigures()) + figures
        return merged
