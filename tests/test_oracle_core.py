"""The oracle's evidence rules and arithmetic, on hand-computed cases and generated data with known answers."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from oracle.echonet import counts_to_wh, delta_counts
from oracle.generator import FAULTS, JST, generate, write_csv, write_jsonl
from oracle.readings import Reading, parse_readings, read_file
from oracle.reduction import EmissionFactor, baseline, reduce
from oracle.verify import verify_household

T0 = int(datetime(2026, 4, 1, tzinfo=JST).timestamp())


def reading(
    count: int, step: int, meter: str = "M1", unit: int = 0x01, coefficient: int = 2, digits: int = 6
) -> Reading:
    return Reading(meter, T0 + 1800 * step, count, coefficient, unit, digits, f"test:{step}")


def test_hand_computed_consumption_and_wrap_around() -> None:
    # counts × coefficient 2 × 0.1 kWh: (3 + 7) counts = 2.0 kWh
    verdict = verify_household("H1", [reading(100, 0), reading(103, 1), reading(110, 2)], T0, T0 + 3600)
    assert verdict.ok and verdict.consumption_wh == 2_000 and verdict.intervals == verdict.expected == 2
    assert delta_counts(9_995, 3, 4) == 8
    assert counts_to_wh(8, 1, 0x03) == 8  # 0.001 kWh per count
    wrapped = verify_household("H2", [reading(9_990, 0, digits=4), reading(4, 1, digits=4)], T0, T0 + 1800)
    assert wrapped.ok and wrapped.consumption_wh == 14 * 2 * 100  # 14 counts × 2 × 100 Wh
    # fractions of a watt-hour add up exactly and are rounded down once
    tiny = [reading(i, i, unit=0x04, coefficient=1) for i in range(4)]  # 0.1 Wh per count
    assert verify_household("H3", tiny, T0, T0 + 3 * 1800).consumption_wh == 0  # 0.3 Wh → 0


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ([reading(100, 0), reading(50, 1)], "NEGATIVE_DELTA"),
        ([reading(100, 0), reading(100_100, 1)], "IMPOSSIBLE_DELTA"),
        ([reading(100, 0), reading(101, 0), reading(105, 1)], "CONFLICTING_DUPLICATE"),
        ([reading(100, 0), reading(101, 1)], "INCOMPLETE"),
        ([], "NO_READINGS"),
    ],
)
def test_each_exclusion_has_its_reason(rows: list[Reading], reason: str) -> None:
    end = T0 + 1800 * (2 if reason == "INCOMPLETE" else 1)
    verdict = verify_household("H", rows, T0, end)
    assert verdict.reason == reason and verdict.consumption_wh is None and verdict.detail


def test_generated_month_known_answers_for_every_fault(tmp_path: Path) -> None:
    faults = {i + 1: {fault} for i, fault in enumerate(FAULTS)}
    homes = generate(len(FAULTS) + 1, 2026, 4, seed=7, faults=faults)
    path = write_jsonl(homes, tmp_path / "april.jsonl")
    readings, errors = read_file(path, now=time.time() + 10**9)
    assert not errors
    start = int(datetime(2026, 4, 1, tzinfo=JST).timestamp())
    end = int(datetime(2026, 5, 1, tzinfo=JST).timestamp())
    expected = {
        None: None, "gaps": "INCOMPLETE", "meter_swap": None, "spike": "SPIKE", "duplicates": None,
        "out_of_order": None, "conflict": "CONFLICTING_DUPLICATE", "reset": "NEGATIVE_DELTA", "wrap": None,
    }  # fmt: skip
    for home in homes:
        meters = {home.meter_id, home.meter_id + "-NEW"}
        verdict = verify_household(home.household_id, [r for r in readings if r.meter_id in meters], start, end)
        fault = next(iter(home.faults), None)
        assert verdict.reason == expected[fault], (fault, verdict)
        if verdict.ok:
            assert verdict.consumption_wh == home.true_wh, fault  # exact, to the watt-hour
    swap = verify_household("H", [r for r in readings if r.meter_id.startswith(homes[2].meter_id)], start, end)
    assert len(swap.meters) == 2
    assert verify_household("H", [r for r in readings if r.meter_id == homes[4].meter_id], start, end).duplicates == 4


def test_files_in_shift_jis_with_bad_rows_and_a_cut_off_line(tmp_path: Path) -> None:
    homes = generate(2, 2026, 4, seed=3)
    path = write_csv(homes, tmp_path / "meters.csv", encoding="cp932")
    raw = path.read_bytes()
    lines = raw.split(b"\r\n")
    future = b"M1,2099-01-01T00:00:00+09:00,1,1,0x02,6"
    bad_unit = b"M1,2026-04-01T00:00:00+09:00,1,1,0x05,6"
    odd_time = b"M1,2026-04-01T00:10:00+09:00,1,1,0x02,6"
    no_zone = b"M1,2026-04-01T00:00:00,1,1,0x02,6"
    text = b"M1,2026-04-01T00:00:00+09:00,abc,1,0x02,6"
    broken = b"\r\n".join([*lines[:-1], future, bad_unit, odd_time, no_zone, text]) + b"\r\nM1,2026-04-01T00:30"
    readings, errors = parse_readings("meters.csv", broken)
    assert len(readings) == sum(len(h.rows) for h in homes)
    reasons = {e.source.split(":")[1]: e.reason for e in errors}
    assert len(errors) == 6
    assert any("future" in r for r in reasons.values())
    assert any("0x05" in r for r in reasons.values())
    assert any("half hour" in r for r in reasons.values())
    assert any("offset" in r for r in reasons.values())
    assert any("whole number" in r for r in reasons.values())
    assert any("incomplete last line" in r for r in reasons.values())
    assert all(e.source.startswith("meters.csv:") for e in errors)
    _, errors = parse_readings("x.csv", b"\xff\xfe\xfa garbage")
    assert errors and "Shift_JIS" in errors[0].reason
    _, errors = parse_readings("x.jsonl", b'{"meter_id": "M1"}\n[1, 2]\n')
    assert [e.source for e in errors] == ["x.jsonl:1", "x.jsonl:2"]


def test_baseline_reduction_and_co2_in_integers() -> None:
    factor = EmissionFactor(2026, 350, "Kansai Electric FY2018 basic, 0.35 kg-CO2/kWh (illustrative)")
    history = {(2025, 4): 300_000, (2026, 1): 310_000, (2026, 2): 280_000, (2026, 3): 300_000}
    base = baseline(history, 2026, 4)
    assert base == (300_000, "same month of 2025")
    result = reduce(287_655, base, factor)
    assert result.reduction_wh == 12_345 and result.co2_g == 4_320  # 4,320.75 g rounded down
    assert reduce(320_000, base, factor).co2_g == 0  # no negative reductions
    fallback = baseline({(2026, 1): 310_000, (2026, 3): 310_000}, 2026, 4)
    assert fallback is not None and fallback[1] == "mean of 2 recent month(s)"
    # Jan: 10,000 Wh/day, Mar: 10,000 Wh/day → 30 days of April = 300,000 Wh
    assert fallback[0] == 300_000
    assert baseline({}, 2026, 4) is None
