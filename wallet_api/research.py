"""The research feature's domain (issue 22): residents' shared attributes, the opt-out, the survey.

Kept apart from the routes so the rules read in one place: attributes are derived from the
sealed record (opened in memory, never logged) and cached coarse; a resident who opted out is
left out of the feed entirely; the survey is answered at most once per JST calendar year, the
answers stored without the resident (``db/models_research.py``).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet_api.accounts import personal_context
from wallet_api.db.models import Card, User
from wallet_api.db.models_research import (
    ResearchAttributes,
    ResearchPreference,
    SurveyParticipation,
    SurveyResponse,
)
from wallet_api.errors import ApiError
from wallet_api.research_errors import RESEARCH_MESSAGES  # noqa: F401 - registers the feature's codes
from wallet_api.research_feed import age_band_of, district_of, pseudonym
from wallet_api.statuses import AccountStatus, Role

REDERIVE_AFTER = timedelta(days=30)  # age bands move with birthdays; addresses with moves
JST = timedelta(hours=9)
SURVEY_ITEMS = ("life_satisfaction", "happiness", "connectedness", "self_determination", "local_attachment")


def jst_today(now: datetime) -> date:
    return (now + JST).date()


@dataclass
class Research:
    """Given the sessions and the keyring (to open sealed records); built per request from the services."""

    sessions: Any
    keyring: Any

    def attributes(self, db: Session, user: User, now: datetime) -> ResearchAttributes:
        """The resident's shared attributes, derived again when missing or older than :data:`REDERIVE_AFTER`."""
        found = db.get(ResearchAttributes, user.id)
        if found is not None and _aware(found.derived_at) > now - REDERIVE_AFTER:
            return found
        district, band = "-", "-"
        if user.sealed_personal is not None:
            record = json.loads(self.keyring.open(user.sealed_personal, personal_context(user.public_id)))
            district = district_of(str(record.get("address", "")))
            try:
                band = age_band_of(date.fromisoformat(record["date_of_birth"]), jst_today(now))
            except (KeyError, ValueError):
                band = "-"
        if found is None:
            found = ResearchAttributes(user_id=user.id, district=district, age_band=band, derived_at=now)
            db.add(found)
        else:
            found.district, found.age_band, found.derived_at = district, band, now
        return found

    def opted_out(self, db: Session, user_id: int) -> bool:
        found = db.get(ResearchPreference, user_id)
        return bool(found and found.opted_out)

    def set_opted_out(self, db: Session, user_id: int, opted_out: bool, now: datetime) -> None:
        found = db.get(ResearchPreference, user_id)
        if found is None:
            db.add(ResearchPreference(user_id=user_id, opted_out=int(opted_out), changed_at=now))
        else:
            found.opted_out, found.changed_at = int(opted_out), now

    def answered(self, db: Session, user_id: int, year: int) -> bool:
        return db.get(SurveyParticipation, (user_id, year)) is not None

    def answer_survey(self, db: Session, user: User, answers: dict[str, int], now: datetime) -> int:
        """Stores one year's answers; refuses a second answer in the same JST year and opted-out residents."""
        if set(answers) - set(SURVEY_ITEMS) or not answers:
            raise ApiError("VALIDATION_ERROR", {"fields": {"answers": f"items are {', '.join(SURVEY_ITEMS)}"}})
        if self.opted_out(db, user.id):
            raise ApiError("RESEARCH_OPTED_OUT")
        year = jst_today(now).year
        if self.answered(db, user.id, year):
            raise ApiError("SURVEY_ALREADY_ANSWERED", {"year": year})
        attributes = self.attributes(db, user, now)
        db.add(SurveyParticipation(user_id=user.id, year=year, answered_at=now))
        db.add(SurveyResponse(id=secrets.token_hex(16), year=year, district=attributes.district,
                              age_band=attributes.age_band, answers=dict(answers)))  # fmt: skip
        try:
            db.flush()
        except IntegrityError:  # a second answer racing the first: the primary key decides
            db.rollback()
            raise ApiError("SURVEY_ALREADY_ANSWERED", {"year": year}) from None
        return year

    def feed(self, db: Session, key: bytes, after: int, limit: int, now: datetime) -> tuple[list[dict[str, Any]], int]:
        """A page of residents' attributes under pseudonyms (opted-out residents left out); (rows, last user id)."""
        opted = select(ResearchPreference.user_id).where(ResearchPreference.opted_out == 1)
        users = db.scalars(
            select(User)
            .where(User.role == Role.RESIDENT, User.status == AccountStatus.ACTIVE, User.address.is_not(None))
            .where(User.id > after, User.id.not_in(opted))
            .order_by(User.id)
            .limit(limit)
        ).all()
        cards = set(db.scalars(select(Card.user_id).where(Card.user_id.in_([u.id for u in users]))).all())
        rows = []
        for user in users:
            attributes = self.attributes(db, user, now)
            rows.append({"id": pseudonym(key, user.address or ""), "district": attributes.district,
                         "age_band": attributes.age_band, "card": user.id in cards})  # fmt: skip
        return rows, users[-1].id if users else 0

    def responses(self, db: Session) -> list[dict[str, Any]]:
        found = db.scalars(select(SurveyResponse).order_by(SurveyResponse.year, SurveyResponse.id)).all()
        return [{"response": r.id, "year": r.year, "district": r.district, "age_band": r.age_band,
                 "answers": r.answers} for r in found]  # fmt: skip


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
