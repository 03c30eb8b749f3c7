"""Matching an extract of the city's resident register against verified wallet accounts (issue 20).

The officer exports an extract from the resident register system (住民基本台帳) on their own
machine and runs ``takasago wallet match-register``. Nothing of the extract is stored, sent or
logged: rows are read into memory, matched by the keyed person index (``person_keys``:
HMAC of the normalised name + birth date, :mod:`wallet_api.people_index`), and only the mint file
(addresses, points, member codes) and line numbers are written out.

**The extract** — a CSV, cp932 (Shift_JIS, as municipal systems write it) or UTF-8 (with or
without BOM), one person per row, with a header naming these columns (extra columns ignored):

============  ==========================================  =========
column        content                                     required
============  ==========================================  =========
氏名          full name as registered (spaces ignored)     yes
生年月日      和暦 ``昭和16年5月3日`` / ``S16.5.3`` /       yes
              ``令和元年5月1日`` or 西暦 ``1941-05-03`` /
              ``1941/5/3`` / ``1941年5月3日``
住所          address (read, not used for matching)       no
世帯番号      household number                             yes
続柄          relationship to the head (``世帯主``)          no
============  ==========================================  =========

English headers ``name``, ``date_of_birth``, ``address``, ``household``, ``relationship`` are
accepted too.

**Policies** — ``child-under-N`` (e.g. ``child-under-6``): every household with at least one
member younger than N years on the reference date (``--as-of``, default today in JST) gets
points. Who receives them (``per``):

* ``household`` (default): one row per household — the household head (続柄 ``世帯主``) if the
  head has a verified (active) resident account; otherwise the oldest verified adult (18 or
  over) of the household; a household with no verified adult is reported as unmatched.
* ``adult``: one row per verified adult of the household.

A person appears at most once in the mint file (an address in two households counts once).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from wallet_api.db.models import PersonKeys, User
from wallet_api.people_index import PeopleIndex
from wallet_api.statuses import AccountStatus, Role

ERAS = {"明治": 1868, "大正": 1912, "昭和": 1926, "平成": 1989, "令和": 2019}
ERA_LETTERS = {"M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和"}
ADULT_AGE = 18
HEAD = "世帯主"

COLUMNS = {
    "name": ("氏名", "名前", "name", "full_name"),
    "born": ("生年月日", "date_of_birth", "birth_date", "born"),
    "address": ("住所", "address"),
    "household": ("世帯番号", "household", "household_id"),
    "relationship": ("続柄", "relationship"),
}
REQUIRED = ("name", "born", "household")


class RegisterError(ValueError):
    """The extract as a whole cannot be read; the message says why (never a person's data)."""


@dataclass(frozen=True)
class Person:
    line: int
    name: str
    born: date
    household: str
    head: bool


@dataclass(frozen=True)
class Policy:
    under_years: int
    as_of: date
    per: str = "household"  # or "adult"

    @classmethod
    def parse(cls, text: str, as_of: date, per: str = "household") -> Policy:
        match = re.fullmatch(r"child-under-(\d{1,2})", text.strip())
        if match is None:
            raise RegisterError(f"unknown policy {text!r}: use child-under-N (e.g. child-under-6)")
        if per not in ("household", "adult"):
            raise RegisterError("--per must be household or adult")
        return cls(int(match.group(1)), as_of, per)


@dataclass
class MatchResult:
    """The mint rows (address, member code) and what could not be used, by line number only."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    households: int = 0  # households the policy selects
    unreadable: list[tuple[int, str]] = field(default_factory=list)  # (line, why) — never the row's content
    unmatched_lines: list[int] = field(default_factory=list)  # adults of selected households not verified here
    households_without_adult: list[int] = field(default_factory=list)  # first line of each such household


def parse_birth_date(raw: str) -> date:
    """和暦 (``昭和16年5月3日``, ``令和元年5月1日``) or 西暦 (``1941-05-03``, ``1941/5/3``, ``1941年5月3日``)."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw)).replace("元年", "1年")
    era = None
    for name in ERAS:
        if text.startswith(name):
            era, text = name, text[len(name) :]
            break
    if era is None and text[:1].upper() in ERA_LETTERS and text[1:2].isdigit():
        era, text = ERA_LETTERS[text[0].upper()], text[1:]
    match = re.fullmatch(r"(\d{1,4})(?:年|[./-])(\d{1,2})(?:月|[./-])(\d{1,2})日?", text)
    if match is None:
        raise ValueError("not a date")
    year, month, day = (int(g) for g in match.groups())
    if era is not None:
        if year < 1 or year > 64:
            raise ValueError("era year out of range")
        year = ERAS[era] + year - 1
    elif year < 1868:
        raise ValueError("a year without an era must be 西暦")
    return date(year, month, day)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    normal = [unicodedata.normalize("NFKC", h).strip().lower() for h in header]
    for name in names:
        if name.lower() in normal:
            return normal.index(name.lower())
    return None


def read_register(text: str) -> tuple[list[Person], list[tuple[int, str]]]:
    """The people of the extract and the lines that could not be read (line, why)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise RegisterError("the extract is empty") from None
    cols = {key: _column(header, names) for key, names in COLUMNS.items()}
    missing = [COLUMNS[k][0] for k in REQUIRED if cols[k] is None]
    if missing:
        raise RegisterError(f"line 1: missing column {', '.join(missing)} (expected 氏名, 生年月日, 住所, 世帯番号)")
    people: list[Person] = []
    problems: list[tuple[int, str]] = []
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue

        def cell(key: str, record: list[str] = record) -> str:
            index = cols[key]
            return record[index].strip() if index is not None and index < len(record) else ""

        name, household = cell("name"), cell("household")
        if not name or not household:
            problems.append((line, "name or household number is empty"))
            continue
        try:
            born = parse_birth_date(cell("born"))
        except ValueError:
            problems.append((line, "the birth date is not a date (和暦 or 西暦)"))
            continue
        head = unicodedata.normalize("NFKC", cell("relationship")) == HEAD
        people.append(Person(line, name, born, unicodedata.normalize("NFKC", household), head))
    return people, problems


def verified_addresses(db: DbSession, index: PeopleIndex, people: Iterable[Person]) -> dict[int, tuple[str, str]]:
    """line → (address, member code) of each person with an active resident account, by name + birth date key."""
    keys = {index.name_dob_key(p.name, p.born): p.line for p in people}
    found: dict[int, tuple[str, str]] = {}
    if not keys:
        return found
    for chunk_start in range(0, len(keys), 500):
        chunk = list(keys)[chunk_start : chunk_start + 500]
        rows = db.execute(
            select(PersonKeys.name_dob_key, User.address, User.short_code)
            .join(User, User.id == PersonKeys.user_id)
            .where(
                PersonKeys.name_dob_key.in_(chunk),
                User.status == AccountStatus.ACTIVE,
                User.role == Role.RESIDENT,
                User.address.is_not(None),
            )  # fmt: skip
        ).all()
        for key, address, short_code in rows:
            found[keys[key]] = (str(address), short_code)
    return found


def match(db: DbSession, index: PeopleIndex, text: str, policy: Policy) -> MatchResult:
    """Applies ``policy`` to the extract ``text``; the register's names are only hashed, never kept."""
    people, unreadable = read_register(text)
    result = MatchResult(unreadable=unreadable)
    households: dict[str, list[Person]] = {}
    for person in people:
        households.setdefault(person.household, []).append(person)
    selected = {h: members for h, members in households.items()
                if any(age_on(p.born, policy.as_of) < policy.under_years for p in members)}  # fmt: skip
    result.households = len(selected)
    adults = [p for members in selected.values() for p in members if age_on(p.born, policy.as_of) >= ADULT_AGE]
    verified = verified_addresses(db, index, adults)
    seen: set[str] = set()
    for members in selected.values():
        grown = [p for p in members if age_on(p.born, policy.as_of) >= ADULT_AGE]
        result.unmatched_lines += [p.line for p in grown if p.line not in verified]
        ok = [p for p in grown if p.line in verified]
        if not ok:
            result.households_without_adult.append(min(p.line for p in members))
            continue
        if policy.per == "household":
            heads = [p for p in ok if p.head]
            ok = heads[:1] or [min(ok, key=lambda p: (p.born, p.line))]
        for person in ok:
            address, short_code = verified[person.line]
            if address not in seen:
                seen.add(address)
                result.rows.append((address, short_code))
    result.unmatched_lines.sort()
    result.households_without_adult.sort()
    return result
