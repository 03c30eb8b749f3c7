"""Points that stay local (issue 21): shop-to-shop (B2B) payments, business rewards and business programmes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["business"])
