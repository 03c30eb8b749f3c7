"""Shops for residents (issue 21): the directory, a shop's page and its static QR; merchant
applications and settlement states."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["shops"])
