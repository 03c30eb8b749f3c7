"""Help matching (困りごとマッチング, issue 18): residents post, neighbours offer, the requester chooses and confirms.

The money side is the ``HelpBoard`` contract (``docs/help-matching.md``): posting escrows
the thanks, choosing names the one helper who can be paid, completing pays them. Each of
those is an outbox operation (idempotent, crash-safe, settled from its receipt). Offers are
off-chain. A request's details and exact place stay here: the chain holds only a salted
hash of them, and this module shows them only to the requester and the chosen helper;
everyone else sees the district, the task, the window and the thanks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_utils import keccak
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import aliased, sessionmaker

from wallet_api import notices
from wallet_api.auth import aware, now
from wallet_api.db.models import Claim, HelpAction, HelpOffer, HelpRequest, Operation, User
from wallet_api.errors import ApiError
from wallet_api.help_safety import blocked_with, check_offer, is_blocked
from wallet_api.ledger import Ledger
from wallet_api.outbox import Outbox
from wallet_api.pipeline import NODE_ERRORS
from wallet_api.statuses import ClaimStatus, HelpStatus, OperationKind, OperationStatus, Role

TASK_TYPES = range(0, 9)  # the default menu (contracts/deploy.py); the chain checks each range
POSTED_TOPIC = "0x" + keccak(text="RequestPosted(uint256,address,uint8,uint256,uint256,uint256,bytes32)").hex()
STEPPED_BACK_TOPIC = "0x" + keccak(text="HelperSteppedBack(uint256,address,bool)").hex()
PAGE_SIZE = 20
log = logging.getLogger("wallet_api.help")
MAX_PAGE_SIZE = 100


def details_hash(salt: bytes, district: str, details: str, place: str) -> bytes:
    """The on-chain ``detailsHash``: HMAC-SHA256 of the private details under a per-request salt kept here."""
    canonical = json.dumps({"district": district, "details": details, "place": place}, ensure_ascii=False)
    return hmac.new(salt, canonical.encode(), hashlib.sha256).digest()


def salted_text(request: HelpRequest, text: str) -> bytes:
    """A dispute's reason or the city's decision as the chain holds it: HMAC under the request's own salt."""
    return hmac.new(bytes.fromhex(request.details_salt[2:]), text.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class HelpQuery:
    district: str | None = None
    task_type: int | None = None
    day: datetime | None = None  # the JST day the window starts on
    page: int = 1
    size: int = PAGE_SIZE


class Help:
    """Help requests and offers for residents; requests reach the chain through the outbox."""

    def __init__(
        self,
        sessions: sessionmaker[DbSession],
        ledger: Ledger,
        outbox: Outbox,
        real_name: Callable[[User, User], str] | None = None,
        service_address: Callable[[], str] | None = None,
        offers_per_day: int = 10,
    ) -> None:
        """``real_name(person, reader)``: the person's real name from their sealed record, the read audited;
        ``service_address()``: the wallet's city service key, which sends the city's moderation."""
        self.sessions = sessions
        self.ledger = ledger
        self.outbox = outbox
        self.real_name = real_name
        self.service_address = service_address
        self.offers_per_day = offers_per_day

    # -- posting --------------------------------------------------------------------
    def post(
        self,
        user: User,
        key: str,
        *,
        task_type: int,
        district: str,
        starts_at: datetime,
        ends_at: datetime,
        thanks: int,
        details: str,
        place: str,
        actor: User | None = None,
    ) -> tuple[HelpRequest | None, Operation]:
        """Posts a request with ``thanks`` in escrow; (the request, its posting operation).

        ``actor``: the coordinator posting for ``user`` (recorded on the request and in the trail).
        """
        _resident(user)
        if task_type not in TASK_TYPES:
            raise ApiError("VALIDATION_ERROR", {"task_type": f"one of {TASK_TYPES.start}..{TASK_TYPES.stop - 1}"})
        if ends_at <= starts_at or ends_at <= now() or ends_at - starts_at > timedelta(days=7):
            raise ApiError("HELP_INVALID_WINDOW")
        salt = secrets.token_bytes(16)
        request_id = str(uuid.uuid4())
        target, calldata = self.ledger.calldata(
            "HelpBoard",
            "post",
            task_type,
            thanks,
            int(starts_at.timestamp()),
            int(ends_at.timestamp()),
            details_hash(salt, district, details, place),
        )

        def record(db: DbSession, op: Operation) -> None:
            db.add(
                HelpRequest(
                    id=request_id,
                    requester_id=user.id,
                    task_type=task_type,
                    district=district,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    thanks=thanks,
                    details=details,
                    place=place,
                    details_salt="0x" + salt.hex(),
                    status=HelpStatus.POSTING,
                    operation_id=op.id,
                    created_at=now(),
                    posted_by_id=actor.id if actor is not None else None,
                )
            )
            _record(db, actor, user, request_id, "post", f"{thanks} pt")
            db.flush()

        body = {"task_type": task_type, "district": district, "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(), "thanks": thanks, "details": details, "place": place}  # fmt: skip
        op = self.outbox.submit(
            user,
            key,
            body,
            kind=OperationKind.HELP_POST,
            sender=user.address or "",
            target=target,
            calldata=calldata,
            summary={"help_request": request_id, "thanks": thanks},
            before_commit=record,
            optimistic=True,  # one execution, not two: a refusal comes from the receipt, same code (Outbox.submit)
        )
        with self.sessions() as db:
            return db.get(HelpRequest, str(op.summary.get("help_request"))), op

    # -- reading --------------------------------------------------------------------
    def task_types(self) -> list[dict[str, int | bool]]:
        """The city's menu as the board holds it now: each task type's suggested range and whether it is offered."""
        board = self.ledger.contract("HelpBoard")
        try:
            menu = [board.functions.taskTypeOf(t).call() for t in TASK_TYPES]
        except NODE_ERRORS:
            raise ApiError("NODE_UNAVAILABLE", status=503) from None
        return [{"task_type": t, "min_thanks": int(low), "max_thanks": int(high), "enabled": bool(on)}
                for t, (low, high, on) in zip(TASK_TYPES, menu, strict=True)]  # fmt: skip

    def open_requests(self, viewer: User, query: HelpQuery) -> tuple[list[HelpRequest], int]:
        """Open requests of others, soonest first, filtered by district, task type and day; (page, total)."""
        condition = [
            HelpRequest.status == HelpStatus.OPEN,
            HelpRequest.ends_at > now(),
            HelpRequest.requester_id != viewer.id,
            HelpRequest.requester_id.not_in(blocked_with(viewer.id)),
        ]
        if query.district:
            condition.append(HelpRequest.district == query.district)
        if query.task_type is not None:
            condition.append(HelpRequest.task_type == query.task_type)
        if query.day is not None:
            # the JST day as UTC instants: SQLite keeps stored times as naive UTC text (compared by wall clock)
            first = query.day.astimezone(UTC)
            condition += [HelpRequest.starts_at >= first, HelpRequest.starts_at < first + timedelta(days=1)]
        with self.sessions() as db:
            total = int(db.scalar(select(func.count()).select_from(HelpRequest).where(*condition)) or 0)
            rows = db.scalars(
                select(HelpRequest)
                .where(*condition)
                .order_by(HelpRequest.starts_at, HelpRequest.id)
                .limit(query.size)
                .offset((query.page - 1) * query.size)
            ).all()
        return list(rows), total

    def cases(self, status: HelpStatus, limit: int = 100) -> list[dict[str, Any]]:
        """Requests in ``status`` for the city's moderation, newest first: public part, parties, trail."""
        helper = aliased(User)
        with self.sessions() as db:
            rows = db.execute(
                select(HelpRequest, User.short_code, helper.short_code)
                .join(User, User.id == HelpRequest.requester_id)
                .outerjoin(helper, helper.id == HelpRequest.helper_id)
                .where(HelpRequest.status == status)
                .order_by(HelpRequest.created_at.desc())
                .limit(limit)
            ).all()
            ids = [r.id for r, _, _ in rows]
            actions = db.execute(
                select(HelpAction, User.short_code, User.role)
                .join(User, User.id == HelpAction.actor_id)
                .where(HelpAction.request_id.in_(ids))
                .order_by(HelpAction.id)
            ).all()
        trail: dict[str, list[dict[str, str]]] = {}
        for action, code, role in actions:
            trail.setdefault(str(action.request_id), []).append(
                {
                    "by": code,
                    "role": role.value,
                    "action": action.action,
                    "note": action.note,
                    "at": aware(action.at).isoformat(),  # type: ignore[union-attr]
                }
            )
        return [
            {
                "request": public_view(r),
                "requester": requester,
                "helper": helper_code,
                "trail": trail.get(r.id, []),
                "rating": r.rating,
            }  # fmt: skip
            for r, requester, helper_code in rows
        ]

    def mine(self, user: User, db: DbSession) -> list[HelpRequest]:
        """The requests ``user`` posted or was chosen for, newest first."""
        rows = db.scalars(
            select(HelpRequest)
            .where((HelpRequest.requester_id == user.id) | (HelpRequest.helper_id == user.id))
            .order_by(HelpRequest.created_at.desc())
            .limit(200)
        ).all()
        return list(rows)

    def mine_views(self, user: User, posted_only: bool = False) -> list[dict[str, Any]]:
        """:meth:`mine` as ``user`` sees each request (settled ones only), read in one session."""
        with self.sessions() as db:
            return [
                self._view(db, user, r, False, None)
                for r in self.mine(user, db)
                if r.status not in (HelpStatus.POSTING, HelpStatus.FAILED)
                and (not posted_only or r.requester_id == user.id)
            ]

    def view(
        self, viewer: User, request_id: str, real_names: bool = False, reader: User | None = None
    ) -> dict[str, Any]:
        """A request as ``viewer`` may see it: everything for the two matched parties, the public part otherwise.

        ``real_names``: once matched, the other party's real name (from their sealed record; each
        read is on the personal-record trail, so it is asked for on a request's own page only);
        ``reader``: who reads when not ``viewer`` (a coordinator looking on a resident's behalf).
        """
        with self.sessions() as db:
            request = self._settled(db, request_id)
            return self._view(db, viewer, request, real_names, reader)

    def _view(
        self, db: DbSession, viewer: User, request: HelpRequest, real_names: bool, reader: User | None
    ) -> dict[str, Any]:
        role = _role_of(viewer, request)
        if role is None and request.status != HelpStatus.OPEN:
            raise ApiError("NOT_FOUND")  # a stranger sees only open requests
        view = public_view(request)
        view["role"] = role or "neighbour"
        if role is not None:
            view.update(details=request.details, place=request.place, thank_message=request.thank_message)
            other_id = request.helper_id if role == "requester" else request.requester_id
            other = db.get(User, other_id) if other_id is not None else None
            if other is not None and request.status in (HelpStatus.MATCHED, HelpStatus.COMPLETED):
                name = other.display_name or ""
                if real_names and self.real_name is not None:
                    name = self.real_name(other, reader or viewer) or name
                view["counterpart"] = {"name": name, "member": other.short_code}
        if role == "requester":
            offers = db.execute(
                select(HelpOffer, User)
                .join(User, User.id == HelpOffer.helper_id)
                .where(HelpOffer.request_id == request.id, HelpOffer.helper_id.not_in(blocked_with(viewer.id)))
                .order_by(HelpOffer.created_at)
            ).all()
            view["offers"] = [
                {"helper": helper.public_id, "member": helper.short_code, "message": offer.message}
                for offer, helper in offers
            ]
        return view

    # -- offers and the requester's choices -------------------------------------------
    def offer(self, helper: User, request_id: str, message: str) -> None:
        """``helper`` offers to help with an open request (off-chain)."""
        _resident(helper)
        with self.sessions.begin() as db:
            request = self._settled(db, request_id)
            if request.requester_id == helper.id:
                raise ApiError("HELP_CANNOT_HELP_YOURSELF")
            if request.status != HelpStatus.OPEN or aware(request.ends_at) <= now():  # type: ignore[operator]
                raise ApiError("HELP_NOT_OPEN")
            check_offer(db, helper, request.requester_id, self.offers_per_day)
            db.add(HelpOffer(request_id=request.id, helper_id=helper.id, message=message, created_at=now()))
            try:
                db.flush()
            except IntegrityError:
                raise ApiError("HELP_ALREADY_OFFERED") from None
            notices.help_offered(db, request, helper)

    def choose(
        self, requester: User, request_id: str, helper_public_id: str, key: str, actor: User | None = None
    ) -> Operation:
        """The requester (or ``actor``, their coordinator) chooses one of the helpers who offered; the chain
        records them as the only payee."""
        with self.sessions() as db:
            request = self._own(db, requester, request_id)
            helper = db.scalar(select(User).where(User.public_id == helper_public_id))
            offered = helper is not None and db.scalar(
                select(HelpOffer.id).where(HelpOffer.request_id == request.id, HelpOffer.helper_id == helper.id)
            )
            if helper is None or not offered:
                raise ApiError("HELP_NOT_OFFERED")
            if is_blocked(db, requester.id, helper.id):
                raise ApiError("HELP_BLOCKED")
        if request.status != HelpStatus.OPEN:
            raise ApiError("HELP_NOT_OPEN")
        target, calldata = self.ledger.calldata("HelpBoard", "choose", request.chain_id, helper.address)
        extra = {"helper": helper.id}
        return self._submit(requester, key, OperationKind.HELP_CHOOSE, request, target, calldata, extra, actor)

    def complete(
        self,
        requester: User,
        request_id: str,
        key: str,
        actor: User | None = None,
        message: str = "",
        rating: int | None = None,
    ) -> Operation:
        """The requester (or ``actor``, their coordinator) confirms the task done: the escrow pays the chosen helper.

        ``message`` (to the helper) and ``rating`` (1-5, for the city only) are kept when it confirms.
        """
        extra: dict[str, Any] = {"message": message, "rating": rating} if message or rating is not None else {}
        return self._requester_call(requester, request_id, key, OperationKind.HELP_COMPLETE, "complete", actor, extra)

    def withdraw(self, requester: User, request_id: str, key: str, actor: User | None = None) -> Operation:
        """The requester (or ``actor``, their coordinator) takes back an unmatched request: the escrow returns."""
        return self._requester_call(requester, request_id, key, OperationKind.HELP_WITHDRAW, "withdraw", actor)

    def cancel(self, requester: User, request_id: str, key: str, actor: User | None = None) -> Operation:
        """The requester (or their coordinator) cancels a matched request before it starts: the escrow returns."""
        return self._requester_call(requester, request_id, key, OperationKind.HELP_CANCEL, "cancel", actor)

    def step_back(self, helper: User, request_id: str, key: str) -> Operation:
        """The chosen helper steps back: the request reopens (or, once its window is over, the escrow returns)."""
        with self.sessions() as db:
            request = self._settled(db, request_id)
        if request.helper_id != helper.id:
            raise ApiError("HELP_NOT_THE_HELPER")
        target, calldata = self.ledger.calldata("HelpBoard", "stepBack", request.chain_id)
        return self._submit(helper, key, OperationKind.HELP_STEP_BACK, request, target, calldata, {}, None)

    def dispute(self, party: User, request_id: str, reason: str, key: str, actor: User | None = None) -> Operation:
        """The requester or the chosen helper asks the city to decide (the reason here, its salted hash on-chain)."""
        with self.sessions() as db:
            request = self._settled(db, request_id)
        if _role_of(party, request) is None:
            raise ApiError("HELP_NOT_A_PARTY")
        reason_hash = salted_text(request, reason)
        target, calldata = self.ledger.calldata("HelpBoard", "dispute", request.chain_id, reason_hash)
        return self._submit(party, key, OperationKind.HELP_DISPUTE, request, target, calldata, {}, actor or party,
                            note=reason)  # fmt: skip

    def expire(self, requester: User, request_id: str, key: str, actor: User | None = None) -> Operation:
        """Returns the escrow of the requester's request whose window ended with nobody chosen."""
        return self._requester_call(requester, request_id, key, OperationKind.HELP_EXPIRE, "expire", actor)

    def expire_due(self, grace_seconds: float, limit: int = 20) -> int:
        """Gives back the thanks of open requests whose window ended ``grace_seconds`` ago; how many were sent.

        Each is the requester's own ``expire`` under the key ``auto-expire-<request>``, so two
        API processes sweeping at once send it once; the grace keeps the node's block time
        (which decides) past the window. A refusal is logged and left on its operation.
        """
        cutoff = now() - timedelta(seconds=grace_seconds)
        with self.sessions() as db:
            rows = db.execute(
                select(HelpRequest, User)
                .join(User, User.id == HelpRequest.requester_id)
                .where(HelpRequest.status == HelpStatus.OPEN, HelpRequest.ends_at < cutoff)
                .order_by(HelpRequest.ends_at)
                .limit(limit)
            ).all()
        sent = 0
        for request, requester in rows:
            try:
                op = self.expire(requester, request.id, f"auto-expire-{request.id}")
            except ApiError as exc:
                log.info("help request %s not expired: %s", request.id, exc.code)
                continue
            sent += op.status != OperationStatus.FAILED
        return sent

    def start_sweeper(self, interval: float, grace_seconds: float) -> threading.Event:
        """Runs :meth:`expire_due` every ``interval`` seconds in a thread; set the returned event to stop it."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.expire_due(grace_seconds)
                except Exception:  # noqa: BLE001 - the sweeper must outlive one bad pass (node down, …)
                    log.exception("help expiry sweep failed")

        threading.Thread(target=loop, name="help-sweeper", daemon=True).start()
        return stop

    # -- the city's moderation (sent with the service key, which must hold HELP_MODERATOR_ROLE) --
    def resolve(self, officer: User, request_id: str, to_helper: int, decision: str, key: str) -> Operation:
        """Decides a dispute: ``to_helper`` points to the helper, the rest back to the requester."""
        with self.sessions() as db:
            request = self._settled(db, request_id)
        if not 0 <= to_helper <= request.thanks:
            raise ApiError("VALIDATION_ERROR", {"to_helper": f"0..{request.thanks}"})
        decision_hash = salted_text(request, decision)
        target, calldata = self.ledger.calldata("HelpBoard", "resolve", request.chain_id, to_helper, decision_hash)
        return self._as_city(officer, key, OperationKind.HELP_RESOLVE, request, target, calldata,
                             f"{to_helper} pt to the helper: {decision}")  # fmt: skip

    def remove(self, officer: User, request_id: str, reason: str, key: str) -> Operation:
        """Takes an open or matched request down; its escrow returns to the requester."""
        with self.sessions() as db:
            request = self._settled(db, request_id)
        reason_hash = salted_text(request, reason)
        target, calldata = self.ledger.calldata("HelpBoard", "remove", request.chain_id, reason_hash)
        return self._as_city(officer, key, OperationKind.HELP_REMOVE, request, target, calldata, reason)

    def suspend(self, officer: User, member: User, suspended: bool, reason: str, key: str) -> Operation:
        """Suspends a resident from help matching (or readmits them): they can neither post nor be chosen."""
        if member.role != Role.RESIDENT or member.address is None:
            raise ApiError("NOT_A_RESIDENT")
        target, calldata = self.ledger.calldata("HelpBoard", "setSuspended", member.address, suspended)
        action = "suspend" if suspended else "readmit"

        def record(db: DbSession, op: Operation) -> None:
            db.add(HelpAction(actor_id=officer.id, resident_id=member.id, action=action, note=reason[:200], at=now()))

        return self.outbox.submit(
            officer,
            key,
            {"member": member.public_id, "suspended": suspended, "reason": reason},
            kind=OperationKind.HELP_SUSPEND,
            sender=self._city(),
            target=target,
            calldata=calldata,
            summary={"member": member.public_id, "suspended": suspended},
            before_commit=record,
        )

    def _requester_call(
        self,
        requester: User,
        request_id: str,
        key: str,
        kind: OperationKind,
        function: str,
        actor: User | None,
        extra: dict[str, Any] | None = None,
    ) -> Operation:
        """``HelpBoard.<function>(chain id)`` sent by the requester of ``request_id`` (HELP_NOT_YOURS otherwise)."""
        with self.sessions() as db:
            request = self._own(db, requester, request_id)
        target, calldata = self.ledger.calldata("HelpBoard", function, request.chain_id)
        return self._submit(requester, key, kind, request, target, calldata, extra or {}, actor)

    def _city(self) -> str:
        if self.service_address is None:
            raise ApiError("NODE_UNAVAILABLE", status=503)
        return self.service_address()

    def _as_city(
        self,
        officer: User,
        key: str,
        kind: OperationKind,
        request: HelpRequest,
        target: str,
        calldata: bytes,
        note: str,
    ) -> Operation:
        return self.outbox.submit(
            officer,
            key,
            {"help_request": request.id, "kind": kind.value, "note": note},
            kind=kind,
            sender=self._city(),
            target=target,
            calldata=calldata,
            summary={"help_request": request.id},
            before_commit=_trail(officer, request, kind, note),
        )

    def _submit(
        self,
        user: User,
        key: str,
        kind: OperationKind,
        request: HelpRequest,
        target: str,
        calldata: bytes,
        extra: dict[str, Any],
        actor: User | None,
        note: str = "",
    ) -> Operation:
        """Sends ``user``'s call about ``request``; ``actor`` (a coordinator, a disputing party) goes on the trail."""
        return self.outbox.submit(
            user,
            key,
            {"help_request": request.id, "kind": kind.value, "note": note, **extra},
            kind=kind,
            sender=user.address or "",
            target=target,
            calldata=calldata,
            summary={"help_request": request.id, **extra},
            before_commit=_trail(actor, request, kind, note) if actor is not None else None,
        )

    def _settled(self, db: DbSession, request_id: str) -> HelpRequest:
        request = db.get(HelpRequest, request_id) if _is_uuid(request_id) else None
        if request is None or request.status in (HelpStatus.POSTING, HelpStatus.FAILED):
            raise ApiError("NOT_FOUND")
        return request

    def _own(self, db: DbSession, requester: User, request_id: str) -> HelpRequest:
        request = self._settled(db, request_id)
        if request.requester_id != requester.id:
            raise ApiError("HELP_NOT_YOURS")
        return request

    # -- settling (hooks run by the pipeline in the transaction that records a receipt) --
    def inspect_post(self, op: Operation, receipt: dict[str, Any]) -> dict[str, Any]:
        """The board's request id, read from the posting receipt's ``RequestPosted`` log."""
        log = self._board_log(receipt, POSTED_TOPIC)
        return {"chain_id": int(str(log["topics"][1]), 16)} if log is not None else {}

    def inspect_step_back(self, op: Operation, receipt: dict[str, Any]) -> dict[str, Any]:
        """Whether the request reopened (``HelperSteppedBack.reopened``) or, its window over, returned its escrow."""
        log = self._board_log(receipt, STEPPED_BACK_TOPIC)
        return {"reopened": int(str(log["data"]), 16) == 1} if log is not None else {}

    def _board_log(self, receipt: dict[str, Any], topic: str) -> dict[str, Any] | None:
        board = self.ledger.contract("HelpBoard").address.lower()
        for log in receipt.get("logs") or []:
            topics = log.get("topics") or []
            if str(log.get("address", "")).lower() == board and topics and str(topics[0]).lower() == topic:
                return dict(log)
        return None


def on_post(db: DbSession, op: Operation) -> None:
    request = db.get(HelpRequest, str(op.summary["help_request"]))
    if request is None or request.status != HelpStatus.POSTING:
        return
    chain_id = op.summary.get("chain_id")
    if op.status == OperationStatus.CONFIRMED and chain_id is not None:
        request.chain_id, request.status = int(chain_id), HelpStatus.OPEN  # type: ignore[call-overload]
    else:
        request.status = HelpStatus.FAILED


def on_choose(db: DbSession, op: Operation) -> None:
    request = db.get(HelpRequest, str(op.summary["help_request"]))
    if request is not None and op.status == OperationStatus.CONFIRMED:
        request.status, request.helper_id = HelpStatus.MATCHED, int(op.summary["helper"])  # type: ignore[call-overload]


def _settles_to(status: HelpStatus) -> Callable[[DbSession, Operation], None]:
    """The hook of an operation that, once confirmed, leaves its request in ``status``."""

    def hook(db: DbSession, op: Operation) -> None:
        request = db.get(HelpRequest, str(op.summary["help_request"]))
        if request is not None and op.status == OperationStatus.CONFIRMED:
            request.status = status

    return hook


def completion_hook(bonus_programme: int = 0) -> Callable[[DbSession, Operation], None]:
    """The hook of a confirmed completion: the request is completed, the thanks message and rating kept,
    and, when the city funds a helper bonus (``bonus_programme``), a claim on it filed for the helper,
    once per request, for an officer to approve like any other claim."""

    def on_complete(db: DbSession, op: Operation) -> None:
        request = db.get(HelpRequest, str(op.summary["help_request"]))
        if request is None or op.status != OperationStatus.CONFIRMED or request.status == HelpStatus.COMPLETED:
            return
        request.status = HelpStatus.COMPLETED
        request.thank_message = str(op.summary.get("message") or "") or None
        rating = op.summary.get("rating")
        request.rating = int(str(rating)) if rating is not None else None
        if bonus_programme and request.helper_id is not None:
            db.add(Claim(public_id=str(uuid.uuid4()), user_id=request.helper_id, programme_id=bonus_programme, units=1,
                         evidence=f"困りごと #{request.chain_id} のお手伝い完了 (help request {request.id})",
                         status=ClaimStatus.PENDING, created_at=now()))  # fmt: skip

    return on_complete


on_complete = completion_hook()


on_withdraw = _settles_to(HelpStatus.WITHDRAWN)
on_cancel = _settles_to(HelpStatus.CANCELLED)
on_dispute = _settles_to(HelpStatus.DISPUTED)
on_expire = _settles_to(HelpStatus.EXPIRED)
on_resolve = _settles_to(HelpStatus.RESOLVED)
on_remove = _settles_to(HelpStatus.REMOVED)


def on_step_back(db: DbSession, op: Operation) -> None:
    request = db.get(HelpRequest, str(op.summary["help_request"]))
    if request is not None and op.status == OperationStatus.CONFIRMED:
        reopened = bool(op.summary.get("reopened"))
        request.status = HelpStatus.OPEN if reopened else HelpStatus.EXPIRED
        request.helper_id = None


def _trail(actor: User, request: HelpRequest, kind: OperationKind, note: str) -> Callable[[DbSession, Operation], None]:
    """The outbox hook that puts ``actor``'s ``kind`` of action on ``request`` on the trail, with the operation."""

    def record(db: DbSession, op: Operation) -> None:
        db.add(HelpAction(actor_id=actor.id, resident_id=request.requester_id, request_id=request.id,
                          action=kind.value.removeprefix("help-"), note=note[:200], at=now()))  # fmt: skip

    return record


def _record(db: DbSession, actor: User | None, resident: User, request_id: str | None, action: str, note: str) -> None:
    """Adds to the trail an action taken by ``actor`` for ``resident`` (nothing when they act for themselves)."""
    if actor is not None and actor.id != resident.id:
        db.add(HelpAction(actor_id=actor.id, resident_id=resident.id, request_id=request_id, action=action,
                          note=note, at=now()))  # fmt: skip


def public_view(request: HelpRequest) -> dict[str, Any]:
    """What any resident may see of a request: no name, no details, no exact place."""
    return {
        "id": request.id,
        "task_type": request.task_type,
        "district": request.district,
        "starts_at": aware(request.starts_at).isoformat(),  # type: ignore[union-attr]
        "ends_at": aware(request.ends_at).isoformat(),  # type: ignore[union-attr]
        "thanks": request.thanks,
        "status": request.status.value,
    }


def _role_of(viewer: User, request: HelpRequest) -> str | None:
    if viewer.id == request.requester_id:
        return "requester"
    if request.helper_id is not None and viewer.id == request.helper_id:
        return "helper"
    return None


def _resident(user: User) -> None:
    if user.role != Role.RESIDENT:
        raise ApiError("NOT_A_RESIDENT")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
