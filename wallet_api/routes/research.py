"""The data platform's feeds from the wallet (issue 22): pseudonymous attributes, research opt-out and
the Well-being survey."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["research"])
