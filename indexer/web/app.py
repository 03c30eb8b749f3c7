"""The explorer's web app: pages (Japanese/English), CSV exports and the Etherscan-compatible API.

Pages are rendered on the server (Jinja2), charts are inline SVG, and no script runs in
the browser. Every listing has a CSV twin. Bad input gets a friendly 400 or 404 page
(or an Etherscan-style ``status: "0"`` answer on ``/api``), never a 500.

This module only composes: the shared state (:class:`~indexer.web.explorer.Explorer`,
:class:`~indexer.web.rendering.Pages`), the error pages, the routers in ``routes/`` and,
when given a follower, the indexing thread that runs beside the app.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from indexer.shop_names import ShopDirectory
from indexer.web.errors import add_error_pages
from indexer.web.explorer import Explorer
from indexer.web.rendering import Pages
from indexer.web.routes import api, exports, health, pages
from ledger_client.rpc import Rpc


def following(follower: Any | None, rpc_url: str) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the follower (if any) indexes in a thread while the app serves, and stops with it."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if follower is not None:
            from indexer.follower import follow_forever

            ws_url = "ws" + rpc_url.removeprefix("http")
            thread = threading.Thread(target=follow_forever, args=(follower, ws_url, stop), name="indexer", daemon=True)
            thread.start()
        yield
        stop.set()
        if thread is not None:
            thread.join(timeout=10)

    return lifespan


def create_explorer(
    sessions: sessionmaker[Session],
    rpc: Rpc,
    labels: Mapping[str, str],
    deployment: dict[str, str],
    follower: Any | None = None,
    shops: ShopDirectory | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Takasago Points explorer",
        version="1.0.0",
        description="Pages, CSV exports and an Etherscan-compatible API over the indexed ledger.",
        # FastAPI's /docs and /redoc load Swagger UI / ReDoc from a CDN, blank on the city's closed
        # network; the API is described in docs/ and by /openapi.json, which needs nothing from outside.
        docs_url=None,
        redoc_url=None,
        lifespan=following(follower, rpc.url),
    )
    app.state.explorer = Explorer(sessions, rpc, labels, deployment, shops or ShopDirectory(None))
    app.state.pages = Pages(sessions)
    add_error_pages(app, app.state.pages)
    for module in (health, pages, exports, api):
        app.include_router(module.router)
    return app
