"""What the wallet shares with the city's data platform (issue 22), and how it names accounts there.

A resident's research attributes are derived from the sealed personal record and nothing else
leaves: the district (matched by name in the postal address against
``research_districts.json``; "-" when none matches) and the 10-year age band. Accounts are named
by ``pseudonym(key, address)``, a keyed hash; the key and the feed's token are derived from the
research secret the wallet shares with the data platform (``TAKASAGO_WALLET_RESEARCH_SECRET_FILE``,
made by ``takasago up``). The derivations are written in ``analytics/pseudonyms.py`` too (services
import no other service); ``tests/test_research_feed.py`` holds both to the same vector.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import date
from functools import lru_cache
from pathlib import Path

TOKEN_LABEL = b"takasago research feed token v1"
PSEUDONYM_LABEL = b"takasago research pseudonym key v1"
PSEUDONYM_HEX = 32
SECRET_ENV = "TAKASAGO_WALLET_RESEARCH_SECRET_FILE"
AGE_BANDS = ["0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90+"]
UNKNOWN = "-"


def feed_token(secret: bytes) -> str:
    return hmac.new(secret, TOKEN_LABEL, hashlib.sha256).hexdigest()


def pseudonym_key(secret: bytes) -> bytes:
    return hmac.new(secret, PSEUDONYM_LABEL, hashlib.sha256).digest()


def pseudonym(key: bytes, address: str) -> str:
    return hmac.new(key, address.lower().encode("ascii"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]


def research_secret() -> bytes | None:
    """The shared secret, or None when this wallet has no data platform to feed (the feed then answers 503)."""
    path = os.environ.get(SECRET_ENV)
    if not path:
        return None
    secret = Path(path).read_bytes().strip()
    return secret if len(secret) >= 16 else None


@lru_cache(maxsize=1)
def districts() -> list[dict[str, str]]:
    text = (Path(__file__).resolve().parent / "research_districts.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def district_of(postal_address: str) -> str:
    """The district code whose name appears in the address (the longest name first), or "-"."""
    for district in sorted(districts(), key=lambda d: -len(d["name_ja"])):
        if district["name_ja"] in postal_address:
            return district["code"]
    return UNKNOWN


def age_band_of(born: date, today: date) -> str:
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return AGE_BANDS[max(0, min(age // 10, len(AGE_BANDS) - 1))]


def district_name(code: str, language: str) -> str:
    for district in districts():
        if district["code"] == code:
            return district["name_ja"] if language == "ja" else district["name_en"]
    return "不明" if language == "ja" else "unknown"
