"""Watch-over coverage for the data platform (issue 22): ``takasago watch serve``'s statistics endpoint behind
its own read-only token, suppressed at source (k = 10, complementary), pulled by ``takasago analytics serve``
into the mutual-aid page — with hand-computed answers, and the tokens kept to their own doors."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics.service import Platform
from analytics.settings import AnalyticsSettings
from analytics.warehouse import DuckWarehouse
from ledger_client.jst import JST
from tests.conftest import REPO, free_port
from watch.batches import new_device_key, sign
from watch.rotating_id import rotating_id, window_of
from watch.sealing import Sealer
from watch.store import WatchStore

SERVICE = "service-token-0123456789abcdef-families"
STATS = "stats-token-0123456789abcdef-aggregates"
ARAI = (34.7545, 134.7805)  # near 荒井町's centre
AMIDA = (34.7915, 134.7690)  # near 阿弥陀町's centre


def at(month: int, day: int, hour: int) -> int:
    return int(datetime(2025, month, day, hour, 0, tzinfo=JST).timestamp())


class Phone:
    def __init__(self, store: WatchStore, n: int, city: bool = False) -> None:
        self.key, public = new_device_key()
        self.name, self.seq = f"dev-{n}", 0
        owner = None if city else "0x" + f"{n + 1:040x}"
        store.enrol_device(self.name, "CITY" if city else f"VOL{n:03d}", public, at(10, 1, 0), owner)

    def report(self, store: WatchStore, when: int, where: tuple[float, float], tags: list[bytes] | None = None) -> None:
        self.seq += 1
        sightings = [{"id": rotating_id(tag, window_of(when - 30)).hex(), "at": when - 30, "lat": where[0],
                      "lon": where[1], "rssi": -70} for tag in tags or []]  # fmt: skip
        body = json.dumps({"device": self.name, "seq": self.seq, "sent_at": when, "lat": where[0], "lon": where[1],
                           "sightings": sightings}).encode()  # fmt: skip
        store.ingest(body, sign(self.key, body), when)


def fill(store: WatchStore) -> None:
    """November 2025 (answers in the test below) and one October report.

    荒井: volunteers 0-11 at 08:00 (school hours), 0-9 again at 20:00 (other); 阿弥陀: 20-22 at 15:00 (school),
    20-31 at 19:00 (other); a city gate in 阿弥陀 at 08:00. Eleven wards, each seen once in 荒井 at 08:00, the
    first again at 20:00.
    """
    tags = [secrets.token_bytes(32) for _ in range(11)]
    for tag in tags:
        store.register_ward("FAMILY", tag, at(10, 1, 0))
    phones = {n: Phone(store, n) for n in [*range(12), *range(20, 32)]}
    phones[0].report(store, at(10, 15, 8), ARAI)
    for n in range(12):
        phones[n].report(store, at(11, 10, 8) + n, ARAI, tags[n : n + 1])
    for n in range(10):
        phones[n].report(store, at(11, 10, 20) + n, ARAI, tags[:1] if n == 0 else [])
    for n in range(20, 23):
        phones[n].report(store, at(11, 12, 15) + n, AMIDA)
    for n in range(20, 32):
        phones[n].report(store, at(11, 12, 19) + n, AMIDA)
    Phone(store, 99, city=True).report(store, at(11, 12, 8), AMIDA)


def serve(argv: list[str], env: dict[str, str], log: Path, health: str) -> subprocess.Popen[bytes]:
    """Starts ``python -m scripts.cli …`` and waits for ``health`` to answer 200."""
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "scripts.cli", *argv], cwd=REPO, stdout=out,
                                   stderr=subprocess.STDOUT, env={**os.environ, **env})  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, log.read_text()
        time.sleep(0.2)


def token_file(path: Path, token: str) -> Path:
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def watch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``takasago watch serve`` over a store filled beforehand, with the service token and the statistics token."""
    data = tmp_path_factory.mktemp("watch-stats")
    store = WatchStore(f"sqlite:///{data / 'w' / 'watch.db'}", Sealer.from_file(data / "w" / "kek", create=True))
    fill(store)
    store.close()
    port = free_port()
    env = {"TAKASAGO_WATCH_SERVICE_TOKEN_FILE": str(token_file(data / "service-token", SERVICE)),
           "TAKASAGO_WATCH_STATS_TOKEN_FILE": str(token_file(data / "stats-token", STATS))}  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    argv = ["watch", "serve", "--data-dir", str(data / "w"), "--port", str(port)]
    process = serve(argv, env, data / "watch.log", url + "/health")
    try:
        yield url, data
    finally:
        process.terminate()
        process.wait(timeout=15)


def cells(report: dict[str, Any], name: str) -> dict[tuple[str, str], Any]:
    return {(c["district"], c["band"]): c[name] for c in report["cells"]}


def test_coverage_by_district_and_school_hours_is_counted_and_suppressed_at_source(watch: tuple[str, Path]) -> None:
    url, _data = watch
    stats = {"X-Watch-Stats-Token": STATS}  # no service token: it is not needed here
    assert httpx.get(url + "/v1/stats/months", headers=stats).json() == {"months": ["2025-10", "2025-11"]}
    report = httpx.get(url + "/v1/stats/coverage", params={"month": "2025-11"}, headers=stats).json()
    assert report["closed"] is True and report["min_people"] == 10 and report["school_hours"] == [[7, 9], [14, 18]]
    # volunteers: 荒井 school 12, other 10, all 12; 阿弥陀 school 3 (primary), other 12, all 12; city 15 / 22 / 24.
    # 阿弥陀 school hidden → its row hides 阿弥陀 other (not the total); the columns hide 荒井 school and other.
    assert cells(report, "volunteers") == {
        ("arai", "school"): None, ("arai", "other"): None, ("arai", "all"): 12,
        ("amida", "school"): None, ("amida", "other"): None, ("amida", "all"): 12,
        ("all", "school"): 15, ("all", "other"): 22, ("all", "all"): 24,
    }  # fmt: skip
    # wards: 荒井 school 11, other 1 (primary) → 荒井 school hidden; the city's other 1 → the city's school hidden
    wards, sightings = cells(report, "wards"), cells(report, "sightings")
    assert {c: v for c, v in wards.items() if v is not None} == {("arai", "all"): 11, ("all", "all"): 11,
                                                                  ("amida", "school"): 0, ("amida", "other"): 0,
                                                                  ("amida", "all"): 0}  # fmt: skip
    assert (sightings[("arai", "all")], sightings[("all", "all")], sightings[("arai", "school")]) == (12, 12, None)
    assert cells(report, "fixed_detectors")[("amida", "school")] == 1  # the city's gate: a device, not a person
    # nothing in the answer names a ward, a volunteer, a device or a place finer than a district
    text = json.dumps(report)
    assert "VOL0" not in text and "dev-" not in text and "FAMILY" not in text and "34.75" not in text
    october = httpx.get(url + "/v1/stats/coverage", params={"month": "2025-10"}, headers=stats).json()
    assert {c: v for c, v in cells(october, "volunteers").items()} == {
        ("arai", "school"): None, ("arai", "all"): None, ("all", "school"): None, ("all", "all"): None}  # fmt: skip


def test_the_statistics_token_opens_statistics_only_and_the_service_token_does_not_open_them(
    watch: tuple[str, Path],
) -> None:
    url, _data = watch
    for headers in ({}, {"X-Watch-Stats-Token": SERVICE}, {"X-Watch-Service-Token": SERVICE},
                    {"X-Watch-Stats-Token": STATS + "x"}):  # fmt: skip
        refused = httpx.get(url + "/v1/stats/coverage", params={"month": "2025-11"}, headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "STATS_NOT_AUTHORISED", headers
        assert refused.json()["error"]["messages"]["ja"] == "統計用トークンの保有者のみ利用できます。"
    for path in ("/v1/city/coverage", "/v1/city/trail", "/v1/families/wards", "/v1/volunteers/devices"):
        for headers in ({"X-Watch-Stats-Token": STATS}, {"X-Watch-Service-Token": STATS}):
            who = {"X-Watch-Officer": "officer1", "X-Watch-Member": "VOL001"}
            refused = httpx.get(url + path, headers={**headers, **who})
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "NOT_AUTHORISED", (path, headers)
    for month in ("2025-13", "2025-1", "latest", "1999-12", "2025-11'--"):
        bad = httpx.get(url + "/v1/stats/coverage", params={"month": month}, headers={"X-Watch-Stats-Token": STATS})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "BAD_MONTH", month
        assert "YYYY-MM" in bad.json()["error"]["messages"]["en"] and "YYYY-MM" in bad.json()["error"]["messages"]["ja"]
    missing = httpx.get(url + "/v1/stats/coverage", headers={"X-Watch-Stats-Token": STATS})
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "MALFORMED"
    # aggregates open no family's data: the officers' access trail is not filled with the platform's reads
    trail = httpx.get(url + "/v1/city/trail", headers={"X-Watch-Service-Token": SERVICE, "X-Watch-Officer": "o1"})
    assert trail.status_code == 200 and not [e for e in trail.json() if e["actor"] == "stats"]


def test_a_watch_service_without_a_service_token_still_serves_statistics_and_the_tokens_must_differ(
    tmp_path: Path,
) -> None:
    from fastapi.testclient import TestClient

    from watch.app import create_watch_app

    store = WatchStore(f"sqlite:///{tmp_path / 'watch.db'}", Sealer.from_file(tmp_path / "kek", create=True))
    with pytest.raises(ValueError, match="must differ"):
        create_watch_app(store, 0, SERVICE, SERVICE)
    client = TestClient(create_watch_app(store, 0, None, STATS))
    assert client.get("/v1/stats/months", headers={"X-Watch-Stats-Token": STATS}).json() == {"months": []}
    empty = client.get("/v1/stats/coverage?month=2025-11", headers={"X-Watch-Stats-Token": STATS}).json()
    assert empty["cells"] == [] and empty["batches"] == 0
    assert client.get("/v1/families/wards", headers={"X-Watch-Member": "A"}).json()["error"]["code"] == "NOT_CONFIGURED"
    closed = TestClient(create_watch_app(store, 0, SERVICE, None))
    assert closed.get("/v1/stats/months", headers={"X-Watch-Stats-Token": STATS}).status_code == 503
    store.close()


def test_the_data_platform_pulls_coverage_into_its_tables_and_pages(watch: tuple[str, Path], tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from analytics.service import Service
    from analytics.web.app import create_app

    url, data = watch
    settings = AnalyticsSettings(data_dir=tmp_path, watch_url=url, watch_stats_token_file=data / "stats-token",
                                 refresh_seconds=0)  # fmt: skip
    platform = Platform.open(settings, DuckWarehouse())
    platform.refresh()
    assert platform.errors == []
    rows = {(r["month"], r["district"], r["hours"]): r for r in platform.raw["watch"]}
    # the watch service's districts arrive under the platform's codes (matched by name): 荒井町 28216-0020
    assert rows[("2025-11", "28216-0020", "Σ")] | {} == {"month": "2025-11", "district": "28216-0020", "hours": "Σ",
                                                       "people": 12, "wards": 11, "sightings": 12,
                                                       "fixed_detectors": 0}  # fmt: skip
    assert rows[("2025-11", "28216-0080", "school")]["people"] is None  # 阿弥陀 school hours: suppressed at source
    published = platform.published
    assert published is not None
    table = published.watch["2025-11"]
    assert (table.shown("Σ", "school"), table.shown("Σ", "other"), table.shown("Σ", "Σ")) == (15, 22, 24)
    assert table.shown("28216-0020", "school") is None and table.shown("28216-0080", "Σ") == 12
    assert published.watch_wards["2025-11"].shown("Σ", "Σ", "sightings") == 12
    # a month pulled after it ended is final: not asked again (a figure changed here stays as it is)
    platform.store.execute("UPDATE watch SET sightings = 99 WHERE month = '2025-11' AND district = 'Σ' AND hours = 'Σ'")
    platform.refresh()
    assert (
        platform.published is not None and platform.published.watch_wards["2025-11"].shown("Σ", "Σ", "sightings") == 99
    )
    platform.store.execute("UPDATE watch SET final = 0 WHERE month = '2025-11'")  # not final: asked again
    platform.refresh()
    assert platform.published.watch_wards["2025-11"].shown("Σ", "Σ", "sightings") == 12
    page = TestClient(create_app(Service(platform))).get("/mutual-aid?lang=en")
    assert "Watch-over coverage" in page.text and "Volunteers (school hours)" in page.text
    assert "<td>Arai</td><td>×</td><td>×</td><td>12</td>" in page.text
    csv_text = TestClient(create_app(Service(platform))).get("/csv/watch-by-month.csv?lang=en").text
    assert "2025-11,15,22,24,,11,12" in csv_text


def test_analytics_serve_pulls_the_watch_statistics_and_the_page_shows_them_in_chromium(
    watch: tuple[str, Path], tmp_path: Path, playwright: Any
) -> None:
    from tests.browser_support import browser, open_page, screen

    url, data = watch
    port = free_port()
    env = {"TAKASAGO_ANALYTICS_WATCH_URL": url, "TAKASAGO_ANALYTICS_WATCH_STATS_TOKEN_FILE": str(data / "stats-token")}
    argv = ["analytics", "serve", "--data-dir", str(tmp_path / "a"), "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    process = serve(argv, env, tmp_path / "analytics.log", base + "/health")
    try:
        deadline = time.monotonic() + 30
        while not httpx.get(base + "/health").json()["refreshed_at"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert httpx.get(base + "/health").json()["errors"] == []  # the watch statistics were pulled
        with browser(playwright) as chromium:
            page = open_page(chromium, base, "/mutual-aid")
            assert page.locator("figure#watch-coverage svg").count() == 1
            assert page.locator("figure#watch-by-month tbody tr").last.locator("td").first.inner_text() == "2025-11"
            screen(page, "analytics-mutual-aid-watch")
    finally:
        process.terminate()
        process.wait(timeout=30)
