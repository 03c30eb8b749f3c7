"""The monthly paper statement run for card-only residents (issue 20): gather, render, write once.

**Who gets one.** A *card-only* resident is an active resident who holds a card and has not
used the app since the card was issued: no app session was started after ``cards.issued_at``
and none was refreshed more than :data:`SET_UP_GRACE` after it. The session in which the card
was set up (at the counter, or by a family member on their phone) does not count; a resident
who logs in again, or keeps an app session alive, reads the balance in the app instead. A
resident signed up at the counter without ever logging in has no session at all. A card blocked as
lost still counts: the points are on the account, and the statement says where to get a new card.

**What it says.** Balance and expiry buckets are read from the points contract
(``balanceOf``, ``bucketsOf``) at one *snapshot* block, fixed when the month's run first
starts; the month's movements are the chain's decoded history (:meth:`Ledger.history_page`)
between the month's first block (JST) and the snapshot or the month's end. Names and postal
addresses come from the sealed real-name records, opened for the run only (each opening is
recorded in ``officer_reads`` with the reason); the district (町名) is the record's
``district`` when it has one, else read from the postal address. Nothing personal is logged.

**Exactly once.** The run keeps its state in the output directory (``.state.json``): the
snapshot block and every finished district with the residents it covered. Each PDF is written
to a temporary file in the same directory, fsync'd and renamed over its name, and only then
is the district recorded as finished. A rerun after an interruption reads the same snapshot,
skips finished districts (and the residents they covered), finishes the rest and removes
half-written temporary files; a rerun of a finished month changes nothing and opens no record.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from ledger_client.jst import JST, describe_month, month_end, month_index, month_start
from wallet_api import queries
from wallet_api.accounts import Accounts
from wallet_api.auth import aware
from wallet_api.db.models import Card, Session, User
from wallet_api.ledger import HistoryEntry, Ledger
from wallet_api.statement_pdf import (
    MOVEMENTS_SHOWN,
    DistrictBatch,
    ExpiringPoints,
    HelpContacts,
    Movement,
    Statement,
    font_path,
    render_district,
)
from wallet_api.statuses import AccountStatus, Role

SET_UP_GRACE = timedelta(hours=1)  # the card's own set-up session may go on this long
STATE_FILE = ".state.json"
LOCK_FILE = ".lock"
UNKNOWN_DISTRICT = "その他"
READ_REASON = "月次明細（紙）の作成 {month}"
HISTORY_PAGE = 100

Failpoint = Callable[[str, int], None]
"""Called as ``(stage, districts so far)`` at "written" (a PDF's temporary file is complete, not yet
renamed) and "finished" (a district recorded as done): tests interrupt the run there."""

OUTGOING = {"thanks_sent", "paid", "refund_sent", "settlement", "expired", "sent"}
PAPER_TEXTS = {  # what the resident reads on paper, with and without a known counterparty
    "issued": ("市からのポイント", "市からのポイント"),
    "thanks_received": ("{name}さんから「ありがとう」", "「ありがとう」を受け取り"),
    "thanks_sent": ("{name}さんへ「ありがとう」", "「ありがとう」を送付"),
    "paid": ("{name}でお支払い", "お店でお支払い"),
    "refund_received": ("{name}からの返金", "お店からの返金"),
    "expired": ("有効期限切れ", "有効期限切れ"),
    "received": ("{name}から受け取り", "ポイントの受け取り"),
    "sent": ("{name}へ送付", "ポイントの送付"),
    "settlement": ("換金（精算）", "換金（精算）"),
    "payment_received": ("{name}さんからのお支払い", "お支払いの受け取り"),
    "refund_sent": ("{name}さんへ返金", "返金"),
}

_MONTH = re.compile(r"^\s*(\d{4})-(\d{2})\s*$")
_POSTCODE_AND_CITY = re.compile(r"^\s*(〒?\s*[0-9０-９]{3}[-－ー]?[0-9０-９]{4}\s*)?(兵庫県)?\s*(高砂市)?\s*")
_CHOME = re.compile(r"[一二三四五六七八九十]+丁目.*$")
_UNSAFE_FILE = re.compile(r'[\x00-\x1f/\\:*?"<>|]')


class StatementError(ValueError):
    """Bad input or an output directory the run cannot use; the message is in English and Japanese."""

    def __init__(self, english: str, japanese: str) -> None:
        super().__init__(f"{english}（{japanese}）")


# -- input ---------------------------------------------------------------------------------------
def parse_month(text: str) -> int:
    """The JST month index (``year * 12 + month - 1``) of ``YYYY-MM``."""
    match = _MONTH.match(text)
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        raise StatementError(
            f"--month must be a month written YYYY-MM, e.g. 2026-11, not {text!r}",
            f"--month は 2026-11 のように YYYY-MM 形式の年月で指定してください: {text!r}",
        )
    return int(match[1]) * 12 + int(match[2]) - 1


def prepare_output(out: Path, month: str) -> Path:
    """``out/month``, created (0700: the PDFs hold names and addresses) and proven writable."""
    directory = out / month
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-")  # noqa: SIM115 - closed below
        probe.close()
    except OSError as exc:
        raise StatementError(
            f"cannot write the statements to {directory}: {exc.strerror or exc}",
            f"出力先 {directory} に明細を書き込めません: {exc.strerror or exc}",
        ) from None
    return directory


@contextmanager
def exclusive(directory: Path, month: str) -> Iterator[None]:
    """One run per month directory at a time (an advisory lock, released by the kernel even on SIGKILL)."""
    with open(directory / LOCK_FILE, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StatementError(
                f"another statement run for {month} is writing {directory}; wait for it to end",
                f"{month} の明細は別の実行が作成中です（{directory}）。終わるまでお待ちください",
            ) from None
        yield


# -- who, and where --------------------------------------------------------------------------------
def card_only_residents(db: DbSession) -> list[User]:
    """Active residents with a card and no app use since it was issued (see the module's docstring)."""
    holders = db.execute(
        select(User, Card.issued_at)
        .join(Card, Card.user_id == User.id)
        .where(User.role == Role.RESIDENT, User.status == AccountStatus.ACTIVE)
        .order_by(User.id)
    ).all()
    sessions: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for user_id, created, rotated in db.execute(
        select(Session.user_id, Session.created_at, Session.rotated_at).join(Card, Card.user_id == Session.user_id)
    ):
        sessions.setdefault(user_id, []).append((aware(created), aware(rotated)))  # type: ignore[arg-type]
    chosen = []
    for user, issued in holders:
        card_issued: datetime = aware(issued)  # type: ignore[assignment]  # never None: the column is required
        used_app = any(
            created > card_issued or (rotated is not None and rotated > card_issued + SET_UP_GRACE)
            for created, rotated in sessions.get(user.id, [])
        )
        if not used_app:
            chosen.append(user)
    return chosen


def district_of(record: dict[str, Any]) -> str:
    """The record's district, else the 町名 at the start of its postal address (after 〒, 兵庫県, 高砂市)."""
    explicit = str(record.get("district") or "").strip()
    if explicit:
        return explicit
    rest = _POSTCODE_AND_CITY.sub("", str(record.get("address") or ""), count=1)
    rest = _CHOME.sub("", rest)
    town = re.match(r"[^\d０-９\s\-－ー]+?町", rest) or re.match(r"[^\d０-９\s\-－ー]+", rest)
    return town[0] if town else UNKNOWN_DISTRICT


def file_name(district: str) -> str:
    """A safe file name for the district's PDF (its name, without path separators or control characters)."""
    safe = _UNSAFE_FILE.sub("_", district).strip(" .")[:60]
    return (safe or "district") + ".pdf"


# -- the chain -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    """The block every balance of one month's run is read at (kept in the run state across reruns)."""

    block: int
    timestamp: int

    @property
    def moment(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, JST)


class ChainReader:
    """Balances, buckets and movements at a snapshot block, over the wallet's :class:`Ledger`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._stamps: dict[int, int] = {}

    def timestamp(self, block: int) -> int:
        if block not in self._stamps:
            self._stamps[block] = int(self.ledger.w3.eth.get_block(block)["timestamp"])
        return self._stamps[block]

    def head(self) -> Snapshot:
        block = int(self.ledger.w3.eth.block_number)
        return Snapshot(block, self.timestamp(block))

    def first_block_at(self, moment: int, upper: int) -> int:
        """The first block (deployment to ``upper``) stamped at or after ``moment``; ``upper + 1`` if none."""
        low, high = self.ledger.deployment.contracts["RegionalPoints"].block, upper + 1
        while low < high:
            middle = (low + high) // 2
            if self.timestamp(middle) >= moment:
                high = middle
            else:
                low = middle + 1
        return low

    def balance(self, address: str, snapshot: Snapshot) -> tuple[int, list[ExpiringPoints]]:
        token = self.ledger.token
        balance = int(token.functions.balanceOf(address).call(block_identifier=snapshot.block))
        expires, amounts = token.functions.bucketsOf(address).call(block_identifier=snapshot.block)
        buckets = [
            ExpiringPoints(datetime.fromtimestamp(int(e), JST).date(), int(a))
            for e, a in zip(expires, amounts, strict=True)
        ]
        return balance, buckets

    def movements(self, address: str, first: int, last: int) -> list[HistoryEntry]:
        """``address``'s movements in blocks [first, last], oldest first."""
        found: list[HistoryEntry] = []
        before: tuple[int, int] | None = (last + 1, 0)
        while before is not None and before[0] > first:
            page = self.ledger.history_page(address, before, HISTORY_PAGE)
            found.extend(e for e in page.entries if first <= e.block <= last)
            if page.entries and page.entries[-1].block < first:
                break
            before = page.next_before
        return sorted(found, key=lambda e: e.position)


def paper_text(entry: HistoryEntry, names: dict[str, User]) -> str:
    """What the movement was, in the words of the paper statement."""
    user = names.get(entry.counterparty or "")
    name = (user.display_name or user.short_code) if user is not None else ""
    named, nameless = PAPER_TEXTS.get(entry.kind, ("{name}", "ポイントの移動"))
    return named.format(name=name) if name else nameless


# -- the run ---------------------------------------------------------------------------------------
@dataclass
class RunState:
    """What survives an interruption: the snapshot and the finished districts (``.state.json``)."""

    month: str
    snapshot: Snapshot
    districts: dict[str, dict[str, Any]] = field(default_factory=dict)
    complete: bool = False

    @classmethod
    def load(cls, directory: Path) -> RunState | None:
        path = directory / STATE_FILE
        if not path.is_file():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(raw["month"], Snapshot(raw["block"], raw["timestamp"]), raw["districts"], raw["complete"])

    def save(self, directory: Path) -> None:
        body = {
            "month": self.month,
            "block": self.snapshot.block,
            "timestamp": self.snapshot.timestamp,
            "districts": self.districts,
            "complete": self.complete,
        }
        write_atomically(directory / STATE_FILE, json.dumps(body, ensure_ascii=False, indent=1).encode())

    def covered(self) -> set[str]:
        return {member for done in self.districts.values() for member in done["members"]}


@dataclass
class RunResult:
    """What one invocation did: districts written now, districts finished before, the city's manifest."""

    directory: Path
    written: list[str]
    skipped: list[str]
    already_complete: bool
    manifest: dict[str, Any]


def write_atomically(path: Path, data: bytes, before_rename: Callable[[], None] | None = None) -> None:
    """``data`` at ``path`` whole or not at all: a temporary file beside it, fsync'd, renamed, the directory fsync'd."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def manifest_of(state: RunState) -> dict[str, Any]:
    """The city's summary: residents and points per district and in total (no names, no addresses)."""
    rows = [
        {"district": name, **{k: v for k, v in done.items() if k != "members"}}
        for name, done in sorted(state.districts.items())
    ]
    return {
        "month": state.month,
        "as_of": state.snapshot.moment.isoformat(),
        "block": state.snapshot.block,
        "complete": state.complete,
        "districts": rows,
        "totals": {
            "districts": len(rows),
            "residents": sum(r["residents"] for r in rows),
            "balance_total": sum(r["balance_total"] for r in rows),
            "expiring_soon": sum(r["expiring_soon"] for r in rows),
        },
    }


def write_manifest(directory: Path, state: RunState) -> dict[str, Any]:
    """``manifest.json`` and ``manifest.csv`` (UTF-8 with a BOM, so the city's spreadsheet reads the 町名)."""
    manifest = manifest_of(state)
    write_atomically(directory / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    text = io.StringIO()
    columns = ["district", "file", "residents", "balance_total", "expiring_soon", "sha256"]
    writer = csv.DictWriter(text, columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(manifest["districts"])
    totals = manifest["totals"]
    writer.writerow({"district": "合計 total", **{k: totals[k] for k in columns[2:5]}})
    write_atomically(directory / "manifest.csv", text.getvalue().encode("utf-8-sig"))
    return manifest


class StatementRun:
    """One month's statements for every district: what the CLI runs (``takasago wallet statements``)."""

    def __init__(
        self,
        sessions: sessionmaker[DbSession],
        accounts: Accounts,
        ledger: Ledger,
        contacts: HelpContacts | None = None,
        failpoint: Failpoint | None = None,
    ) -> None:
        self.sessions = sessions
        self.accounts = accounts
        self.chain = ChainReader(ledger)
        self.contacts = contacts or HelpContacts()
        self.failpoint = failpoint or (lambda stage, done: None)

    def run(self, month: str, out: Path) -> RunResult:
        index = parse_month(month)
        month = describe_month(index)
        font_path()  # no font, no statements: say so before any record is opened
        known = RunState.load(out / month)
        if known is None:
            known = RunState(month, self.chain.head())
            if month_index(known.snapshot.timestamp) < index:
                raise StatementError(
                    f"{month} has not begun on the chain yet (its clock says {known.snapshot.moment:%Y-%m-%d})",
                    f"{month} はまだ始まっていません（チェーンの日付は {known.snapshot.moment:%Y-%m-%d}）",
                )
        directory = prepare_output(out, month)
        if known.complete:
            return RunResult(directory, [], sorted(known.districts), True, manifest_of(known))
        with exclusive(directory, month):
            state = RunState.load(directory) or known  # as left by a run that held the lock before this one
            if state.complete:
                return RunResult(directory, [], sorted(state.districts), True, manifest_of(state))
            for leftover in directory.glob(".*.part"):  # a PDF or manifest cut off by an interruption
                leftover.unlink()
            state.save(directory)  # the snapshot first: a rerun reads the same block
            skipped = sorted(state.districts)
            written = []
            for district, people in self._districts(index, state).items():
                self._write_district(directory, state, index, district, people)
                written.append(district)
                self.failpoint("finished", len(state.districts))
            state.complete = True
            manifest = write_manifest(directory, state)
            state.save(directory)
        return RunResult(directory, written, skipped, False, manifest)

    def _districts(self, index: int, state: RunState) -> dict[str, list[tuple[User, dict[str, Any]]]]:
        """The residents still to be sent a statement, opened and grouped by district (sorted)."""
        covered = state.covered()
        with self.sessions() as db:
            residents = [u for u in card_only_residents(db) if u.public_id not in covered]
        records = self.accounts.personal_records(residents, None, READ_REASON.format(month=describe_month(index)))
        grouped: dict[str, list[tuple[User, dict[str, Any]]]] = {}
        for user, record in zip(residents, records, strict=True):
            district = district_of(record)
            if district not in state.districts:
                grouped.setdefault(district, []).append((user, record))
        for people in grouped.values():
            people.sort(key=lambda p: (str(p[1].get("address", "")), str(p[1].get("name", "")), p[0].public_id))
        return dict(sorted(grouped.items()))

    def _write_district(
        self, directory: Path, state: RunState, index: int, district: str, people: list[tuple[User, dict[str, Any]]]
    ) -> None:
        snapshot = state.snapshot
        first = self.chain.first_block_at(month_start(index), snapshot.block)
        last = min(snapshot.block, self.chain.first_block_at(month_end(index) + 1, snapshot.block) - 1)
        histories = {u.public_id: self.chain.movements(u.address or "", first, last) for u, _ in people}
        counterparties = {e.counterparty for entries in histories.values() for e in entries if e.counterparty}
        with self.sessions() as db:
            names = queries.users_by_address(db, counterparties)
        statements = []
        for user, record in people:
            balance, buckets = self.chain.balance(user.address or "", snapshot)
            entries = histories[user.public_id]
            shown = entries[-MOVEMENTS_SHOWN:]
            statements.append(
                Statement(
                    name=str(record.get("name", "")),
                    postal_address=str(record.get("address", "")),
                    district=district,
                    month=state.month,
                    as_of=snapshot.moment,
                    balance=balance,
                    expiring=tuple(buckets),
                    movements=tuple(
                        Movement(
                            datetime.fromtimestamp(e.timestamp, JST).date(),
                            paper_text(e, names),
                            -e.amount if e.kind in OUTGOING else e.amount,
                        )
                        for e in shown
                    ),
                    earlier_movements=len(entries) - len(shown),
                )
            )
        pdf = render_district(DistrictBatch(district, state.month, statements, snapshot.moment, self.contacts))
        name = file_name(district)
        done = len(state.districts) + 1
        write_atomically(directory / name, pdf, lambda: self.failpoint("written", done))
        soon = month_end(month_index(snapshot.timestamp) + 1)  # by the end of the month after the snapshot's
        state.districts[district] = {
            "file": name,
            "residents": len(statements),
            "balance_total": sum(s.balance for s in statements),
            "expiring_soon": sum(b.amount for s in statements for b in s.expiring if _end_of(b) <= soon),
            "sha256": hashlib.sha256(pdf).hexdigest(),
            "members": [u.public_id for u, _ in people],
        }
        state.save(directory)
        write_manifest(directory, state)


def _end_of(bucket: ExpiringPoints) -> int:
    """The last second of the bucket's last day (JST), comparable with :func:`month_end`."""
    day = bucket.last_day
    return int((datetime(day.year, day.month, day.day, tzinfo=JST) + timedelta(days=1)).timestamp()) - 1


def summary_lines(result: RunResult) -> Sequence[str]:
    """What the CLI prints: per district, how many statements, never who."""
    lines = []
    for row in result.manifest["districts"]:
        state = "written" if row["district"] in result.written else "already done"
        lines.append(f"{row['district']}: {row['residents']} residents, {row['file']} ({state})")
    return lines
