"""Headless Chromium (Debian's, through Playwright with ``executable_path``) for the web tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENS = REPO / "docs" / "screens"


@contextmanager
def browser(playwright: Any, video: Path | None = None) -> Iterator[Any]:
    """A headless Chromium; with ``video``, its camera shows that video."""
    args = ["--no-sandbox", "--use-fake-ui-for-media-stream"]
    if video is not None:
        args += ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"]
    instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    try:
        yield instance
    finally:
        instance.close()


def open_page(instance: Any, base_url: str, path: str, width: int = 360) -> Any:
    # bypass_csp: Playwright's wait_for_function polls with eval, which the pages' CSP forbids
    context = instance.new_context(viewport={"width": width, "height": 760}, locale="ja-JP", bypass_csp=True)
    context.grant_permissions(["camera"], origin=base_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    response = page.goto(base_url + path)
    assert "script-src" in response.headers["content-security-policy"]  # every page carries a CSP
    return page


def screen(page: Any, name: str) -> None:
    """Screenshots at 360 px and 1280 px wide; also checks nothing overflows a 360-px phone."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 760})
        page.wait_for_timeout(50)
        if width == 360:
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= 360, f"{name}: the page is {overflow} px wide on a 360-px screen"
        page.screenshot(path=str(SCREENS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 760})
    assert not page.errors, page.errors
