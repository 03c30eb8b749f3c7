"""From consumption to CO2: baseline, reduction and grams of CO2, in integers.

- **Baseline**: the household's verified consumption in the same month of the previous
  year. Fallback (documented, not weather-normalised): the mean daily consumption of its
  verified months among the previous three, times the days of this month, rounded down.
  Without either, the household is excluded with ``NO_BASELINE``. (CalTRACK's
  weather-normalised daily models are the field's reference; they need temperature data
  this oracle does not have yet.)
- **Reduction** = max(0, baseline − actual), in Wh.
- **CO2** = reduction × emission factor (g-CO2/kWh) ÷ 1000, rounded down to the gram.

Emission factors are configured per fiscal year with their published source, e.g. Kansai
Electric Power FY2018: 0.35 kg-CO2/kWh (basic), 0.33 (adjusted) — see ``docs/oracle.md``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass


@dataclass(frozen=True)
class EmissionFactor:
    fiscal_year: int
    grams_per_kwh: int
    source: str


@dataclass(frozen=True)
class Reduction:
    baseline_wh: int
    baseline_source: str
    actual_wh: int
    reduction_wh: int
    co2_g: int


def month_days(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def previous_months(year: int, month: int, count: int) -> list[tuple[int, int]]:
    months = []
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        months.append((year, month))
    return months


def baseline(history: dict[tuple[int, int], int], year: int, month: int) -> tuple[int, str] | None:
    """(baseline Wh, how it was found) from a household's verified monthly totals, or None."""
    same_month = history.get((year - 1, month))
    if same_month is not None:
        return same_month, f"same month of {year - 1}"
    recent = [(ym, history[ym]) for ym in previous_months(year, month, 3) if ym in history]
    if not recent:
        return None
    per_day_sum = sum(wh * 1_000_000 // month_days(*ym) for ym, wh in recent)  # micro-Wh per day
    daily = per_day_sum // len(recent)
    return daily * month_days(year, month) // 1_000_000, f"mean of {len(recent)} recent month(s)"


def reduce(actual_wh: int, base: tuple[int, str], factor: EmissionFactor) -> Reduction:
    baseline_wh, source = base
    saved = max(0, baseline_wh - actual_wh)
    return Reduction(baseline_wh, source, actual_wh, saved, saved * factor.grams_per_kwh // 1000)
