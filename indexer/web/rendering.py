"""How the explorer answers: server-rendered pages (Jinja2), streamed CSV and inline SVG charts.

Every page carries the same security headers (no script runs in the browser) and
remembers the visitor's language in a cookie when ``?lang=`` chooses it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from indexer import queries
from indexer.labels import short
from indexer.web.texts import TEXTS, event_name, kind_code, kind_name

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSP = (
    "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def lang_of(request: Request) -> str:
    """``?lang=`` first, then the ``lang`` cookie; Japanese unless English is asked for."""
    wanted = request.query_params.get("lang") or request.cookies.get("lang") or ""
    return "en" if wanted == "en" else "ja"


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, queries.JST).strftime("%Y-%m-%d %H:%M:%S")


class Pages:
    """Renders a template with what every page shows (language, indexed head, helpers)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.templates = Jinja2Templates(directory=str(TEMPLATES))

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        lang = lang_of(request)
        with self.sessions() as db:
            cp = queries.head(db)
        words = TEXTS[lang]
        response = self.templates.TemplateResponse(
            request,
            template,
            {
                "t": words,
                "lang": lang,
                "other_lang": "en" if lang == "ja" else "ja",
                "indexed": cp.block_number if cp else None,
                "short": short,
                "when": _when,
                "kind_word": lambda k: kind_name(k, lang),
                "event_word": lambda e: event_name(e, lang),
                **context,
            },
            status_code=status,
        )
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.query_params.get("lang") in ("ja", "en"):
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
        return response


BOM = "\ufeff"
"""Excel reads a CSV without it as Shift_JIS (mojibake for every Japanese name): every export starts with it."""


def jst_time(ts: int | None) -> str:
    """A CSV time: ISO 8601 in Japan time with its offset (``2026-12-03T14:05:09+09:00``), read as it is
    by people and parsed exactly by every tool (Unix seconds meant nothing to a first-time reader)."""
    if not ts:
        return ""
    try:
        return datetime.fromtimestamp(int(ts), queries.JST).isoformat()
    except (OverflowError, ValueError, OSError):
        return ""  # a programme "without end" (a far-future sentinel no calendar holds) is left blank


def csv_response(
    name: str,
    header: list[str],
    rows: Iterable[Iterable[Any]],
    times: tuple[str, ...] = ("timestamp",),
    kinds_in: str | None = None,
    lang: str = "ja",
) -> StreamingResponse:
    """A CSV download streamed as the client reads it (whole listings never sit in memory, finding 16).

    It starts with a BOM; the columns named in ``times`` (Unix seconds in the index) are written as
    :func:`jst_time`; with ``kinds_in``, that column holds a kind's one code (``texts.kind_code``) and a
    ``kind_name`` column after it its name in ``lang`` from the same table as the pages.
    """
    time_at = [i for i, column in enumerate(header) if column in times]
    kind_at = header.index(kinds_in) if kinds_in else None
    columns = list(header) if kind_at is None else [*header[: kind_at + 1], "kind_name", *header[kind_at + 1 :]]

    def shaped(row: Iterable[Any]) -> list[Any]:
        cells = list(row)
        for i in time_at:
            cells[i] = jst_time(cells[i])
        if kind_at is not None:
            code = kind_code(cells[kind_at])
            cells[kind_at : kind_at + 1] = [code, kind_name(code, lang)]
        return cells

    def generate() -> Iterable[str]:
        buffer = io.StringIO()
        buffer.write(BOM)
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(shaped(row))
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return StreamingResponse(generate(), media_type="text/csv; charset=utf-8", headers=headers)


def bar_chart(values: list[int], labels: list[str], lang: str = "ja", height: int = 140) -> str:
    """An inline SVG bar chart (no script, no external asset); its scale says "最大" or "max" with the page."""
    width, top = 600, max(values + [1])
    step = width / max(len(values), 1)
    bars = []
    for i, value in enumerate(values):
        h = round(value / top * (height - 20))
        x = round(i * step + 2, 1)
        bars.append(
            f'<rect x="{x}" y="{height - 16 - h}" width="{max(step - 4, 1):.1f}" height="{h}" class="bar">'
            f"<title>{labels[i]}: {value:,}</title></rect>"
        )
    ticks = "".join(
        f'<text x="{round(i * step + step / 2, 1)}" y="{height - 2}" class="tick">{labels[i]}</text>'
        for i in range(0, len(labels), max(1, len(labels) // 6))
    )
    scale = "最大" if lang == "ja" else "max"
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" class="chart" preserveAspectRatio="none">'
        f'{"".join(bars)}{ticks}<text x="4" y="12" class="tick">{scale} {top:,}</text></svg>'
    )
