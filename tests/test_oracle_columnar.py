"""The columnar oracle (``oracle.columnar_readings`` + ``oracle.columnar_verify``) against the
row-by-row reference (``oracle.readings`` + ``oracle.verify``): the same readings, the same
row errors word for word, the same verdicts, reason codes, details and watt-hours, and the
same Merkle root — on generated months with every fault kind, in every file form, and on
files full of bad rows. Then the evidence store: a month settled from stored batches with
baselines from stored months, re-settled to the same root, on SQLite and PostgreSQL."""

# ruff: noqa: E501  (rows of test data are kept one to a line, as a file would have them)

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from eth_account import Account

from oracle.columnar_readings import Source, read_month
from oracle.columnar_verify import verify_all
from oracle.evidence import EvidenceStore
from oracle.generator import FAULTS, Household, generate, write_csv, write_jsonl
from oracle.readings import Reading, parse_readings
from oracle.reduction import EmissionFactor
from oracle.settlement import (
    SettlementError,
    build_report,
    compute_period,
    load_households,
    meter_indices,
    settle_month,
)
from oracle.verify import Verdict, verify_household
from tests.wallet_support import postgres_database

JST = timezone(timedelta(hours=9))
START = int(datetime(2026, 4, 1, tzinfo=JST).timestamp())
END = int(datetime(2026, 5, 1, tzinfo=JST).timestamp())
LATER = time.time() + 10**9  # every generated row is in the past
FACTOR = EmissionFactor(2026, 350, "test")


def homes_with_every_fault(seed: int) -> list[Household]:
    faults = {i: {FAULTS[i % len(FAULTS)]} for i in range(2 * len(FAULTS))}
    faults[17], faults[18], faults[19] = {"gaps", "spike"}, {"duplicates", "out_of_order"}, {"meter_swap", "reset"}
    faults[20], faults[21] = {"wrap", "conflict"}, {"meter_swap", "wrap", "duplicates"}
    return generate(30, 2026, 4, seed=seed, faults=faults)


def reference_verdicts(readings: list[Reading], households: list[tuple[str, tuple[str, ...]]]) -> list[Verdict]:
    return [verify_household(h, [r for r in readings if r.meter_id in meters], START, END) for h, meters in households]


def columnar_verdicts(sources: list[Source], households: list[tuple[str, tuple[str, ...]]]) -> list[Verdict]:
    meters: dict[str, int] = {}
    for _, listed in households:
        for meter in listed:
            meters.setdefault(meter, len(meters))
    columns = read_month(sources, meters, START, END, LATER)
    return verify_all(columns, [(h, [meters[m] for m in listed]) for h, listed in households], START, END)


def assert_same(reference: list[Verdict], columnar: list[Verdict]) -> None:
    assert len(reference) == len(columnar)
    for expected, got in zip(reference, columnar, strict=True):
        assert (got.household, got.reason, got.detail, got.consumption_wh) == (
            expected.household, expected.reason, expected.detail, expected.consumption_wh,
        )  # fmt: skip
        if expected.ok:
            assert got == expected  # intervals, duplicates, rows out of order and meters too


@pytest.mark.parametrize("form", ["jsonl", "csv-utf8", "csv-cp932"])
def test_generated_month_with_every_fault_gives_the_reference_verdicts(form: str, tmp_path: Path) -> None:
    homes = homes_with_every_fault(seed=11)
    if form == "jsonl":
        path = write_jsonl(homes, tmp_path / "month.jsonl")
    else:
        path = write_csv(homes, tmp_path / "month.csv", encoding="cp932" if form == "csv-cp932" else "utf-8")
    households = [(h.household_id, (h.meter_id, h.meter_id + "-NEW")) for h in homes]
    readings, errors = parse_readings(path.name, path.read_bytes(), LATER)
    reference = reference_verdicts(readings, households)
    assert {v.reason for v in reference} >= {None, "SPIKE", "INCOMPLETE", "CONFLICTING_DUPLICATE", "NEGATIVE_DELTA"}
    assert_same(reference, columnar_verdicts([Source(path.name, path=path)], households))
    assert errors == []


def test_settlement_results_and_root_match_the_reference(tmp_path: Path) -> None:
    homes = homes_with_every_fault(seed=12)
    path = write_jsonl(homes, tmp_path / "month.jsonl")
    lines = ["household_id,meter_ids,address,salt"] + [
        f"{h.household_id},{h.meter_id};{h.meter_id}-NEW,{Account.create().address},{secrets.token_hex(32)}"
        for h in homes
    ]
    registry = load_households("\n".join(lines) + "\n")
    history = {h.household_id: {(2025, 4): h.true_wh * (90 + i % 25) // 100} for i, h in enumerate(homes)}
    history[homes[25].household_id] = {}  # one (without a fault) has no baseline
    readings, _ = parse_readings(path.name, path.read_bytes(), LATER)
    reference = compute_period(registry, readings, history, 2026, 4, START, END, FACTOR)
    month = settle_month(registry, [Source(path.name, path=path)], history, 2026, 4, START, END, FACTOR, LATER)
    assert month.results == reference
    assert "NO_BASELINE" in {r.reason for r in reference}
    assert build_report(month.results, 1, 202604).root == build_report(reference, 1, 202604).root


def test_several_sources_and_blocks_keep_arrival_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A household's rows spread over files (and over read blocks): duplicates across files,
    order of arrival across files, and sources named as the reference names them."""
    import oracle.columnar_readings as columnar

    monkeypatch.setattr(columnar, "BLOCK_BYTES", 4096)  # many blocks per file
    homes = homes_with_every_fault(seed=13)
    rows = [(home, row) for home in homes for row in home.rows]
    first, second = rows[::2], rows[1::2]
    for part, name in ((first, "a.jsonl"), (second, "b.jsonl")):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for _, r in part), encoding="utf-8")
    households = [(h.household_id, (h.meter_id, h.meter_id + "-NEW")) for h in homes]
    readings: list[Reading] = []
    for name in ("b.jsonl", "a.jsonl"):
        readings += parse_readings(name, (tmp_path / name).read_bytes(), LATER)[0]
    sources = [Source(name, path=tmp_path / name) for name in ("b.jsonl", "a.jsonl")]
    assert_same(reference_verdicts(readings, households), columnar_verdicts(sources, households))


GOOD = (
    '{"meter_id": "M1", "timestamp": "2026-04-01T%s+09:00", "count": %s, "coefficient": 1, "unit": "0x02", "digits": 6}'
)


def bad_jsonl() -> bytes:
    """Every kind of row the reference refuses or has to think about, between good ones."""
    rows = [GOOD % ("00:00:00", 100), GOOD % ("00:30:00", 103)]
    rows += [
        "",
        "   ",
        "[1, 2]",
        "not json",
        '{"meter_id": "M1"}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T01:00:00+09:00", "count": true, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T01:00:00+09:00", "count": 1.0, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T01:00:00+09:00", "count": 007, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T01:00:00+09:00", "count": "007", "coefficient": 1, "unit": 2, "digits": 6}',
        '{"digits": 6, "unit": "0X02", "coefficient": "1", "count": 110, "timestamp": "2026-04-01T01:30:00+09:00", "meter_id": "M1"}',
        '{"meter_id": " M1 ", "timestamp": " 2026-04-01T02:00:00+09:00 ", "count": " 115", "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T02:30:00+09:00", "count": 1_0, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T02:30:00+09:00", "count": "1_20", "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T03:00:00", "count": 125, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T03:10:00+09:00", "count": 125, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-31T03:30:00+09:00", "count": 125, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2099-04-01T03:30:00+09:00", "count": 125, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T03:30:00+09:00", "count": 125, "coefficient": 1, "unit": 7, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T03:30:00+09:00", "count": 125, "coefficient": 0, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T03:30:00+09:00", "count": 125, "coefficient": 1, "unit": 2, "digits": 9}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T03:30:00+09:00", "count": 1250000, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T03:30:00+09:00", "count": -5, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "", "timestamp": "2026-04-01T03:30:00+09:00", "count": 125, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M\\u0031", "timestamp": "2026-04-01T04:00:00+09:00", "count": 130, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "計器1", "timestamp": "2026-04-01T04:00:00+09:00", "count": 130, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "meter_id": "M2", "timestamp": "2026-04-01T04:30:00+09:00", "count": 1, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T04:30:00Z", "count": 135, "coefficient": 1, "unit": 2, "digits": 6, "extra": 1}',
        '{"meter_id": "M1", "timestamp": "2026-04-01T05:00:00+09:00", "count": 140, "coefficient": 1, "unit": "0x02\t", "digits": 6}',
        '{"meter_id": "M9", "timestamp": "2026-04-01T05:00:00+09:00", "count": 140, "coefficient": 1, "unit": 2, "digits": 6}',
        '{"meter_id": "M1", "timestamp": "2026-03-31T23:30:00+09:00", "count": 99, "coefficient": 1, "unit": 2, "digits": 6}',
        GOOD % ("05:30:00", 145),
    ]
    return ("\n".join(rows) + "\n" + GOOD % ("06:00:00", 150)[:40]).encode()  # cut off at the end


def bad_csv(encoding: str) -> bytes:
    header = (
        "計器ID,日時,積算値,係数,単位,有効桁数"
        if encoding == "cp932"
        else "meter_id,timestamp,count,coefficient,unit,digits"
    )
    rows = [
        header,
        "M1,2026-04-01T00:00:00+09:00,100,1,0x02,6",
        "M1,2026-04-01T00:30:00+09:00,103,1,2,6",
        "",
        "M1,2026-04-01T01:00:00+09:00,106,1,2",
        "M1,2026-04-01T01:00:00+09:00,106,1,2,6,7",
        "M1,2026-04-01T01:00:00+09:00,,1,2,6",
        "M1, 2026-04-01T01:30:00+09:00 , 110 ,1,0x02,6",
        "M1,2026-04-01T02:00:00+09:00,abc,1,2,6",
        "M1,2026-04-01T02:00:00+09:00,+112,1,2,6",
        "M1,2026-04-01 02:30:00+09:00,115,1,2,6",
        "M1,2026-04-01T03:00:00+09:00,120,1,0x0F,6",
        "M1,2026-04-01T03:00:00+09:00,120000000,1,2,8",
        "M９,2026-04-01T03:00:00+09:00,120,1,2,6",
        "計器1,2026-04-01T03:00:00+09:00,120,1,2,6",
        "M1,2026-04-01T03:30:00+09:00,125,1,2,6",
    ]
    return ("\r\n".join(rows) + "\r\nM1,2026-04-01T04:00").encode(encoding)


@pytest.mark.parametrize(
    "name,payload",
    [
        ("rows.jsonl", bad_jsonl()),
        ("rows.csv", bad_csv("utf-8")),
        ("rows-sjis.csv", bad_csv("cp932")),
        ("bom.jsonl", b"\xef\xbb\xbf" + bad_jsonl()),
        ("quoted.csv", b'meter_id,timestamp,count,coefficient,unit,digits\n"M1",2026-04-01T00:00:00+09:00,1,1,2,6\n'),
        ("reordered.csv", b"timestamp,meter_id,count,coefficient,unit,digits\n2026-04-01T00:00:00+09:00,M1,1,1,2,6\n"),
        ("breaks.jsonl", (GOOD % ("00:00:00", 1) + "\r" + GOOD % ("00:30:00", 2) + "\x0c\n").encode()),
        ("undecodable.csv", b"meter_id,timestamp,count,coefficient,unit,digits\n\xff\xfe,1,2,3,4,5\n"),
        ("empty.csv", b""),
        ("blank-lines.jsonl", ("\n\n" + GOOD % ("00:00:00", 1) + "\n  \n{bad}\n\n").encode()),
        (
            "blank-lines.csv",
            b"meter_id,timestamp,count,coefficient,unit,digits\r\n\r\n\r\nM1,2026-04-01T00:00:00+09:00,1,1,2,6\r\n"
            b"\r\nM1,2026-04-01T00:30:00+09:00,x,1,2,6\r\n",
        ),
        ("header-only.csv", b"meter_id,timestamp,count,coefficient,unit,digits"),
        ("wrong-header.csv", b"meter,when,count\nM1,2026-04-01T00:00:00+09:00,1\n"),
    ],
)
def test_bad_rows_are_reported_word_for_word(name: str, payload: bytes) -> None:
    now = datetime(2026, 6, 1, tzinfo=JST).timestamp()
    readings, errors = parse_readings(name, payload, now)
    columns = read_month([Source(name, data=payload)], {"M1": 0, "M2": 1, "計器1": 2}, START, END, now)
    assert [str(e) for e in columns.errors] == [str(e) for e in errors]
    known = [r for r in readings if r.meter_id in ("M1", "M2", "計器1") and START <= r.time <= END]
    got = sorted(
        (columns.meters[m], columns.start + 1800 * step, c, columns.specs[s], columns.source_of(src, line))
        for m, step, c, s, src, line in columns.frame.iter_rows()
    )
    assert got == sorted((r.meter_id, r.time, r.count, (r.coefficient, r.unit, r.digits), r.source) for r in known)
    unknown: dict[str, int] = {}
    for r in readings:
        if r.meter_id not in ("M1", "M2", "計器1"):
            unknown[r.meter_id] = unknown.get(r.meter_id, 0) + 1
    assert columns.unknown == unknown


def test_impossible_deltas_and_a_shrinking_counter_match(tmp_path: Path) -> None:
    def row(meter: str, step: int, count: int, unit: str = "0x02", digits: int = 6, coefficient: int = 1) -> str:
        moment = datetime.fromtimestamp(START + 1800 * step, JST).isoformat()
        return json.dumps(
            {
                "meter_id": meter,
                "timestamp": moment,
                "count": count,
                "coefficient": coefficient,
                "unit": unit,
                "digits": digits,
            }
        )

    lines = [row("A", 0, 10), row("A", 1, 20), row("A", 2, 99_999, unit="0x0D", coefficient=999_999)]
    lines += [row("B", 0, 9_000_000, digits=8), row("B", 1, 5, digits=4)]  # digits shrank: 9,000,000 no longer fits
    lines += [row("C", 0, 10), row("C", 3, 3_010)]  # 30 kWh in three half hours: allowed (gap)
    lines += [row("D", 0, 10), row("D", 1, 1_010)]  # 10 kWh in one: the limit itself
    lines += [row("E", 0, 10), row("E", 1, 1_011)]  # 10.01 kWh: impossible
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    households = [(name, (name,)) for name in "ABCDE"]
    readings, _ = parse_readings(path.name, path.read_bytes(), LATER)
    reference = reference_verdicts(readings, households)
    assert [v.reason for v in reference[:2]] == ["IMPOSSIBLE_DELTA", "IMPOSSIBLE_DELTA"]
    assert reference[4].reason == "IMPOSSIBLE_DELTA" and reference[3].reason != "IMPOSSIBLE_DELTA"
    assert_same(reference, columnar_verdicts([Source(path.name, path=path)], households))


def test_a_meter_belongs_to_one_household() -> None:
    salt, address = secrets.token_hex(32), Account.create().address
    text = f"household_id,meter_ids,address,salt\nH1,M1;M2,{address},{salt}\nH2,M2,{address},{salt}\n"
    with pytest.raises(SettlementError, match="meter M2 is already listed for household H1"):
        load_households(text)
    assert load_households(f"household_id,meter_ids,address,salt\nH1,M1;M1,{address},{salt}\n")["H1"].meters == ("M1",)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EvidenceStore:
    url = f"sqlite:///{tmp_path / 'evidence.db'}" if request.param == "sqlite" else postgres_database()
    return EvidenceStore(url)


def test_a_month_settles_from_the_store_and_resettles_the_same(store: EvidenceStore, tmp_path: Path) -> None:
    homes = homes_with_every_fault(seed=14)
    lines = ["household_id,meter_ids,address,salt"] + [
        f"{h.household_id},{h.meter_id};{h.meter_id}-NEW,{Account.create().address},{secrets.token_hex(32)}"
        for h in homes
    ]
    registry = load_households("\n".join(lines) + "\n")
    # batches as gateways send them: one per household and day, JSON lines
    for home in homes:
        by_day: dict[str, list[str]] = {}
        for row in home.rows:
            by_day.setdefault(str(row["timestamp"])[:10], []).append(json.dumps(row))
        for rows in by_day.values():
            payload = ("\n".join(rows) + "\n").encode()
            readings, _ = parse_readings("b.jsonl", payload, LATER)
            digest = __import__("hashlib").sha256(payload).hexdigest()
            times = (min(r.time for r in readings), max(r.time for r in readings))
            assert not store.add_batch(digest + ".jsonl", payload, digest, times, len(readings), "GW-1", "sig").replay
            assert store.add_batch(digest + ".jsonl", payload, digest, times, len(readings), "GW-1", "sig").replay
    store.import_history({h.household_id: {"2025-04": h.true_wh * 105 // 100} for h in homes})
    history = store.history([h.household_id for h in homes], 202604)
    assert len(history) == len(homes)
    sources = list(store.sources_between(START, END))
    assert 30 * len(homes) <= len(sources) <= 31 * len(homes)  # the closing reading of May 1st is a batch too
    first = settle_month(registry, sources, history, 2026, 4, START, END, FACTOR, LATER)
    reference = compute_period(
        registry,
        [r for s in sources for r in parse_readings(s.name, s.read(), LATER)[0]],
        history,
        2026,
        4,
        START,
        END,
        FACTOR,
    )
    assert first.results == reference
    verified = {
        (hid, 202604): v.consumption_wh for hid, v in first.verdicts.items() if v.ok and v.consumption_wh is not None
    }
    assert store.record_months(verified, "settled") == len(verified) > 0
    ok = next(hid for hid, v in first.verdicts.items() if v.ok)
    assert store.history([ok], 202605)[ok][(2026, 4)] == first.verdicts[ok].consumption_wh
    again = settle_month(
        registry, store.sources_between(START, END), store.history(registry, 202604), 2026, 4, START, END, FACTOR, LATER
    )
    assert build_report(again.results, 1, 202604).root == build_report(first.results, 1, 202604).root
    store.close()


def test_meter_indices_follow_the_households_order() -> None:
    salt, address = secrets.token_hex(32), Account.create().address
    registry = load_households(f"household_id,meter_ids,address,salt\nH2,B;A,{address},{salt}\nH1,C,{address},{salt}\n")
    assert meter_indices(registry) == {"B": 0, "A": 1, "C": 2}


def test_an_empty_file_on_disk_is_reported(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    columns = read_month([Source("empty.csv", path=tmp_path / "empty.csv")], {"M1": 0}, START, END)
    assert [str(e) for e in columns.errors] == ["empty.csv: empty file"]


def test_the_older_inbox_directory_moves_into_the_store(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    payload = write_jsonl(generate(1, 2026, 4, seed=15), tmp_path / "one.jsonl").read_bytes()
    digest = __import__("hashlib").sha256(payload).hexdigest()
    (inbox / f"{digest}.jsonl").write_bytes(payload)
    (inbox / f"{digest}.jsonl.meta.json").write_text(
        json.dumps({"gateway": "GW-1", "received_at": 1, "signature": "s"})
    )
    (inbox / "half-written.jsonl.part").write_bytes(b"{")
    store = EvidenceStore(f"sqlite:///{tmp_path / 'evidence.db'}")
    assert store.import_inbox(inbox) == 1 and store.import_inbox(inbox) == 0  # a second run stores nothing twice
    assert store.batch_names() == [f"{digest}.jsonl"]
    (source,) = store.sources_between(START, END)
    assert source.read() == payload
    assert list(store.sources_between(END + 1800, END + 3600)) == []
    store.close()


@pytest.mark.parametrize("slice_rows", [1, 700, 5_000])
def test_verification_in_slices_of_whole_households_gives_the_same_verdicts(
    slice_rows: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A city's month is verified a few million rows at a time, cut where a household ends;
    tiny slices here cut everywhere a cut can fall (one household holds ~1,400 rows)."""
    import oracle.columnar_verify as columnar

    monkeypatch.setattr(columnar, "SLICE_ROWS", slice_rows)
    homes = homes_with_every_fault(seed=16)
    path = write_jsonl(homes, tmp_path / "month.jsonl")
    households = [(h.household_id, (h.meter_id, h.meter_id + "-NEW")) for h in homes]
    readings, _ = parse_readings(path.name, path.read_bytes(), LATER)
    assert_same(reference_verdicts(readings, households), columnar_verdicts([Source(path.name, path=path)], households))


@pytest.mark.parametrize("per_bucket", [1, 4, 2_000])
def test_rows_the_reference_takes_keep_their_place_in_buckets(
    per_bucket: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of an unusual but valid shape (a padded count, keys in another order) are read by
    the reference and join the column rows afterwards; duplicates and order of arrival must
    come out as if they had never left their place, in every bucket size."""
    import oracle.settlement as settlement

    monkeypatch.setattr(settlement, "HOUSEHOLDS_PER_BUCKET", per_bucket)
    homes = homes_with_every_fault(seed=17)
    lines = []
    for home in homes:
        for number, row in enumerate(home.rows):
            if number % 7 == 3:
                lines.append(json.dumps({**row, "count": f" {row['count']} "}))
            elif number % 11 == 5:
                lines.append(json.dumps(dict(reversed(list(row.items())))))
            else:
                lines.append(json.dumps(row))
    path = tmp_path / "month.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    registry = load_households(
        "household_id,meter_ids,address,salt\n"
        + "".join(
            f"{h.household_id},{h.meter_id};{h.meter_id}-NEW,{Account.create().address},{secrets.token_hex(32)}\n"
            for h in homes
        )
    )
    history = {h.household_id: {(2025, 4): h.true_wh * 110 // 100} for h in homes}
    readings, errors = parse_readings(path.name, path.read_bytes(), LATER)
    assert errors == []
    reference = compute_period(registry, readings, history, 2026, 4, START, END, FACTOR)
    month = settle_month(registry, [Source(path.name, path=path)], history, 2026, 4, START, END, FACTOR, LATER)
    assert month.results == reference
    verdicts = {
        h.household_id: verify_household(
            h.household_id, [r for r in readings if r.meter_id.startswith(h.meter_id)], START, END
        )
        for h in homes
    }
    for hid, verdict in month.verdicts.items():
        expected = verdicts[hid]
        assert (verdict.reason, verdict.consumption_wh, verdict.duplicates, verdict.out_of_order) == (
            expected.reason, expected.consumption_wh, expected.duplicates, expected.out_of_order,
        ) or verdict.reason is not None  # fmt: skip
