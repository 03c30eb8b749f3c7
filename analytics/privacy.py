"""Privacy by construction: the k-rule with complementary suppression, and the researchers' coarsening.

Every published cell counts at least ``k`` people (default 10). A cell with 1 … k-1 people is
suppressed (*primary*). Because tables are shown with their row and column totals, one hidden
cell in a row could be recovered by subtracting the others from the total; so whenever a row,
a column or the line of totals holds exactly one hidden cell, the smallest other non-empty
cell of that line is hidden as well (*complementary*), repeated until no line has a single
hidden cell. Totals are cells too: a total below k is hidden, and counts as the hidden cell of
its line of totals. Pure functions over plain data, so the rule is tested on hand-made tables.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

TOTAL = "Σ"
COUNT_BASE = 5  # researchers' exports: people counts to the nearest multiple of this
POINTS_BASE = 100  # … and point sums to the nearest multiple of this


@dataclass
class Table:
    """A two-way table of people (and optional values) with totals, after the k-rule.

    ``people`` and ``values`` hold every cell including the totals (row ``TOTAL`` / column
    ``TOTAL``); ``hidden`` the cells that must not be shown (primary and complementary).
    """

    rows: list[Hashable]
    cols: list[Hashable]
    people: dict[tuple[Hashable, Hashable], int]
    values: dict[str, dict[tuple[Hashable, Hashable], float]] = field(default_factory=dict)
    hidden: set[tuple[Hashable, Hashable]] = field(default_factory=set)
    primary: set[tuple[Hashable, Hashable]] = field(default_factory=set)

    def shown(self, row: Hashable, col: Hashable, measure: str = "people") -> float | None:
        """The cell's figure, or None when it is hidden or empty."""
        if (row, col) in self.hidden:
            return None
        if measure == "people":
            return self.people.get((row, col))
        return self.values.get(measure, {}).get((row, col))


def build(
    cells: Iterable[tuple[Hashable, Hashable, int, dict[str, float]]],
    k: int,
    rows: list[Hashable] | None = None,
    col_totals: bool = True,
) -> Table:
    """A table from ``(row, col, people, values)`` cells whose people add up (each person in one cell).

    Totals are sums of the cells. ``rows`` fixes the row order (otherwise sorted). Without
    ``col_totals`` only the row totals exist (tables over months: see ``publish.py``).
    """
    people: dict[tuple[Hashable, Hashable], int] = {}
    values: dict[str, dict[tuple[Hashable, Hashable], float]] = {}
    for row, col, count, measures in cells:
        keys = ((row, col), (row, TOTAL), (TOTAL, col), (TOTAL, TOTAL)) if col_totals else ((row, col), (row, TOTAL))
        for key in keys:
            people[key] = people.get(key, 0) + count
            for name, value in measures.items():
                bucket = values.setdefault(name, {})
                bucket[key] = bucket.get(key, 0) + (value or 0)
    row_keys = rows if rows is not None else sorted({r for r, _ in people if r != TOTAL}, key=str)
    col_keys = sorted({c for _, c in people if c != TOTAL}, key=str)
    table = Table(row_keys, col_keys, people, values)
    suppress(table, k)
    return table


def given(
    cells: Iterable[tuple[Hashable, Hashable, int | None, dict[str, float | None]]],
    k: int,
    rows: list[Hashable],
    cols: list[Hashable],
) -> Table:
    """A table whose cells *and totals* (row or column ``TOTAL``) come counted from a source that applied its
    own k-rule: ``None`` people is a cell the source hid. Used where people are distinct counts that do not
    add up (a volunteer watches in several districts). The source's hidden cells stay hidden, this
    platform's k hides more if larger, and complementary suppression runs again over the result."""
    people: dict[tuple[Hashable, Hashable], int] = {}
    values: dict[str, dict[tuple[Hashable, Hashable], float]] = {}
    hidden: set[tuple[Hashable, Hashable]] = set()
    for row, col, count, measures in cells:
        people[(row, col)] = count or 0
        if count is None or 0 < count < k:
            hidden.add((row, col))
        for name, value in measures.items():
            if value is not None:
                values.setdefault(name, {})[(row, col)] = value
    table = Table(rows, cols, people, values, hidden, set(hidden))
    close(table)
    return table


def suppress(table: Table, k: int) -> None:
    """Applies the k-rule (primary) and complementary suppression to ``table`` in place."""
    table.primary = {cell for cell, count in table.people.items() if 0 < count < k}
    table.hidden = set(table.primary)
    close(table)


def close(table: Table) -> None:
    """Complementary suppression: hides more cells until no line has exactly one hidden cell."""
    hidden = table.hidden
    lines: list[list[tuple[Hashable, Hashable]]] = []
    for row in [*table.rows, TOTAL]:
        lines.append([(row, col) for col in [*table.cols, TOTAL] if (row, col) in table.people])
    for col in [*table.cols, TOTAL]:
        if (TOTAL, col) in table.people:  # a column is a constraint only when its total is shown
            lines.append([(row, col) for row in [*table.rows, TOTAL] if (row, col) in table.people])
    changed = True
    while changed:
        changed = False
        for line in lines:
            inside = [cell for cell in line if cell in hidden]
            if len(inside) != 1:
                continue
            candidates = [c for c in line if c not in hidden and table.people.get(c, 0) > 0]
            if not candidates:
                continue
            # the smallest other cell: the least information lost
            hidden.add(min(candidates, key=lambda c: (table.people[c], TOTAL in c, str(c))))
            changed = True
    table.hidden = hidden


def recoverable(table: Table) -> list[tuple[Hashable, Hashable]]:
    """Hidden cells an attacker could compute from the shown ones by subtraction along one line.

    Used by the tests: after :func:`suppress` this is always empty.
    """
    found: list[tuple[Hashable, Hashable]] = []
    for row in [*table.rows, TOTAL]:
        line = [(row, col) for col in [*table.cols, TOTAL] if (row, col) in table.people]
        if sum(1 for c in line if c in table.hidden) == 1:
            found.extend(c for c in line if c in table.hidden)
    for col in [*table.cols, TOTAL]:
        if (TOTAL, col) not in table.people:
            continue
        line = [(row, col) for row in [*table.rows, TOTAL] if (row, col) in table.people]
        if sum(1 for c in line if c in table.hidden) == 1:
            found.extend(c for c in line if c in table.hidden)
    return found


def coarse_count(count: int | None) -> int | None:
    """A count for researchers: nearest multiple of :data:`COUNT_BASE` (a suppressed cell stays None)."""
    return None if count is None else int(round(count / COUNT_BASE)) * COUNT_BASE


def coarse_points(points: float | None) -> int | None:
    return None if points is None else int(round(points / POINTS_BASE)) * POINTS_BASE


def series(rows: list[dict[str, Any]], key: str, k: int) -> list[dict[str, Any]]:
    """A one-way series (e.g. by month): rows with fewer than ``k`` people lose every figure but the key."""
    out = []
    for row in rows:
        if row.get("people", 0) < k:
            out.append({key: row[key], "people": None, "suppressed": True})
        else:
            out.append({**row, "suppressed": False})
    return out
