"""A month of meter readings read column-wise (Polars), in blocks, into compact columns.

Why Polars: its CSV reader and string kernels run in native code over whole blocks, it
keeps integer columns at their natural width (a month of 40,000 households is ~60
million readings: as Python objects that was ~55 GB; as the columns kept here it is
~18 bytes a reading), and its sort and group-by do the verification's per-meter work
without a Python loop. DuckDB would do the aggregation as well, but the verification
needs ordered, per-meter "previous row" logic and exact control of which rows fall back
to the reference code, which is plainer in Polars expressions; pyarrow alone has no
group-wise shifts.

**Exactly the reference's answers.** :mod:`oracle.readings` (row by row) stays the
reference. A row is taken here only when it has the plain shape the reference would
certainly accept with the same values: six fields, a decimal count, a meter id and a
timestamp and a (coefficient, unit, digits) triple that the reference's own functions
accepted (they are checked once per distinct value, not per row). Every other row —
any doubt at all — goes through the reference's per-line code, so rejected rows keep
their ``file:line: reason`` word for word. Files whose shape the column reader does not
model (quoted CSV, line breaks other than LF/CRLF, a reordered CSV header, text that is
not valid UTF-8 or Shift_JIS) are read wholly by the reference.

**Memory**: blocks of ``BLOCK_BYTES`` are parsed and reduced at once to the rows of the
month for known meters, in these columns: ``meter`` (u32), ``step`` (u16, the half hour
since the period's start), ``count`` (i32), ``spec`` (u16), ``src`` (u32) and ``line``
(u32) — 20 bytes a reading. Nothing else grows with the number of readings.
"""

from __future__ import annotations

import csv
import time as clock
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from polars._typing import PolarsDataType

from oracle.echonet import MAX_COUNT, MeterSpecError, check_spec, counter_modulus
from oracle.readings import (
    FIELDS,
    FUTURE_TOLERANCE,
    HALF_HOUR,
    Reading,
    RowError,
    _int,
    _timestamp,
    csv_header,
    csv_row,
    is_jsonl,
    jsonl_line,
    parse_readings,
)

BLOCK_BYTES = 32 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
# bytes that make a line split differently in the reference (str.splitlines, csv) or that
# a CSV record may span: such files are read by the reference as a whole
_UNMODELLED_BYTES = (b"\x00", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")
_UNMODELLED_TEXT = ("\x85", "\u2028", "\u2029")
_COUNT = r"^[0-9]{1,9}$"
_KEY = "(meter_id|timestamp|count|coefficient|unit|digits)"
_VALUE = r'(?:"([^"\\\x00-\x1f]*)"|(0|[1-9][0-9]{0,17}))'
_PAIR = rf'"{_KEY}"[ \t]*:[ \t]*{_VALUE}'
_JSON_LINE = r"^[ \t]*\{[ \t]*" + r"[ \t]*,[ \t]*".join([_PAIR] * 6) + r"[ \t]*\}[ \t\r]*$"
_JSON_CANONICAL = (
    r"^[ \t]*\{[ \t]*"
    + r"[ \t]*,[ \t]*".join(rf'"{key}"[ \t]*:[ \t]*{_VALUE}' for key in FIELDS)
    + r"[ \t]*\}[ \t\r]*$"
)
_SCHEMA = {
    "meter": pl.UInt32,
    "step": pl.UInt16,
    "count": pl.Int32,
    "spec": pl.UInt16,
    "src": pl.UInt32,
    "line": pl.UInt32,
}


@dataclass
class ReadingColumns:
    """The month's readings of known meters, and everything the reading left aside."""

    parts: list[pl.DataFrame]  # one per bucket, each in arrival order
    start: int  # step 0: time = start + step × 1800
    meters: list[str]
    specs: list[tuple[int, int, int]]
    sources: list[str]
    errors: list[RowError] = field(default_factory=list)
    unknown: dict[str, int] = field(default_factory=dict)
    rows_read: int = 0

    def source_of(self, src: int, line: int) -> str:
        return f"{self.sources[src]}:{line}"

    @property
    def frame(self) -> pl.DataFrame:
        """Every bucket's rows in one frame (a copy: for tests and small months)."""
        return pl.concat(self.parts) if self.parts else pl.DataFrame(schema=_SCHEMA)


@dataclass(frozen=True)
class Source:
    """One readings file or stored batch: its name (``.csv`` or ``.jsonl``) and where its bytes are."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    def blocks(self) -> Iterator[bytes]:
        """The bytes in blocks that end on a line feed (the last may not)."""
        if self.data is not None:
            yield self.data
            return
        assert self.path is not None
        with self.path.open("rb") as handle:
            while chunk := handle.read(BLOCK_BYTES):
                yield chunk + handle.readline()  # to the end of the line: one copy of the block

    def read(self) -> bytes:
        return self.data if self.data is not None else b"".join(self.blocks())


class _Reference(Exception):
    """This source has a shape the column reader does not model: read it with the reference."""


def _encoding(source: Source) -> str:
    """The encoding the reference's ``decode_text`` would choose, decided block by block.

    Blocks end on a line feed, which is never part of a multi-byte character in UTF-8 or
    Shift_JIS, so a block decodes alone exactly as it does inside the whole file.
    """
    bom, utf8, cp932 = False, True, True
    for number, block in enumerate(source.blocks()):
        if number == 0 and block.startswith(_BOM):
            bom, block = True, block[3:]
        if block.isascii():
            continue
        if utf8:
            try:
                block.decode("utf-8")
            except UnicodeDecodeError:
                utf8 = False
        if cp932 and not bom:
            try:
                block.decode("cp932")
            except UnicodeDecodeError:
                cp932 = False
    if bom and utf8:
        return "utf-8-sig"
    if utf8 and not bom:
        return "utf-8"
    if cp932 and not bom:
        return "cp932"
    raise _Reference  # undecodable: the reference reports the line


def _utf8_blocks(source: Source) -> Iterator[bytes]:
    """The source's blocks as UTF-8 bytes (a BOM dropped), refusing shapes the reference splits differently.

    The encoding is decided (a second pass over the source) only when a block is not
    plain ASCII: ASCII reads the same in UTF-8 and Shift_JIS, and gateways write ASCII."""
    encoding: str | None = None
    for number, block in enumerate(source.blocks()):
        if not block.isascii():
            encoding = encoding or _encoding(source)
            if number == 0 and block.startswith(_BOM):
                block = block[3:]
            text = block.decode("utf-8" if encoding == "utf-8-sig" else encoding)
            if any(mark in text for mark in _UNMODELLED_TEXT):
                raise _Reference
            if encoding == "cp932":
                block = text.encode("utf-8")
        carriage_returns = b"\r" in block and block.count(b"\r") != block.count(b"\r\n")
        if carriage_returns or any(mark in block for mark in _UNMODELLED_BYTES):
            raise _Reference
        yield block


@dataclass
class _Lookups:
    """Per-distinct-value answers of the reference's own checks, shared by every block."""

    known: dict[str, int]
    now: float
    meter_index: dict[str, int | None] = field(default_factory=dict)  # raw → index, -1 unknown, None refused
    times: dict[str, int | None] = field(default_factory=dict)
    spec_index: dict[tuple[str, str, str], int | None] = field(default_factory=dict)
    specs: list[tuple[int, int, int]] = field(default_factory=list)
    spec_ids: dict[tuple[int, int, int], int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)

    def meter(self, raw: str) -> int | None:
        if raw not in self.meter_index:
            meter = raw.strip()
            valid = raw != "" and 1 <= len(meter) <= 64 and meter.isprintable()
            self.meter_index[raw] = None if not valid else self.known.get(meter, -1)
        return self.meter_index[raw]

    def time(self, raw: str) -> int | None:
        if raw not in self.times:
            try:
                self.times[raw] = _timestamp(raw) if raw != "" else None
            except ValueError:
                self.times[raw] = None
        return self.times[raw]

    def spec(self, raw: tuple[str, str, str]) -> int | None:
        if raw not in self.spec_index:
            try:
                if "" in raw:
                    raise ValueError("missing")
                coefficient, unit, digits = (_int(v, name) for v, name in zip(raw, FIELDS[3:], strict=True))
                check_spec(coefficient, unit, digits)
                self.spec_index[raw] = self.spec_id((coefficient, unit, digits))
            except (ValueError, MeterSpecError):
                self.spec_index[raw] = None
        return self.spec_index[raw]

    def spec_id(self, triple: tuple[int, int, int]) -> int:
        """The index of a checked (coefficient, unit, digits) triple, numbered as first seen."""
        if triple not in self.spec_ids:
            self.spec_ids[triple] = len(self.specs)
            self.specs.append(triple)
        return self.spec_ids[triple]

    def count_unknown(self, meter_id: str, readings: int = 1) -> None:
        self.unknown[meter_id] = self.unknown.get(meter_id, 0) + readings


def _mapped(column: pl.Series, lookup: Mapping[Any, int | None], dtype: PolarsDataType) -> pl.Series:
    return column.replace_strict(lookup, default=None, return_dtype=dtype)


class _Reader:
    def __init__(self, known: dict[str, int], start: int, end: int, now: float, buckets: pl.Series | None) -> None:
        self.lookups = _Lookups(known, now)
        self.buckets = buckets
        self.start, self.end, self.now = start, end, now
        self.frames: list[tuple[int, pl.DataFrame]] = []  # (bucket, rows)
        self.pending: list[tuple[int, Reading]] = []
        self.errors: list[RowError] = []
        self.sources: list[str] = []
        self.rows_read = 0

    # -- the fast path -------------------------------------------------------------------

    def fields(self, block: bytes, jsonl: bool) -> pl.DataFrame:
        """f0..f5 (strings in FIELDS order, null where the row is not plain) for each line of ``block``."""
        if not jsonl:
            return pl.read_csv(
                block, has_header=False, quote_char=None, schema={f"f{i}": pl.String for i in range(7)},
                extra_columns="ignore", missing_columns="insert", infer_schema=False, raise_if_empty=False,
            ).with_columns(
                *(pl.when(pl.col("f6").is_null()).then(pl.col(f"f{i}")).alias(f"f{i}") for i in range(6))
            ).drop("f6")  # fmt: skip
        lines = pl.read_csv(
            block, has_header=False, quote_char=None, separator="\x01", schema={"line": pl.String},
            infer_schema=False, raise_if_empty=False,
        )["line"]  # fmt: skip
        # the keys in FIELDS order (what json.dumps of a dict in that order writes): one cheap pattern
        canonical = lines.str.extract_groups(_JSON_CANONICAL).struct.unnest()
        names = canonical.columns
        fields = canonical.select(
            pl.coalesce(pl.col(names[2 * i]), pl.col(names[2 * i + 1])).alias(f"f{i}") for i in range(6)
        )
        other = fields["f0"].is_null() & fields["f1"].is_null()
        if not other.any():
            return fields
        # any other order of the six keys: the general pattern, on those lines only
        rows = other.arg_true()
        general = lines.gather(rows).str.extract_groups(_JSON_LINE).struct.unnest()
        names = general.columns
        keys = [pl.col(names[3 * k]) for k in range(6)]
        values = [pl.coalesce(pl.col(names[3 * k + 1]), pl.col(names[3 * k + 2])) for k in range(6)]
        columns = []
        for i, name in enumerate(FIELDS):
            once = pl.sum_horizontal(*((key == name).cast(pl.UInt8) for key in keys)) == 1
            value = pl.coalesce(*(pl.when(key == name).then(value) for key, value in zip(keys, values, strict=True)))
            columns.append(pl.when(once).then(value).alias(f"f{i}"))
        found = general.select(columns)
        return fields.with_columns(fields[f"f{i}"].scatter(rows, found[f"f{i}"]) for i in range(6))

    def specs(self, parsed: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        """Each row's (coefficient, unit, digits) as a spec index and its counter's limit (null: refused).

        The three strings are coded column by column and combined into one integer key, so
        the reference's check runs once per distinct triple and no string join is needed.
        """
        codes, sizes = [], []
        for name in ("f3", "f4", "f5"):
            values = parsed[name].unique().drop_nulls().to_list()
            codes.append(_mapped(parsed[name], {v: i for i, v in enumerate(values)}, pl.Int64))
            sizes.append(values)
        width4, width5 = len(sizes[1]) or 1, len(sizes[2]) or 1
        key = (codes[0] * (width4 * width5) + codes[1] * width5 + codes[2]).rename("key")
        spec_of: dict[int, int | None] = {}
        limit_of: dict[int, int | None] = {}
        for value in key.unique().drop_nulls().to_list():
            raw = (sizes[0][value // (width4 * width5)], sizes[1][value // width5 % width4], sizes[2][value % width5])
            index = self.lookups.spec(raw)
            spec_of[value] = index
            limit_of[value] = (
                None if index is None else min(MAX_COUNT + 1, counter_modulus(self.lookups.specs[index][2]))
            )
        return _mapped(key, spec_of, pl.UInt16), _mapped(key, limit_of, pl.Int64)

    def block(self, block: bytes, jsonl: bool, src: int, first_line: int) -> list[int]:
        """Takes the plain rows of ``block`` into the month; returns the line numbers left to the reference."""
        parsed = self.fields(block, jsonl)
        if parsed.height == 0:
            return []
        look = self.lookups
        meter_map = {raw: look.meter(raw) for raw in parsed["f0"].unique().drop_nulls().to_list()}
        time_map = {raw: look.time(raw) for raw in parsed["f1"].unique().drop_nulls().to_list()}
        spec, modulus = self.specs(parsed)
        frame = parsed.select(
            _mapped(parsed["f0"], meter_map, pl.Int64).alias("meter"),
            _mapped(parsed["f1"], time_map, pl.Int64).alias("time"),
            pl.when(pl.col("f2").str.contains(_COUNT)).then(pl.col("f2")).cast(pl.Int64).alias("count"),
            pl.int_range(first_line, first_line + parsed.height, dtype=pl.UInt32).alias("line"),
            spec.alias("spec"),
            modulus.alias("modulus"),
        )
        frame = frame.with_columns(
            (
                pl.col("meter").is_not_null()
                & pl.col("time").is_not_null()
                & pl.col("count").is_not_null()
                & pl.col("spec").is_not_null()
                & (pl.col("count") < pl.col("modulus"))
                & (pl.col("time") <= self.now + FUTURE_TOLERANCE)
            )
            .fill_null(False)
            .alias("plain")
        )
        self.rows_read += int(frame["plain"].sum())
        unknown = frame["plain"] & (frame["meter"] == -1)
        if unknown.any():
            for raw, count in parsed.filter(unknown)["f0"].value_counts().iter_rows():
                look.count_unknown(str(raw).strip(), int(count))
        kept = frame.filter(
            pl.col("plain") & (pl.col("meter") >= 0) & (pl.col("time") >= self.start) & (pl.col("time") <= self.end)
        ).select(
            pl.col("meter").cast(pl.UInt32), ((pl.col("time") - self.start) // HALF_HOUR).cast(pl.UInt16).alias("step"),
            pl.col("count").cast(pl.Int32), "spec",
            pl.lit(src, dtype=pl.UInt32).alias("src"), "line",
        )  # fmt: skip
        if kept.height:
            if self.buckets is None:
                self.frames.append((0, kept))
            else:
                parts = kept.with_columns(self.buckets.gather(kept["meter"]).alias("bucket")).partition_by(
                    "bucket", as_dict=True, include_key=False
                )
                self.frames.extend((int(key[0]), part) for key, part in parts.items())  # type: ignore[call-overload]
        return frame.filter(~pl.col("plain"))["line"].to_list()

    # -- the reference, for rows and files the fast path leaves --------------------------

    def take(self, outcome: Reading | RowError | None, src: int) -> None:
        if isinstance(outcome, RowError):
            self.errors.append(outcome)
        elif isinstance(outcome, Reading):
            self.rows_read += 1
            if outcome.meter_id not in self.lookups.known:
                self.lookups.count_unknown(outcome.meter_id)
            elif self.start <= outcome.time <= self.end:
                self.pending.append((src, outcome))

    def source(self, source: Source) -> None:
        """Reads one source column-wise, or — if its shape is not modelled — wholly by the reference."""
        src = len(self.sources)
        self.sources.append(source.name)
        frames, errors, rows, pending = len(self.frames), len(self.errors), self.rows_read, len(self.pending)
        unknown = dict(self.lookups.unknown)
        try:
            self.modelled(source, src)
        except _Reference:
            del self.frames[frames:], self.errors[errors:], self.pending[pending:]
            self.rows_read, self.lookups.unknown = rows, unknown
            readings, refused = parse_readings(source.name, source.read(), self.now)
            self.errors += refused
            for reading in readings:
                self.take(reading, src)

    def modelled(self, source: Source, src: int) -> None:
        jsonl = is_jsonl(source.name)
        line = 1
        header: list[str] | None = None
        left: list[tuple[int, bytes]] = []
        partial: tuple[int, bytes] | None = None
        for block in _utf8_blocks(source):
            if not jsonl and b'"' in block:
                raise _Reference  # quoted CSV: a record may span lines
            if not jsonl and header is None:
                end = block.find(b"\n")
                head = block[: end if end >= 0 else len(block)].decode("utf-8").rstrip("\r")
                header = csv_header(head.split(","))
                if header != list(FIELDS) or end < 0:
                    raise _Reference  # reordered, wrong or alone: the reference says exactly what
                block, line = block[end + 1 :], 2
            cut = block.rfind(b"\n") + 1
            if cut < len(block):  # the file's cut-off last line: the reference judges it
                partial = (line + block[:cut].count(b"\n"), block[cut:])
            body = block[:cut]
            if body:
                numbers = self.block(body, jsonl, src, line)
                if numbers:
                    starts = np.concatenate(([0], np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 0x0A) + 1))
                    for number in numbers:
                        i = number - line
                        left.append((number, body[starts[i] : starts[i + 1] - 1]))
                line += body.count(b"\n")
        if not jsonl and header is None:
            raise _Reference  # an empty file: the reference says so
        fields = header or list(FIELDS)
        for number, raw in left:
            self.fallback_line(raw, source.name, number, jsonl, fields, False, src)
        if partial is not None:
            self.fallback_line(partial[1], source.name, partial[0], jsonl, fields, True, src)

    def fallback_line(
        self, raw: bytes, name: str, number: int, jsonl: bool, header: list[str], cut: bool, src: int
    ) -> None:
        text = raw.decode("utf-8").removesuffix("\r")
        where = f"{name}:{number}"
        if jsonl:
            self.take(jsonl_line(text, where, self.now, cut), src)
        else:
            self.take(csv_row(next(csv.reader([text]), []), header, where, self.now, cut), src)


def read_month(
    sources: Iterable[Source],
    meters: dict[str, int],
    start: int,
    end: int,
    now: float | None = None,
    buckets: Sequence[int] | None = None,
) -> ReadingColumns:
    """The readings between ``start`` and ``end`` (inclusive) of the meters in ``meters`` (id → index).

    ``buckets`` (one number per meter index, from 0) splits the rows as they are read, so
    that verification can sort and check one bucket at a time; give whole households the
    same bucket. Each bucket's rows stay in the order they arrived (file by file, line by line).
    """
    if start % HALF_HOUR or (end - start) // HALF_HOUR >= 1 << 16:
        raise ValueError("a period starts on a half hour and spans fewer than 65,536 half hours")
    bucket_series = None if buckets is None else pl.Series(list(buckets), dtype=pl.UInt32)
    reader = _Reader(meters, start, end, clock.time() if now is None else now, bucket_series)
    for source in sources:
        reader.source(source)
    count = 1 if buckets is None else max(buckets, default=0) + 1
    pieces: list[list[pl.DataFrame]] = [[] for _ in range(count)]
    for bucket, frame in reader.frames:
        pieces[bucket].append(frame)
    late: set[int] = set()
    if reader.pending:  # rows the reference took: into their buckets, then each such bucket back in arrival order
        lookups = reader.lookups
        rows: list[list[tuple[int, int, int, int, int, int]]] = [[] for _ in range(count)]
        for src, reading in reader.pending:
            spec = lookups.spec_id((reading.coefficient, reading.unit, reading.digits))
            index = meters[reading.meter_id]
            bucket = 0 if buckets is None else buckets[index]
            line = int(reading.source.rsplit(":", 1)[1])
            rows[bucket].append((index, (reading.time - start) // HALF_HOUR, reading.count, spec, src, line))
            late.add(bucket)
        for bucket in late:
            pieces[bucket].append(pl.DataFrame(rows[bucket], schema=_SCHEMA, orient="row"))
    parts = []
    for bucket, frames in enumerate(pieces):
        part = pl.concat(frames, rechunk=False) if frames else pl.DataFrame(schema=_SCHEMA)  # no second copy
        parts.append(part.sort(["src", "line"]) if bucket in late else part)
    names = [""] * len(meters)
    for meter_id, number in meters.items():
        names[number] = meter_id
    return ReadingColumns(
        parts,
        start,
        names,
        reader.lookups.specs,
        reader.sources,
        reader.errors,
        reader.lookups.unknown,
        reader.rows_read,
    )
