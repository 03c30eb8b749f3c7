"""The city's districts (町), for coverage statistics: a detector's coarse place → its district.

A district is the nearest of the city's district centres (a Voronoi cut). That is coarse on
purpose: coverage says which districts are watched at school times, not which street. The
centres are in ``districts.json`` (Takasago's eight 町 by default, approximate); another city
replaces the file, or points ``TAKASAGO_WATCH_DISTRICTS_FILE`` at its own.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_FILE = Path(__file__).resolve().parent / "districts.json"


@dataclass(frozen=True)
class District:
    code: str  # stable, ASCII
    name_ja: str
    name_en: str
    lat: float
    lon: float


@lru_cache(maxsize=4)
def load(path: Path = DEFAULT_FILE) -> tuple[District, ...]:
    """The districts of ``path`` (a JSON list of {code, name_ja, name_en, lat, lon})."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    return tuple(District(r["code"], r["name_ja"], r["name_en"], float(r["lat"]), float(r["lon"])) for r in rows)


def district_of(lat: float, lon: float, districts: tuple[District, ...]) -> str:
    """The code of the district whose centre is nearest (equirectangular: the city is a few km wide)."""
    scale = math.cos(math.radians(lat))
    return min(districts, key=lambda d: (d.lat - lat) ** 2 + ((d.lon - lon) * scale) ** 2).code
