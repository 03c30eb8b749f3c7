"""Request and response bodies of programmes, claims with evidence and event check-in (issue 21)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StrictBool, StrictInt, StrictStr

from wallet_api.schemas import Strict

ProgrammeId = Annotated[StrictInt, Field(gt=0, le=2**32)]


class CityProgrammeOut(BaseModel):
    id: int
    name: str
    category: str
    evidence: str
    description: dict[str, str]
    rules: dict[str, str] = Field(description="The terms in plain words, in Japanese and English")
    claimable: bool = Field(description="False: the points are granted by another service (no claim needed)")
    open: bool
    reward_points: int
    reward_units: int
    cap: int = Field(description="Points per person per cap period (0: no cap)")
    cap_period: str
    granted_this_period: int | None = Field(description="My points from this programme in the cap period")
    left_this_period: int | None
    starts_at: int
    ends_at: int
    budget_left: int


class ProgrammeRulesIn(Strict):
    category: Literal["eco", "volunteer", "watch", "help", "other"]
    evidence: Literal["note", "photo"]
    description_ja: Annotated[StrictStr, Field(max_length=300)] = ""
    description_en: Annotated[StrictStr, Field(max_length=300)] = ""


class PhotoOut(BaseModel):
    id: str
    media_type: str
    size: int


class ProgrammeClaimIn(Strict):
    programme_id: ProgrammeId
    units: Annotated[StrictInt, Field(gt=0, le=2**32)] = 1
    evidence: Annotated[StrictStr, Field(min_length=1, max_length=500)]
    photo_id: Annotated[StrictStr | None, Field(min_length=36, max_length=36)] = None


class ProgrammeClaimOut(BaseModel):
    id: str
    programme_id: int
    units: int
    evidence: str
    status: str
    stage: Literal["submitted", "approved", "paid", "rejected", "failed"] = Field(
        description="submitted → approved (points on their way) → paid; or rejected (with reason)"
    )
    reason: str | None
    has_photo: bool
    points: int | None = Field(description="Points that arrived (once paid)")
    event: str | None = Field(description="The event's title, for a check-in")
    created_at: str


class PhotoViewOut(BaseModel):
    officer: str
    at: str


class OfficerClaimOut(ProgrammeClaimOut):
    resident: str | None = Field(description="The claimant's member code")
    photo_views: list[PhotoViewOut]


class ClaimDecisionIn(Strict):
    approve: StrictBool
    reason: Annotated[StrictStr, Field(max_length=200)] = ""


class EventIn(Strict):
    programme_id: ProgrammeId
    title: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    points: Annotated[StrictInt, Field(gt=0, le=2**40)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class EventOut(BaseModel):
    id: str
    programme_id: int
    title: str
    points: int
    starts_at: datetime
    ends_at: datetime
    checkins: int = 0


class ResidentEventOut(EventOut):
    checked_in: bool = Field(description="I have already checked in (points are given once)")


class EventQrOut(BaseModel):
    event: EventOut
    code: str = Field(description="The QR's text: takasago-event:<id>.<expiry>.<tag>")
    expires_at: int
    rotate_seconds: int
    svg: str


class CheckinIn(Strict):
    code: Annotated[StrictStr, Field(min_length=1, max_length=200)]
