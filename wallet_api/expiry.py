"""Expiry done properly (issue 20): the expiring-points notices in time, and the monthly sweep exactly once.

Points in the bucket of month M expire after the last second of M (JST) on the chain's clock;
they stay counted in ``totalSupply`` until someone calls ``RegionalPoints.sweepExpired``.
:class:`Expiry` is the scheduled job that does both halves for the city:

* **Notices**: once per JST day of the chain's clock, :meth:`Notices.notify_expiring` (one
  notice per resident and expiring month, already idempotent) at the chain's time; the day
  last done is a ``wallet_meta`` row.
* **The sweep**: once the chain's ``currentMonth()`` has moved past month M, the run for M
  (a row in ``expiry_runs``) freezes the members' addresses that hold expired points (one
  batched ``expiredBalanceOf`` read) and sends ``sweepExpired(batch, fromMonth)`` through the
  outbox as ``expiry-sweep`` operations, :data:`DEFAULT_BATCH` accounts at most per
  transaction, under the idempotency key ``expiry:<month>:<batch>``. The outbox stores each
  signed transaction before it is broadcast and answers a key it has seen with the stored
  operation, so a crash anywhere resumes the remaining batches, a second runner (the API's
  thread and ``takasago wallet sweep-expired`` at once) sends nothing twice, and a run that
  finished sends nothing at all. What each batch burned comes from its receipt's
  ``ExpiredPointsSwept`` events (the operation's summary); the run keeps the totals and the
  transaction hashes for the city's report, with who started it.

The operations belong to a system user (``system.expiry``: an officer row that cannot log in),
because an outbox operation has an owner; the run records who actually started it
(``scheduler`` or ``cli:<name>``). Sent by the service's key: ``sweepExpired`` needs no role.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import signal
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from ledger_client.jst import JST
from wallet_api.accounts import new_short_code
from wallet_api.auth import now
from wallet_api.crypto.passwords import hash_secret
from wallet_api.db.models import ExpiryRun, Operation, User, WalletMeta
from wallet_api.gas import GasBook
from wallet_api.ledger import Ledger
from wallet_api.notices import Notices
from wallet_api.outbox import Outbox
from wallet_api.periodic import Periodic
from wallet_api.statuses import CHAIN_MEMBER_ROLES, AccountStatus, OperationKind, OperationStatus, Role

log = logging.getLogger("wallet_api.expiry")

DEFAULT_BATCH = 200  # accounts per sweepExpired transaction (env TAKASAGO_WALLET_EXPIRY_BATCH)
DEFAULT_INTERVAL = 3600.0  # seconds between the API's passes (env TAKASAGO_WALLET_EXPIRY_SECONDS; 0: off)
LOOKBACK_MONTHS = 30  # a sweep covers buckets from 30 months back (as Ledger.expired_unswept)
RETRIES = 2  # a batch whose transaction failed on-chain is sent again under a new key at most this often
CONFIRM_SECONDS = 60.0  # how long one pass waits for a batch's receipt before leaving it to the next pass
NOTICES_DAY = "expiry_notices_day"
SYSTEM_LOGIN = "system.expiry"
FAILPOINT_ENV = "TAKASAGO_EXPIRY_FAILPOINT"  # tests only: "after-batch:N" kills the process after N batches
SWEPT_TOPIC = "0x" + keccak(text="ExpiredPointsSwept(address,uint256)").hex()
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class ExpiryError(ValueError):
    """Bad input for a sweep or a report; the message is in English and Japanese."""

    def __init__(self, english: str, japanese: str) -> None:
        super().__init__(f"{english}（{japanese}）")


def parse_month(text: str) -> int:
    """The JST month index (``year * 12 + month - 1``, as the token's ``currentMonth()``) of ``YYYY-MM``."""
    match = _MONTH.match(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        raise ExpiryError(
            f"--month must be a month written YYYY-MM, e.g. 2026-11, not {text!r}",
            f"--month は 2026-11 のように YYYY-MM 形式の年月で指定してください: {text!r}",
        )
    return int(match[1]) * 12 + int(match[2]) - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def env_batch_size() -> int:
    return max(1, int(os.environ.get("TAKASAGO_WALLET_EXPIRY_BATCH", DEFAULT_BATCH)))


def env_interval() -> float:
    return max(0.0, float(os.environ.get("TAKASAGO_WALLET_EXPIRY_SECONDS", DEFAULT_INTERVAL)))


def _failpoint(batches_done: int) -> None:
    """Tests only: SIGKILL (a power cut) once ``batches_done`` batches are recorded, when the variable says so."""
    if os.environ.get(FAILPOINT_ENV) == f"after-batch:{batches_done}":
        log.error("failpoint after-batch:%d: killing the process", batches_done)
        os.kill(os.getpid(), signal.SIGKILL)


class _AlwaysEstimate(GasBook):
    """Each batch is estimated: a sweep's cost grows with the accounts that hold expired points, so a
    ceiling learned from a small batch could be too low for a full one (monthly: the estimate costs nothing)."""

    def limit(self, target: str, calldata: bytes) -> int | None:
        return None


def swept_in(receipt: dict[str, Any], token: str) -> dict[str, int]:
    """Address → points of the token's ``ExpiredPointsSwept`` events in a (raw, normalised) receipt."""
    found: dict[str, int] = {}
    for entry in receipt.get("logs") or []:
        topics = [_hex(t) for t in entry.get("topics") or []]
        if _hex(entry.get("address", "")) != token.lower() or len(topics) != 2 or topics[0] != SWEPT_TOPIC:
            continue
        account = to_checksum_address("0x" + topics[1][-40:])
        found[account] = found.get(account, 0) + int(_hex(entry.get("data")) or "0x0", 16)
    return found


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value or "").lower()


@dataclass
class RunReport:
    """A month's run as the city reads it (``takasago wallet expiry-report``)."""

    month: str
    state: str  # running | finished | none
    started_by: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    from_month: str = ""
    accounts: int = 0
    batches: int = 0
    batches_done: int = 0
    accounts_swept: int = 0
    points_swept: int = 0
    tx_hashes: list[str] = field(default_factory=list)
    sent_now: int = 0  # batches this call sent (0 for a run that had finished)
    swept: dict[str, int] = field(default_factory=dict)  # address → points, from the receipts

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "state": self.state,
            "started_by": self.started_by,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "from_month": self.from_month,
            "accounts": self.accounts,
            "batches": self.batches,
            "batches_done": self.batches_done,
            "accounts_swept": self.accounts_swept,
            "points_swept": self.points_swept,
            "tx_hashes": self.tx_hashes,
            "sent_now": self.sent_now,
            "swept": self.swept,
        }


class Expiry:
    """The scheduled job: expiring-points notices daily, and each ended month's sweep exactly once."""

    def __init__(
        self,
        sessions: sessionmaker[DbSession],
        ledger: Ledger,
        outbox: Outbox,
        notices: Notices,
        service_address: Any,
        batch_size: int | None = None,
    ) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.notices = notices
        self.service_address = service_address  # callable: the operator key's address
        self.batch_size = batch_size or env_batch_size()
        # the same pipeline (nonces, signing, crash recovery, the worker), its own gas book (see _AlwaysEstimate)
        self.outbox = Outbox(sessions, ledger, outbox.pipeline, outbox.confirm_wait_seconds)
        self.outbox.gas = _AlwaysEstimate()
        outbox.when_settled(OperationKind.EXPIRY_SWEEP, _no_hook, inspector=self.inspect_sweep)
        self._job = Periodic("expiry", self.step, log)
        self._lock = threading.Lock()

    # -- the chain's clock ------------------------------------------------------------------------
    def chain_time(self) -> int:
        return int(self.ledger.w3.eth.get_block("latest")["timestamp"])

    def current_month(self) -> int:
        return int(self.ledger.token.functions.currentMonth().call())

    # -- the scheduler ----------------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        """One pass: today's notices if not yet sent, then the last ended month's sweep if not finished."""
        with self._lock:
            done: dict[str, Any] = {"notices": self.notify_if_due()}
            month = self.current_month() - 1
            with self.sessions() as db:
                run = db.get(ExpiryRun, month_label(month))
            if run is None or run.state != "finished":
                done["sweep"] = self.sweep(month, "scheduler").as_dict()
            return done

    def notify_if_due(self) -> int | None:
        """The expiring-points notices once per JST day of the chain's clock; how many were added (None: done today)."""
        at = datetime.fromtimestamp(self.chain_time(), UTC)
        today = at.astimezone(JST).date().isoformat()
        with self.sessions() as db:
            meta = db.get(WalletMeta, NOTICES_DAY)
            if meta is not None and meta.value == today:
                return None
        added = self.notices.notify_expiring(at=at)  # idempotent per resident and month: a crash here repeats nothing
        with self.sessions.begin() as db:
            meta = db.get(WalletMeta, NOTICES_DAY, with_for_update=True)
            if meta is None:
                db.add(WalletMeta(name=NOTICES_DAY, value=today))
            else:
                meta.value = today
        if added:
            log.info("expiry: %d expiring-points notice(s) added for %s", added, today)
        return added

    def start(self, interval: float) -> None:
        self._job.start(interval)

    def stop(self) -> None:
        self._job.stop()

    # -- the sweep --------------------------------------------------------------------------------
    def sweep(self, month: int, started_by: str) -> RunReport:
        """Runs (or resumes, or finds finished) the sweep for ``month``; sends only the batches not yet sent."""
        current = self.current_month()
        if month >= current:
            raise ExpiryError(
                f"{month_label(month)} has not ended on the chain's clock yet (it is {month_label(current)})",
                f"{month_label(month)} はチェーンの時計ではまだ終わっていません（現在 {month_label(current)}）",
            )
        run = self._run_row(month, started_by)
        if run.state == "finished":
            return self._report(run)
        user = self._system_user() if run.batches else None
        sender = self.service_address() if run.batches else ""
        sent = 0
        for index in range(run.batches):
            batch = run.accounts[index * run.batch_size : (index + 1) * run.batch_size]
            assert user is not None
            op, fresh = self._send_batch(user, sender, run, index, batch)
            sent += fresh
            self._record_batch(run.month, index, op.id)
            _failpoint(index + 1)
        report = self._finish(run.month)
        report.sent_now = sent
        return report

    def _run_row(self, month: int, started_by: str) -> ExpiryRun:
        """The month's run, created with its frozen accounts on first call (a concurrent creator wins, we read it)."""
        label = month_label(month)
        with self.sessions() as db:
            run = db.get(ExpiryRun, label)
        if run is not None:
            return run
        from_month = max(0, month + 1 - LOOKBACK_MONTHS)
        accounts = self._expired_accounts(from_month)
        row = ExpiryRun(
            month=label,
            month_index=month,
            from_month=from_month,
            state="running",
            started_by=started_by[:80],
            started_at=now(),
            accounts=accounts,
            batch_size=self.batch_size,
            batches=math.ceil(len(accounts) / self.batch_size),
            operation_ids=[],
        )
        try:
            with self.sessions.begin() as db:
                db.add(row)
        except IntegrityError:
            pass
        with self.sessions() as db:
            found = db.get(ExpiryRun, label)
        assert found is not None
        log.info("expiry: run %s started by %s: %d account(s) in %d batch(es)", label, started_by,
                 len(found.accounts), found.batches)  # fmt: skip
        return found

    def _expired_accounts(self, from_month: int) -> list[str]:
        """The members' and businesses' addresses holding expired, unswept points (one batched read), sorted."""
        with self.sessions() as db:
            addresses = sorted(
                str(a)
                for a in db.scalars(
                    select(User.address).where(User.role.in_(CHAIN_MEMBER_ROLES), User.address.is_not(None))
                )
            )
        if not addresses:
            return []
        token = self.ledger.token.address
        block = hex(int(self.ledger.w3.eth.block_number))
        selector = keccak(text="expiredBalanceOf(address,uint256)")[:4]
        data = ["0x" + (selector + encode(["address", "uint256"], [a, from_month])).hex() for a in addresses]
        calls: list[tuple[str, list[Any]]] = [("eth_call", [{"to": token, "data": d}, block]) for d in data]
        results: list[Any] = []
        for start in range(0, len(calls), 500):
            results += self.ledger.rpc.batch_within_limits(calls[start : start + 500])
        return [a for a, r in zip(addresses, results, strict=True) if int(str(r or "0x0"), 16) > 0]

    def _send_batch(
        self, user: User, sender: str, run: ExpiryRun, index: int, batch: list[str]
    ) -> tuple[Operation, bool]:
        """(The batch's confirmed operation, sent now?): sent only when no operation under its key exists."""
        target, calldata = self.ledger.calldata("RegionalPoints", "sweepExpired", batch, run.from_month)
        for attempt in range(RETRIES + 1):
            key = f"expiry:{run.month}:{index}" + (f":retry{attempt}" if attempt else "")
            existed = self.outbox.find(user, key) is not None
            body = {"month": run.month, "batch": index, "attempt": attempt, "accounts": len(batch)}
            op = self.outbox.submit(
                user,
                key,
                body,
                kind=OperationKind.EXPIRY_SWEEP,
                sender=sender,
                target=target,
                calldata=calldata,
                summary={"month": run.month, "batch": index, "accounts": len(batch)},
                known_new=not existed,
            )
            if op.status not in (OperationStatus.CONFIRMED, OperationStatus.FAILED):
                op = self.outbox.wait(op.id, CONFIRM_SECONDS) or op
            if op.status == OperationStatus.CONFIRMED:
                return op, not existed
            if op.status != OperationStatus.FAILED:
                raise TimeoutError(f"expiry: batch {index} of {run.month} has no receipt yet; the next pass resumes it")
            log.warning("expiry: batch %d of %s failed on-chain (%s); attempt %d", index, run.month, op.error_code,
                        attempt + 1)  # fmt: skip
        raise ExpiryError(
            f"batch {index} of {run.month} failed on-chain {RETRIES + 1} times; see its expiry-sweep operations",
            f"{run.month} のバッチ {index} がチェーン上で {RETRIES + 1} 回失敗しました（expiry-sweep の操作を参照）",
        )

    def _record_batch(self, month: str, index: int, op_id: str) -> None:
        with self.sessions.begin() as db:
            run = db.get(ExpiryRun, month, with_for_update=True)
            if run is None or op_id in run.operation_ids:
                return
            ids = list(run.operation_ids)
            ids.append(op_id)
            run.operation_ids = ids
            log.info("expiry: batch %d of %s confirmed (operation %s)", index, month, op_id)

    def _finish(self, month: str) -> RunReport:
        """Totals from the batches' receipts; the run marked finished (the same answer whoever finishes it)."""
        with self.sessions.begin() as db:
            run = db.get(ExpiryRun, month, with_for_update=True)
            assert run is not None
            if run.state != "finished":
                ops = self._operations(db, run)
                swept = _swept_of(ops)
                run.state = "finished"
                run.finished_at = now()
                run.accounts_swept = len(swept)
                run.points_swept = sum(swept.values())
                run.tx_hashes = [str(op.tx_hash) for op in ops]
                log.info("expiry: run %s finished: %d point(s) from %d account(s) in %d transaction(s)",
                         month, run.points_swept, run.accounts_swept, len(ops))  # fmt: skip
        return self._report(run)

    @staticmethod
    def _operations(db: DbSession, run: ExpiryRun) -> list[Operation]:
        ops = [db.get(Operation, op_id) for op_id in run.operation_ids]
        return [op for op in ops if op is not None]

    def _report(self, run: ExpiryRun) -> RunReport:
        with self.sessions() as db:
            ops = self._operations(db, run)
        swept = _swept_of(ops)
        return RunReport(
            month=run.month,
            state=run.state,
            started_by=run.started_by,
            started_at=run.started_at,
            finished_at=run.finished_at,
            from_month=month_label(run.from_month),
            accounts=len(run.accounts),
            batches=run.batches,
            batches_done=len(run.operation_ids),
            accounts_swept=run.accounts_swept if run.accounts_swept is not None else len(swept),
            points_swept=run.points_swept if run.points_swept is not None else sum(swept.values()),
            tx_hashes=list(run.tx_hashes or [str(op.tx_hash) for op in ops]),
            swept=swept,
        )

    def report(self, month: int) -> RunReport:
        with self.sessions() as db:
            run = db.get(ExpiryRun, month_label(month))
        if run is None:
            return RunReport(month=month_label(month), state="none")
        return self._report(run)

    def supply(self) -> dict[str, int]:
        """The token's supply identity at one block: totalSupply == issued - settled - swept."""
        block = int(self.ledger.w3.eth.block_number)
        token = self.ledger.token
        supply = int(token.functions.totalSupply().call(block_identifier=block))
        issued, settled, swept = (int(v) for v in token.functions.totals().call(block_identifier=block))
        return {"block": block, "total_supply": supply, "issued": issued, "settled": settled, "swept": swept}

    # -- the outbox's side ----------------------------------------------------------------------
    def inspect_sweep(self, op: Operation, receipt: dict[str, Any]) -> dict[str, Any]:
        """What a batch burned, from its receipt (stored in the operation's summary when it settles)."""
        if receipt.get("status") != 1:
            return {}
        swept = swept_in(receipt, self.ledger.token.address)
        return {"swept": swept, "swept_total": sum(swept.values())}

    def _system_user(self) -> User:
        """The owner of the sweep's operations: an officer row that cannot log in (suspended, unknown password)."""
        with self.sessions() as db:
            user = db.scalar(select(User).where(User.login == SYSTEM_LOGIN))
        if user is not None:
            return user
        row = User(
            public_id=str(uuid.uuid4()),
            login=SYSTEM_LOGIN,
            role=Role.OFFICER,
            status=AccountStatus.SUSPENDED,
            password_hash=hash_secret(secrets.token_urlsafe(32)),
            display_name="自動処理（ポイント失効） / scheduled expiry",
            short_code=new_short_code(),
            failed_logins=0,
            created_at=now(),
        )
        try:
            with self.sessions.begin() as db:
                db.add(row)
        except IntegrityError:
            pass
        with self.sessions() as db:
            found = db.scalar(select(User).where(User.login == SYSTEM_LOGIN))
        assert found is not None
        return found


def _no_hook(db: DbSession, op: Operation) -> None:
    """A batch settling changes nothing else in the wallet: the run reads its summary."""


def _swept_of(ops: list[Operation]) -> dict[str, int]:
    swept: dict[str, int] = {}
    for op in ops:
        if op.status != OperationStatus.CONFIRMED:
            continue
        for address, amount in dict(op.summary.get("swept") or {}).items():  # type: ignore[call-overload]
            swept[str(address)] = swept.get(str(address), 0) + int(amount)
    return swept
