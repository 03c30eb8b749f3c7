"""The oracle's refusals: typed exceptions mapped once to ``{"error": {"code", "message"}}`` answers.

Messages a gateway operator reads are in English and Japanese; the codes are stable.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

MAX_BATCH_BYTES = 8 * 1024 * 1024


class Refusal(Exception):
    """A request the oracle answers with ``status`` and an error ``code`` instead of doing it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def too_large() -> Refusal:
    return Refusal(
        413,
        "BATCH_TOO_LARGE",
        f"a batch is at most {MAX_BATCH_BYTES} bytes / バッチは最大 {MAX_BATCH_BYTES} バイトです",
    )


def add_error_answers(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def refused(_request: Request, exc: Refusal) -> JSONResponse:
        return error(exc.status, exc.code, exc.message)
