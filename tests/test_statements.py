"""The monthly paper statement for card-only residents (issue 20): rendered, read back, run exactly once.

The PDFs are read the way a person would check them: rendered to images with ``pdftoppm``
(the right number of pages, none blank) and to text with ``pdftotext -layout`` (the
resident's balance and expiry lines). The statement run goes through ``takasago wallet
statements`` against a real node and a real wallet server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image

from ledger_client.jst import JST, describe_month, month_end
from tests.browser_support import SCREENS_ENV
from tests.conftest import REPO
from tests.points import PointsSystem
from tests.wallet_support import PASSWORD, Api, WalletServer, approve, member, running_wallet, shared_points
from wallet_api.statement_pdf import (
    FONT_ENV,
    DistrictBatch,
    ExpiringPoints,
    HelpContacts,
    Movement,
    Statement,
    StatementFontMissing,
    render_district,
)
from wallet_api.statements import StatementError, district_of, exclusive, file_name

# the worker's shared chain (no deployment of its own); the wallets stay this module's own
# (a statement run covers every card-only resident of its database)
points = shared_points

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (bootstrap.sh --test)")
PIN = "246810"


def text_of(pdf: Path) -> str:
    """The PDF as ``pdftotext -layout`` reads it, runs of spaces folded to one."""
    raw = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"[ \t]+", " ", raw)


def type_sizes(pdf: Path) -> dict[str, float]:
    """Each word's type size in points (its box height from ``pdftotext -bbox``), the smallest per word."""
    boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    sizes: dict[str, float] = {}
    for y_min, y_max, word in re.findall(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', boxes):
        sizes[word] = min(sizes.get(word, 999.0), round(float(y_max) - float(y_min), 1))
    return sizes


def pages_as_images(pdf: Path, directory: Path, dpi: int = 40) -> list[Image.Image]:
    """Every page rendered by ``pdftoppm`` (grey), in page order."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(pdf), str(directory / "page")], check=True)
    return [Image.open(p) for p in sorted(directory.glob("page-*.png"))]


def inked(image: Image.Image) -> float:
    """The share of the page's pixels that are printed (dark)."""
    histogram = image.convert("L").histogram()
    return sum(histogram[:128]) / (image.width * image.height)


def statement_screen(pdf: Path, page: int, name: str) -> None:
    """With ``TAKASAGO_SCREENS_DIR`` set (``python -m tests.screens``), keep one page as ``docs/screens/<name>``."""
    target = os.environ.get(SCREENS_ENV)
    if target:
        stem = Path(target) / name.removesuffix(".png")
        subprocess.run(["pdftoppm", "-r", "60", "-png", "-singlefile", "-f", str(page), "-l", str(page),
                        str(pdf), str(stem)], check=True)  # fmt: skip


def sample_batch() -> DistrictBatch:
    as_of = datetime(2026, 12, 1, 9, 0, tzinfo=JST)
    ikeda = Statement(
        name="池田 ハナ",
        postal_address="〒676-0000 兵庫県高砂市荒井町千鳥2丁目3-4",
        district="荒井町",
        month="2026-11",
        as_of=as_of,
        balance=12_345,
        expiring=(ExpiringPoints(date(2026, 12, 31), 300), ExpiringPoints(date(2027, 3, 31), 12_045)),
        movements=(
            Movement(date(2026, 11, 3), "市からのポイント", 500),
            Movement(date(2026, 11, 15), "高砂ベーカリーでお支払い", -120),
        ),
    )
    sato = Statement(
        name="佐藤 一郎",
        postal_address="兵庫県高砂市荒井町小松原1-2-3",
        district="荒井町",
        month="2026-11",
        as_of=as_of,
        balance=0,
    )
    return DistrictBatch("荒井町", "2026-11", [ikeda, sato], as_of, HelpContacts())


# -- the renderer ---------------------------------------------------------------------------------------
def test_a_statement_shows_balance_and_expiry_lines_on_an_address_sheet_and_one_page_each(tmp_path: Path) -> None:
    batch = sample_batch()
    pdf = tmp_path / "荒井町.pdf"
    pdf.write_bytes(render_district(batch))
    assert render_district(batch) == pdf.read_bytes()  # same statement, same bytes: reruns can be compared

    text = text_of(pdf)
    assert "宛名一覧 荒井町" in text and "全 2 通" in text
    assert re.search(r"1 (〒676-0000 兵庫県高砂市荒井町千鳥2丁目3-4 )?池田 ハナ 様", text)  # a long address may wrap
    assert "2 兵庫県高砂市荒井町小松原1-2-3 佐藤 一郎 様" in text
    assert "ポイント残高（2026年12月1日 現在）" in text
    assert "12,345 ポイント" in text
    assert "・2026年12月31日まで 300 ポイント" in text
    assert "・2027年3月31日まで 12,045 ポイント" in text
    assert re.search(r"11月15日 高砂ベーカリーでお支払い -120", text)
    assert re.search(r"11月3日 市からのポイント \+500", text)
    assert "電話 079-442-2101（代表）" in text and "荒井町千鳥1丁目1番1号" in text  # the city hall's counter
    assert "期限のあるポイントはありません。" in text and "この月のご利用はありませんでした。" in text  # Sato

    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "IPAexGothic" in fonts and all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:])  # embedded
    sizes = type_sizes(pdf)
    assert min(sizes.values()) >= 14  # large type everywhere
    assert sizes["12,345"] >= 40 and max(sizes.values()) == sizes["12,345"]  # the balance largest of all

    images = pages_as_images(pdf, tmp_path / "png")
    assert len(images) == 3  # the address sheet, then one page per resident
    assert all(image.height > image.width * 1.4 for image in images)  # A4 portrait
    assert all(inked(image) > 0.01 for image in images)  # nothing blank
    statement_screen(pdf, 2, "statement-page.png")
    statement_screen(pdf, 1, "statement-address-sheet.png")


def test_a_missing_font_is_refused_in_english_and_japanese(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "none.ttf"))
    with pytest.raises(StatementFontMissing) as refused:
        render_district(sample_batch())
    assert "apt-get install fonts-ipaexfont-gothic" in str(refused.value) and "日本語フォント" in str(refused.value)


def test_the_district_is_the_record_s_or_the_town_at_the_start_of_the_address() -> None:
    assert district_of({"address": "兵庫県高砂市荒井町千鳥1-1-1"}) == "荒井町"
    assert district_of({"address": "〒676-0021 高砂市高砂町朝日町1丁目2-3"}) == "高砂町"
    assert district_of({"address": "高砂市中筋1丁目10-1"}) == "中筋"
    assert district_of({"address": "高砂市梅井五丁目3"}) == "梅井"
    assert district_of({"address": "兵庫県高砂市荒井町千鳥1-1-1", "district": "伊保"}) == "伊保"
    assert district_of({"address": ""}) == "その他"
    assert file_name("../..") == "_.pdf" and file_name("a/b") == "a_b.pdf" and file_name(" ") == "district.pdf"


def test_two_runs_of_one_month_never_write_at_once(tmp_path: Path) -> None:
    with exclusive(tmp_path, "2026-11"):
        with pytest.raises(StatementError) as refused, exclusive(tmp_path, "2026-11"):
            pass
    assert "another statement run for 2026-11" in str(refused.value) and "別の実行が作成中" in str(refused.value)
    with exclusive(tmp_path, "2026-11"):  # released with the first run
        pass


# -- the run, on the real node -------------------------------------------------------------------------
@dataclass
class Town:
    """The wallet and the residents the statement tests look at."""

    server: WalletServer
    points: PointsSystem
    month: str
    ikeda: Api  # card-only, 荒井町: points in two buckets, paid once with her card
    shop: Api
    app_user: Api  # has a card but logs in to the app: no paper statement


def card_resident(server: WalletServer, name: str, address: str) -> Api:
    """A verified resident who set up a card (in the session of her sign-up) and never logs in again."""
    login = "card-" + os.urandom(4).hex()
    body = {"login": login, "password": PASSWORD, "role": "resident", "full_name": name,
            "postal_address": address, "date_of_birth": "1944-05-05", "display_name": None}  # fmt: skip
    assert httpx.post(server.url + "/v1/auth/signup", json=body, timeout=30).status_code == 201
    api = Api(server, login)
    assert api.login().status_code == 200
    api.info = api.me()
    approve(server, api)
    api.info.update(api.me())
    card = api.post("/v1/me/card", {"pin": PIN}, key=None)
    assert card.status_code == 201, card.text
    api.info["card"] = card.json()["card"]
    return api


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def town(
    points: PointsSystem, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Town]:
    directory = tmp_path_factory.mktemp(f"statements-{request.param}")
    for server in running_wallet(points, directory, request.param):
        current = points.current_month()
        ikeda = card_resident(server, "池田 ハナ", "兵庫県高砂市荒井町千鳥2-3-4")
        points.mint(ikeda.info["address"], 1_000, current + 1)
        points.mint(ikeda.info["address"], 500, current + 3)
        shop = member(server, "merchant", shop="高砂ベーカリー")
        paid = shop.post("/v1/merchant/charges", {"amount": 120, "card": ikeda.info["card"], "pin": PIN})
        assert paid.status_code == 200, paid.text
        for name, address in (("近藤 正", "兵庫県高砂市伊保町中筋5-6"), ("高橋 節子", "兵庫県高砂市高砂町浜田町1-2")):
            neighbour = card_resident(server, name, address)
            points.mint(neighbour.info["address"], 300, current + 2)
        app_user = card_resident(server, "山本 次郎", "兵庫県高砂市荒井町千鳥9-9-9")
        assert app_user.login().status_code == 200  # back in the app after the card was set up
        yield Town(server, points, describe_month(current), ikeda, shop, app_user)


def statements(town: Town, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    server = town.server
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", "wallet", "statements", *args, *server._args()],
        cwd=REPO, env={**server._env(), **(env or {})}, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def snapshot_of(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of a month's directory: its bytes and its modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def test_a_card_only_resident_gets_her_balance_expiry_and_movements_on_paper(town: Town, tmp_path: Path) -> None:
    run = statements(town, "--month", town.month, "--out", str(tmp_path), "--phone", "079-443-9999")
    assert run.returncode == 0, run.stderr
    month_dir = tmp_path / town.month
    assert sorted(p.name for p in month_dir.glob("*.pdf")) == ["伊保町.pdf", "荒井町.pdf", "高砂町.pdf"]
    assert "池田" not in run.stdout + run.stderr  # counts and districts only

    text = text_of(month_dir / "荒井町.pdf")
    assert "池田 ハナ 様" in text and "兵庫県高砂市荒井町千鳥2-3-4" in text
    assert "山本 次郎" not in text  # she reads her balance in the app
    assert "1,380 ポイント" in text  # 1,000 + 500 - 120
    assert "電話 079-443-9999" in text  # the help contacts are the city's to set
    current = town.points.current_month()
    for month, amount in ((current + 1, "880"), (current + 3, "500")):  # spending takes the soonest bucket first
        last = datetime.fromtimestamp(month_end(month), JST)
        assert f"・{last.year}年{last.month}月{last.day}日まで {amount} ポイント" in text
    assert re.search(r"市からのポイント \+1,000", text) and re.search(r"市からのポイント \+500", text)
    assert re.search(r"高砂ベーカリーでお支払い -120", text)
    images = pages_as_images(month_dir / "荒井町.pdf", tmp_path / "png")
    assert len(images) == 2 and all(inked(image) > 0.01 for image in images)  # address sheet + her page

    manifest = json.loads((month_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] is True and manifest["month"] == town.month
    by_district = {row["district"]: row for row in manifest["districts"]}
    assert by_district["荒井町"]["residents"] == 1 and by_district["荒井町"]["balance_total"] == 1_380
    assert manifest["totals"]["residents"] == 3 and manifest["totals"]["balance_total"] == 1_980
    assert (month_dir / "manifest.csv").read_text(encoding="utf-8-sig").startswith("district,file,residents")
    assert "池田" not in json.dumps(manifest, ensure_ascii=False)  # no names for the city's summary


def test_an_interrupted_run_finishes_the_rest_once_and_a_finished_month_is_left_alone(
    town: Town, tmp_path: Path
) -> None:
    month_dir = tmp_path / town.month
    # killed while the second district's PDF is written, before it is renamed into place
    cut = statements(
        town, "--month", town.month, "--out", str(tmp_path), env={"TAKASAGO_STATEMENTS_FAILPOINT": "written:2"}
    )
    assert cut.returncode == -9
    assert sorted(p.name for p in month_dir.glob("*.pdf")) == ["伊保町.pdf"]  # the first district, whole
    assert len(list(month_dir.glob(".*.part"))) == 1  # the second one's temporary file, never a .pdf
    first = (month_dir / "伊保町.pdf").read_bytes()
    first_mtime = (month_dir / "伊保町.pdf").stat().st_mtime_ns
    assert json.loads((month_dir / "manifest.json").read_text(encoding="utf-8"))["complete"] is False

    town.points.mint(town.ikeda.info["address"], 7, town.points.current_month() + 1)  # after the snapshot
    again = statements(town, "--month", town.month, "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert "伊保町: 1 residents, 伊保町.pdf (already done)" in again.stdout
    assert sorted(p.name for p in month_dir.glob("*.pdf")) == ["伊保町.pdf", "荒井町.pdf", "高砂町.pdf"]
    assert not list(month_dir.glob(".*.part"))
    assert (month_dir / "伊保町.pdf").read_bytes() == first
    assert (month_dir / "伊保町.pdf").stat().st_mtime_ns == first_mtime
    assert "1,380 ポイント" in text_of(month_dir / "荒井町.pdf")  # read at the first run's block, not now
    for pdf in month_dir.glob("*.pdf"):  # every card-only resident exactly once
        assert text_of(pdf).count(" 様") == 2  # her line on the address sheet and her statement
    manifest = json.loads((month_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] is True and manifest["totals"]["residents"] == 3

    before = snapshot_of(month_dir)
    done = statements(town, "--month", town.month, "--out", str(tmp_path))
    assert done.returncode == 0 and "already complete, nothing changed" in done.stdout
    assert snapshot_of(month_dir) == before


def test_bad_input_is_one_clear_line_in_english_and_japanese(town: Town, tmp_path: Path) -> None:
    if "postgresql" in town.server.database_url:
        pytest.skip("the command's refusals do not depend on the database: checked once, on SQLite")
    month = statements(town, "--month", "2026-13", "--out", str(tmp_path))
    assert month.returncode == 2 and "YYYY-MM" in month.stderr and "年月" in month.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    unwritable = statements(town, "--month", town.month, "--out", str(blocker))
    assert unwritable.returncode == 2
    assert "cannot write the statements" in unwritable.stderr and "書き込めません" in unwritable.stderr
    future = statements(town, "--month", "2999-01", "--out", str(tmp_path))
    assert future.returncode == 2 and "has not begun" in future.stderr and "まだ始まっていません" in future.stderr
    assert not (tmp_path / "2999-01").exists()
    fontless = statements(town, "--month", town.month, "--out", str(tmp_path), env={FONT_ENV: str(tmp_path / "x.ttf")})
    assert (
        fontless.returncode == 2 and "fonts-ipaexfont-gothic" in fontless.stderr and "日本語フォント" in fontless.stderr
    )
    assert not (tmp_path / town.month).exists()  # refused before anything was opened or written
    for result in (month, unwritable, future, fontless):
        assert "Traceback" not in result.stderr
