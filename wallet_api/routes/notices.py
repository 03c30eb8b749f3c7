"""A member's notice centre (issue 20): the notices, marking them read, and whether to get them by e-mail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from wallet_api.deps import Member, ServicesDep
from wallet_api.errors import ApiError

router = APIRouter(prefix="/v1/notices", tags=["notices"])
MAX_ID = 2**31 - 1  # the notices' id column is a 32-bit integer on PostgreSQL
EMAIL = r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$"  # enough to catch a typo; the mail server has the last word


class NoticeText(BaseModel):
    title: str
    body: str
    message: str | None = Field(None, description="A neighbour's own words (a thanks message), shown as written")


class NoticeOut(BaseModel):
    id: int
    kind: str = Field(description="points_received, thanks_received, payment_made, payment_received, claim_approved, …")
    params: dict[str, Any]
    texts: dict[str, NoticeText] = Field(description="the notice in Japanese (ja) and English (en)")
    created_at: datetime
    read: bool


class NoticesOut(BaseModel):
    items: list[NoticeOut]
    unread: int = Field(description="how many of the member's notices are unread (all pages)")
    next_before: int | None = Field(description="pass as `before` for the next (older) page; null on the last")


class ReadIn(BaseModel):
    up_to: int = Field(ge=1, le=MAX_ID, description="marks every notice with this id or lower read")


class ReadOut(BaseModel):
    marked: int
    unread: int


class PreferencesIn(BaseModel):
    email_enabled: bool = Field(description="send notices by e-mail when an address is on file")
    email: str | None = Field(
        None, max_length=254, pattern=EMAIL, description="a new address (stored sealed; never shown back)"
    )
    forget_email: bool = Field(False, description="delete the stored address")


class PreferencesOut(BaseModel):
    email_enabled: bool
    email_on_file: bool
    email_available: bool = Field(description="this city's wallet sends e-mail at all (an SMTP server is configured)")


@router.get("", response_model=NoticesOut)
def notices(
    user: Member,
    svc: ServicesDep,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only notices older than this id")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> NoticesOut:
    """The member's own notices, newest first, with the unread count."""
    page = svc.notices.page(user, before, limit)
    return NoticesOut(
        items=[NoticeOut.model_validate(item) for item in page.items], unread=page.unread, next_before=page.next_before
    )


@router.post("/read", response_model=ReadOut)
def mark_read(body: ReadIn, user: Member, svc: ServicesDep) -> ReadOut:
    """Marks the member's notices up to ``up_to`` read (a notice of someone else's is never touched)."""
    marked = svc.notices.mark_read(user, body.up_to)
    return ReadOut(marked=marked, unread=svc.notices.page(user, None, 1).unread)


@router.get("/preferences", response_model=PreferencesOut)
def preferences(user: Member, svc: ServicesDep) -> PreferencesOut:
    enabled, on_file = svc.notices.preference(user)
    return PreferencesOut(email_enabled=enabled, email_on_file=on_file, email_available=svc.mailer.enabled)


@router.put("/preferences", response_model=PreferencesOut)
def set_preferences(body: PreferencesIn, user: Member, svc: ServicesDep) -> PreferencesOut:
    """Turns notice e-mail on or off, and gives or deletes the address (e-mail on needs an address on file)."""
    if body.email is not None and body.forget_email:
        raise ApiError("VALIDATION_ERROR", {"fields": {"forget_email": "give a new address or forget it, not both"}})
    _enabled, on_file = svc.notices.preference(user)
    if body.email_enabled and body.email is None and (body.forget_email or not on_file):
        raise ApiError("VALIDATION_ERROR", {"fields": {"email": "an address is needed to turn e-mail on"}})
    svc.notices.set_preference(user, body.email_enabled, body.email, body.forget_email)
    return preferences(user, svc)
