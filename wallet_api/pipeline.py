"""The transaction pipeline: an outbox of accepted operations, sent exactly once.

1. *Accept* (:mod:`wallet_api.outbox`): a money-moving request is checked against the
   ledger and stored as an :class:`Operation` under the client's idempotency key.
2. *Sign*: under the address's nonce-row lock the next nonce is taken, the transaction
   signed and the raw bytes stored (status ``signed``) in one database transaction.
3. *Send*: the stored raw transaction is broadcast. After a crash of the API or the
   node, the worker re-broadcasts it unchanged: same nonce, same hash, so the ledger
   applies it at most once; "already known" means it is already on its way.
4. *Confirm*: the receipt settles the operation (``confirmed`` or ``failed`` with a
   decoded reason) and runs the kind's hook (a payment request becomes paid, …). A
   kind's *inspector* may first read the chain's own record of what happened (a
   payment's payer and amount), so the hook never trusts a revert reason alone.
5. *Re-send*: a ``sent`` transaction with no receipt after :data:`REBROADCAST_SECONDS`
   is looked up on the node (``takasago_transactionStatus``): one the node no longer
   knows (its pool was lost in a restart) is re-broadcast from the stored bytes; one the
   node dropped is failed and its nonce given back if no later one was taken.

Several API processes can share one database: leases keep two of them from signing
the same operation, and the nonce row lock keeps nonces unique per address.

On the request path (issue 17) steps 1 and 2 are one database transaction: the outbox
accepts the operation and :meth:`Pipeline.sign_in` signs it under the nonce-row lock
before the commit, so a payment costs two write transactions (accept-and-sign, settle)
instead of five. The raw transaction is still committed before it is broadcast, so a
crash at any point leaves bytes to re-send, never a second signature. A broadcast is
recorded as ``sent`` only when the receipt does not come within the request's wait (the
settling transaction records it otherwise); until then the worker treats the operation
as ``signed`` and re-broadcasts the same bytes, which the node answers "already known".
Receipts come from the process's :class:`~wallet_api.receipts.ReceiptWatcher` (one
batched poll for every waiting request) instead of one poll loop per request.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Connection, Table, bindparam, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker
from web3.exceptions import ContractLogicError, Web3RPCError

from ledger_client.rpc import RpcError
from ledger_client.transactions import explain
from wallet_api.auth import aware, now
from wallet_api.crypto.envelope import EnvelopeError
from wallet_api.db.group_commit import GroupCommit
from wallet_api.db.models import AccountNonce, Operation, ServiceKey, User
from wallet_api.errors import ApiError, code_for_contract_error
from wallet_api.keyring import Keyring
from wallet_api.ledger import Ledger
from wallet_api.receipts import ReceiptWatcher, normalise, ws_url_of
from wallet_api.statuses import FINAL_OPERATION, OperationKind, OperationStatus

log = logging.getLogger("wallet_api.pipeline")

# The request path's two statements (issue 17), built once: they run in the queue every write waits in.
_NONCES: Table = AccountNonce.__table__  # type: ignore[assignment]
_OPERATIONS: Table = Operation.__table__  # type: ignore[assignment]
_OPERATION_KEYS = tuple(c.key for c in _OPERATIONS.columns)
_TAKE_NONCE = (
    update(_NONCES)
    .where(_NONCES.c.address == bindparam("nonce_address"))
    .values(next_nonce=_NONCES.c.next_nonce + 1)
    .returning(_NONCES.c.next_nonce)
)
_TAKE_PREDICTED_NONCE = (
    update(_NONCES)
    .where(_NONCES.c.address == bindparam("nonce_address"), _NONCES.c.next_nonce == bindparam("nonce_predicted"))
    .values(next_nonce=_NONCES.c.next_nonce + 1)
    .returning(_NONCES.c.next_nonce)
)
_PEEK_NONCE = select(_NONCES.c.next_nonce).where(_NONCES.c.address == bindparam("nonce_address"))
_INSERT_OPERATION = insert(_OPERATIONS)
# A receipt recorded (Pipeline.settle): one UPDATE … RETURNING instead of an ORM load and flush.
# An operation still ``signed`` was broadcast by the request settling it and never marked sent.
_SIGNED_HERE = _OPERATIONS.c.status == OperationStatus.SIGNED
_RECORD_RECEIPT = (
    update(_OPERATIONS)
    .where(
        _OPERATIONS.c.id == bindparam("settle_id"),
        _OPERATIONS.c.status.not_in(bindparam("settle_final", expanding=True)),
    )
    .values(
        block_number=bindparam("settle_block"),
        status=bindparam("settle_status"),
        error_code=bindparam("settle_error_code"),
        error_detail=bindparam("settle_error_detail"),
        updated_at=bindparam("settle_moment"),
        sent_at=case((_SIGNED_HERE, bindparam("settle_moment")), else_=_OPERATIONS.c.sent_at),
        broadcasts=case((_SIGNED_HERE, func.coalesce(_OPERATIONS.c.broadcasts, 0) + 1), else_=_OPERATIONS.c.broadcasts),
    )
    .returning(*_OPERATIONS.columns)
)
_SET_SUMMARY = (
    update(_OPERATIONS).where(_OPERATIONS.c.id == bindparam("summary_id")).values(summary=bindparam("summary_value"))
)


@dataclass(frozen=True)
class Presigned:
    """A call signed before the write queue with the nonce then expected (:meth:`Pipeline.presign`)."""

    nonce: int
    raw: bytes
    tx_hash: str


LEASE_SECONDS = 30
REBROADCAST_SECONDS = 5.0
UNFINISHED = (OperationStatus.ACCEPTED, OperationStatus.SIGNED, OperationStatus.SENT)
NODE_ERRORS = (ConnectionError, OSError, TimeoutError)  # TimeoutError covers ledger_client's NodeBusy: a 503

Hook = Callable[[DbSession, Operation], None]
Inspector = Callable[[Operation, dict[str, Any]], dict[str, Any]]  # (operation, its receipt) -> summary findings


def failpoint(name: str) -> None:
    """Crash-testing hook: exits the process abruptly at ``name`` when TAKASAGO_WALLET_FAILPOINT says so.

    Used by the crash tests to stop the API exactly between two steps of the pipeline
    (``after-accept``, ``after-sign``, ``after-broadcast``); inert otherwise.
    """
    if os.environ.get("TAKASAGO_WALLET_FAILPOINT") == name:
        log.error("failpoint %s: exiting abruptly", name)
        os._exit(86)


def refusal(ledger: Ledger, sender: str, error: Any, text: str) -> ApiError:
    """The ApiError a resident understands for a refused call (``error``: the decoded custom error, if any)."""
    code = code_for_contract_error(error, sender)
    detail: dict[str, Any] = {"reason": error.name if error is not None else text[:200]}
    if error is not None and error.name == "InsufficientUnexpiredBalance":
        available, needed = int(error.args["available"]), int(error.args["needed"])
        detail.update(available=available, needed=needed)
        try:
            if available + ledger.expired_unswept(sender) >= needed:
                code = "POINTS_EXPIRED"
        except NODE_ERRORS:
            pass
    if error is not None and error.name in ("DailyThanksLimitReached", "DailyThanksPointsExceeded"):
        detail["limit"] = int(error.args.get("limit", 0))
    return ApiError(code, detail)


class Pipeline:
    """Steps 2 to 5 for operations the :class:`~wallet_api.outbox.Outbox` accepted, and the worker that retries them."""

    def __init__(
        self,
        sessions: sessionmaker[DbSession],
        ledger: Ledger,
        keyring: Keyring,
        receipts: ReceiptWatcher | None = None,
    ) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.keyring = keyring
        self.receipts = receipts or ReceiptWatcher(ledger.rpc, ws_url_of(ledger.rpc_url))  # one per process
        self._nonce_rows: set[str] = set()  # addresses whose nonce row exists (rows are never deleted)
        self.writes = GroupCommit(sessions)  # the request path's writes, committed together (db/group_commit.py)
        self.hooks: dict[OperationKind, Hook] = {}
        self.inspectors: dict[OperationKind, Inspector] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- 2. sign and 3. send -----------------------------------------------------------
    def _signer(self, db: DbSession, address: str) -> LocalAccount:
        user = db.scalar(select(User).where(User.address == address))
        if user is not None and user.sealed_key is not None:
            return self.keyring.open_private_key(address, user.sealed_key)
        service = db.scalar(select(ServiceKey).where(ServiceKey.address == address))
        if service is None:
            raise RuntimeError(f"no custodial key for {address}")
        return self.keyring.open_private_key(address, service.sealed_key)

    def _claim(self, op_id: str) -> bool:
        with self.sessions.begin() as db:
            result = db.execute(
                update(Operation)
                .where(
                    Operation.id == op_id,
                    Operation.status == OperationStatus.ACCEPTED,
                    (Operation.lease_until.is_(None)) | (Operation.lease_until < now()),
                )
                .values(lease_until=now() + timedelta(seconds=LEASE_SECONDS), attempts=Operation.attempts + 1)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _nonce_row(self, db: DbSession, address: str) -> AccountNonce:
        row = db.scalar(select(AccountNonce).where(AccountNonce.address == address).with_for_update())
        if row is None:
            chain_nonce = int(self.ledger.w3.eth.get_transaction_count(address, "pending"))  # type: ignore[arg-type]
            row = AccountNonce(address=address, next_nonce=chain_nonce)
            db.add(row)
            db.flush()
        return row

    def ensure_nonce_row(self, address: str) -> None:
        """Creates ``address``'s nonce row (from the node's pending count) if missing, in its own transaction.

        Done before the transaction that signs, so two processes creating the same row at
        once lose only this small transaction (retried), never an accepted payment.
        """
        if address in self._nonce_rows:
            return
        for attempt in range(3):
            try:
                with self.sessions.begin() as db:
                    self._nonce_row(db, address)
                break
            except IntegrityError:  # another process created it first
                if attempt == 2:
                    raise
        self._nonce_rows.add(address)

    def opened_key(self, owner: User, address: str) -> LocalAccount | None:
        """``owner``'s custodial key when it is ``address``'s, opened now: before the write lock, not under it."""
        if owner.address != address or owner.sealed_key is None:
            return None
        try:
            return self.keyring.open_private_key(address, owner.sealed_key)
        except EnvelopeError:  # re-wrapped by a KEK rotation since the request read it: opened from the row later
            return None

    def peek_nonce(self, db: DbSession, sender: str) -> int | None:
        """The nonce ``sender``'s row holds now (None without a row), read in the caller's session."""
        nonce = db.connection().execute(_PEEK_NONCE, {"nonce_address": sender}).scalar_one_or_none()
        return None if nonce is None else int(nonce)

    def presign(
        self,
        sender: str,
        target: str,
        calldata: bytes,
        gas: int,
        fees: dict[str, int],
        account: LocalAccount | None,
        nonce: int | None = None,
    ) -> Presigned | None:
        """Signs a call with the nonce ``sender``'s row holds now: before the write queue, not in it.

        Signing (eth-account, ~1 ms of a worker's CPU) was the largest single cost left in the
        transaction every write on SQLite queues for (issue 17's profile, 32 residents
        paying). The nonce read here is only a prediction: :meth:`insert_signed` takes it
        only if the row still holds it (``UPDATE … WHERE next_nonce = predicted``), and
        otherwise signs again in the transaction with the nonce it takes — a resident paying
        twice at once costs one signature more, never a nonce used twice. ``nonce``: the
        prediction when the caller read it already (:meth:`peek_nonce`), saving a session.
        """
        if account is None:
            return None
        if nonce is None:  # not read by the caller with its other reads
            with self.sessions() as db:
                nonce = self.peek_nonce(db, sender)
        if nonce is None:
            return None
        signed = account.sign_transaction(self._tx(target, calldata, gas, fees, int(nonce)))
        return Presigned(int(nonce), bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex())

    def insert_signed(
        self,
        db: DbSession,
        op: Operation,
        fees: dict[str, int],
        account: LocalAccount | None = None,
        presigned: Presigned | None = None,
    ) -> None:
        """Signs the new ``op`` with its sender's next nonce and inserts it, in the caller's transaction.

        The request path's form of :meth:`sign_in` (issue 17): on SQLite every write of every
        worker process queues for one lock, so the statements under it are kept to two Core
        ones, the nonce taken by ``UPDATE … RETURNING`` (which also row-locks it on PostgreSQL)
        and the operation written by one ``INSERT``, instead of ORM loads and flushes. ``op``
        stays a plain object outside the session; ``account``: its sender's key, already opened;
        ``presigned``: ``op`` signed by :meth:`presign`, used if its nonce is still the next one.
        """
        connection = db.connection()
        if presigned is not None:
            taken = connection.execute(
                _TAKE_PREDICTED_NONCE, {"nonce_address": op.sender, "nonce_predicted": presigned.nonce}
            ).scalar_one_or_none()
            if taken is not None:
                self._signed(op, presigned.nonce, presigned.raw, presigned.tx_hash)
                self._insert(connection, op)
                return
        taken = connection.execute(_TAKE_NONCE, {"nonce_address": op.sender}).scalar_one_or_none()
        if taken is None:  # no nonce row yet (ensure_nonce_row makes it first): the ORM way creates it
            self.sign_in(db, op, fees)
            db.add(op)
            db.flush()
            return
        self._sign(op, int(taken) - 1, fees, account or self._signer(db, op.sender))
        self._insert(connection, op)

    @staticmethod
    def _insert(connection: Connection, op: Operation) -> None:
        values = {key: getattr(op, key) for key in _OPERATION_KEYS}
        connection.execute(_INSERT_OPERATION, {k: v for k, v in values.items() if v is not None})

    def _tx(self, target: str, calldata: bytes, gas: int, fees: dict[str, int], nonce: int) -> dict[str, Any]:
        return {
            "to": target,
            "data": calldata,
            "gas": gas,
            **fees,  # EIP-1559 (type 2); zero on our zero-base-fee network
            "nonce": nonce,
            "chainId": self.ledger.chain_id,
            "value": 0,
        }

    def _sign(self, op: Operation, nonce: int, fees: dict[str, int], account: LocalAccount) -> None:
        gas = int(op.summary["gas"])  # type: ignore[call-overload]
        signed = account.sign_transaction(self._tx(op.target, op.calldata, gas, fees, nonce))
        self._signed(op, nonce, bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex())

    @staticmethod
    def _signed(op: Operation, nonce: int, raw: bytes, tx_hash: str) -> None:
        op.nonce = nonce
        op.raw_tx = raw
        op.tx_hash = tx_hash
        op.status = OperationStatus.SIGNED
        op.updated_at = now()

    def sign_in(self, db: DbSession, op: Operation, fees: dict[str, int]) -> None:
        """Takes ``op.sender``'s next nonce, signs ``op`` and stores the raw bytes, in the caller's transaction."""
        row = self._nonce_row(db, op.sender)
        self._sign(op, row.next_nonce, fees, self._signer(db, op.sender))
        row.next_nonce += 1

    def sign(self, op_id: str) -> bool:
        """Signs an operation left ``accepted`` (by a crash or an older version); False if another worker has it."""
        fees = self.ledger.fee_fields()  # before leasing and locking anything (asked once per process on our node)
        with self.sessions() as db:
            op = db.get(Operation, op_id)
            if op is None or op.status != OperationStatus.ACCEPTED:
                return False
            self.ensure_nonce_row(op.sender)
        if not self._claim(op_id):
            return False
        with self.sessions.begin() as db:
            op = db.get(Operation, op_id)
            if op is None or op.status != OperationStatus.ACCEPTED:
                return False
            self.sign_in(db, op, fees)
        return True

    def broadcast(self, op_id: str, *, mark_sent: bool = True, signed: Operation | None = None) -> bool:
        """Sends the stored raw transaction; True if the node has it (``mark_sent``: record ``sent`` now).

        ``signed``: the operation as the caller's own transaction just committed it (signed,
        raw bytes stored), so it is not read back from the database.
        """
        op = signed
        if op is None or op.status != OperationStatus.SIGNED or op.raw_tx is None:
            with self.sessions() as db:
                op = db.get(Operation, op_id)
        if op is None or op.status != OperationStatus.SIGNED or op.raw_tx is None:
            return False
        raw, tx_hash = op.raw_tx, op.tx_hash
        try:
            self.ledger.send_raw(raw)
        except RpcError as exc:
            message = exc.reason
            if "already known" in message or "already pending" in message:
                pass
            elif "nonce too low" in message and self._receipt(tx_hash) is not None:
                pass
            else:
                self._rejected(op_id, message)
                return False
        if mark_sent:
            self.mark_sent(op_id)
        return True

    def mark_sent(self, op_id: str) -> None:
        """Records a broadcast of a ``signed`` operation: it is ``sent`` from now."""
        with self.sessions.begin() as db:
            op = db.get(Operation, op_id)
            if op is not None and op.status == OperationStatus.SIGNED:
                op.status = OperationStatus.SENT
                op.sent_at = op.updated_at = now()
                op.broadcasts = (op.broadcasts or 0) + 1

    def _rejected(self, op_id: str, message: str) -> None:
        """The node refused the signed transaction outright: fail it and give its nonce back if still the last."""
        log.warning("operation %s refused by the node: %s", op_id, message[:200])
        with self.sessions.begin() as db:
            op = db.get(Operation, op_id)
            if op is None or op.status != OperationStatus.SIGNED:
                return
            row = self._nonce_row(db, op.sender)
            if op.nonce is not None and row.next_nonce == op.nonce + 1:
                row.next_nonce = op.nonce
            op.status = OperationStatus.FAILED
            code = "TRANSACTION_REJECTED"
            if "not permitted" in message:
                is_service = db.scalar(select(ServiceKey.name).where(ServiceKey.address == op.sender)) is not None
                code = "SERVICE_NOT_AUTHORISED" if is_service else "ACCOUNT_SUSPENDED"
            op.error_code = code
            op.error_detail = message[:500]
            op.updated_at = now()
            self._run_hook(db, op)

    def execute(self, op_id: str, *, mark_sent: bool = True, signed: Operation | None = None) -> bool:
        """Signs (if not yet) and sends; True once the node has it. Node errors leave it for the worker.

        ``signed``: the operation just committed signed by the caller (nothing to sign or read back).
        """
        try:
            failpoint("after-accept")
            if signed is None or signed.status != OperationStatus.SIGNED:
                self.sign(op_id)  # no-op unless still "accepted" and not leased by another worker
            failpoint("after-sign")
            sent = self.broadcast(op_id, mark_sent=mark_sent, signed=signed)
            failpoint("after-broadcast")
            return sent
        except NODE_ERRORS as exc:
            log.warning("node unreachable while sending %s: %s", op_id, exc)
            return False

    # -- 4. confirm --------------------------------------------------------------------
    def _receipt(self, tx_hash: str | None) -> dict[str, Any] | None:
        """The node's receipt (normalised as the watcher's), None while there is none."""
        if tx_hash is None:
            return None
        try:
            raw = self.receipts.rpc.call("eth_getTransactionReceipt", tx_hash)
        except RpcError as exc:  # the node refused the query (busy): no receipt yet, asked again later
            log.warning("receipt of %s not answered: %s", tx_hash, str(exc)[:200])
            return None
        return normalise(raw) if isinstance(raw, dict) else None

    def confirm(self, op_id: str) -> Operation | None:
        """Settles the operation if its receipt is there; returns it (final or not)."""
        with self.sessions() as db:
            op = db.get(Operation, op_id)
            if op is None or op.status in FINAL_OPERATION or op.status == OperationStatus.ACCEPTED:
                return op
            tx_hash = op.tx_hash
        receipt = self._receipt(tx_hash)
        if receipt is None:
            return op
        return self.settle(op, receipt)

    def settle(self, op: Operation, receipt: dict[str, Any]) -> Operation | None:
        """Records ``op``'s receipt (confirmed, or failed with a decoded reason) and runs its kind's hook."""
        failure: ApiError | None = None
        if receipt["status"] != 1:
            failure = self._why_failed(op, int(receipt["blockNumber"]))
        inspector = self.inspectors.get(op.kind)
        findings = inspector(op, receipt) if inspector is not None else {}
        op_id = op.id
        values = {
            "settle_id": op_id,
            "settle_final": list(FINAL_OPERATION),
            "settle_block": int(receipt["blockNumber"]),
            "settle_status": OperationStatus.CONFIRMED if failure is None else OperationStatus.FAILED,
            "settle_error_code": failure.code if failure is not None else None,
            "settle_error_detail": json.dumps(failure.detail)[:500] if failure is not None else None,
        }

        def record(db: DbSession) -> Operation | None:
            # Core, not an ORM load and flush (issue 17: this runs in the write queue of every payment).
            # ``op`` here is a plain copy of the stored row for the hook and the caller, not in the session.
            connection = db.connection()
            row = connection.execute(_RECORD_RECEIPT, {**values, "settle_moment": now()}).first()
            if row is None:  # final already (settled by another request or the worker), or gone
                return db.get(Operation, op_id, populate_existing=True)
            settled = Operation(**row._mapping)
            if findings:  # joined to the summary as stored (a hook may have added to it when accepted)
                settled.summary = {**row.summary, **findings}
                connection.execute(_SET_SUMMARY, {"summary_id": op_id, "summary_value": settled.summary})
            self._run_hook(db, settled)
            return settled

        return self.writes.run(record)

    # -- 5. re-send what the node lost -----------------------------------------------
    def _node_status(self, tx_hash: str) -> tuple[str, str]:
        """(status, reason) from ``takasago_transactionStatus``; ``unknown`` from a node without it."""
        response = self.ledger.w3.provider.make_request("takasago_transactionStatus", [tx_hash])  # type: ignore[arg-type]
        result = response.get("result")
        if not isinstance(result, dict):
            return "unknown", ""
        return str(result.get("status", "unknown")), str(result.get("reason", ""))

    def resend_if_lost(self, op_id: str) -> None:
        """A ``sent`` operation with no receipt for a while: re-broadcast it if the node lost it, fail it if dropped.

        Re-broadcasting the stored bytes is safe: same nonce, same hash, so the ledger
        applies the transaction at most once whatever happened to the first copy.
        """
        with self.sessions() as db:
            op = db.get(Operation, op_id)
            if op is None or op.status != OperationStatus.SENT or op.raw_tx is None or op.tx_hash is None:
                return
            sent_at = aware(op.sent_at) or aware(op.created_at)
            if sent_at is not None and sent_at > now() - timedelta(seconds=REBROADCAST_SECONDS):
                return
            raw, tx_hash, broadcasts = op.raw_tx, op.tx_hash, op.broadcasts or 0
        status, reason = self._node_status(tx_hash)
        if status in ("included", "pending"):
            return
        if status == "dropped":
            self._dropped(op_id, reason)
            return
        log.warning(
            "operation %s had no receipt after %.0f s and the node does not know its transaction: "
            "re-broadcast %d from the stored bytes",
            op_id,
            REBROADCAST_SECONDS,
            broadcasts + 1,
        )
        try:
            self.ledger.send_raw(raw)
        except RpcError as exc:
            message = exc.reason
            if "nonce too low" in message and self._receipt(tx_hash) is None:
                # the nonce was used by another transaction of this address: this one can never be mined
                self._finish_lost(op_id, "TRANSACTION_REJECTED", message, release_nonce=False)
                return
            if "already known" not in message and "already pending" not in message and "nonce too low" not in message:
                self._finish_lost(op_id, "TRANSACTION_REJECTED", message, release_nonce=True)
                return
        with self.sessions.begin() as db:
            op = db.get(Operation, op_id)
            if op is not None and op.status == OperationStatus.SENT:
                op.sent_at = op.updated_at = now()
                op.broadcasts = (op.broadcasts or 0) + 1

    def _dropped(self, op_id: str, reason: str) -> None:
        log.warning("operation %s: the node dropped its transaction (%s)", op_id, reason[:200])
        self._finish_lost(op_id, "TRANSACTION_REJECTED", reason or "dropped by the node", release_nonce=True)

    def _finish_lost(self, op_id: str, code: str, message: str, *, release_nonce: bool) -> None:
        """Fails a sent operation whose transaction will never be mined; gives its nonce back if it was the last."""
        with self.sessions.begin() as db:
            op = db.get(Operation, op_id)
            if op is None or op.status != OperationStatus.SENT:
                return
            if release_nonce:
                row = self._nonce_row(db, op.sender)
                if op.nonce is not None and row.next_nonce == op.nonce + 1:
                    row.next_nonce = op.nonce
            op.status = OperationStatus.FAILED
            op.error_code = code
            op.error_detail = json.dumps({"reason": message[:200]})
            op.updated_at = now()
            self._run_hook(db, op)

    def _why_failed(self, op: Operation, block: int) -> ApiError:
        """Re-runs the reverted call on the state after its block to decode why."""
        try:
            self.ledger.w3.eth.call({"from": op.sender, "to": op.target, "data": op.calldata}, block)  # type: ignore[typeddict-item]
        except (ContractLogicError, Web3RPCError) as exc:
            failure = explain(exc)
            return refusal(self.ledger, op.sender, failure.error, str(failure))
        return ApiError("TRANSACTION_REJECTED", {"reason": "reverted on the ledger"})

    def _run_hook(self, db: DbSession, op: Operation) -> None:
        hook = self.hooks.get(op.kind)
        if hook is not None:
            hook(db, op)

    def wait(
        self, op_id: str, timeout: float, *, sent: bool = False, signed: Operation | None = None
    ) -> Operation | None:
        """Waits up to ``timeout`` for ``op_id``'s receipt and settles it; returns its latest state.

        ``sent``: this request broadcast it without recording ``sent`` (:meth:`execute` with
        ``mark_sent=False``); recorded here if no receipt came in time. ``signed``: as in
        :meth:`execute`, the operation the caller just committed (not read back).
        """
        op = signed
        if op is None:
            with self.sessions() as db:
                op = db.get(Operation, op_id)
        if op is None or op.status in FINAL_OPERATION or op.tx_hash is None:
            return op
        receipt = self.receipts.wait(op.tx_hash, timeout)
        if receipt is not None:
            try:
                return self.settle(op, receipt)
            except NODE_ERRORS:  # the inspector's or the revert decoder's call failed: the worker settles it later
                pass
        if sent:
            self.mark_sent(op_id)
        with self.sessions() as db:
            return db.get(Operation, op_id)

    # -- the worker --------------------------------------------------------------------
    def work_once(self) -> int:
        """One pass over unfinished operations (after a crash, a node outage, or a lost race)."""
        stale = now() - timedelta(seconds=2)
        with self.sessions() as db:
            rows = db.execute(
                select(Operation.id, Operation.status)
                .where(Operation.status.in_(UNFINISHED), Operation.updated_at < stale)
                .order_by(Operation.sender, Operation.nonce, Operation.created_at)
                .limit(500)
            ).all()
        for op_id, status in rows:
            if status == OperationStatus.ACCEPTED:
                self.execute(op_id)
            elif status == OperationStatus.SIGNED:
                self.broadcast(op_id)
            self.confirm(op_id)
            if status == OperationStatus.SENT:
                self.resend_if_lost(op_id)
            with self.sessions.begin() as db:
                op = db.get(Operation, op_id)
                if op is not None and op.status not in FINAL_OPERATION:
                    op.updated_at = now()
        return len(rows)

    def start(self, interval: float = 0.5) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.work_once()
                except NODE_ERRORS as exc:
                    log.warning("outbox worker: node unreachable (%s); retrying", exc)
                except Exception:  # noqa: BLE001 - the worker must outlive one bad pass
                    log.exception("outbox worker pass failed")

        self._thread = threading.Thread(target=loop, name="wallet-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
