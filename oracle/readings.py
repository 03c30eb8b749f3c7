"""Half-hourly meter readings from CSV or JSON-lines files, checked row by row.

A file is UTF-8 (with or without BOM) or Shift_JIS (cp932), as Japanese tools write it
(detected by :func:`ledger_client.text_files.decode_text`, as the CLI's mint CSV is).
Every bad row is reported with its file and line and skipped; the rest of the file is
used. A half-written file (its last line cut off) loses only that line.

CSV header (English or Japanese)::

    meter_id,timestamp,count,coefficient,unit,digits
    計器ID,日時,積算値,係数,単位,有効桁数

JSON lines: one object per line with the English keys. ``timestamp`` is ISO 8601 with
its offset (``2026-04-01T00:30:00+09:00``) and must fall on a fixed half hour;
``count`` is the raw 0xEA value, ``coefficient`` 0xD3, ``unit`` 0xE1 (``0x01`` or
``1``), ``digits`` 0xD7.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger_client.text_files import TextDecodeError, decode_text
from oracle.echonet import MAX_COUNT, MeterSpecError, check_spec, counter_modulus

FIELDS = ("meter_id", "timestamp", "count", "coefficient", "unit", "digits")
JAPANESE = {
    "計器ID": "meter_id",
    "日時": "timestamp",
    "積算値": "count",
    "係数": "coefficient",
    "単位": "unit",
    "有効桁数": "digits",
}
HALF_HOUR = 1800
FUTURE_TOLERANCE = 300


@dataclass(frozen=True)
class Reading:
    meter_id: str
    time: int  # unix seconds, on a half hour
    count: int
    coefficient: int
    unit: int
    digits: int
    source: str  # file:line


@dataclass(frozen=True)
class RowError:
    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text[:20]!r}") from None


def _timestamp(value: Any) -> int:
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"timestamp {text[:40]!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text[:40]!r} has no UTC offset (write +09:00 for JST)")
    seconds = int(moment.timestamp())
    if seconds % HALF_HOUR or moment.microsecond:
        raise ValueError(f"timestamp {text[:40]!r} is not on a fixed half hour")
    return seconds


def reading_from(row: dict[str, Any], source: str, now: float) -> Reading:
    missing = [f for f in FIELDS if row.get(f) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    meter_id = str(row["meter_id"]).strip()
    if not 1 <= len(meter_id) <= 64 or not meter_id.isprintable():
        raise ValueError("meter_id must be 1 to 64 printable characters")
    moment = _timestamp(row["timestamp"])
    if moment > now + FUTURE_TOLERANCE:
        raise ValueError("reading from the future")
    count, coefficient, unit, digits = (_int(row[f], f) for f in ("count", "coefficient", "unit", "digits"))
    try:
        check_spec(coefficient, unit, digits)
    except MeterSpecError as exc:
        raise ValueError(str(exc)) from None
    if not 0 <= count <= MAX_COUNT or count >= counter_modulus(digits):
        raise ValueError(f"count {count} is outside 0..{min(MAX_COUNT, counter_modulus(digits) - 1)}")
    return Reading(meter_id, moment, count, coefficient, unit, digits, source)


def jsonl_line(line: str, source: str, now: float, cut: bool) -> Reading | RowError | None:
    """One JSON line: its reading, its error, or None for a blank line (``cut``: the file's cut-off last line)."""
    if not line.strip():
        return None
    try:
        document = json.loads(line)
        if not isinstance(document, dict):
            raise ValueError("each line must be a JSON object")
        return reading_from(document, source, now)
    except ValueError as exc:
        return RowError(source, "incomplete last line (file cut off)" if cut else str(exc))


def csv_row(row: list[str], header: list[str], source: str, now: float, cut: bool) -> Reading | RowError | None:
    """One CSV record (already split): its reading, its error, or None for an empty record."""
    if not row:
        return None
    if len(row) != len(header):
        return RowError(
            source, "incomplete last line (file cut off)" if cut else f"{len(row)} fields, expected {len(header)}"
        )
    try:
        return reading_from(dict(zip(header, row, strict=True)), source, now)
    except ValueError as exc:
        return RowError(source, str(exc))


def csv_header(fields: list[str]) -> list[str]:
    """The header's column names in English (the Japanese names mapped)."""
    return [JAPANESE.get(h.strip(), h.strip()) for h in fields]


def parse_readings(name: str, raw: bytes, now: float | None = None) -> tuple[list[Reading], list[RowError]]:
    """Readings and row errors from one file's bytes (``name`` ending .csv or .jsonl).

    This is the row-by-row reference: :mod:`oracle.columnar_readings` reads large months
    column-wise and hands every row it cannot vouch for to :func:`jsonl_line` / :func:`csv_row`.
    """
    now = time.time() if now is None else now
    try:
        text, _ = decode_text(raw)
    except TextDecodeError as exc:  # "line N: neither UTF-8 nor Shift_JIS (cp932)", told as file:line
        return [], [RowError(f"{name}:{exc.line}", str(exc).removeprefix(f"line {exc.line}: "))]
    complete = text.endswith("\n")
    lines = text.splitlines()
    readings: list[Reading] = []
    errors: list[RowError] = []

    def keep(outcome: Reading | RowError | None) -> None:
        if isinstance(outcome, Reading):
            readings.append(outcome)
        elif outcome is not None:
            errors.append(outcome)

    if is_jsonl(name):
        for number, line in enumerate(lines, start=1):
            keep(jsonl_line(line, f"{name}:{number}", now, number == len(lines) and not complete))
        return readings, errors
    reader = csv.reader(io.StringIO(text))
    try:
        header = csv_header(next(reader))
    except StopIteration:
        return [], [RowError(name, "empty file")]
    if sorted(header) != sorted(FIELDS):
        return [], [RowError(f"{name}:1", f"expected the columns {', '.join(FIELDS)}")]
    for number, row in enumerate(reader, start=2):
        keep(csv_row(row, header, f"{name}:{number}", now, number == len(lines) and not complete))
    return readings, errors


def is_jsonl(name: str) -> bool:
    return name.endswith(".jsonl") or name.endswith(".json")


def drop_future(readings: list[Reading], now: float) -> tuple[list[Reading], list[RowError]]:
    """Splits readings parsed with ``now=math.inf`` into those valid at ``now`` and "from the future" errors.

    The ingest checks a batch's meters on every row that could ever count (a row from the
    future is refused today but would be read at settlement), then reports the rest as usual.
    """
    kept = [r for r in readings if r.time <= now + FUTURE_TOLERANCE]
    future = [RowError(r.source, "reading from the future") for r in readings if r.time > now + FUTURE_TOLERANCE]
    return kept, future


def read_file(path: Path, now: float | None = None) -> tuple[list[Reading], list[RowError]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [], [RowError(str(path), f"cannot read: {exc.strerror}")]
    return parse_readings(path.name, raw, now)
