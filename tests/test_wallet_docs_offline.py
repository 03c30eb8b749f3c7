"""The wallet's ``/docs`` works on a closed network: in headless Chromium with every outside host refused.

FastAPI's default page loads Swagger UI from a CDN and stays blank where the internet is
not reachable (issue 16, item 9); the wallet serves the page's script and stylesheet itself.
The app runs without a node or database here: the reference needs neither.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import uvicorn

from tests.browser_support import CHROMIUM, browser, refuse_outside_hosts
from tests.conftest import free_port
from wallet_api.app import create_app
from wallet_api.services import Services
from wallet_api.settings import WalletSettings

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="needs Debian's chromium"
)


@pytest.fixture(scope="module")
def docs_server() -> Iterator[str]:
    """The wallet's routes (no database, no node, no worker) served on a free local port."""
    app = create_app(cast(Services, SimpleNamespace(settings=WalletSettings())), run_worker=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.config.port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the docs server did not start"
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def test_docs_page_names_no_outside_host(docs_server: str) -> None:
    page = httpx.get(docs_server + "/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert "http://" not in page and "https://" not in page, page
    assert httpx.get(docs_server + "/redoc").status_code == 404  # ReDoc would load from a CDN: not offered
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert httpx.get(f"{docs_server}/static/vendor/swagger-ui/{asset}").status_code == 200, asset
    assert httpx.get(docs_server + "/static/vendor/swagger-ui/package.json").status_code == 404


def test_docs_render_the_operations_with_the_internet_unreachable(docs_server: str, playwright: Any) -> None:
    with browser(playwright) as chromium:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        outside = refuse_outside_hosts(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(docs_server + "/docs")
        page.wait_for_selector(".opblock", timeout=15_000)
        # Swagger UI draws only the operations near the viewport (more as one scrolls): ask it for the whole
        # document it loaded and parsed, and check the first screen is drawn
        loaded = page.evaluate("Object.keys(ui.specSelectors.specJson().toJS().paths)")
        assert "/v1/payments" in loaded and len(loaded) >= 100, loaded
        paths = [p.replace("\u200b", "") for p in page.locator(".opblock-summary-path").all_inner_texts()]
        assert "/v1/auth/login" in paths, paths
        assert page.locator(".opblock").count() >= 10
        assert "Takasago wallet API" in page.locator(".info .title").inner_text()
        assert not errors, errors
        assert not outside, f"/docs asked hosts outside this machine: {outside}"
