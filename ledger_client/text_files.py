"""Reading the text files Japanese offices and tools write: UTF-8 (BOM optional) or Shift_JIS.

Municipal exports (Excel's CSV, ECHONET gateway logs) are often Shift_JIS as Windows
writes it (cp932) or UTF-8 with a BOM; the CLI's mint CSV and the oracle's readings
files both accept either, detected the same way.
"""

from __future__ import annotations

KNOWN_ENCODINGS = ("utf-8", "utf-8-sig", "cp932")


class TextDecodeError(ValueError):
    """The bytes are not text in the encoding asked for (or in any of the detected ones).

    ``line`` is the 1-based line of the first undecodable byte (None for an unknown encoding).
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _line_of(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def decode_text(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text and the encoding used: ``encoding`` if given, else UTF-8 (a BOM is dropped
    and reported as ``utf-8-sig``) when it decodes, else cp932 (Shift_JIS)."""
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise TextDecodeError(f"unknown encoding {encoding!r} (try {', '.join(KNOWN_ENCODINGS)})") from None
        except UnicodeDecodeError as exc:
            line = _line_of(data, exc.start)
            raise TextDecodeError(f"line {line}: not valid {encoding} ({exc.reason})", line) from None
    if data.startswith(b"\xef\xbb\xbf"):
        return decode_text(data, "utf-8-sig")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932"), "cp932"
    except UnicodeDecodeError as exc:
        line = _line_of(data, exc.start)
        raise TextDecodeError(f"line {line}: neither UTF-8 nor Shift_JIS (cp932)", line) from None
