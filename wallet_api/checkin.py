"""Check-in at events by QR: a signed code that changes every minute, scanned once per resident and event.

An officer or an organiser (a coordinator) creates an event on a programme the wallet can
attest, with its points and its time; at the venue their screen shows the event's QR:

    takasago-event:<event id>.<expiry, unix seconds>.<HMAC-SHA256 tag, 16 bytes, base64url>

The tag is keyed with a key derived from the wallet's token secret (never stored in the
database), so only the wallet can make a code; any change to the id or the expiry breaks
it. A code is good for :data:`QR_SECONDS` and the screen fetches a new one every
:data:`QR_ROTATE_SECONDS`, so a photo of it forwarded to someone at home has expired by the
time it is used. A resident's scan checks the tag, the expiry and the event's time, then
records the attendance and sends the programme's attestation in one transaction
(``event_checkins`` is unique per event and resident). The attestation's claim id is
derived from the event and the resident (:func:`checkin_claim_id`), so even the chain pays
an attendance once: the same exactly-once claim ids as every city programme.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from eth_utils import keccak
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api import programmes_errors  # noqa: F401 - registers this feature's error codes
from wallet_api.auth import now
from wallet_api.db.models import Claim, Operation, User
from wallet_api.db.models_programmes import EventCheckin, ProgrammeEvent
from wallet_api.errors import ApiError
from wallet_api.ledger import Ledger
from wallet_api.outbox import Outbox
from wallet_api.programmes import Programmes
from wallet_api.statuses import ClaimStatus, OperationKind

QR_PREFIX = "takasago-event:"
QR_SECONDS = 90  # how long one shown code is accepted
QR_ROTATE_SECONDS = 60  # how often the organiser's screen shows a new one
MAX_EVENT_LENGTH = timedelta(days=7)
CHECKIN_CLAIM_BASE = 1 << 56  # above the wallet's claims (1 << 48 + row id) and the CLI's batch ids
_CODE = re.compile(r"takasago-event:([0-9a-f-]{36})\.(\d{1,12})\.([A-Za-z0-9_-]{22})")


def checkin_claim_id(event_id: int, user_id: int) -> int:
    """The claim id an attendance is attested under: one per (event, resident), so paid at most once on-chain."""
    return CHECKIN_CLAIM_BASE + (event_id << 32) + user_id


class EventCodes:
    """Signs and checks event QR codes with an HMAC key derived from the wallet's token secret."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"takasago event QR v1", hashlib.sha256).digest()

    def _tag(self, event_id: str, expires: int) -> str:
        digest = hmac.new(self._key, f"{event_id}.{expires}".encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, event_id: str, expires: int) -> str:
        return f"{QR_PREFIX}{event_id}.{expires}.{self._tag(event_id, expires)}"

    def verify(self, code: str, moment: float) -> str:
        """The event id of a genuine, unexpired code; EVENT_QR_INVALID or EVENT_QR_EXPIRED otherwise."""
        match = _CODE.fullmatch(code.strip())
        if match is None:
            raise ApiError("EVENT_QR_INVALID")
        event_id, expires_text, tag = match.groups()
        expires = int(expires_text)
        if not hmac.compare_digest(tag, self._tag(event_id, expires)):
            raise ApiError("EVENT_QR_INVALID")
        if expires < moment:
            raise ApiError("EVENT_QR_EXPIRED", {"expired_at": expires})
        return event_id


class CheckIns:
    def __init__(
        self,
        sessions: sessionmaker[DbSession],
        ledger: Ledger,
        outbox: Outbox,
        programmes: Programmes,
        service_address: Callable[[], str],
        token_secret: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.outbox = outbox
        self.programmes = programmes
        self.service_address = service_address
        self.codes = EventCodes(token_secret)
        self.clock = clock

    # -- the organiser ----------------------------------------------------------------------
    def create_event(
        self, organiser: User, programme_id: int, title: str, points: int, starts_at: datetime, ends_at: datetime
    ) -> ProgrammeEvent:
        """A new event on an open programme the wallet can attest; ``points`` per attendance, exactly."""
        programme = self.programmes.on_chain(programme_id)
        if programme.closed:
            raise ApiError("PROGRAMME_NOT_ACTIVE", {"programme_id": programme_id})
        if not self.programmes.claimable(programme):
            raise ApiError("PROGRAMME_NOT_CLAIMABLE", {"programme_id": programme_id})
        moment = now()
        try:  # an offset at the edge of the calendar (year 1 or 9999) cannot be turned into UTC
            starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ApiError("EVENT_WINDOW_INVALID", {"max_days": MAX_EVENT_LENGTH.days}) from None
        if ends_at <= starts_at or ends_at <= moment or ends_at - starts_at > MAX_EVENT_LENGTH:
            raise ApiError("EVENT_WINDOW_INVALID", {"max_days": MAX_EVENT_LENGTH.days})
        units = points * programme.reward_units // programme.reward_points
        if units == 0 or programme.points_for(units) != points:
            raise ApiError("EVENT_POINTS_UNREACHABLE", {"reward_points": programme.reward_points,
                                                        "reward_units": programme.reward_units})  # fmt: skip
        event = ProgrammeEvent(public_id=str(uuid.uuid4()), programme_id=programme_id, title=title, points=points,
                               units=units, starts_at=starts_at, ends_at=ends_at, created_by=organiser.id,
                               created_at=moment)  # fmt: skip
        with self.sessions.begin() as db:
            db.add(event)
        return event

    def events(self, limit: int = 50, organiser: int | None = None) -> list[tuple[ProgrammeEvent, int]]:
        """Recent events, newest first, each with its number of check-ins; only ``organiser``'s if given."""
        with self.sessions() as db:
            counts = select(EventCheckin.event_id, func.count().label("n")).group_by(EventCheckin.event_id).subquery()
            query = select(ProgrammeEvent, func.coalesce(counts.c.n, 0)).outerjoin(
                counts, counts.c.event_id == ProgrammeEvent.id
            )
            if organiser is not None:
                query = query.where(ProgrammeEvent.created_by == organiser)
            rows = db.execute(query.order_by(ProgrammeEvent.id.desc()).limit(limit)).all()
        return [(event, int(n)) for event, n in rows]

    def event(self, public_id: str, organiser: int | None = None) -> ProgrammeEvent:
        """One event; ``UNKNOWN_EVENT`` if there is none, or it is not ``organiser``'s when one is given."""
        with self.sessions() as db:
            event = db.scalar(select(ProgrammeEvent).where(ProgrammeEvent.public_id == public_id))
        if event is None or (organiser is not None and event.created_by != organiser):
            raise ApiError("UNKNOWN_EVENT")
        return event

    def attendance(self, event: ProgrammeEvent) -> int:
        """How many residents have checked in at ``event`` so far."""
        with self.sessions() as db:
            return int(db.scalar(select(func.count()).where(EventCheckin.event_id == event.id)) or 0)

    def code(self, public_id: str, organiser: int | None = None) -> tuple[ProgrammeEvent, str, int]:
        """The event's QR text now and when it expires; EVENT_NOT_OPEN once the event is over."""
        event = self.event(public_id, organiser)
        if _aware(event.ends_at) < now():
            raise ApiError("EVENT_NOT_OPEN", {"ends_at": _aware(event.ends_at).isoformat()})
        expires = int(self.clock()) + QR_SECONDS
        return event, self.codes.issue(event.public_id, expires), expires

    # -- the resident -----------------------------------------------------------------------
    def check_in(self, user: User, code: str, key: str) -> tuple[ProgrammeEvent, Operation]:
        """Records ``user``'s attendance and sends its attestation; refusals move nothing.

        EVENT_QR_INVALID (altered or not ours), EVENT_QR_EXPIRED, EVENT_NOT_OPEN (outside the
        event's time), CHECKIN_ALREADY (a second scan, whatever its idempotency key); a retry
        under the same key returns the first check-in's operation.
        """
        event = self.event(self.codes.verify(code, self.clock()))
        retry = self.outbox.find(user, key)
        if retry is not None and retry.kind == OperationKind.ATTEST and retry.summary.get("event") == event.public_id:
            return event, self.outbox.confirm(retry.id) or retry
        moment = now()
        if not _aware(event.starts_at) <= moment <= _aware(event.ends_at):
            raise ApiError("EVENT_NOT_OPEN", {"starts_at": _aware(event.starts_at).isoformat(),
                                              "ends_at": _aware(event.ends_at).isoformat()})  # fmt: skip
        with self.sessions() as db:
            done = db.scalar(select(EventCheckin.id).where(EventCheckin.event_id == event.id,
                                                           EventCheckin.user_id == user.id))  # fmt: skip
        if done is not None:
            raise ApiError("CHECKIN_ALREADY")
        assert user.address is not None  # an active resident has one (the Resident dependency)
        target, calldata = self.ledger.calldata(
            "RewardProgrammes",
            "attest",
            event.programme_id,
            user.address,
            event.units,
            keccak(text=f"event:{event.public_id}"),
            checkin_claim_id(event.id, user.id),
        )

        def record(db: DbSession, op: Operation) -> None:
            claim = Claim(public_id=str(uuid.uuid4()), user_id=user.id, programme_id=event.programme_id,
                          units=event.units, evidence=f"イベント参加 / event check-in: {event.title}"[:500],
                          status=ClaimStatus.APPROVING, operation_id=op.id, decided_by=event.created_by,
                          created_at=now())  # fmt: skip
            db.add(claim)
            db.flush()
            db.add(EventCheckin(event_id=event.id, user_id=user.id, claim_id=claim.id, checked_in_at=now()))
            # the settling hook finds the claim by the operation's summary (read back from the database)
            summary = {**op.summary, "claim": claim.id}
            db.execute(update(Operation).where(Operation.id == op.id).values(summary=summary))

        try:
            op = self.outbox.submit(
                user,
                key,
                {"checkin": event.public_id},
                kind=OperationKind.ATTEST,
                sender=self.service_address(),
                target=target,
                calldata=calldata,
                summary={"event": event.public_id, "points": event.points},
                before_commit=record,
            )
        except IntegrityError:  # the same resident's second scan, at the same moment: the unique pair held
            raise ApiError("CHECKIN_ALREADY") from None
        return event, op

    def upcoming(self, user: User, limit: int = 50) -> list[tuple[ProgrammeEvent, bool]]:
        """Events not yet over, soonest first, each with whether ``user`` already checked in."""
        with self.sessions() as db:
            mine = select(EventCheckin.event_id).where(EventCheckin.user_id == user.id).subquery()
            rows = db.execute(
                select(ProgrammeEvent, mine.c.event_id)
                .outerjoin(mine, mine.c.event_id == ProgrammeEvent.id)
                .where(ProgrammeEvent.ends_at >= now())
                .order_by(ProgrammeEvent.starts_at, ProgrammeEvent.id)
                .limit(limit)
            ).all()
        return [(event, attended is not None) for event, attended in rows]

    def attendance_of(self, user: User, limit: int = 50) -> list[tuple[ProgrammeEvent, EventCheckin, Claim]]:
        """A resident's check-ins, newest first, with the claim each is paid by."""
        with self.sessions() as db:
            rows = db.execute(
                select(ProgrammeEvent, EventCheckin, Claim)
                .join(EventCheckin, EventCheckin.event_id == ProgrammeEvent.id)
                .join(Claim, Claim.id == EventCheckin.claim_id)
                .where(EventCheckin.user_id == user.id)
                .order_by(EventCheckin.id.desc())
                .limit(limit)
            ).all()
        return [(e, c, cl) for e, c, cl in rows]


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=now().tzinfo)
