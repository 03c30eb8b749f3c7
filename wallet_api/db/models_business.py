"""The business feature's tables (issue 21, migration 0014): points that stay local.

``business_accounts``: businesses (法人) the city registered from the officer desk — the
registered name shown to a shop before it pays them, and the on-chain address (the
business keeps its own key; the wallet's service key only enrols it). ``business_transfers``:
what a shop sent through the wallet — a B2B payment to a shop or business, a reward to a
resident (directly or for a claim of its own programme) — each with its outbox operation,
whose status is the transfer's. ``business_programmes``: a shop's own small programmes,
with the chain's programme id once the creating transaction confirmed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wallet_api.db.models import Base


class BusinessAccount(Base):
    """A business registered by the city (kind Business on-chain); no personal data, only its public name."""

    __tablename__ = "business_accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # what a shop types to pay it (B + 7)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    name: Mapped[str] = mapped_column(String(80), index=True)
    category: Mapped[str] = mapped_column(String(40))
    registered_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    operation_id: Mapped[str] = mapped_column(ForeignKey("operations.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BusinessTransfer(Base):
    """One movement a shop started: ``kind`` b2b (to a shop or business) or reward (to a resident)."""

    __tablename__ = "business_transfers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    payer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(42), index=True)
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    to_name: Mapped[str] = mapped_column(String(80))
    amount: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(32))  # the invoice reference or the reward's category
    programme_id: Mapped[str | None] = mapped_column(ForeignKey("business_programmes.id"))
    claim_id: Mapped[int | None] = mapped_column(BigInteger)
    operation_id: Mapped[str] = mapped_column(ForeignKey("operations.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class BusinessProgramme(Base):
    """A shop's own programme: a fixed reward per claim, paid from its points, within a budget."""

    __tablename__ = "business_programmes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    points_per_claim: Mapped[int] = mapped_column(BigInteger)
    budget: Mapped[int] = mapped_column(BigInteger)
    chain_id: Mapped[int | None] = mapped_column(BigInteger)
    next_claim: Mapped[int] = mapped_column(Integer, default=1)
    operation_id: Mapped[str] = mapped_column(ForeignKey("operations.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BusinessMember(Base):
    """A business with a custodial wallet account (role ``business``, migration 0016): its application and decision.

    The registered name and category are public business data; the representative and the
    address are sealed on the user like a personal record.
    """

    __tablename__ = "business_members"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(40))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(String(200))
