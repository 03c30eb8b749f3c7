"""What a visitor types into the explorer's URLs, checked, and the two refusals pages raise.

:class:`BadInput` becomes a friendly 400 page (a JSON ``{"error": …}`` for a ``.csv``
URL) and :class:`NotFound` a 404 page (``indexer.web.errors``), never a 500.
"""

from __future__ import annotations

import re
from datetime import datetime

from eth_utils import is_hex_address, to_checksum_address

from indexer import queries
from indexer.web.texts import ERRORS

HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


class Refusal(Exception):
    """A refusal named by its key in ``texts.ERRORS`` with its values, worded in the visitor's language."""

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values
        super().__init__(self.text("en"))

    @property
    def message(self) -> str:
        """The English wording (logs, the API)."""
        return self.text("en")

    def text(self, lang: str) -> str:
        words = ERRORS[self.key]
        names_ja = {"from": "開始日", "to": "終了日"}
        values = {**self.values, "name_ja": names_ja.get(str(self.values.get("name", "")), "")}
        return words["ja" if lang == "ja" else "en"].format(**values)


class BadInput(Refusal):
    """Answered 400 (a page, or JSON for a ``.csv`` URL)."""


class NotFound(Refusal):
    """Answered 404."""


def page_number(value: str | None) -> int:
    if value is None or value == "":
        return 1
    if not value.isdigit() or not 1 <= int(value) <= queries.MAX_PAGE:
        raise BadInput("page", max=queries.MAX_PAGE)
    return int(value)


def _day(value: str, name: str) -> datetime:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise BadInput("date_format", name=name)
    try:
        return datetime.fromisoformat(value).replace(tzinfo=queries.JST)
    except ValueError:
        raise BadInput("date_real", name=name, value=value) from None


def date_range(start: str | None, end: str | None) -> queries.TimeRange:
    """``from``/``to`` as JST dates (YYYY-MM-DD, ``to`` inclusive); None when neither is given."""
    if not start and not end:
        return None
    low = _day(start, "from") if start else datetime(2000, 1, 1, tzinfo=queries.JST)
    high = _day(end, "to") if end else datetime(2999, 12, 31, tzinfo=queries.JST)
    if high < low:
        raise BadInput("date_order")
    return int(low.timestamp()), int(high.timestamp()) + 86400


def address_param(value: str) -> str:
    if not is_hex_address(value):
        raise BadInput("address")
    return to_checksum_address(value)
