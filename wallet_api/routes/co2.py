"""My CO2 (脱炭素行動の見える化, issue 21): a household's months against its baseline, and enrolling one's meter
with consent.

- ``/v1/co2/consent`` — the consent text the app shows before a resident links a household.
- ``/v1/me/co2/household`` — the resident's own link: read, create (with consent), withdraw.
- ``/v1/me/co2/months`` — the resident's own household's settled months, from the oracle.
- ``/v1/officer/co2/households`` — the city's desk: links waiting for a decision, approve, refuse.
- ``/v1/co2/oracle/households`` — the approved list the oracle settles (service token only).

The domain is ``wallet_api.co2``; the resident never names a household except when linking it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from wallet_api.auth import aware
from wallet_api.co2 import CONSENT, Co2, Co2Settings
from wallet_api.db.models_co2 import Co2Household, HouseholdStatus
from wallet_api.deps import Officer, Resident, ServicesDep

router = APIRouter(prefix="/v1", tags=["co2"])
log = logging.getLogger("wallet_api.co2")
LinkId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]


def co2_part(request: Request, svc: ServicesDep) -> Co2:
    """The feature's domain part, built once per app from the services and its own settings."""
    part: Co2 | None = getattr(request.app.state, "co2", None)
    if part is None:
        part = Co2(svc.sessions, svc.ledger, Co2Settings())
        request.app.state.co2 = part
    return part


Co2Dep = Annotated[Co2, Depends(co2_part)]


class EnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    household: Annotated[
        StrictStr, Field(min_length=1, max_length=80, description="The household or meter id on the city's letter")
    ]
    consent: StrictBool = Field(description="The resident agreed to the consent text shown")
    consent_version: Annotated[
        StrictStr, Field(min_length=1, max_length=16, description="The version of the text shown")
    ]


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meter_ids: Annotated[
        list[Annotated[StrictStr, Field(min_length=1, max_length=80)]] | None,
        Field(max_length=8, description="The household's meters as its gateway reports them (default: the id typed)"),
    ] = None


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200, description="Why (shown to the resident)")]


class ConsentOut(BaseModel):
    version: str
    ja: str
    en: str


class HouseholdOut(BaseModel):
    """A link between a resident and a household, as its resident (or an officer) sees it."""

    id: str
    household_id: str
    meter_ids: list[str]
    status: HouseholdStatus
    consent_version: str
    consented_at: datetime
    decided_at: datetime | None
    decision_reason: str | None
    revoked_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, link: Co2Household) -> HouseholdOut:
        return cls(
            id=link.id, household_id=link.household_id, meter_ids=list(link.meter_ids), status=link.status,
            consent_version=link.consent_version, consented_at=aware(link.consented_at),  # type: ignore[arg-type]
            decided_at=aware(link.decided_at), decision_reason=link.decision_reason,
            revoked_at=aware(link.revoked_at), created_at=aware(link.created_at),  # type: ignore[arg-type]
        )  # fmt: skip


class MyHouseholdOut(BaseModel):
    household: HouseholdOut | None
    consent: ConsentOut


class MonthOut(BaseModel):
    period: int
    month: str = Field(description="YYYY-MM (JST)")
    programme_id: int
    consumption_wh: int | None
    baseline_wh: int | None
    baseline_source: str
    reduction_wh: int
    co2_g: int
    points: int | None = Field(description="points this month paid (null: not known yet)")
    reason: str | None = Field(description="why the month was excluded (oracle reason code), null if counted")
    reason_text: dict[str, str] | None = Field(description="the reason in plain words, ja and en")
    what_to_do: dict[str, str] | None = Field(description="what the household can do, ja and en")
    city: dict[str, int] | None = Field(description="the city's totals of the same month")


class MonthsOut(BaseModel):
    household: HouseholdOut | None
    months: list[MonthOut]


class OfficerHouseholdOut(HouseholdOut):
    member_code: str
    display_name: str | None


class ApprovedOut(BaseModel):
    households: list[dict[str, Any]]


def _consent() -> ConsentOut:
    return ConsentOut(**CONSENT)


# -- the resident ---------------------------------------------------------------------------------
@router.get("/co2/consent", response_model=ConsentOut)
def consent() -> ConsentOut:
    """The consent text (and its version) the app shows before a resident links their household."""
    return _consent()


@router.get("/me/co2/household", response_model=MyHouseholdOut)
def my_household(user: Resident, co2: Co2Dep) -> MyHouseholdOut:
    """My household link (null if I never linked one) and the consent text in force."""
    link = co2.mine(user)
    return MyHouseholdOut(household=HouseholdOut.of(link) if link else None, consent=_consent())


@router.post("/me/co2/household", response_model=HouseholdOut, status_code=201)
def enrol(body: EnrolIn, user: Resident, co2: Co2Dep) -> HouseholdOut:
    """Links my household's meter, with my consent to the text of ``consent_version``; the city then decides."""
    link = co2.enrol(user, body.household, body.consent, body.consent_version)
    log.info("co2 household linked, waiting for the city (link %s)", link.id)
    return HouseholdOut.of(link)


@router.post("/me/co2/household/revoke", response_model=HouseholdOut)
def revoke(user: Resident, co2: Co2Dep) -> HouseholdOut:
    """Withdraws my consent: no further month is settled for my household (settled months stay mine to see)."""
    link = co2.revoke(user)
    log.info("co2 household consent withdrawn (link %s)", link.id)
    return HouseholdOut.of(link)


@router.get("/me/co2/months", response_model=MonthsOut)
def my_months(user: Resident, co2: Co2Dep) -> MonthsOut:
    """My household's settled months, newest first: use against the baseline, kWh and CO2 reduced, points,
    the city's totals, and for an excluded month the reason in plain words and what to do."""
    link, months = co2.months(user)
    return MonthsOut(household=HouseholdOut.of(link) if link else None, months=[MonthOut(**m) for m in months])


# -- the city's desk ------------------------------------------------------------------------------
@router.get("/officer/co2/households", response_model=list[OfficerHouseholdOut])
def officer_list(
    officer: Officer, co2: Co2Dep, status: Annotated[HouseholdStatus, Query()] = HouseholdStatus.PENDING
) -> list[OfficerHouseholdOut]:
    """Household links in ``status`` (default: waiting for a decision), oldest first."""
    return [
        OfficerHouseholdOut(
            **HouseholdOut.of(view.link).model_dump(), member_code=view.member_code, display_name=view.display_name
        )
        for view in co2.listed(status)
    ]


@router.post("/officer/co2/households/{link_id}/approve", response_model=HouseholdOut)
def officer_approve(link_id: LinkId, officer: Officer, co2: Co2Dep, body: ApproveIn | None = None) -> HouseholdOut:
    """Approves a link with the household's meters; from the next settlement on, the oracle counts it."""
    link = co2.approve(officer, link_id, body.meter_ids if body is not None else None)
    log.info("co2 household link %s approved by officer %s", link.id, officer.short_code)
    return HouseholdOut.of(link)


@router.post("/officer/co2/households/{link_id}/reject", response_model=HouseholdOut)
def officer_reject(link_id: LinkId, body: RejectIn, officer: Officer, co2: Co2Dep) -> HouseholdOut:
    """Refuses a link with a reason the resident sees."""
    link = co2.reject(officer, link_id, body.reason)
    log.info("co2 household link %s refused by officer %s", link.id, officer.short_code)
    return HouseholdOut.of(link)


# -- the oracle -----------------------------------------------------------------------------------
@router.get("/co2/oracle/households", response_model=ApprovedOut, include_in_schema=False)
def approved_households(
    co2: Co2Dep, x_oracle_service_token: Annotated[str | None, Header(max_length=200)] = None
) -> ApprovedOut:
    """The households the oracle settles (approved, consent standing): for the oracle's service token only."""
    co2.check_service_token(x_oracle_service_token)
    return ApprovedOut(households=co2.approved())
