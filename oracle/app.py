"""The oracle's HTTP side: signed batches in from home gateways, public totals and Merkle proofs out.

This module only composes: the inbox and the reports directory the routes reach through
``oracle.deps``, the in-flight limit of the ingest, the one mapping of refusals to
answers (``oracle.errors``) and the routers in ``routes/``. The ingest's order of checks
is described in ``oracle.routes.batches``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from oracle.deps import InFlight
from oracle.errors import add_error_answers
from oracle.gateways import Inbox
from oracle.routes import batches, health, households, reports


def create_oracle_app(inbox: Inbox, reports_dir: Path, service_token: str | None = None) -> FastAPI:
    app = FastAPI(
        title="Takasago CO2 oracle",
        version="1.0.0",
        description="Signed meter batches in; public totals and proofs out; a household's months to the wallet.",
        # FastAPI's /docs and /redoc load Swagger UI / ReDoc from a CDN, blank on the city's closed
        # network; the API is described in docs/ and by /openapi.json, which needs nothing from outside.
        docs_url=None,
        redoc_url=None,
    )
    app.state.inbox = inbox
    app.state.reports_dir = reports_dir
    app.state.in_flight = InFlight()
    app.state.service_token = service_token  # the wallet's key to households' months (issue 21)
    add_error_answers(app)
    for module in (health, batches, reports, households):
        app.include_router(module.router)
    return app
