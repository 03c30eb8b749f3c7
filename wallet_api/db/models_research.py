"""The research feature's tables (issue 22; migration 0015).

What a resident shares with the city's data platform is derived from the sealed personal
record and kept coarse: a district code and a 10-year age band, never the address or the birth
date. Survey answers are stored without the resident: ``survey_participation`` only says that a
resident answered in a year (the once-a-year rule), ``survey_responses`` holds the answers under
a random id with the district and age band of the moment, so the two cannot be joined.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wallet_api.db.models import Base


class ResearchAttributes(Base):
    """A resident's shared attributes, derived from their sealed record (re-derived when older than a month)."""

    __tablename__ = "research_attributes"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    district: Mapped[str] = mapped_column(String(16))
    age_band: Mapped[str] = mapped_column(String(8))
    derived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ResearchPreference(Base):
    """A resident who opted out of research exports (a row with ``opted_out`` 1); no row: sharing."""

    __tablename__ = "research_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    opted_out: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SurveyParticipation(Base):
    """That a resident answered the Well-being survey in a JST year: the primary key is the once-a-year rule."""

    __tablename__ = "survey_participation"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SurveyResponse(Base):
    """One year's answers, under a random id, with the district and age band when answered (no user)."""

    __tablename__ = "survey_responses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    district: Mapped[str] = mapped_column(String(16))
    age_band: Mapped[str] = mapped_column(String(8))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
