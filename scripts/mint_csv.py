"""Reading a mint CSV exported from a city's resident system, and checking every row.

Municipal exports are often Shift_JIS (cp932) or UTF-8 with a BOM; both are read
(detected, or forced with ``--encoding``). Headers may be English or Japanese
(``address``/``アドレス``, ``points``/``ポイント``, ``note``/``備考``). Full-width digits
and letters (``１，０００``, ``０ｘ…``) are normalised (NFKC); anything else that is not a
whole, positive number of points is refused with its line number. Nothing here talks
to the chain; see :mod:`scripts.bulk_mint` for the on-chain checks and submission.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

from eth_utils import is_checksum_address, is_hex_address

from ledger_client.text_files import TextDecodeError, decode_text

MAX_POINTS_PER_ROW = 2**40 - 1
ADDRESS_HEADERS = ("address", "account", "wallet", "アドレス", "ウォレット", "ウォレットアドレス")
AMOUNT_HEADERS = ("points", "amount", "units", "ポイント", "付与ポイント", "ポイント数", "数量")
NOTE_HEADERS = ("note", "memo", "備考", "メモ")
CODE_HEADERS = ("short_code", "member_code", "会員コード")
ACCOUNT_ID_HEADERS = ("account_id", "アカウントid")


@dataclass(frozen=True)
class MintRow:
    line: int
    address: str
    amount: int
    note: str


@dataclass(frozen=True)
class RowProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class CsvError(ValueError):
    """The file as a whole cannot be read (encoding, no header); the message says why."""


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The file's text and the encoding used (:func:`ledger_client.text_files.decode_text`:
    ``encoding`` if given, else UTF-8 with or without BOM, else cp932), or a CsvError that
    says what to do about ``--encoding``."""
    try:
        return decode_text(data, encoding)
    except TextDecodeError as exc:
        hint = "check --encoding" if encoding is not None else "pass --encoding"
        raise CsvError(f"{exc}; {hint}") from None


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    normalised = [unicodedata.normalize("NFKC", h).strip().lower() for h in header]
    for name in names:
        if name in normalised:
            return normalised.index(name)
    return None


def parse_amount(raw: str) -> int | str:
    """Whole points from ``raw`` (full-width digits and thousands separators allowed), or why not."""
    text = unicodedata.normalize("NFKC", raw).strip().replace("_", "")
    if not text:
        return "the amount is empty"
    if re.fullmatch(r"\d{1,3}(,\d{3})+", text):
        text = text.replace(",", "")
    if re.fullmatch(r"-\d+([.,]\d+)?", text):
        return f"the amount {raw.strip()!r} is negative"
    if re.fullmatch(r"\d+[.,]\d+", text):
        return f"the amount {raw.strip()!r} is not a whole number of points"
    if not re.fullmatch(r"\d+", text):
        return f"the amount {raw.strip()!r} is not a number"
    value = int(text)
    if value == 0:
        return "the amount is zero"
    if value > MAX_POINTS_PER_ROW:
        return f"the amount {value:,} is too large (at most {MAX_POINTS_PER_ROW:,} per row)"
    return value


def parse_address(raw: str) -> str | tuple[str]:
    text = unicodedata.normalize("NFKC", raw).strip()
    if not is_hex_address(text):
        return (f"{raw.strip()[:50]!r} is not an address (0x + 40 hex digits)",)
    if not is_checksum_address(text):
        return (f"{text} is not EIP-55 checksummed (a typo, or written in lower case): copy it from the wallet",)
    return text


def member_key(raw: str) -> str:
    """A member code (upper case) or account id (lower case), as written on paper or in a QR."""
    text = unicodedata.normalize("NFKC", raw).strip().removeprefix("takasago-member:")
    return text.lower() if "-" in text else text.upper()


def read_members(text: str) -> dict[str, str]:
    """Member code and account id → address, from ``takasago wallet export-accounts`` (no wallet needed)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise CsvError("the members file is empty or not CSV") from None
    address_col = _column(header, ADDRESS_HEADERS)
    keys = [c for c in (_column(header, CODE_HEADERS), _column(header, ACCOUNT_ID_HEADERS)) if c is not None]
    if address_col is None or not keys:
        raise CsvError("the members file needs address and short_code (or account_id) columns: wallet export-accounts")
    members: dict[str, str] = {}
    for record in reader:
        if len(record) <= address_col or not is_hex_address(record[address_col].strip()):
            continue
        for col in keys:
            if col < len(record) and record[col].strip():
                members[member_key(record[col])] = record[address_col].strip()
    return members


def resolve_member(raw: str, members: dict[str, str] | None) -> str | tuple[str]:
    """An address as written, or the address of a member code / account id in ``members``."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if is_hex_address(text) or members is None:
        return parse_address(raw)
    found = members.get(member_key(text))
    if found is None:
        return (f"{raw.strip()[:50]!r} is neither an address nor a member code or account id in the members file",)
    return parse_address(found)


def parse_mint_csv(text: str, members: dict[str, str] | None = None) -> tuple[list[MintRow], list[RowProblem]]:
    """All valid rows, and every problem with its line number (duplicates included).

    With ``members`` (:func:`read_members`), the address column may hold member codes or
    account ids instead, or a ``short_code`` column may stand in for it.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvError("the file is empty") from None
    except csv.Error as exc:
        raise CsvError(f"line 1: {exc}") from None
    address_col = _column(header, ADDRESS_HEADERS)
    if address_col is None and members is not None:
        code_col = _column(header, CODE_HEADERS)
        address_col = code_col if code_col is not None else _column(header, ACCOUNT_ID_HEADERS)
    amount_col = _column(header, AMOUNT_HEADERS)
    note_col = _column(header, NOTE_HEADERS)
    missing = [n for n, c in (("address (アドレス)", address_col), ("points (ポイント)", amount_col)) if c is None]
    if missing:
        raise CsvError(f"line 1: missing column {' and '.join(missing)}; the header was {header!r}")
    assert address_col is not None and amount_col is not None
    rows: list[MintRow] = []
    problems: list[RowProblem] = []
    first_line: dict[str, int] = {}
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowProblem(reader.line_num, f"malformed CSV: {exc}"))
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) <= max(address_col, amount_col):
            problems.append(RowProblem(line, f"expected at least {max(address_col, amount_col) + 1} columns"))
            continue
        address = resolve_member(record[address_col], members)
        amount = parse_amount(record[amount_col])
        errors = [*(address if isinstance(address, tuple) else ()), *([amount] if isinstance(amount, str) else [])]
        if isinstance(address, str) and address in first_line:
            errors.append(f"duplicate of line {first_line[address]} ({address})")
        if errors:
            problems.append(RowProblem(line, "; ".join(errors)))
            continue
        assert isinstance(address, str) and isinstance(amount, int)
        first_line[address] = line
        note = record[note_col].strip() if note_col is not None and note_col < len(record) else ""
        rows.append(MintRow(line, address, amount, note))
    if not rows and not problems:
        raise CsvError("the file has a header but no rows")
    return rows, problems
