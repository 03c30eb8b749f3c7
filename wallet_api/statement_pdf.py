"""The monthly paper statement for card-only residents, as PDF (issue 20, "No one left behind").

A pure renderer: dataclasses in, PDF bytes out; no database, no chain, no clock. That keeps
what the city posts reproducible (the same statement renders to the same bytes, so a rerun
of an interrupted statement run can be compared byte for byte) and testable without a node.

One district's batch is one PDF: an address sheet (宛名一覧: one numbered line per resident,
name and postal address, for the staff who stuff the envelopes) followed by each
resident's statement, headed with the same number. Japanese, A4, large type for elderly
readers: nothing below 14 pt, the balance at 40 pt. The Japanese font (IPAex Gothic, the
Debian package ``fonts-ipaexfont-gothic``) is embedded as a subset, so the printer never
substitutes a font of its own; without it the renderer refuses with a bilingual message.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos
from fpdf.fonts import FontFace

FONT_ENV = "TAKASAGO_STATEMENT_FONT"
FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),  # Debian 12+
    Path("/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),  # Debian's alternatives link
)
FONT = "statement-gothic"

BODY_PT = 14  # the smallest type anywhere on the page
HEADING_PT = 18
NAME_PT = 22
BALANCE_PT = 40
LINE_MM = 7.5  # line height of body text (14 pt is about 4.9 mm)
MOVEMENTS_SHOWN = 20  # at most this many of the month's movements; the rest summed up in one line


class StatementFontMissing(RuntimeError):
    """No Japanese TrueType font to embed: the statement would print as empty boxes."""

    def __init__(self, tried_paths: Sequence[Path] = FONT_CANDIDATES) -> None:
        tried = ", ".join(str(p) for p in tried_paths)
        super().__init__(
            "no Japanese font for the paper statements: install it with `apt-get install fonts-ipaexfont-gothic` "
            f"(or `bash scripts/bootstrap.sh`), or set {FONT_ENV} to a .ttf file; tried {tried}"
            "（明細書用の日本語フォントがありません。`apt-get install fonts-ipaexfont-gothic` で入れるか、"
            f"{FONT_ENV} に .ttf ファイルを指定してください）"
        )


@dataclass(frozen=True)
class HelpContacts:
    """Where a resident gets help, printed on every statement (configurable; Takasago City Hall by default)."""

    counter: str = "高砂市役所 地域ポイント窓口（本庁舎1階）"
    address: str = "〒676-8501 兵庫県高砂市荒井町千鳥1丁目1番1号"
    phone: str = "079-442-2101（代表）"
    hours: str = "平日 8時30分〜17時15分（土日・祝日・年末年始を除く）"


@dataclass(frozen=True)
class ExpiringPoints:
    """Points of one expiry bucket: spendable up to and including ``last_day`` (JST)."""

    last_day: date
    amount: int


@dataclass(frozen=True)
class Movement:
    """One movement of the month as the resident reads it: when, what, and ± points."""

    day: date
    what: str
    amount: int  # negative: points that left the account


@dataclass(frozen=True)
class Statement:
    """One resident's statement: who it goes to, and what it says."""

    name: str  # as on the envelope (the sealed real-name record)
    postal_address: str
    district: str  # 町名
    month: str  # YYYY-MM, the month the movements cover
    as_of: datetime  # the moment balance and buckets were read (JST)
    balance: int
    expiring: Sequence[ExpiringPoints] = ()  # soonest first
    movements: Sequence[Movement] = ()  # oldest first
    earlier_movements: int = 0  # movements of the month not listed (more than MOVEMENTS_SHOWN)


@dataclass(frozen=True)
class DistrictBatch:
    """What the city prints for one district in one month: the address sheet and every statement."""

    district: str
    month: str
    statements: Sequence[Statement]
    issued: datetime  # printed on the sheet; also the PDF's creation date, so reruns give the same bytes
    contacts: HelpContacts = field(default_factory=HelpContacts)


def font_path() -> Path:
    """The Japanese TrueType font to embed: ``TAKASAGO_STATEMENT_FONT``, else IPAex Gothic from Debian."""
    configured = os.environ.get(FONT_ENV)
    candidates = (Path(configured),) if configured else FONT_CANDIDATES
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise StatementFontMissing(candidates)


def points(amount: int) -> str:
    """``1,234 ポイント``."""
    return f"{amount:,} ポイント"


def signed(amount: int) -> str:
    """``+500`` or ``-120`` (an ASCII minus: it survives copying, searching and every printer)."""
    return f"{amount:+,}"


def japanese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def japanese_month(month: str) -> str:
    year, number = month.split("-")
    return f"{int(year)}年{int(number)}月"


class _Document(FPDF):
    """A4 portrait with the embedded font, a running head naming the page, and page numbers."""

    def __init__(self, issued: datetime) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.add_font(FONT, fname=str(font_path()))
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(True, margin=22)
        self.set_creation_date(issued)
        self.set_lang("ja")
        self.set_creator("takasago wallet statements")
        self.set_producer("takasago")
        self.running_head = ""

    def header(self) -> None:
        if not self.running_head:
            return
        self.set_font(FONT, size=BODY_PT)
        self.cell(0, LINE_MM, self.running_head, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-18)
        self.set_font(FONT, size=BODY_PT)
        self.cell(0, LINE_MM, f"{self.page_no()} / {{nb}}", align=Align.C)

    def line_of_text(self, text: str, size: float = BODY_PT, height: float = LINE_MM, align: Align = Align.L) -> None:
        self.set_font(FONT, size=size)
        self.multi_cell(0, height, text, align=align, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(self, text: str) -> None:
        self.ln(3)
        self.line_of_text("■ " + text, size=HEADING_PT, height=10)


_PLAIN = FontFace(emphasis="", fill_color=(235, 235, 235))  # the font has no bold: headings are shaded instead


def render_district(batch: DistrictBatch) -> bytes:
    """The district's PDF: the address sheet, then each resident's statement from a new page."""
    pdf = _Document(batch.issued)
    title = f"地域ポイント ご利用明細書 {japanese_month(batch.month)}分 {batch.district}"
    pdf.set_title(title)
    pdf.set_subject(f"{batch.district} {len(batch.statements)} 通")
    _address_sheet(pdf, batch)
    for number, statement in enumerate(batch.statements, start=1):
        _statement(pdf, statement, number, batch.contacts)
    return bytes(pdf.output())


def render_statement(
    statement: Statement, contacts: HelpContacts | None = None, issued: datetime | None = None
) -> bytes:
    """One resident's statement alone (e.g. reprinted at the counter), without an address sheet."""
    pdf = _Document(issued or statement.as_of)
    pdf.set_title(f"地域ポイント ご利用明細書 {japanese_month(statement.month)}分")
    _statement(pdf, statement, 1, contacts or HelpContacts())
    return bytes(pdf.output())


def _address_sheet(pdf: _Document, batch: DistrictBatch) -> None:
    """宛名一覧: one numbered row per envelope, in the order the statements follow."""
    pdf.running_head = f"宛名一覧 {batch.district} {japanese_month(batch.month)}分"
    pdf.add_page()
    pdf.line_of_text(f"宛名一覧 {batch.district}", size=HEADING_PT + 4, height=13)
    pdf.line_of_text(
        f"{japanese_month(batch.month)}分 ご利用明細書 全 {len(batch.statements)} 通 "
        f"（作成 {japanese_date(batch.issued.date())}）"
    )
    pdf.ln(3)
    with pdf.table(
        col_widths=(14, 112, 44),
        text_align=(Align.C, Align.L, Align.L),
        headings_style=_PLAIN,
        line_height=LINE_MM,
        wrapmode=WrapMode.CHAR,
        padding=1.5,
    ) as table:
        table.row(("No.", "ご住所", "お名前"))
        for number, statement in enumerate(batch.statements, start=1):
            table.row((str(number), statement.postal_address, f"{statement.name} 様"))
    if not batch.statements:
        pdf.ln(4)
        pdf.line_of_text("この地区に今月お送りする明細はありません。")


def _statement(pdf: _Document, statement: Statement, number: int, contacts: HelpContacts) -> None:
    """One resident's page(s): envelope address, balance, expiry, the month's movements, where to get help."""
    month = japanese_month(statement.month)
    pdf.running_head = f"高砂市 地域ポイント {month}分 No. {number}"
    pdf.add_page()
    pdf.line_of_text("地域ポイント ご利用明細書", size=HEADING_PT + 6, height=14)
    pdf.line_of_text(f"{month}分")
    pdf.ln(3)
    pdf.line_of_text(statement.postal_address, size=16, height=9)
    pdf.line_of_text(f"{statement.name} 様", size=NAME_PT, height=13)

    pdf.ln(4)
    top = pdf.get_y()
    pdf.set_x(pdf.l_margin + 4)
    pdf.line_of_text(f"ポイント残高（{japanese_date(statement.as_of.date())} 現在）", size=16, height=10)
    pdf.line_of_text(points(statement.balance), size=BALANCE_PT, height=20, align=Align.C)
    pdf.set_line_width(0.8)
    pdf.rect(pdf.l_margin, top - 2, pdf.epw, pdf.get_y() - top + 4)
    pdf.ln(4)

    pdf.heading("ポイントの有効期限（期限を過ぎると使えません）")
    if statement.expiring:
        for bucket in statement.expiring:
            pdf.line_of_text(f"・{japanese_date(bucket.last_day)}まで {points(bucket.amount)}", size=16, height=9)
    else:
        pdf.line_of_text("期限のあるポイントはありません。")

    pdf.heading(f"{month}のご利用")
    if statement.movements:
        with pdf.table(
            col_widths=(34, 96, 40),
            text_align=(Align.L, Align.L, Align.R),
            headings_style=_PLAIN,
            line_height=LINE_MM,
            wrapmode=WrapMode.CHAR,
            padding=1.5,
        ) as table:
            table.row(("日付", "内容", "ポイント"))
            for movement in statement.movements:
                table.row((f"{movement.day.month}月{movement.day.day}日", movement.what, signed(movement.amount)))
        if statement.earlier_movements:
            pdf.line_of_text(f"ほかに、この月の前半に {statement.earlier_movements} 件のご利用があります。")
    else:
        pdf.line_of_text("この月のご利用はありませんでした。")

    pdf.heading("お問い合わせ・ご相談")
    pdf.line_of_text(contacts.counter)
    pdf.line_of_text(contacts.address)
    pdf.line_of_text(f"電話 {contacts.phone}")
    pdf.line_of_text(f"受付 {contacts.hours}")
    pdf.line_of_text("カードの紛失・暗証番号のお忘れも、本人確認書類をお持ちのうえ窓口へ。")
