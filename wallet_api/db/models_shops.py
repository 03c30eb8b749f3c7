"""The shops feature's tables (issue 21, migration 0013): shop profiles and applications, settlements.

A shop is a merchant account's public face: its registered name (the one residents see
before paying and that every export carries), category, district, opening hours, whether
it takes cards, and the most one static-QR payment may be. The bank account it is paid
into is sealed like a personal record and opened only for the city's settlement export.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from wallet_api.db.models import Base, stored_enum


class ShopStatus(StrEnum):
    """The application's state: ``pending`` until the city decides; a listed shop re-applying keeps its name."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Shop(Base):
    """One merchant's shop profile and application (the merchant's own row, keyed by the user)."""

    __tablename__ = "shops"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # the registered name (None until the city first approves one); the directory and exports show it
    name: Mapped[str | None] = mapped_column(String(80), index=True)
    requested_name: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(40))
    district: Mapped[str] = mapped_column(String(40))
    hours: Mapped[str] = mapped_column(String(120))
    takes_cards: Mapped[bool] = mapped_column(Boolean)
    static_limit: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[ShopStatus] = mapped_column(stored_enum(ShopStatus, "ck_shops_status"), index=True)
    sealed_bank: Mapped[bytes] = mapped_column(LargeBinary)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(String(200))


class ShopSettlement(Base):
    """A shop's request to be paid out in yen, accepted with its outbox operation; the city marks it paid."""

    __tablename__ = "shop_settlements"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    operation_id: Mapped[str] = mapped_column(ForeignKey("operations.id"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(66))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    transfer_date: Mapped[str | None] = mapped_column(String(10))
    transfer_reference: Mapped[str | None] = mapped_column(String(40))
    marked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
