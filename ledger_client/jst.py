"""The contracts' calendar in Python: JST month and day indexes, month ends, fiscal years.

Mirrors ``contracts/src/libraries/JstCalendar.sol`` so clients can show when points
expire and choose expiry months: a month index is ``year * 12 + month - 1`` in
Japan Standard Time (UTC+9, no daylight saving); points in the bucket of month M
may be spent up to and including :func:`month_end` (M).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")


def month_index(timestamp: int) -> int:
    moment = datetime.fromtimestamp(timestamp, JST)
    return moment.year * 12 + moment.month - 1


def day_index(timestamp: int) -> int:
    return (timestamp + 9 * 3600) // 86400


def month_start(index: int) -> int:
    return int(datetime(index // 12, index % 12 + 1, 1, tzinfo=JST).timestamp())


def month_end(index: int) -> int:
    """The last second (unix time) at which points of bucket ``index`` are spendable."""
    return month_start(index + 1) - 1


def fiscal_year_end_month(index: int) -> int:
    """The March that ends the fiscal year (April–March) containing month ``index``."""
    year, month = divmod(index, 12)
    return (year + 1 if month + 1 >= 4 else year) * 12 + 2


def describe_month(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
