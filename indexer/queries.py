"""What the explorer and the audit read from the indexed chain (no node access here).

Filters, grouping and paging happen in SQL, so a page or an API answer costs what it
shows, not the size of the tables (issue 15, finding 16). Listings that export every row
come as iterators over a streamed query (``yield_per``: a server-side cursor on
PostgreSQL). The registry's account kinds, which every page needs, are kept by
``AccountKinds`` and brought up to date with only the events indexed since the last view.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import BigInteger, Select, String, case, cast, func, or_, select, tuple_, union, union_all
from sqlalchemy.orm import Session, sessionmaker

from indexer.db.models import Block, Checkpoint, Event, PointMovement, Transaction
from indexer.decode import KIND_NAMES, STATUS_NAMES, ZERO
from ledger_client.jst import month_index as jst_month_index

JST = timezone(timedelta(hours=9))
PAGE_SIZE = 25
MAX_PAGE = 10_000
AnySelect = Select[*tuple[Any, ...]]  # any select, whatever its columns
STREAM_ROWS = 500  # rows fetched at a time when a listing is exported whole


@dataclass(frozen=True)
class Supply:
    issued: int
    settled: int
    swept: int

    @property
    def circulating(self) -> int:
        return self.issued - self.settled - self.swept


def head(db: Session) -> Checkpoint | None:
    return db.get(Checkpoint, 1)


def supply(db: Session, at_block: int | None = None) -> Supply:
    query = select(PointMovement.kind, func.coalesce(func.sum(PointMovement.amount), 0)).group_by(PointMovement.kind)
    if at_block is not None:
        query = query.where(PointMovement.block_number <= at_block)
    totals = {kind: int(total) for kind, total in db.execute(query)}
    return Supply(totals.get("issued", 0), totals.get("settled", 0), totals.get("swept", 0))


def balances(db: Session, at_block: int | None = None) -> dict[str, int]:
    """Every address's points derived from the movements (``at_block`` inclusive)."""
    result: dict[str, int] = defaultdict(int)
    where = [] if at_block is None else [PointMovement.block_number <= at_block]
    for address, total in db.execute(
        select(PointMovement.to_address, func.sum(PointMovement.amount))
        .where(*where)
        .group_by(PointMovement.to_address)
    ):
        result[address] += int(total)
    for address, total in db.execute(
        select(PointMovement.from_address, func.sum(PointMovement.amount))
        .where(*where)
        .group_by(PointMovement.from_address)
    ):
        result[address] -= int(total)
    result.pop(ZERO, None)
    return dict(result)


def balance_of(db: Session, address: str) -> int:
    """One address's points derived from the movements (what ``balances`` gives for it, without the rest)."""
    received = db.scalar(
        select(func.coalesce(func.sum(PointMovement.amount), 0)).where(PointMovement.to_address == address)
    )
    sent = db.scalar(
        select(func.coalesce(func.sum(PointMovement.amount), 0)).where(PointMovement.from_address == address)
    )
    return 0 if address == ZERO else int(received or 0) - int(sent or 0)


REGISTRY_EVENTS = (
    Event.contract == "AccountRegistry",
    Event.name.in_(("AccountRegistered", "AccountStatusChanged")),
)


def _apply_registry(accounts: dict[str, tuple[str, str]], name: str, args: dict[str, Any]) -> None:
    address = str(args["account"])
    if name == "AccountRegistered":
        accounts[address] = (KIND_NAMES.get(int(args["kind"]), "?"), "active")
    elif address in accounts:
        accounts[address] = (accounts[address][0], STATUS_NAMES.get(int(args["newStatus"]), "?"))


def account_kinds(db: Session) -> dict[str, tuple[str, str]]:
    """address → (kind, status) from the registry's events."""
    accounts: dict[str, tuple[str, str]] = {}
    rows = db.execute(
        select(Event.name, Event.args).where(*REGISTRY_EVENTS).order_by(Event.block_number, Event.log_index)
    )
    for name, args in rows:
        _apply_registry(accounts, name, args)
    return accounts


class AccountKinds:
    """``account_kinds``, kept up to date incrementally: each call reads only the registry events
    indexed since the previous one. A rewind (the block it last read is gone or changed) starts over.

    The returned dict is never modified afterwards (a change makes a new one), so pages may
    iterate it while another request brings the cache up to date.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: dict[str, tuple[str, str]] = {}
        self._position: tuple[int, int] = (-1, -1)  # last (block, log index) applied
        self._anchor: tuple[int, str] | None = None  # (number, hash) of the head it was read at

    def get(self, db: Session) -> dict[str, tuple[str, str]]:
        cp = head(db)
        with self._lock:
            if self._anchor is not None:
                number, block_hash = self._anchor
                if cp is None or db.scalar(select(Block.hash).where(Block.number == number)) != block_hash:
                    self._kinds, self._position, self._anchor = {}, (-1, -1), None  # rewound: start over
            if cp is None:
                return self._kinds
            if self._anchor == (cp.block_number, cp.block_hash):
                return self._kinds
            rows = db.execute(
                select(Event.block_number, Event.log_index, Event.name, Event.args)
                .where(
                    *REGISTRY_EVENTS,
                    Event.block_number <= cp.block_number,
                    tuple_(Event.block_number, Event.log_index) > tuple_(*self._position),
                )
                .order_by(Event.block_number, Event.log_index)
            ).all()
            if rows:
                kinds = dict(self._kinds)
                for _number, _index, name, args in rows:
                    _apply_registry(kinds, name, args)
                self._kinds, self._position = kinds, (rows[-1][0], rows[-1][1])
            self._anchor = (cp.block_number, cp.block_hash)
            return self._kinds


def latest_blocks(db: Session, limit: int = 10, page: int = 1) -> list[Block]:
    return list(db.scalars(select(Block).order_by(Block.number.desc()).limit(limit).offset((page - 1) * limit)))


TimeRange = tuple[int, int] | None  # [from, to) in unix seconds


def latest_transactions(db: Session, limit: int = 10, page: int = 1, period: TimeRange = None) -> list[Transaction]:
    query = select(Transaction)
    if period is not None:
        query = query.where(Transaction.timestamp >= period[0], Transaction.timestamp < period[1])
    query = query.order_by(Transaction.block_number.desc(), Transaction.tx_index.desc())
    return list(db.scalars(query.limit(limit).offset((page - 1) * limit)))


def jst_day_start(now: datetime | None = None) -> int:
    moment = (now or datetime.now(UTC)).astimezone(JST)
    return int(moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


def today(db: Session) -> dict[str, int]:
    start = jst_day_start()
    txs = db.scalar(select(func.count()).select_from(Transaction).where(Transaction.timestamp >= start)) or 0
    rows = db.execute(
        select(PointMovement.kind, func.count(), func.coalesce(func.sum(PointMovement.amount), 0))
        .where(PointMovement.timestamp >= start)
        .group_by(PointMovement.kind)
    )
    out = {"transactions": int(txs)}
    for kind, count, total in rows:
        out[f"{kind}_count"] = int(count)
        out[f"{kind}_points"] = int(total)
    return out


def daily_series(db: Session, days: int = 30) -> list[dict[str, Any]]:
    """Per JST day for the last ``days`` days: transactions, points issued, points in circulation at the end.

    Grouped by day in SQL: the database returns at most ``days`` rows per series.
    """
    end = jst_day_start() + 86400
    start = end - days * 86400
    tx_day = ((Transaction.timestamp - start) // 86400).label("day")
    counts: dict[int, int] = {
        int(day): int(n)
        for day, n in db.execute(select(tx_day, func.count()).where(Transaction.timestamp >= start).group_by(tx_day))
    }
    sign = case(
        (PointMovement.kind == "issued", PointMovement.amount),
        (PointMovement.kind.in_(("settled", "swept")), -PointMovement.amount),
        else_=0,
    )
    base = int(db.scalar(select(func.coalesce(func.sum(sign), 0)).where(PointMovement.timestamp < start)) or 0)
    move_day = ((PointMovement.timestamp - start) // 86400).label("day")
    deltas: dict[int, int] = {
        int(day): int(total)
        for day, total in db.execute(
            select(move_day, func.coalesce(func.sum(sign), 0))
            .where(PointMovement.timestamp >= start)
            .group_by(move_day)
        )
    }
    series, running = [], base
    for day in range(days):
        running += deltas.get(day, 0)
        label = datetime.fromtimestamp(start + day * 86400, JST).strftime("%m/%d")
        series.append({"day": label, "transactions": counts.get(day, 0), "circulating": running})
    return series


def party_movements(address: str, where: list[Any], ascending: bool, page: int, size: int) -> Select[PointMovement]:
    """One page of the movements ``address`` sent or received (and ``where``), by (block, log index).

    Each side (sent, received) is read in order from its own index (``ix_movements_from_position``,
    ``ix_movements_to_position``) and only as far as the page reaches; the two are merged (``UNION``:
    a movement to oneself counts once) and only those few rows are sorted, instead of every movement
    of a busy merchant (issue 17). The extra filters are written so that no index serves them
    (``column || ''``), so the database never prefers, say, the index of ``kind`` to the order it needs.
    """
    m = PointMovement
    order = (m.block_number, m.log_index)
    ordering = order if ascending else tuple(o.desc() for o in order)
    reach = page * size
    sides = [
        select(m.id).where(column == address, *where).order_by(*ordering).limit(reach).subquery()
        for column in (m.from_address, m.to_address)
    ]
    ids = union(*(select(side.c.id) for side in sides)).subquery()
    return select(m).where(m.id.in_(select(ids.c.id))).order_by(*ordering).limit(size).offset((page - 1) * size)


def not_indexed(column: Any) -> Any:
    """``column`` in a form no index serves (see ``party_movements``)."""
    return column.concat("") if isinstance(column.type, String) else column + 0


def address_history(
    db: Session, address: str, kind: str | None = None, page: int = 1, size: int = PAGE_SIZE, period: TimeRange = None
) -> list[PointMovement]:
    where: list[Any] = []
    if kind:
        where.append(not_indexed(PointMovement.kind) == kind)
    if period is not None:
        moment = not_indexed(PointMovement.timestamp)
        where += [moment >= period[0], moment < period[1]]
    return list(db.scalars(party_movements(address, where, False, page, size)))


def all_holders() -> AnySelect:
    """(address, points) of every holder with points, largest first, computed by the database."""
    legs = union_all(
        select(PointMovement.to_address.label("address"), PointMovement.amount.label("delta")),
        select(PointMovement.from_address.label("address"), (-PointMovement.amount).label("delta")),
    ).subquery()
    total = func.sum(legs.c.delta)
    return (
        select(legs.c.address, total.label("points"))
        .where(legs.c.address != ZERO)
        .group_by(legs.c.address)
        .having(total > 0)
        .order_by(total.desc(), legs.c.address)
    )


def holders(db: Session, page: int = 1, size: int = PAGE_SIZE) -> list[tuple[str, int]]:
    query = all_holders().limit(size).offset((page - 1) * size)
    return [(str(address), int(points)) for address, points in db.execute(query)]


def stream(sessions: sessionmaker[Session], query: AnySelect) -> Iterator[Any]:
    """Every row of ``query``, fetched ``STREAM_ROWS`` at a time (a server-side cursor on PostgreSQL).

    Opens its own session, so a CSV export can be a generator that outlives the request
    handler. Exports select plain columns (rows, not ORM objects), so a batch stays small.
    """
    with sessions() as db:
        yield from db.execute(query.execution_options(yield_per=STREAM_ROWS))


def all_blocks() -> AnySelect:
    b = Block
    return select(b.number, b.hash, b.parent_hash, b.timestamp, b.proposer, b.tx_count, b.gas_used).order_by(
        b.number.desc()
    )


def all_transactions(period: TimeRange = None) -> AnySelect:
    t = Transaction
    query = select(
        t.hash, t.block_number, t.tx_index, t.timestamp, t.sender, t.to, t.status, t.method, t.kind, t.amount
    )
    if period is not None:
        query = query.where(t.timestamp >= period[0], t.timestamp < period[1])
    return query.order_by(t.block_number.desc(), t.tx_index.desc())


def all_history(address: str, period: TimeRange = None) -> AnySelect:
    m = PointMovement
    query = select(
        m.block_number, m.log_index, m.tx_hash, m.timestamp, m.kind, m.from_address, m.to_address, m.amount,
        func.coalesce(m.request_id, ""),
    ).where(or_(m.from_address == address, m.to_address == address))  # fmt: skip
    if period is not None:
        query = query.where(m.timestamp >= period[0], m.timestamp < period[1])
    return query.order_by(m.block_number.desc(), m.log_index.desc())


@dataclass(frozen=True)
class MerchantFigures:
    """What one merchant received, refunded and settled, and (issue 21) the points it passed on inside the
    city (paid to shops and businesses, rewarded to residents) and received from shops and businesses."""

    payments: int = 0
    received: int = 0
    refunded: int = 0
    settled: int = 0
    passed_on: int = 0
    from_businesses: int = 0

    def __add__(self, other: MerchantFigures) -> MerchantFigures:
        return MerchantFigures(
            self.payments + other.payments,
            self.received + other.received,
            self.refunded + other.refunded,
            self.settled + other.settled,
            self.passed_on + other.passed_on,
            self.from_businesses + other.from_businesses,
        )


def merchant_figures(db: Session, after: int = -1, upto: int | None = None) -> dict[str, MerchantFigures]:
    """Per address, payments received, refunds given, settlements, points passed on (B2B payments made,
    rewards given) and B2B payments received, summed by the database over the blocks ``after`` < number
    <= ``upto`` (every block by default): one row per (kind, side, merchant)."""
    ranged = after >= 0 or upto is not None
    # over a block range, the kind must not lead (SQLite would walk every payment by ``ix_movements_kind``)
    kind = PointMovement.kind.concat("") if ranged else PointMovement.kind
    sums = (func.count(), func.coalesce(func.sum(PointMovement.amount), 0))
    # the merchant is the receiver of a payment and of a B2B payment ("b2b-in"), the sender of the rest
    received = select(case((PointMovement.kind == "b2b", "b2b-in"), else_=PointMovement.kind).label("kind"),
                      PointMovement.to_address.label("who"), *sums).where(kind.in_(("payment", "b2b")))  # fmt: skip
    sent = select(PointMovement.kind.label("kind"), PointMovement.from_address.label("who"), *sums).where(
        kind.in_(("refund", "settled", "b2b", "business-reward"))
    )
    parts = []
    for query in (received, sent):
        if after >= 0:
            query = query.where(PointMovement.block_number > after)
        if upto is not None:
            query = query.where(PointMovement.block_number <= upto)
        parts.append(query.group_by(PointMovement.kind, query.selected_columns.who))
    figures: dict[str, MerchantFigures] = {}
    for query in parts:
        for what, address, count, amount in db.execute(query):
            if what == "payment":
                part = MerchantFigures(payments=int(count), received=int(amount))
            elif what == "refund":
                part = MerchantFigures(refunded=int(amount))
            elif what == "settled":
                part = MerchantFigures(settled=int(amount))
            elif what == "b2b-in":
                part = MerchantFigures(from_businesses=int(amount))
            else:  # b2b paid, business-reward given
                part = MerchantFigures(passed_on=int(amount))
            figures[address] = figures.get(address, MerchantFigures()) + part
    return figures


def merchant_rows(kinds: dict[str, tuple[str, str]], figures: dict[str, MerchantFigures]) -> list[dict[str, Any]]:
    """Every registered merchant with its figures, most received first (the ``/merchants`` listing)."""
    rows = []
    for address, (kind, status) in kinds.items():
        if kind != "merchant":
            continue
        f = figures.get(address, MerchantFigures())
        rows.append(
            {
                "address": address,
                "status": status,
                "payments": f.payments,
                "received": f.received,
                "refunded": f.refunded,
                "settled": f.settled,
                "passed_on": f.passed_on,
                "from_businesses": f.from_businesses,
                "balance": f.received + f.from_businesses - f.refunded - f.settled - f.passed_on,
            }
        )
    return sorted(rows, key=lambda r: (-r["received"], r["address"]))


def merchants(db: Session, kinds: dict[str, tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """``merchant_rows`` over every block (the explorer keeps the figures at the head instead: ``RunningMerchants``)."""
    return merchant_rows(account_kinds(db) if kinds is None else kinds, merchant_figures(db))


def settlements(db: Session, merchant: str | None = None) -> list[dict[str, Any]]:
    query = select(Event).where(Event.contract == "RegionalPoints", Event.name == "SettlementRequested")
    rows = []
    for event in db.scalars(query.order_by(Event.block_number.desc(), Event.log_index.desc())):
        if merchant is not None and event.args["merchant"] != merchant:
            continue
        rows.append(
            {
                "settlement_id": int(event.args["settlementId"]),
                "merchant": event.args["merchant"],
                "amount": int(event.args["amount"]),
                "reference": event.args["settlementReference"],
                "block": event.block_number,
                "tx_hash": event.tx_hash,
                "timestamp": event.timestamp,
            }
        )
    return rows


def programmes(db: Session) -> list[dict[str, Any]]:
    """Every programme with its budget, points granted and grants.

    The grants (one ``Attested`` per resident thanked or minted to: the many events) are
    counted and summed by the database per programme; only the few lifecycle events are read.
    """
    found: dict[int, dict[str, Any]] = {}
    lifecycle = select(Event).where(
        Event.contract == "RewardProgrammes",
        Event.name.in_(("ProgrammeCreated", "BudgetChanged", "ProgrammeClosed")),
    )
    for event in db.scalars(lifecycle.order_by(Event.block_number, Event.log_index)):
        pid = int(event.args["programmeId"])
        if event.name == "ProgrammeCreated":
            params = event.args["params"]
            found[pid] = {
                "id": pid,
                "name": event.args["name"],
                "budget": int(params[6]),
                "granted": 0,
                "grants": 0,
                "closed": False,
                "starts_at": int(params[7]),
                "ends_at": int(params[8]),
            }
        elif pid in found:
            if event.name == "BudgetChanged":
                found[pid]["budget"] = int(event.args["newBudget"])
            else:
                found[pid]["closed"] = True
    programme = cast(Event.args["programmeId"].as_string(), BigInteger)
    points = cast(Event.args["points"].as_string(), BigInteger)
    for pid, grants, granted in db.execute(
        select(programme, func.count(), func.coalesce(func.sum(points), 0))
        .where(Event.contract == "RewardProgrammes", Event.name == "Attested")
        .group_by(programme)
    ):
        if int(pid) in found:  # an attestation always follows its programme's creation on chain
            found[int(pid)]["granted"], found[int(pid)]["grants"] = int(granted), int(grants)
    return [found[k] for k in sorted(found)]


def programme_names(db: Session) -> dict[int, str]:
    rows = db.execute(select(Event.args).where(Event.contract == "RewardProgrammes", Event.name == "ProgrammeCreated"))
    return {int(args["programmeId"]): str(args["name"]) for (args,) in rows}


MIN_PEOPLE = 10  # a published statistic covers at least this many people (docs/help-matching.md)


def help_by_month(db: Session) -> list[dict[str, Any]]:
    """Help completed per JST month (issue 18): completions, thanks paid to helpers, people.

    From the board's ``HelpCompleted`` and the helper's share of ``DisputeResolved``. A month
    whose helpers or requesters are fewer than :data:`MIN_PEOPLE` is listed as ``published:
    False`` with no figures, so no one's help can be singled out from the totals.
    """
    months: dict[int, dict[str, Any]] = {}
    rows = db.execute(
        select(Event.name, Event.args, Event.timestamp).where(
            Event.contract == "HelpBoard", Event.name.in_(("HelpCompleted", "DisputeResolved"))
        )
    )
    for name, args, timestamp in rows:
        paid = int(args["paid"] if name == "HelpCompleted" else args["toHelper"])
        if paid == 0 and name == "DisputeResolved":
            continue  # decided for the requester: no help was paid for
        month = months.setdefault(
            jst_month_index(int(timestamp)), {"completions": 0, "points": 0, "helpers": set(), "requesters": set()}
        )
        month["completions"] += 1
        month["points"] += paid
        month["helpers"].add(args["helper"])
        month["requesters"].add(args["requester"])
    result = []
    for index in sorted(months, reverse=True):
        month = months[index]
        people = min(len(month["helpers"]), len(month["requesters"]))
        published = people >= MIN_PEOPLE
        result.append(
            {
                "month": f"{index // 12}-{index % 12 + 1:02d}",
                "published": published,
                "completions": month["completions"] if published else None,
                "points": month["points"] if published else None,
                "helpers": len(month["helpers"]) if published else None,
            }
        )
    return result


LOCAL_HOPS = ("b2b", "business-reward")
"""Points that moved again inside the city (issue 21): a shop or business paying another (``b2b``), a
shop or business rewarding a resident (``business-reward``, directly or through its own programme)."""


def _jst_month(db: Session) -> Any:
    """A movement's month in Japan time as ``YYYY-MM``, computed by the database."""
    shifted = PointMovement.timestamp + 9 * 3600
    if db.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", shifted, "unixepoch")
    return func.to_char(func.timezone("UTC", func.to_timestamp(shifted)), "YYYY-MM")


def local_hops(db: Session) -> list[dict[str, Any]]:
    """The local hops per JST month, newest first: counts and points of each kind and together.

    One GROUP BY over ``ix_movements_kind_time`` (kind, timestamp, amount): only the hops' rows are
    read, from the index, however many other movements there are. ``starts_at``/``ends_at`` are the
    month's bounds in Unix seconds (the CSV writes them as ISO 8601 in Japan time).
    """
    month = _jst_month(db).label("month")
    rows = db.execute(
        select(month, PointMovement.kind, func.count(), func.coalesce(func.sum(PointMovement.amount), 0))
        .where(PointMovement.kind.in_(LOCAL_HOPS))
        .group_by(month, PointMovement.kind)
    ).all()
    months: dict[str, dict[str, Any]] = {}
    for label, kind, count, total in rows:
        year, number = (int(part) for part in str(label).split("-"))
        start = datetime(year, number, 1, tzinfo=JST)
        end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=JST)
        figures = months.setdefault(
            str(label),
            {"month": str(label), "starts_at": int(start.timestamp()), "ends_at": int(end.timestamp()) - 1,
             "b2b": 0, "b2b_points": 0, "rewards": 0, "reward_points": 0},
        )  # fmt: skip
        key = ("b2b", "b2b_points") if kind == "b2b" else ("rewards", "reward_points")
        figures[key[0]] += int(count)
        figures[key[1]] += int(total)
    result = [months[label] for label in sorted(months, reverse=True)]
    for r in result:
        r["hops"], r["points"] = r["b2b"] + r["rewards"], r["b2b_points"] + r["reward_points"]
    return result


def co2_reports(db: Session) -> list[dict[str, Any]]:
    names = programme_names(db)
    rows = []
    for event in db.scalars(
        select(Event)
        .where(Event.contract == "OracleReports", Event.name == "ReportAccepted")
        .order_by(Event.block_number)
    ):
        pid = int(event.args["programmeId"])
        rows.append(
            {
                "programme_id": pid,
                "programme": names.get(pid, ""),
                "period": int(event.args["period"]),
                "households": int(event.args["households"]),
                "units": int(event.args["totalUnits"]),
                "merkle_root": event.args["merkleRoot"],
                "signers": len(event.args["signers"]),
                "block": event.block_number,
                "tx_hash": event.tx_hash,
            }
        )
    return rows


def block_by_number(db: Session, number: int) -> Block | None:
    return db.get(Block, number)


def transactions_in_block(db: Session, number: int) -> list[Transaction]:
    return list(
        db.scalars(select(Transaction).where(Transaction.block_number == number).order_by(Transaction.tx_index))
    )


def transaction(db: Session, tx_hash: str) -> tuple[Transaction | None, list[Event], list[PointMovement]]:
    tx = db.get(Transaction, tx_hash)
    events = list(db.scalars(select(Event).where(Event.tx_hash == tx_hash).order_by(Event.log_index)))
    moves = list(
        db.scalars(select(PointMovement).where(PointMovement.tx_hash == tx_hash).order_by(PointMovement.log_index))
    )
    return tx, events, moves


def payment_by_request(db: Session, request_id: str) -> PointMovement | None:
    return db.scalar(
        select(PointMovement).where(PointMovement.request_id == request_id, PointMovement.kind == "payment")
    )


def token_transfers(
    db: Session, address: str | None, start_block: int, end_block: int, page: int, offset: int, ascending: bool
) -> list[PointMovement]:
    in_range = [PointMovement.block_number >= start_block, PointMovement.block_number <= end_block]
    if address is not None:
        return list(db.scalars(party_movements(address, in_range, ascending, page, offset)))
    order = (PointMovement.block_number, PointMovement.log_index)
    query = select(PointMovement).where(*in_range).order_by(*(order if ascending else (o.desc() for o in order)))
    return list(db.scalars(query.limit(offset).offset((page - 1) * offset)))


TOPIC_COLUMNS = (Event.topic0, Event.topic1, Event.topic2, Event.topic3)


def logs(
    db: Session, address: str | None, from_block: int, to_block: int, topics: dict[int, str], page: int, offset: int
) -> list[Event]:
    """One page of events, filtered and paged by the database (addresses are stored checksummed).

    Topics are matched on their own lowercase columns (``topic0``…``topic3``), each indexed with
    the block number, so a filter reads the matching rows only. SQLite keeps no statistics of
    how skewed a column is (one token address, a few event signatures, many payers) and may
    walk the index of a filter half the table matches, so there the other filters are written
    so that no index serves them (``column || ''``): the last topic given (an event's argument:
    an account, an id) leads, else the address, else ``topic0``. PostgreSQL's planner knows.
    """
    filters: list[tuple[Any, str]] = [
        *((TOPIC_COLUMNS[p], topics[p].lower()) for p in sorted(topics, reverse=True) if p > 0),
        *([(Event.address, address)] if address is not None else []),
        *([(Event.topic0, topics[0].lower())] if 0 in topics else []),
    ]  # the most selective first
    by_rule = db.get_bind().dialect.name == "sqlite"
    query = select(Event).where(Event.block_number >= from_block, Event.block_number <= to_block)
    for rank, (column, value) in enumerate(filters):
        query = query.where((column.concat("") if by_rule and rank > 0 else column) == value)
    query = query.order_by(Event.block_number, Event.log_index)
    return list(db.scalars(query.limit(offset).offset((page - 1) * offset)))


def block_by_time(db: Session, timestamp: int, closest: str) -> Block | None:
    """The last block at or before ``timestamp`` (``closest="before"``), else the first at or after it.

    Ordered by time first, so the database reads one entry of ``blocks.timestamp``'s index instead
    of walking blocks by number until one qualifies (a chain's timestamps never go down, so it is the
    same block; among blocks of one second, the highest number before, the lowest after).
    """
    if closest == "before":
        query = select(Block).where(Block.timestamp <= timestamp).order_by(Block.timestamp.desc(), Block.number.desc())
    else:
        query = select(Block).where(Block.timestamp >= timestamp).order_by(Block.timestamp, Block.number)
    return db.scalar(query.limit(1))
