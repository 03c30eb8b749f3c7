"""Headless Chromium (Debian's, through Playwright with ``executable_path``) for the web tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS_SCREENS = REPO / "docs" / "screens"
SCREENS_ENV = "TAKASAGO_SCREENS_DIR"
# A test run must leave a clone as it found it: screenshots go to a temporary folder unless
# `python -m tests.screens` (which sets TAKASAGO_SCREENS_DIR to docs/screens) refreshes the committed ones.
SCREENS = Path(os.environ.get(SCREENS_ENV) or Path(tempfile.gettempdir()) / "takasago-screens")


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


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def refuse_outside_hosts(context: Any) -> list[str]:
    """Aborts every request of ``context`` to a host other than this machine; returns the list of them.

    The city runs these services on a closed network: a page that loads anything from the
    internet (a CDN script, a web font) is blank or broken there, so the browser tests
    behave as that network does and :func:`screen` fails when a page tried.
    """
    outside: list[str] = []

    def route(route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    return outside


def open_page(instance: Any, base_url: str, path: str, width: int = 360) -> Any:
    # bypass_csp: Playwright's wait_for_function polls with eval, which the pages' CSP forbids
    context = instance.new_context(viewport={"width": width, "height": 760}, locale="ja-JP", bypass_csp=True)
    context.grant_permissions(["camera"], origin=base_url)
    outside = refuse_outside_hosts(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    page.outside_requests = outside
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
            if overflow > 360:  # name the widest offenders, so the message says what to fix
                wide = page.evaluate(
                    """[...document.querySelectorAll('body *')]
                         .filter(e => e.getClientRects().length
                                 && (e.getBoundingClientRect().right > 361 || e.scrollWidth > e.clientWidth + 1))
                         .slice(-5).map(e => e.tagName + (e.id ? '#' + e.id : '')
                         + (e.className ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right)
                         + ': ' + (e.textContent || '').slice(0, 60))"""
                )
                raise AssertionError(f"{name}: the page is {overflow} px wide on a 360-px screen: {wide}")
        page.screenshot(path=str(SCREENS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 760})
    assert not page.errors, page.errors
    assert not page.outside_requests, f"{name}: the page asked hosts outside this machine: {page.outside_requests}"
