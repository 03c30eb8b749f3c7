"""Every household's verdict for a month at once, from the month's columns.

The rules are :mod:`oracle.verify`'s, applied to sorted columns instead of one household
at a time; the answers — verdict, reason code, detail, watt-hours, intervals, duplicates,
rows out of order — are the same, which the tests check against the row-by-row
reference on generated months with every fault. How the reference's loop maps here:

- the reference walks each meter's readings in time order (file order among equal
  times) and stops at the first problem; here the rows are sorted by
  ``(meter, half hour, arrival)`` once, every pair of consecutive distinct half hours is
  judged at once, and the first failing pair of each meter is kept;
- its meters are taken in order of their first reading in the month (ties: the order the
  household lists them), so the household's reason is that of the first meter, in that
  order, that fails;
- energy is exact in integers of 0.1 Wh (the smallest ECHONET Lite unit, 0.0001 kWh, is
  0.1 Wh per count): ``counts × coefficient × (0.1 Wh per unit)``; the reference's
  ``Fraction`` total rounded down is this total divided by ten, rounded down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

import polars as pl

from oracle.columnar_readings import ReadingColumns
from oracle.echonet import UNIT_KWH, counter_modulus
from oracle.readings import HALF_HOUR
from oracle.verify import MAX_WH_PER_INTERVAL, MIN_COMPLETENESS, SPIKE_FACTOR, SPIKE_FLOOR_WH, Verdict

# 0.1 Wh per count for each 0xE1 unit (kWh per count × 10,000)
DECI_WH_PER_UNIT = {code: int(kwh * 10_000) for code, kwh in UNIT_KWH.items()}


SLICE_ROWS = 4_000_000
"""Rows verified at a time: a slice holds whole households (their meters are numbered
together), so every per-meter and per-household figure is complete within it, and the
columns the checks compute (~60 bytes a row) exist for one slice only."""


def _spec_table(columns: ReadingColumns) -> pl.DataFrame:
    specs = columns.specs
    return pl.DataFrame(
        {
            "spec": pl.Series(range(len(specs)), dtype=pl.UInt16),
            "coefficient": pl.Series([s[0] for s in specs], dtype=pl.Int64),
            "per_count": pl.Series([DECI_WH_PER_UNIT[s[1]] for s in specs], dtype=pl.Int64),
            "modulus": pl.Series([counter_modulus(s[2]) for s in specs], dtype=pl.Int64),
            "digits": pl.Series([s[2] for s in specs], dtype=pl.Int64),
        }
    )


def _out_of_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Per meter: consecutive readings, in arrival order, that go back in time.

    ``frame`` is in arrival order (files in the order given, lines in order), so a stable
    sort by meter alone gives each meter's readings in arrival order."""
    arrival = frame.select("meter", "step").sort("meter", maintain_order=True)
    return (
        arrival.with_columns(
            ((pl.col("meter") == pl.col("meter").shift(1)) & (pl.col("step") < pl.col("step").shift(1)))
            .fill_null(False)
            .alias("back")
        )
        .group_by("meter")
        .agg(pl.col("back").sum().alias("out_of_order"))
    )


def _slice_figures(ordered: pl.DataFrame, specs: pl.DataFrame, owner: pl.Series) -> tuple[pl.DataFrame, ...]:
    """For rows sorted by (meter, half hour, arrival): per-meter figures, each meter's first
    conflicting duplicate and first failing pair, and each household's spike figures."""
    same_meter = pl.col("meter") == pl.col("meter").shift(1)
    ordered = ordered.with_columns(
        (same_meter & (pl.col("step") == pl.col("step").shift(1))).fill_null(False).alias("dup")
    ).with_columns(
        pl.when(pl.col("dup")).then(None).otherwise(pl.col("count")).forward_fill().alias("first_count")
    )  # fmt: skip
    ordered = ordered.with_columns((pl.col("dup") & (pl.col("count") != pl.col("first_count"))).alias("conflict"))
    conflicts = (
        ordered.filter(pl.col("conflict"))
        .group_by("meter", maintain_order=True)
        .first()
        .select("meter", "step", "first_count", "count")
    )
    per_meter_rows = ordered.group_by("meter").agg(
        pl.col("step").min().alias("first_step"),
        (pl.col("dup") & ~pl.col("conflict")).sum().alias("duplicates"),
    )
    unique = ordered.filter(~pl.col("dup")).select(
        "meter", "step", pl.col("count").cast(pl.Int64), "spec", "src", "line"
    )
    del ordered
    previous = pl.col("count").shift(1)
    pairs = (
        unique.join(specs, on="spec", how="left", maintain_order="left")
        .with_columns(
            same_meter.fill_null(False).alias("pair"),
            previous.alias("previous"),
            (pl.col("step").cast(pl.Int64) - pl.col("step").shift(1).cast(pl.Int64)).alias("steps"),
        )
        .filter(pl.col("pair"))
        .with_columns(
            (
                (pl.col("count") < pl.col("previous"))
                & ~(
                    (pl.col("previous") >= pl.col("modulus").cast(pl.Float64) * 0.9)
                    & (pl.col("count") < pl.col("modulus").cast(pl.Float64) * 0.1)
                )
            ).alias("negative"),
            (pl.col("previous") >= pl.col("modulus")).alias("beyond"),
            pl.when(pl.col("count") >= pl.col("previous"))
            .then(pl.col("count") - pl.col("previous"))
            .otherwise(pl.col("count") + pl.col("modulus") - pl.col("previous"))
            .alias("delta"),
        )
        .with_columns((pl.col("delta") * pl.col("coefficient")).alias("scaled"))
        .with_columns(
            (pl.col("scaled") > (MAX_WH_PER_INTERVAL * 10 * pl.col("steps")) // pl.col("per_count")).alias("impossible")
        )
        .with_columns(
            pl.when(pl.col("impossible") | pl.col("beyond"))
            .then(0)
            .otherwise(pl.col("scaled") * pl.col("per_count"))
            .alias("deci_wh"),
            (pl.col("negative") | pl.col("beyond") | pl.col("impossible")).alias("fails"),
        )
    )
    del unique
    failures = (
        pairs.filter(pl.col("fails"))
        .group_by("meter", maintain_order=True)
        .first()
        .select("meter", "previous", "count", "steps", "delta", "coefficient", "spec", "digits", "src", "line",
                "negative", "beyond")
    )  # fmt: skip
    single = pl.col("steps") == 1
    per_meter = per_meter_rows.join(
        pairs.group_by("meter").agg(single.sum().alias("intervals"), pl.col("deci_wh").sum().alias("deci_wh")),
        on="meter",
        how="left",
    )
    spikes = (
        pairs.filter(single & (pl.col("deci_wh") > 0))
        .select(pl.col("meter").map_batches(lambda m: owner.gather(m), return_dtype=pl.UInt32).alias("household"),
                "deci_wh")
        .group_by("household")
        .agg(pl.col("deci_wh").max().alias("worst"), pl.col("deci_wh").median().alias("median"))
    )  # fmt: skip
    return per_meter, conflicts, failures, spikes


def _household_cuts(sorted_meters: pl.Series, next_household_meter: list[int]) -> list[int]:
    """Row offsets splitting the rows (sorted by meter) into slices of about ``SLICE_ROWS``
    that end where a household ends (a household's meters are numbered together)."""
    cuts, position, total = [0], 0, len(sorted_meters)
    while position + SLICE_ROWS < total:
        meter = int(sorted_meters[position + SLICE_ROWS])
        position = int(sorted_meters.search_sorted(next_household_meter[meter], side="left"))
        if position >= total:
            break
        cuts.append(position)
    cuts.append(total)
    return cuts


def _figures(columns: ReadingColumns, owner: pl.Series, next_household_meter: list[int]) -> tuple[pl.DataFrame, ...]:
    """Every figure the household verdicts need, bucket by bucket, slice by slice of whole households.

    Each bucket is taken out of ``columns`` as it is verified (its sorted copy replaces it,
    then both go): a city's month is ~1.2 GB of rows, and only one bucket's sorted copy
    and checks exist at a time."""
    specs = _spec_table(columns)
    results: list[tuple[pl.DataFrame, ...]] = []
    for bucket in range(len(columns.parts)):
        frame, columns.parts[bucket] = columns.parts[bucket], columns.parts[bucket].clear()
        out_of_order = _out_of_order(frame)
        ordered = frame.sort(pl.col("meter").cast(pl.UInt64) * 65_536 + pl.col("step"), maintain_order=True)
        del frame
        cuts = _household_cuts(ordered["meter"], next_household_meter)
        for first, last in zip(cuts, cuts[1:], strict=False):
            per_meter, conflicts, failures, spikes = _slice_figures(ordered.slice(first, last - first), specs, owner)
            results.append((per_meter.join(out_of_order, on="meter", how="left"), conflicts, failures, spikes))
        del ordered
    per_meter, conflicts, failures, spikes = (pl.concat([r[i] for r in results]) for i in range(4))
    return per_meter.fill_null(0), conflicts, failures, spikes


def verify_all(
    columns: ReadingColumns,
    households: Sequence[tuple[str, Sequence[int]]],
    start: int,
    end: int,
) -> list[Verdict]:
    """Verdicts for ``households`` — (name, meter indices in the order the household lists them).

    Consumes ``columns.parts`` (see :func:`_figures`). The households' meters must be
    numbered together, household after household (``settlement.meter_indices`` does).
    """
    owner_of = [0] * len(columns.meters)
    for number, (_, meters) in enumerate(households):
        for meter in meters:
            owner_of[meter] = number
    owner = pl.Series(owner_of, dtype=pl.UInt32)
    last_meter = [max(meters, default=-1) for _, meters in households]
    next_household_meter = [last_meter[household] + 1 for household in owner_of]
    per_meter, conflicts, failures, spike = _figures(columns, owner, next_household_meter)
    figures = {row["meter"]: row for row in per_meter.iter_rows(named=True)}
    conflict_of = {row["meter"]: row for row in conflicts.iter_rows(named=True)}
    failure_of = {row["meter"]: row for row in failures.iter_rows(named=True)}
    spikes = {row["household"]: (row["worst"], row["median"]) for row in spike.iter_rows(named=True)}
    expected = (end - start) // HALF_HOUR
    return [
        _household(columns, name, meters, figures, conflict_of, failure_of, spikes.get(number), expected, start)
        for number, (name, meters) in enumerate(households)
    ]


def _household(
    columns: ReadingColumns,
    name: str,
    meters: Sequence[int],
    figures: Mapping[int, dict],
    conflict_of: Mapping[int, dict],
    failure_of: Mapping[int, dict],
    spike: tuple[int, float] | None,
    expected: int,
    start: int,
) -> Verdict:
    verdict = Verdict(name, expected=expected)
    present = [(figures[m]["first_step"], position, m) for position, m in enumerate(meters) if m in figures]
    if not present:
        return verdict.exclude("NO_READINGS", "no reading in the period")
    total = 0
    for _, _, meter in sorted(present):
        meter_id = columns.meters[meter]
        verdict.meters.append(meter_id)
        verdict.out_of_order += figures[meter]["out_of_order"]
        conflict = conflict_of.get(meter)
        if conflict is not None:
            return verdict.exclude(
                "CONFLICTING_DUPLICATE",
                f"meter {meter_id} at {start + HALF_HOUR * conflict['step']}: "
                f"{conflict['first_count']} and {conflict['count']}",
            )
        verdict.duplicates += figures[meter]["duplicates"]
        failure = failure_of.get(meter)
        if failure is not None:
            where = columns.source_of(failure["src"], failure["line"])
            if failure["negative"]:
                return verdict.exclude(
                    "NEGATIVE_DELTA", f"meter {meter_id}: {failure['previous']} then {failure['count']} ({where})"
                )
            if failure["beyond"]:
                return verdict.exclude(
                    "IMPOSSIBLE_DELTA",
                    f"meter {meter_id}: {failure['previous']} does not fit the "
                    f"{failure['digits']}-digit counter of the next reading ({where})",
                )
            _, unit, _ = columns.specs[failure["spec"]]
            wh = Fraction(failure["delta"] * failure["coefficient"] * DECI_WH_PER_UNIT[unit], 10)
            return verdict.exclude(
                "IMPOSSIBLE_DELTA", f"meter {meter_id}: {float(wh):.0f} Wh in {failure['steps']} half hour(s) ({where})"
            )
        total += figures[meter]["deci_wh"]
        verdict.intervals += figures[meter]["intervals"]
    if spike is not None:
        worst, median = spike
        if worst > SPIKE_FLOOR_WH * 10 and worst > median * SPIKE_FACTOR:
            exact_median = Fraction(round(median * 2), 20)
            return verdict.exclude(
                "SPIKE", f"{float(Fraction(worst, 10)):.0f} Wh in one half hour; median {float(exact_median):.0f} Wh"
            )
    if verdict.expected and Fraction(verdict.intervals, verdict.expected) < MIN_COMPLETENESS:
        share = 100 * verdict.intervals / verdict.expected
        return verdict.exclude("INCOMPLETE", f"{verdict.intervals} of {verdict.expected} half hours ({share:.1f} %)")
    verdict.consumption_wh = total // 10
    return verdict
