"""ECHONET Lite low-voltage smart electric energy meter (class group 0x02, class 0x88).

The B-route delivers, per meter, the cumulative amount of normal-direction energy at each
fixed half hour (property 0xEA, a 4-byte count), which is turned into kWh with

    energy = count × coefficient (0xD3, default 1) × unit (0xE1)

and wraps to zero after ``10 ** digits − 1`` (0xD7, the number of effective digits, 1–8).
All arithmetic here is in integers: watt-hours for energy, with units below 1 Wh kept as
exact fractions until the per-period total is rounded (down) once.
"""

from __future__ import annotations

from fractions import Fraction

CLASS_CODE = 0x0288
EPC_COEFFICIENT = 0xD3
EPC_DIGITS = 0xD7
EPC_UNIT = 0xE1
EPC_CUMULATIVE_AT_FIXED_TIME = 0xEA

# 0xE1 unit for cumulative amounts: kWh per count
UNIT_KWH: dict[int, Fraction] = {
    0x00: Fraction(1),
    0x01: Fraction(1, 10),
    0x02: Fraction(1, 100),
    0x03: Fraction(1, 1000),
    0x04: Fraction(1, 10000),
    0x0A: Fraction(10),
    0x0B: Fraction(100),
    0x0C: Fraction(1000),
    0x0D: Fraction(10000),
}
MAX_COUNT = 99_999_999  # 0xEA is 0x00000000–0x05F5E0FF


class MeterSpecError(ValueError):
    """A reading's coefficient, unit or digits is outside the ECHONET Lite specification."""


def check_spec(coefficient: int, unit: int, digits: int) -> None:
    if not 1 <= coefficient <= 999_999:
        raise MeterSpecError(f"coefficient (0xD3) must be 1..999999, not {coefficient}")
    if unit not in UNIT_KWH:
        raise MeterSpecError(f"unit (0xE1) 0x{unit:02X} is not an ECHONET Lite unit code")
    if not 1 <= digits <= 8:
        raise MeterSpecError(f"effective digits (0xD7) must be 1..8, not {digits}")


def counter_modulus(digits: int) -> int:
    """The count at which the cumulative counter wraps back to zero."""
    return 10**digits


def delta_counts(previous: int, current: int, digits: int) -> int:
    """Counts between two cumulative readings, across at most one wrap-around."""
    modulus = counter_modulus(digits)
    if not (0 <= previous < modulus and 0 <= current < modulus):
        raise MeterSpecError(f"a reading is beyond {digits} digits")
    return current - previous if current >= previous else current + modulus - previous


def counts_to_wh(counts: int, coefficient: int, unit: int) -> Fraction:
    """Exact watt-hours of ``counts`` (kept as a fraction; round once per period)."""
    return Fraction(counts) * coefficient * UNIT_KWH[unit] * 1000
