"""My CO2's tables (issue 21): households residents enrolled with consent, and every step taken on them.

The link between a person and a household lives only here, in the wallet: the oracle is told
the household, its meters, the resident's custodial address and a salt (for the public salted
hash), never who the person is; nothing of it goes on-chain. Migration 0011.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wallet_api.db.models import Base, stored_enum


class HouseholdStatus(StrEnum):
    PENDING = "pending"  # the resident linked it and consented; the city has not decided
    APPROVED = "approved"  # the city approved it: the oracle settles its months
    REJECTED = "rejected"  # the city refused it (with a reason the resident sees)
    REVOKED = "revoked"  # the resident withdrew consent (or withdrew before a decision): no further month


ACTIVE_STATUSES = (HouseholdStatus.PENDING, HouseholdStatus.APPROVED)


class Co2Household(Base):
    """One resident's link to one household's meter, with the consent they gave and the city's decision.

    ``active_user`` and ``active_household`` are the user and the household id while the link is
    pending or approved and NULL after: unique columns, so a resident has one live link at a time and
    a household (a meter) belongs to one resident at a time, on SQLite and PostgreSQL alike.
    """

    __tablename__ = "co2_households"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    household_id: Mapped[str] = mapped_column(String(64), index=True)  # as the city's gateways know it
    meter_ids: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[HouseholdStatus] = mapped_column(stored_enum(HouseholdStatus, "ck_co2_households_status"))
    consent_version: Mapped[str] = mapped_column(String(16))
    consented_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    salt: Mapped[str] = mapped_column(String(64))  # of the household's public hash in the oracle's reports
    active_user: Mapped[int | None] = mapped_column(Integer, unique=True)
    active_household: Mapped[str | None] = mapped_column(String(64), unique=True)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Co2HouseholdAction(Base):
    """Every step on an enrolment, by whom and in which role: enrolled, approved, rejected, revoked."""

    __tablename__ = "co2_household_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_link: Mapped[str] = mapped_column(ForeignKey("co2_households.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(200))
