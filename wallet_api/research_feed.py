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
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

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


MIN_PEOPLE = 10  # a published cell of the aggregates below counts at least this many residents
ALL = "all"


def _suppress_line(cells: dict[str, int], k: int = MIN_PEOPLE) -> set[str]:
    """One line (a month's districts and its total ``ALL``): under ``k`` hidden; never exactly one hidden."""
    hidden = {key for key, n in cells.items() if 0 < n < k}
    while len(hidden) == 1:
        others = [key for key, n in cells.items() if key not in hidden and n > 0]
        if not others:
            break
        hidden.add(min(others, key=lambda key: (cells[key], key == ALL, key)))
    return hidden


def card_payments(db: Any, since: datetime, district_of_user: Any) -> list[dict[str, Any]]:
    """Payments made with a printed card and PIN (charges the till made with a card, paid), by JST month and the
    payer's shared district: payments, residents (distinct payers) and points, with the month's total (``ALL``).

    ``district_of_user(user)`` gives a payer's shared district (the research attributes, derived when missing).
    Residents who opted out of research are left out, as from the attributes feed. No cell under
    :data:`MIN_PEOPLE` residents is published (its figures are ``None``), with complementary suppression
    along each month so no district is recovered from the total.
    """
    from sqlalchemy import select

    from wallet_api.db.models import Operation, PaymentRequest, User
    from wallet_api.db.models_research import ResearchPreference
    from wallet_api.statuses import OperationKind, PaymentRequestStatus

    charges = db.execute(
        select(Operation.summary).where(Operation.kind == OperationKind.CHARGE, Operation.created_at >= since)
    ).all()
    wanted = [str(s["payment_request"]) for (s,) in charges if isinstance(s, dict) and s.get("channel") == "card"]
    opted = select(ResearchPreference.user_id).where(ResearchPreference.opted_out == 1)
    paid: list[tuple[datetime, int, Any]] = []
    for start in range(0, len(wanted), 500):
        paid += db.execute(
            select(PaymentRequest.paid_at, PaymentRequest.amount, User)
            .join(Operation, Operation.id == PaymentRequest.operation_id)
            .join(User, User.address == Operation.sender)
            .where(PaymentRequest.id.in_(wanted[start : start + 500]), PaymentRequest.paid_at.is_not(None))
            .where(PaymentRequest.status == PaymentRequestStatus.PAID, User.id.not_in(opted))
        ).all()  # fmt: skip
    months: dict[str, dict[str, list[Any]]] = {}
    districts: dict[int, str] = {}
    for paid_at, amount, user in paid:
        payer = user.id
        if payer not in districts:
            districts[payer] = district_of_user(user)
        district = districts[payer]
        moment = paid_at if paid_at.tzinfo is not None else paid_at.replace(tzinfo=UTC)
        month = (moment + timedelta(hours=9)).strftime("%Y-%m")
        for key in (district or UNKNOWN, ALL):
            cell = months.setdefault(month, {}).setdefault(key, [0, set(), 0])
            cell[0] += 1
            cell[1].add(payer)
            cell[2] += int(amount)
    out = []
    for month in sorted(months):
        line = months[month]
        hidden = _suppress_line({key: len(cell[1]) for key, cell in line.items()})
        for key in sorted(line, key=lambda k: (k == ALL, k)):
            count, payers, points = line[key]
            shown = key not in hidden
            out.append({"month": month, "district": key, "payments": count if shown else None,
                        "people": len(payers) if shown else None, "points": points if shown else None})  # fmt: skip
    return out
