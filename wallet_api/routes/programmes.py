"""Programmes, claims with evidence and event QR check-in (issue 21) for residents, organisers and officers."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["programmes"])
