"""Open statistics: the census population by district and 10-year age band.

Reads the e-Stat small-area CSV (``analytics/data/README.md``): a row of item codes, a row of
Japanese headings, then one row per area. Age columns are found by their heading
(``0～4歳`` … ``95歳以上``) and added into 10-year bands; areas are matched to districts by
``KEY_CODE`` (or by name). "-" is 0; "X" (suppressed by the statistics bureau) leaves the area out.
"""

from __future__ import annotations

import csv
import io
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "census_sample.csv"
AGE_BANDS = ["0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90+"]
AGE_HEADING = re.compile(r"^(\d+)(?:～(\d+))?歳(?:以上)?$")


class CensusError(ValueError):
    """The file is not an e-Stat small-area table this loader understands (the message says why)."""


@lru_cache(maxsize=1)
def districts() -> list[dict[str, str]]:
    return json.loads((DATA / "districts.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def age_band(age: int) -> str:
    return AGE_BANDS[min(age // 10, len(AGE_BANDS) - 1)]


def decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CensusError("the census file is neither UTF-8 nor Shift_JIS / 国勢調査ファイルの文字コードが不明です")


def load(path: Path | None = None) -> list[dict[str, Any]]:
    """``[{district, age_band, people}]`` from an e-Stat CSV (the shipped sample when ``path`` is None)."""
    reader = list(csv.reader(io.StringIO(decode((path or SAMPLE).read_bytes()))))
    if len(reader) < 3 or "KEY_CODE" not in reader[0]:
        raise CensusError(
            "no KEY_CODE heading: not an e-Stat small-area table / e-Statの小地域集計の形式ではありません"
        )
    codes, headings = reader[0], reader[1]
    key_at, name_at = codes.index("KEY_CODE"), codes.index("NAME") if "NAME" in codes else None
    ages: list[tuple[int, str]] = []
    for index, heading in enumerate(headings):
        match = AGE_HEADING.match(heading.strip())
        if match:
            ages.append((index, age_band(int(match[1]))))
    if not ages:
        raise CensusError("no age columns (0～4歳 …) / 年齢の列がありません")
    by_key = {d["code"].replace("-", ""): d["code"] for d in districts()}
    by_name = {d["name_ja"]: d["code"] for d in districts()}
    totals: dict[tuple[str, str], int] = {}
    for line, row in enumerate(reader[2:], start=3):
        if len(row) < len(headings):
            continue
        district = by_key.get(row[key_at].strip()) or (by_name.get(row[name_at].strip()) if name_at else None)
        if district is None:
            continue
        if any(row[index].strip() == "X" for index, _ in ages):
            continue  # suppressed at source: left out rather than guessed
        for index, band in ages:
            text = row[index].strip()
            if text in ("", "-"):
                continue
            if not text.isdigit():
                raise CensusError(f"line {line}: {text!r} is not a count / 人数ではありません")
            totals[(district, band)] = totals.get((district, band), 0) + int(text)
    return [{"district": d, "age_band": b, "people": n} for (d, b), n in sorted(totals.items())]
