"""My CO2 (脱炭素行動の見える化, issue 21): a household's months against its baseline, and enrolling one's meter
with consent."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["co2"])
