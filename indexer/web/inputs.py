"""What a visitor types into the explorer's URLs, checked, and the two refusals pages raise.

:class:`BadInput` becomes a friendly 400 page (a JSON ``{"error": …}`` for a ``.csv``
URL) and :class:`NotFound` a 404 page (``indexer.web.errors``), never a 500.
"""

from __future__ import annotations

import re
from datetime import datetime

from eth_utils import is_hex_address, to_checksum_address

from indexer import queries

HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


class BadInput(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def page_number(value: str | None) -> int:
    if value is None or value == "":
        return 1
    if not value.isdigit() or not 1 <= int(value) <= queries.MAX_PAGE:
        raise BadInput(f"page must be a whole number from 1 to {queries.MAX_PAGE}")
    return int(value)


def _day(value: str, name: str) -> datetime:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise BadInput(f"{name} must be a date, YYYY-MM-DD")
    try:
        return datetime.fromisoformat(value).replace(tzinfo=queries.JST)
    except ValueError:
        raise BadInput(f"{name} {value} is not a real date") from None


def date_range(start: str | None, end: str | None) -> queries.TimeRange:
    """``from``/``to`` as JST dates (YYYY-MM-DD, ``to`` inclusive); None when neither is given."""
    if not start and not end:
        return None
    low = _day(start, "from") if start else datetime(2000, 1, 1, tzinfo=queries.JST)
    high = _day(end, "to") if end else datetime(2999, 12, 31, tzinfo=queries.JST)
    if high < low:
        raise BadInput("the date range ends before it starts")
    return int(low.timestamp()), int(high.timestamp()) + 86400


def address_param(value: str) -> str:
    if not is_hex_address(value):
        raise BadInput("not an address (0x followed by 40 hex digits)")
    return to_checksum_address(value)
