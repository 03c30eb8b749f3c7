"""The data platform's feeds from the wallet (issue 22): pseudonymous attributes, research opt-out and
the Well-being survey.

Residents (their own bearer token): ``GET /v1/research/me`` shows exactly what is shared,
``PUT /v1/research/me`` opts out of (or back into) research, ``POST /v1/research/survey`` answers
the year's survey. The data platform (``X-Research-Token``, derived from the shared secret):
``GET /v1/research/attributes``, ``GET /v1/research/survey`` and ``GET /v1/research/card-payments``
(aggregates only, no cell under 10 residents).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, Field

from wallet_api.db.models import Card
from wallet_api.deps import Resident, ServicesDep
from wallet_api.errors import ApiError
from wallet_api.research import SURVEY_ITEMS, Research, jst_today
from wallet_api.research_feed import (
    MIN_PEOPLE,
    card_payments,
    district_name,
    feed_token,
    pseudonym_key,
    research_secret,
)
from wallet_api.services import Services

router = APIRouter(prefix="/v1", tags=["research"])


class SharedOut(BaseModel):
    district: str = Field(description="the district code shared (町丁目 group), '-' when the address matches none")
    district_name: dict[str, str] = Field(description="its name in Japanese (ja) and English (en)")
    age_band: str = Field(description="the 10-year age band shared, e.g. 70-79")
    card: bool = Field(description="whether a printed card is in use (shared as yes/no)")
    opted_out: bool = Field(description="true: nothing about this resident goes to research")
    survey_year: int
    survey_answered: bool = Field(description="this JST year's survey is answered (once a year)")
    survey_items: list[str]


class PreferenceIn(BaseModel):
    opted_out: bool


class SurveyIn(BaseModel):
    answers: dict[str, Annotated[int, Field(ge=0, le=10)]] = Field(
        description="0 (not at all) to 10 (completely), per item: " + ", ".join(SURVEY_ITEMS)
    )


class SurveyOut(BaseModel):
    year: int


def _research(svc: Services) -> Research:
    return Research(svc.sessions, svc.keyring)


def _now() -> datetime:
    return datetime.now(UTC)


def _shared(svc: Services, user: Any) -> SharedOut:
    research = _research(svc)
    now = _now()
    with svc.sessions.begin() as db:  # may write the derived attributes: the writers' path (one SQLite writer)
        attributes = research.attributes(db, user, now)
        card = db.get(Card, user.id) is not None
        out = SharedOut(
            district=attributes.district,
            district_name={lang: district_name(attributes.district, lang) for lang in ("ja", "en")},
            age_band=attributes.age_band,
            card=card,
            opted_out=research.opted_out(db, user.id),
            survey_year=jst_today(now).year,
            survey_answered=research.answered(db, user.id, jst_today(now).year),
            survey_items=list(SURVEY_ITEMS),
        )
    return out


@router.get("/research/me", response_model=SharedOut)
def shared(user: Resident, svc: ServicesDep) -> SharedOut:
    """What this resident shares with the city's data platform (and whether they opted out)."""
    return _shared(svc, user)


@router.put("/research/me", response_model=SharedOut)
def set_preference(body: PreferenceIn, user: Resident, svc: ServicesDep) -> SharedOut:
    """Opts out of research (nothing about the resident is fed from then on) or back in."""
    with svc.sessions.begin() as db:
        _research(svc).set_opted_out(db, user.id, body.opted_out, _now())
    return _shared(svc, user)


@router.post("/research/survey", response_model=SurveyOut, status_code=201)
def answer_survey(body: SurveyIn, user: Resident, svc: ServicesDep) -> SurveyOut:
    """Answers this JST year's Well-being survey (at most once a year; stored apart from the resident)."""
    with svc.sessions.begin() as db:
        year = _research(svc).answer_survey(db, user, body.answers, _now())
    return SurveyOut(year=year)


def _platform_key(token: str | None) -> bytes:
    secret = research_secret()
    if secret is None:
        raise ApiError("RESEARCH_FEED_NOT_CONFIGURED")
    if not token or not hmac.compare_digest(token.encode(), feed_token(secret).encode()):
        raise ApiError("RESEARCH_FEED_REFUSED")
    return pseudonym_key(secret)


@router.get("/research/attributes")
def attributes_feed(
    svc: ServicesDep,
    x_research_token: Annotated[str | None, Header(max_length=200)] = None,
    after: Annotated[str, Query(max_length=12, pattern=r"^\d*$")] = "",
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> dict[str, Any]:
    """Residents' district and age band under pseudonyms, a page at a time (for the data platform only)."""
    key = _platform_key(x_research_token)
    with svc.sessions.begin() as db:  # derives missing attributes as it goes: a write
        rows, last = _research(svc).feed(db, key, int(after or 0), limit, _now())
    return {"accounts": rows, "next": str(last) if len(rows) == limit else None}


@router.get("/research/card-payments")
def card_payments_feed(
    svc: ServicesDep,
    x_research_token: Annotated[str | None, Header(max_length=200)] = None,
    since: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="the first JST month, YYYY-MM")] = (
        "2000-01"
    ),
) -> dict[str, Any]:
    """Payments made with a printed card and PIN by JST month and district (payments, residents, points; the month's
    total under district "all"); no cell under 10 residents, complementary suppression; for the data platform only."""
    _platform_key(x_research_token)
    start = datetime(int(since[:4]), int(since[5:]), 1, tzinfo=UTC) - timedelta(hours=9)
    research, moment = _research(svc), _now()
    with svc.sessions.begin() as db:  # derives missing attributes as it goes: a write
        cells = card_payments(db, start, lambda user: research.attributes(db, user, moment).district)
    return {"min_people": MIN_PEOPLE, "cells": cells}


@router.get("/research/survey")
def survey_feed(
    svc: ServicesDep, x_research_token: Annotated[str | None, Header(max_length=200)] = None
) -> dict[str, Any]:
    """Every survey response (random ids, district and age band, answers); for the data platform only."""
    _platform_key(x_research_token)
    with svc.sessions() as db:
        return {"responses": _research(svc).responses(db)}
