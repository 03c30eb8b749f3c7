"""Refusals mapped once to answers: a 400 or 404 page in the visitor's language, never a bare 500.

A bad query on a ``.csv`` URL is answered in JSON (``{"error": …}``), since a download
has no page to show it on.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexer.web.inputs import BadInput, NotFound
from indexer.web.rendering import Pages, lang_of
from indexer.web.texts import ERRORS, TEXTS

log = logging.getLogger("indexer.web")


def add_error_pages(app: FastAPI, pages: Pages) -> None:
    @app.exception_handler(BadInput)
    async def bad_input(request: Request, exc: BadInput) -> Response:
        if request.url.path.endswith(".csv"):
            return JSONResponse({"error": exc.text(lang_of(request))}, status_code=400)
        heading = TEXTS[lang_of(request)]["bad_request"]
        return pages.render(request, "error.html", 400, heading=heading, message=exc.text(lang_of(request)))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        heading = TEXTS[lang_of(request)]["not_found"]
        return pages.render(request, "error.html", 404, heading=heading, message=exc.text(lang_of(request)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code if 400 <= exc.status_code < 500 else 400
        lang = lang_of(request)
        heading = TEXTS[lang]["not_found" if status == 404 else "bad_request"]
        # the framework's own details ("Not Found", "Method Not Allowed") are English: say it in the page's words
        message = ERRORS["no_page"][lang] if status == 404 else TEXTS[lang]["bad_request"]
        return pages.render(request, "error.html", status, heading=heading, message=message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        return pages.render(request, "error.html", 500, heading="500", message=ERRORS["unexpected"][lang_of(request)])
