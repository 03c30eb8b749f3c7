"""Figures from samples: the one percentile rule every benchmark reports with."""

from __future__ import annotations

from collections.abc import Sequence


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ratio(value: float | None, base: float | None) -> str:
    """``value / base`` as ``"1.23x"``, or a dash when either is missing."""
    return "—" if value is None or not base else f"{value / base:.2f}x"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
