"""Charts as inline SVG drawn on the server (no script in the browser), with a text title for screen readers."""

from __future__ import annotations

from html import escape

COLOURS = ["#1b6ca8", "#e07b39", "#3c9d5d", "#9b59b6", "#c0392b"]


def bars(title: str, labels: list[str], series: dict[str, list[float | None]], width: int = 640) -> str:
    """Grouped bars per label; a suppressed (None) value is drawn as a hatched gap marked "×"."""
    height, left, bottom, top = 220, 56, 36, 16
    values = [v for vs in series.values() for v in vs if v is not None]
    peak = max(values, default=0) or 1
    slot = (width - left - 8) / max(1, len(labels))
    bar = max(2.0, slot / (len(series) + 1))
    parts = [
        f'<svg role="img" viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#888"/>',
        f'<text x="4" y="{top + 4}" font-size="11">{_short(peak)}</text>',
    ]
    for i, label in enumerate(labels):
        x0 = left + i * slot
        for j, (name, vs) in enumerate(series.items()):
            value = vs[i] if i < len(vs) else None
            x = x0 + j * bar
            if value is None:
                parts.append(f'<text x="{x:.1f}" y="{height - bottom - 4}" font-size="10" fill="#999">×</text>')
                continue
            h = (height - bottom - top) * value / peak
            parts.append(
                f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{bar * 0.9:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[j % len(COLOURS)]}">'
                f"<title>{escape(name)} {escape(label)}: {_short(value)}</title></rect>"
            )
        if len(labels) <= 14 or i % 2 == 0:
            parts.append(f'<text x="{x0:.1f}" y="{height - bottom + 14}" font-size="10">{escape(label[-5:])}</text>')
    x = float(left)
    for j, name in enumerate(series):
        parts.append(
            f'<rect x="{x:.0f}" y="{height - 12}" width="10" height="10" fill="{COLOURS[j % len(COLOURS)]}"/>'
            f'<text x="{x + 14:.0f}" y="{height - 3}" font-size="11">{escape(name)}</text>'
        )
        x += max(120.0, 24 + _text_width(name))
    parts.append("</svg>")
    return "".join(parts)


def _text_width(text: str, size: int = 11) -> float:
    """About how wide ``text`` is drawn at ``size`` px: full-width (Japanese) characters ~1 em, others ~0.6 em."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.6 for ch in text)


def sparkline(values: list[float | None], width: int = 120, height: int = 28) -> str:
    """A KPI's trend in a logic-model cell; gaps where figures are suppressed."""
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return '<svg width="120" height="28" role="img"><title>—</title></svg>'
    low, high = min(known), max(known)
    span = (high - low) or 1
    step = width / max(1, len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (height - 4) * (v - low) / span:.1f}"
        for i, v in enumerate(values)
        if v is not None
    )
    return (
        f'<svg width="{width}" height="{height}" role="img" xmlns="http://www.w3.org/2000/svg"><title>trend</title>'
        f'<polyline fill="none" stroke="#1b6ca8" stroke-width="2" points="{points}"/></svg>'
    )


def _short(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.2f}"
