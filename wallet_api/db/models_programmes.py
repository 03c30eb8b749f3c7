"""Tables of programmes, claim evidence and event check-in (issue 21; migration 0012).

What the chain knows about a programme (reward, cap, window, budget, verifier) stays on
the chain; the wallet keeps only what a resident needs that the chain must not hold: the
programme's kind and rules in plain words, whether a photo is required, the photos
themselves (sealed like personal records), who looked at them, an officer's reason, and
the events whose QR residents scan.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wallet_api.db.models import Base, stored_enum


class ProgrammeCategory(StrEnum):
    """What kind of activity a programme rewards (how the app groups it)."""

    ECO = "eco"
    VOLUNTEER = "volunteer"
    WATCH = "watch"
    HELP = "help"
    OTHER = "other"


class EvidenceRule(StrEnum):
    """What a claim on the programme must carry: a note, or a note and a photo."""

    NOTE = "note"
    PHOTO = "photo"


class ProgrammeRules(Base):
    """The city's plain-words description of an on-chain programme, and its evidence rule."""

    __tablename__ = "programme_rules"

    programme_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    category: Mapped[ProgrammeCategory] = mapped_column(stored_enum(ProgrammeCategory, "ck_programme_rules_category"))
    evidence: Mapped[EvidenceRule] = mapped_column(stored_enum(EvidenceRule, "ck_programme_rules_evidence"))
    description_ja: Mapped[str] = mapped_column(String(300))
    description_en: Mapped[str] = mapped_column(String(300))
    updated_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClaimPhoto(Base):
    """A photo a resident uploaded as evidence, sealed under the KEK; attached to at most one claim."""

    __tablename__ = "claim_photos"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), unique=True)
    media_type: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ClaimPhotoView(Base):
    """One showing of a claim's photo to an officer (the trail of who saw it, when)."""

    __tablename__ = "claim_photo_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    viewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClaimDecision(Base):
    """When a claim was decided and why (a rejection always carries its reason, shown to the resident)."""

    __tablename__ = "claim_decisions"

    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True, autoincrement=False)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProgrammeEvent(Base):
    """An event (a river clean-up, a volunteer morning) whose QR residents scan to check in."""

    __tablename__ = "programme_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    programme_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(100))
    points: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(BigInteger)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EventCheckin(Base):
    """One resident's attendance at one event (once: the pair is unique), and the claim that pays it."""

    __tablename__ = "event_checkins"
    __table_args__ = (UniqueConstraint("event_id", "user_id", name="uq_event_checkins_event_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("programme_events.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), unique=True)
    checked_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
