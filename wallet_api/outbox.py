"""The outbox's front door: accepting an operation once per idempotency key, and following it.

Step 1 of the pipeline (:mod:`wallet_api.pipeline` runs steps 2-5): a money-moving
request is checked against the ledger (``eth_estimateGas``; a revert becomes a 4xx with
its code and nothing is stored), then stored as an :class:`Operation` under the client's
idempotency key, in the same database transaction as the domain's own change
(``before_commit``: a payment request claimed, a claim marked approving). A retry under
the same key returns the stored operation instead of paying again; the same key for
another request is refused. The same transaction signs the operation (step 2,
:meth:`Pipeline.sign_in`), so it commits already ``signed``. Domain modules (accounts,
payments, claims, thanks) reach the chain only through :meth:`Outbox.submit` and follow
operations with :meth:`confirm` and :meth:`wait`; the hooks they give :meth:`when_settled`
run when an operation settles.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker
from web3.exceptions import ContractLogicError, Web3RPCError

from ledger_client.rpc import RpcError
from ledger_client.transactions import explain
from wallet_api.auth import now
from wallet_api.db.models import Operation, User
from wallet_api.errors import ApiError
from wallet_api.gas import GasBook
from wallet_api.ledger import Ledger
from wallet_api.pipeline import NODE_ERRORS, Hook, Inspector, Pipeline, refusal
from wallet_api.statuses import OperationKind, OperationStatus

BeforeCommit = Callable[[DbSession, Operation], None]


def request_hash(payload: dict[str, Any]) -> str:
    """A stable digest of a request body, to tell a retry from a different request under the same key."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def validate_idempotency_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise ApiError("IDEMPOTENCY_KEY_REQUIRED")
    key = key.strip()
    if len(key) > 100 or not key.isprintable():
        raise ApiError("VALIDATION_ERROR", {"Idempotency-Key": "at most 100 printable characters"})
    return key


def find(db: DbSession, user_id: int, key: str) -> Operation | None:
    """The operation ``user_id`` sent under idempotency ``key``, if any."""
    return db.scalar(select(Operation).where(Operation.user_id == user_id, Operation.idempotency_key == key))


_OPS: Table = Operation.__table__  # type: ignore[assignment]
# built once: it runs in the queue every write waits in (issue 17)
_PRIOR = select(_OPS.c.id, _OPS.c.request_hash).where(
    _OPS.c.user_id == bindparam("prior_user"), _OPS.c.idempotency_key == bindparam("prior_key")
)


def existing(db: DbSession, user_id: int, key: str, digest: str) -> Operation | None:
    """The operation already accepted under ``key``; IDEMPOTENCY_KEY_REUSED if it was another request."""
    op = find(db, user_id, key)
    if op is not None and op.request_hash != digest:
        raise ApiError("IDEMPOTENCY_KEY_REUSED")
    return op


class Outbox:
    def __init__(
        self, sessions: sessionmaker[DbSession], ledger: Ledger, pipeline: Pipeline, confirm_wait_seconds: float
    ) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.pipeline = pipeline
        self.confirm_wait_seconds = confirm_wait_seconds
        self.gas = GasBook()  # the gas to sign per contract function, so most prechecks are one eth_call

    def when_settled(self, kind: OperationKind, hook: Hook, inspector: Inspector | None = None) -> None:
        """Runs ``hook`` in the transaction that settles an operation of ``kind`` (after ``inspector``'s chain read)."""
        self.pipeline.hooks[kind] = hook
        if inspector is not None:
            self.pipeline.inspectors[kind] = inspector

    def find(self, user: User, key: str) -> Operation | None:
        with self.sessions() as db:
            return find(db, user.id, key)

    def confirm(self, op_id: str) -> Operation | None:
        """The operation, settled first if its receipt is there."""
        return self.pipeline.confirm(op_id)

    def wait(self, op_id: str, timeout: float) -> Operation | None:
        """Drives the operation until it is final or ``timeout`` passes; its latest state."""
        return self.pipeline.wait(op_id, timeout)

    def precheck(self, sender: str, target: str, calldata: bytes, *, optimistic: bool = False) -> int:
        """The gas to sign for the call; a revert raises the ApiError a resident understands.

        One ``eth_call`` when the gas book knows the function, an ``eth_estimateGas`` otherwise
        (:mod:`wallet_api.gas`); either refuses a call that would revert, with its reason.
        ``optimistic``: only a check that the node answers when the gas is known (see :meth:`submit`).
        """
        known = self.gas.limit(target, calldata)
        try:
            if known is not None:
                if optimistic:
                    if not self.pipeline.receipts.node_heard():  # blocks arriving: it is up
                        self.ledger.ping()  # nothing is accepted while the node is down (answered 503)
                else:
                    self.ledger.check_call(sender, target, calldata)
                return known
            call = {"from": sender, "to": target, "data": calldata}
            estimate = int(self.ledger.w3.eth.estimate_gas(call))  # type: ignore[arg-type]
        except (ContractLogicError, Web3RPCError, RpcError) as exc:
            failure = explain(exc)
            raise refusal(self.ledger, sender, failure.error, str(failure)) from None
        except NODE_ERRORS:
            raise ApiError("NODE_UNAVAILABLE", status=503) from None
        return self.gas.learn(target, calldata, estimate)

    def submit(
        self,
        user: User,
        key: str,
        body: dict[str, Any],
        *,
        kind: OperationKind,
        sender: str,
        target: str,
        calldata: bytes,
        summary: dict[str, Any],
        before_commit: BeforeCommit | None = None,
        optimistic: bool = False,
        known_new: bool = False,
        nonce_hint: int | None = None,
    ) -> Operation:
        """Accepts (or finds, for a retry) one operation, sends it, and waits briefly for its receipt.

        ``optimistic`` (payments): once the gas book knows the function, the operation is
        signed and sent without the ``eth_call`` precheck. The ledger executes the call once
        instead of twice: issue 17 measured the precheck at 3-4 ms of the node's CPU and
        1-1.5 ms of the API's per payment, a quarter of all the CPU a payment costs, and CPU
        is what 32 residents paying at once run out of. A payment the ledger refuses is not
        lost or hidden: its receipt fails, :meth:`Pipeline.settle` decodes the revert on the
        block's state and answers it with the same code, HTTP status and detail as the
        precheck would have (``INSUFFICIENT_BALANCE`` with ``available``, ``POINTS_EXPIRED``,
        ...), the payment's hook re-opens the request, and the failed operation stays on
        record under its idempotency key (a retry with the same key returns that failure).

        ``known_new``: the caller has just looked the key up and found nothing, so it is not
        read again here (the transaction that accepts still checks it, for a concurrent retry).
        ``nonce_hint``: the sender's next nonce as the caller read it with its other reads
        (:meth:`Pipeline.peek_nonce`), the prediction the operation is signed with before the
        write queue; read here when not given.
        """
        digest = request_hash({"kind": kind, **body})
        found: Operation | None = None
        if not known_new:
            with self.sessions() as db:
                found = existing(db, user.id, key, digest)
        sent = False
        signed: Operation | None = None  # the operation this request committed signed, not read back
        if found is None:
            gas = self.precheck(sender, target, calldata, optimistic=optimistic)
            fees = self.ledger.fee_fields()  # asked once per process on our zero-fee network
            self.pipeline.ensure_nonce_row(sender)
            account = self.pipeline.opened_key(user, sender)
            presigned = self.pipeline.presign(sender, target, calldata, gas, fees, account, nonce_hint)
            try:

                def accept_and_sign(db: DbSession) -> Operation:
                    prior = db.connection().execute(_PRIOR, {"prior_user": user.id, "prior_key": key}).first()
                    if prior is not None:  # the same key accepted meanwhile (a concurrent retry)
                        if prior.request_hash != digest:
                            raise ApiError("IDEMPOTENCY_KEY_REUSED")
                        return db.get_one(Operation, prior.id)
                    op = Operation(
                        id=str(uuid.uuid4()),
                        user_id=user.id,
                        idempotency_key=key,
                        request_hash=digest,
                        kind=kind,
                        sender=sender,
                        target=target,
                        calldata=calldata,
                        summary={**summary, "gas": gas},
                        status=OperationStatus.ACCEPTED,
                        attempts=1,
                        created_at=now(),
                        updated_at=now(),
                    )
                    self.pipeline.insert_signed(db, op, fees, account, presigned)
                    if before_commit is not None:
                        before_commit(db, op)
                    return op

                found = signed = self.pipeline.writes.run(accept_and_sign)
            except IntegrityError:  # the same key accepted concurrently by another request
                found = self.find(user, key)
                if found is None:
                    raise
                if found.request_hash != digest:
                    raise ApiError("IDEMPOTENCY_KEY_REUSED") from None
            sent = self.pipeline.execute(found.id, mark_sent=False, signed=signed)
        elif found.status in (OperationStatus.ACCEPTED, OperationStatus.SIGNED):  # a crash left it half-way
            sent = self.pipeline.execute(found.id, mark_sent=False)
        latest = self.pipeline.wait(found.id, self.confirm_wait_seconds, sent=sent, signed=signed if sent else None)
        return latest or found
