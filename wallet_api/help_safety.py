"""Safety in help matching (issue 18): blocking a person, reporting one, and a daily limit on offers.

A block works both ways and silently: neither sees the other's open requests, an offer
from one to the other is refused, and a blocked person's earlier offers disappear from the
list the requester chooses from. A report goes to the city's officers (who may then suspend
the person from the service on-chain); the reported person is never told who reported.
The offer limit keeps one account from flooding every request in town.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import CompoundSelect, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import aliased, sessionmaker

from ledger_client.jst import JST
from wallet_api.auth import aware, now
from wallet_api.db.models import HelpBlock, HelpOffer, HelpReport, User
from wallet_api.errors import ApiError
from wallet_api.statuses import AccountStatus, Role


def blocked_with(user_id: int) -> CompoundSelect:
    """The ids of everyone ``user_id`` blocked or was blocked by (a subquery for ``NOT IN``)."""
    return (
        select(HelpBlock.blocked_id)
        .where(HelpBlock.blocker_id == user_id)
        .union(select(HelpBlock.blocker_id).where(HelpBlock.blocked_id == user_id))
    )


def is_blocked(db: DbSession, a: int, b: int) -> bool:
    """True when either of the two blocked the other."""
    return (
        db.scalar(
            select(HelpBlock.id).where(
                or_(
                    (HelpBlock.blocker_id == a) & (HelpBlock.blocked_id == b),
                    (HelpBlock.blocker_id == b) & (HelpBlock.blocked_id == a),
                )
            )
        )
        is not None
    )


def start_of_day_jst(moment: datetime) -> datetime:
    """The start of ``moment``'s JST day, in UTC (comparable with stored times on SQLite and PostgreSQL)."""
    day = moment.astimezone(JST).date()
    return datetime.combine(day, time(0), tzinfo=JST).astimezone(UTC)


def check_offer(db: DbSession, helper: User, requester_id: int, per_day: int) -> None:
    """Refuses an offer to someone either side blocked (HELP_BLOCKED) or past the day's limit (HELP_OFFER_LIMIT)."""
    if is_blocked(db, helper.id, requester_id):
        raise ApiError("HELP_BLOCKED")
    if per_day:
        # the JST day's start as a UTC instant: SQLite keeps stored times as naive UTC text, so an
        # aware JST midnight would be compared by its wall clock (nine hours late)
        midnight = start_of_day_jst(now())
        made = db.scalar(
            select(func.count())
            .select_from(HelpOffer)
            .where(HelpOffer.helper_id == helper.id, HelpOffer.created_at >= midnight)
        )
        if int(made or 0) >= per_day:
            raise ApiError("HELP_OFFER_LIMIT", {"per_day": per_day})


class Safety:
    """Blocks and reports, as residents make them and officers read them."""

    def __init__(self, sessions: sessionmaker[DbSession]) -> None:
        self.sessions = sessions

    def block(self, user: User, member: str) -> User:
        """``user`` blocks the resident with this member code (idempotent)."""
        other = self._resident(member)
        if other.id == user.id:
            raise ApiError("HELP_CANNOT_HELP_YOURSELF")
        try:
            with self.sessions.begin() as db:
                exists = db.scalar(
                    select(HelpBlock.id).where(HelpBlock.blocker_id == user.id, HelpBlock.blocked_id == other.id)
                )
                if exists is None:
                    db.add(HelpBlock(blocker_id=user.id, blocked_id=other.id, created_at=now()))
        except IntegrityError:
            pass  # the same block made twice at once
        return other

    def unblock(self, user: User, member: str) -> None:
        other = self._resident(member)
        with self.sessions.begin() as db:
            block = db.scalar(
                select(HelpBlock).where(HelpBlock.blocker_id == user.id, HelpBlock.blocked_id == other.id)
            )
            if block is None:
                raise ApiError("NOT_FOUND")
            db.delete(block)

    def blocked(self, user: User) -> list[User]:
        """The people ``user`` blocked (member codes only are shown)."""
        with self.sessions() as db:
            return list(
                db.scalars(
                    select(User).join(HelpBlock, HelpBlock.blocked_id == User.id).where(HelpBlock.blocker_id == user.id)
                ).all()
            )

    def report(self, user: User, member: str, request_id: str | None, reason: str) -> None:
        other = self._resident(member)
        if other.id == user.id:
            raise ApiError("VALIDATION_ERROR", {"member": "not yourself"})
        with self.sessions.begin() as db:
            db.add(HelpReport(reporter_id=user.id, reported_id=other.id, request_id=request_id, reason=reason,
                              created_at=now()))  # fmt: skip

    def reports(self, limit: int) -> list[dict[str, str | None]]:
        """Reports not yet handled, newest first, for officers: who was reported (member code), why, about what."""
        reporter = aliased(User)
        with self.sessions() as db:
            rows = db.execute(
                select(HelpReport, User.short_code, reporter.short_code)
                .join(User, User.id == HelpReport.reported_id)
                .join(reporter, reporter.id == HelpReport.reporter_id)
                .where(HelpReport.handled_at.is_(None))
                .order_by(HelpReport.id.desc())
                .limit(limit)
            ).all()
        return [
            {
                "id": str(r.id),
                "reported": reported,
                "reporter": by,
                "request": r.request_id,
                "reason": r.reason,
                "at": aware(r.created_at).isoformat(),  # type: ignore[union-attr]
            }
            for r, reported, by in rows
        ]

    def handle(self, officer: User, report_id: int) -> None:
        with self.sessions.begin() as db:
            report = db.get(HelpReport, report_id, with_for_update=True)
            if report is None or report.handled_at is not None:
                raise ApiError("NOT_FOUND")
            report.handled_at, report.handled_by = now(), officer.id

    def _resident(self, member: str) -> User:
        with self.sessions() as db:
            user = db.scalar(select(User).where(User.short_code == member.strip().upper()))
        if user is None or user.role != Role.RESIDENT or user.status == AccountStatus.REJECTED:
            raise ApiError("UNKNOWN_RECIPIENT")
        return user
