"""Coordinators in help matching (issue 18): acting for a resident who has no smartphone, with their consent.

A coordinator (社会福祉協議会, 民生委員; city officers may coordinate too) can post, choose,
confirm and withdraw help requests *for* a resident only while a link records that the
resident agreed: in person with their own card and PIN (the resident types the PIN; the
PIN check is the card's, counted and locked like a payment's), or in their own app. The
resident's points move with the resident's own custodial key, exactly as if they had
pressed the button; every action taken for them is recorded with who took it
(``help_actions``). A link can be ended by either side at any time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import aliased, sessionmaker

from wallet_api import pins
from wallet_api.auth import now
from wallet_api.db.models import HelpAction, HelpLink, User
from wallet_api.errors import ApiError
from wallet_api.settings import WalletSettings
from wallet_api.statuses import AccountStatus, ConsentMethod, Role

COORDINATOR_ROLES = (Role.COORDINATOR, Role.OFFICER)


@dataclass(frozen=True)
class LinkedResident:
    """A resident a coordinator may act for: pseudonymous member code, the name they chose to show, the consent."""

    user: User
    consent: ConsentMethod
    consented_at: datetime


class Coordination:
    """Links between coordinators and residents, and the check every coordinator action passes."""

    def __init__(self, sessions: sessionmaker[DbSession], settings: WalletSettings) -> None:
        self.sessions = sessions
        self.settings = settings

    def link_with_card(self, coordinator: User, member: str, card_token: str, pin: str) -> LinkedResident:
        """The resident, in person, consents with their own card and PIN; the card must be the member's."""
        _coordinator(coordinator)
        holder, _limit = pins.card_holder(
            self.sessions, self.settings, hashlib.sha256(card_token.strip().encode()).hexdigest(), pin
        )
        resident = self._member(member)
        if holder.id != resident.id:
            raise ApiError("HELP_CARD_NOT_THEIRS")
        return self._link(coordinator, resident, ConsentMethod.CARD_PIN, actor=coordinator)

    def link_in_app(self, resident: User, coordinator_code: str) -> tuple[User, LinkedResident]:
        """The resident, in their own app, lets the coordinator with this member code act for them."""
        if resident.role != Role.RESIDENT:
            raise ApiError("NOT_A_RESIDENT")
        with self.sessions() as db:
            coordinator = db.scalar(select(User).where(User.short_code == coordinator_code.strip().upper()))
        if coordinator is None or coordinator.role not in COORDINATOR_ROLES:
            raise ApiError("HELP_COORDINATOR_UNKNOWN")
        return coordinator, self._link(coordinator, resident, ConsentMethod.IN_APP, actor=resident)

    def unlink(self, by: User, coordinator_id: int, resident_id: int) -> None:
        """Ends a link (either side may); later actions for the resident are refused."""
        with self.sessions.begin() as db:
            link = db.scalar(
                select(HelpLink).where(
                    HelpLink.coordinator_id == coordinator_id,
                    HelpLink.resident_id == resident_id,
                    HelpLink.revoked_at.is_(None),
                )
            )
            if link is None:
                raise ApiError("HELP_NOT_LINKED")
            link.revoked_at, link.revoked_by = now(), by.id
            db.add(HelpAction(actor_id=by.id, resident_id=resident_id, action="unlink", note="", at=now()))

    def residents(self, coordinator: User) -> list[LinkedResident]:
        """The residents this coordinator may act for now, most recent consent first."""
        _coordinator(coordinator)
        with self.sessions() as db:
            rows = db.execute(
                select(HelpLink, User)
                .join(User, User.id == HelpLink.resident_id)
                .where(HelpLink.coordinator_id == coordinator.id, HelpLink.revoked_at.is_(None))
                .order_by(HelpLink.consented_at.desc())
            ).all()
        return [LinkedResident(user, link.consent, link.consented_at) for link, user in rows]

    def coordinators(self, resident: User) -> list[tuple[User, HelpLink]]:
        """Who may act for this resident now (shown to the resident in their app)."""
        with self.sessions() as db:
            rows = db.execute(
                select(User, HelpLink)
                .join(HelpLink, HelpLink.coordinator_id == User.id)
                .where(HelpLink.resident_id == resident.id, HelpLink.revoked_at.is_(None))
            ).all()
        return [(user, link) for user, link in rows]

    def record(self, actor: User, resident: User, action: str, note: str) -> None:
        """Adds an action taken for ``resident`` to the trail (for actions outside help requests)."""
        with self.sessions.begin() as db:
            db.add(HelpAction(actor_id=actor.id, resident_id=resident.id, action=action, note=note[:200], at=now()))

    def trail(self, limit: int) -> list[tuple[HelpAction, User, User | None]]:
        """The latest actions taken for someone else or as the city, newest first: (action, actor, resident)."""
        resident = aliased(User)
        with self.sessions() as db:
            rows = db.execute(
                select(HelpAction, User, resident)
                .join(User, User.id == HelpAction.actor_id)
                .outerjoin(resident, resident.id == HelpAction.resident_id)
                .order_by(HelpAction.id.desc())
                .limit(limit)
            ).all()
        return [(action, actor, person) for action, actor, person in rows]

    def acting_for(self, coordinator: User, resident_public_id: str) -> User:
        """The resident ``coordinator`` acts for, if a link with their consent is in force (HELP_NOT_LINKED else)."""
        _coordinator(coordinator)
        with self.sessions() as db:
            row = db.execute(
                select(User)
                .join(HelpLink, HelpLink.resident_id == User.id)
                .where(
                    User.public_id == resident_public_id,
                    HelpLink.coordinator_id == coordinator.id,
                    HelpLink.revoked_at.is_(None),
                )
            ).first()
        if row is None:
            raise ApiError("HELP_NOT_LINKED")
        resident: User = row[0]
        if resident.status != AccountStatus.ACTIVE:
            raise ApiError("ACCOUNT_NOT_ACTIVE")
        return resident

    def _member(self, member: str) -> User:
        with self.sessions() as db:
            user = db.scalar(select(User).where(User.short_code == member.strip().upper()))
        if user is None or user.role != Role.RESIDENT:
            raise ApiError("UNKNOWN_RECIPIENT")
        if user.status != AccountStatus.ACTIVE:
            raise ApiError("ACCOUNT_NOT_ACTIVE")
        return user

    def _link(self, coordinator: User, resident: User, consent: ConsentMethod, actor: User) -> LinkedResident:
        if coordinator.id == resident.id:
            raise ApiError("HELP_CANNOT_HELP_YOURSELF")
        try:
            return self._write_link(coordinator, resident, consent, actor)
        except IntegrityError:  # the same pair linked at the same moment by another request: update that row
            return self._write_link(coordinator, resident, consent, actor)

    def _write_link(self, coordinator: User, resident: User, consent: ConsentMethod, actor: User) -> LinkedResident:
        at = now()
        with self.sessions.begin() as db:
            link = db.scalar(
                select(HelpLink)
                .where(HelpLink.coordinator_id == coordinator.id, HelpLink.resident_id == resident.id)
                .with_for_update()
            )
            if link is None:
                link = HelpLink(
                    coordinator_id=coordinator.id, resident_id=resident.id, consent=consent, consented_at=at
                )
                db.add(link)
            else:  # consent given again after it was ended (or renewed)
                link.consent, link.consented_at, link.revoked_at, link.revoked_by = consent, at, None, None
            db.add(HelpAction(actor_id=actor.id, resident_id=resident.id, action="link", note=consent.value,
                              at=at))  # fmt: skip
        return LinkedResident(resident, consent, at)


def _coordinator(user: User) -> None:
    if user.role not in COORDINATOR_ROLES:
        raise ApiError("FORBIDDEN", {"allowed_roles": [r.value for r in COORDINATOR_ROLES]})
