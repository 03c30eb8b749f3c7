"""Verifying one household's readings for a period, and its consumption in watt-hours.

Rules (each exclusion has a stable reason code):

- ``NO_READINGS``: nothing from the household's meters in the period.
- ``CONFLICTING_DUPLICATE``: one meter reported two different counts for one half hour
  (identical repeats are merged and counted in ``duplicates``).
- ``NEGATIVE_DELTA``: a counter went down without being near its wrap-around point
  (top 10 % to bottom 10 % of ``10 ** digits``), e.g. a reset or a swapped meter not declared.
- ``IMPOSSIBLE_DELTA``: more than ``MAX_WH_PER_INTERVAL`` in one half hour (a 60 A, 200 V
  low-voltage contract draws at most 6 kWh per half hour; 10 kWh leaves margin).
- ``SPIKE``: one half hour above ``SPIKE_FACTOR`` × the household's median and above 2 kWh.
- ``INCOMPLETE``: fewer than ``MIN_COMPLETENESS`` of the period's half hours are covered by
  consecutive readings.

Readings out of order are sorted (and counted in ``out_of_order``). A meter replaced during
the period is handled by computing each meter's own segment; the half hour of the swap is
then the only one not covered.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from oracle.echonet import counter_modulus, counts_to_wh, delta_counts
from oracle.readings import HALF_HOUR, Reading

MIN_COMPLETENESS = Fraction(95, 100)
MAX_WH_PER_INTERVAL = 10_000
SPIKE_FACTOR = 8
SPIKE_FLOOR_WH = 2_000


@dataclass
class Verdict:
    household: str
    consumption_wh: int | None = None
    reason: str | None = None
    detail: str = ""
    intervals: int = 0
    expected: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    meters: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reason is None

    def exclude(self, reason: str, detail: str) -> Verdict:
        self.reason, self.detail, self.consumption_wh = reason, detail, None
        return self


def verify_household(household: str, readings: list[Reading], start: int, end: int) -> Verdict:
    """Consumption between ``start`` and ``end`` (unix seconds on half hours) from ``readings``."""
    verdict = Verdict(household, expected=(end - start) // HALF_HOUR)
    in_period = [r for r in readings if start <= r.time <= end]
    if not in_period:
        return verdict.exclude("NO_READINGS", "no reading in the period")
    by_meter: dict[str, list[Reading]] = defaultdict(list)
    for reading in in_period:
        by_meter[reading.meter_id].append(reading)
    total = Fraction(0)
    deltas_wh: list[Fraction] = []
    for meter_id, rows in sorted(by_meter.items(), key=lambda item: min(r.time for r in item[1])):
        verdict.meters.append(meter_id)
        verdict.out_of_order += sum(1 for a, b in zip(rows, rows[1:], strict=False) if b.time < a.time)
        unique: dict[int, Reading] = {}
        for reading in sorted(rows, key=lambda r: r.time):
            seen = unique.get(reading.time)
            if seen is None:
                unique[reading.time] = reading
            elif seen.count == reading.count:
                verdict.duplicates += 1
            else:
                return verdict.exclude(
                    "CONFLICTING_DUPLICATE", f"meter {meter_id} at {reading.time}: {seen.count} and {reading.count}"
                )
        ordered = [unique[t] for t in sorted(unique)]
        for previous, current in zip(ordered, ordered[1:], strict=False):
            steps = (current.time - previous.time) // HALF_HOUR
            modulus = counter_modulus(current.digits)
            if current.count < previous.count and not (
                previous.count >= modulus * 0.9 and current.count < modulus * 0.1
            ):
                return verdict.exclude(
                    "NEGATIVE_DELTA", f"meter {meter_id}: {previous.count} then {current.count} ({current.source})"
                )
            if previous.count >= modulus:  # the meter's digits (0xD7) shrank between two readings
                return verdict.exclude(
                    "IMPOSSIBLE_DELTA",
                    f"meter {meter_id}: {previous.count} does not fit the {current.digits}-digit counter "
                    f"of the next reading ({current.source})",
                )
            wh = counts_to_wh(
                delta_counts(previous.count, current.count, current.digits), current.coefficient, current.unit
            )
            if wh > MAX_WH_PER_INTERVAL * steps:
                return verdict.exclude(
                    "IMPOSSIBLE_DELTA",
                    f"meter {meter_id}: {float(wh):.0f} Wh in {steps} half hour(s) ({current.source})",
                )
            total += wh
            verdict.intervals += steps if steps == 1 else 0
            if steps == 1:
                deltas_wh.append(wh)
    positive = [d for d in deltas_wh if d > 0]
    if positive:
        median = statistics.median(positive)
        worst = max(positive)
        if worst > SPIKE_FLOOR_WH and worst > median * SPIKE_FACTOR:
            return verdict.exclude("SPIKE", f"{float(worst):.0f} Wh in one half hour; median {float(median):.0f} Wh")
    if verdict.expected and Fraction(verdict.intervals, verdict.expected) < MIN_COMPLETENESS:
        share = 100 * verdict.intervals / verdict.expected
        return verdict.exclude("INCOMPLETE", f"{verdict.intervals} of {verdict.expected} half hours ({share:.1f} %)")
    verdict.consumption_wh = int(total)  # rounded down once, to the watt-hour
    return verdict
