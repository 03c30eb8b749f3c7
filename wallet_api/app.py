"""The FastAPI application: routes, error rendering, request limits and the outbox worker."""

from __future__ import annotations

import gc
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wallet_api.crypto import passwords
from wallet_api.errors import ApiError, error_body, preferred_language
from wallet_api.expiry import env_interval as expiry_interval
from wallet_api.limits import SharedRateLimiter, client_address
from wallet_api.pipeline import NODE_ERRORS
from wallet_api.reconcile import env_interval as registry_interval
from wallet_api.routes import (
    auth,
    business,
    co2,
    coordinator,
    counter,
    docs,
    merchant,
    officer,
    programmes,
    proxy,
    research,
    resident_fixes,
    shops,
    wallet,
    watch,
    web,
)
from wallet_api.routes import help as help_routes
from wallet_api.routes import notices as notice_routes
from wallet_api.services import Services

log = logging.getLogger("wallet_api")
access = logging.getLogger("wallet_api.access")
RATE_LIMITED_PATHS = ("/v1/auth/", "/v1/merchant/charges")
GC_THRESHOLD = 20_000  # allocations between young collections (CPython default: 700)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class BodyLimit:
    """Refuses bodies over ``limit`` bytes (by Content-Length, and while streaming) with 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._too_large(scope, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        language = preferred_language(dict(scope.get("headers") or []).get(b"accept-language", b"").decode("latin-1"))
        response = JSONResponse(error_body("BODY_TOO_LARGE", {"limit_bytes": self.limit}, language), status_code=413)
        await response(scope, _empty_receive, send)


class _TooLarge(Exception):
    pass


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}


class AccessLog:
    """One line per request in the wallet log: who (a pseudonym), what (the route), how it went.

    Method, route template (never the raw path, which can carry ids), status, duration,
    request id (the caller's ``X-Request-ID`` if well-formed, else a fresh one, echoed
    back) and the account's keyed pseudonym. Never bodies, tokens, names or addresses.
    Refusals on the officer routes are logged again as failed privileged attempts.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or "(no route)"
            who = scope.get("state", {}).get("pseudonym", "-")
            took = (time.perf_counter() - started) * 1000
            access.info("%s %s %d %.1fms id=%s account=%s", scope["method"], route, status, took, request_id, who)
            if status in (401, 403) and route.startswith("/v1/officer"):
                access.warning(
                    "refused privileged attempt: %s %s %d id=%s account=%s",
                    scope["method"],
                    route,
                    status,
                    request_id,
                    who,
                )


class RateLimit:
    """Per-address and per-account budgets on the sign-in and charge POSTs; 429 with Retry-After beyond them.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``) runs every
    request through a task group and memory streams, which cost the payment route about 3% of
    an API worker's CPU under the lunchtime rush (issue 17) for a check only a few paths need.
    """

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services
        self._shared: SharedRateLimiter | None = None  # made on first use: the OpenAPI build has no database

    def limiter(self) -> SharedRateLimiter:
        if self._shared is None:
            settings, keyring = self.services.settings, self.services.keyring
            idle = settings.login_max_delay_seconds + 3600
            self._shared = SharedRateLimiter(self.services.sessions, keyring.token_secret, idle)
        return self._shared

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.services.settings
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        peer = scope["client"][0] if scope.get("client") else None
        client = client_address(peer, headers.get("x-forwarded-for"), settings.proxy_networks)
        scope.setdefault("state", {})["client"] = client  # deps.client_of: the address trusted proxies name
        if scope["method"] != "POST" or not scope["path"].startswith(RATE_LIMITED_PATHS):
            await self.app(scope, receive, send)
            return
        shared = self.limiter()
        budgets = [(shared.key("client", client), settings.requests_per_minute_per_ip)]
        scheme, _, token = headers.get("authorization", "").partition(" ")
        subject = self.services.auth.subject(token.strip()) if scheme.lower() == "bearer" else None
        if subject is not None:
            budgets.append((shared.key("account", subject), settings.requests_per_minute_per_account))
        wait = await run_in_threadpool(shared.hit, budgets)
        if wait is None:
            await self.app(scope, receive, send)
            return
        limit = settings.requests_per_minute_per_ip
        language = preferred_language(headers.get("accept-language"))
        body = error_body("TOO_MANY_REQUESTS", {"per_minute": limit}, language)
        response = JSONResponse(body, status_code=429, headers={"Retry-After": str(wait)})
        await response(scope, receive, send)


def _language(request: Request) -> str:
    return preferred_language(request.headers.get("accept-language"))


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """The one answer to an error nothing expected: logged with its traceback, a 500 in both languages."""
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("INTERNAL_ERROR", {}, _language(request)), status_code=500)


def settle_garbage_collector() -> None:
    """Moves the started app's objects out of the cyclic collector's reach and collects less often.

    Issue 17's profile of a worker under 32 paying residents showed the collector running
    every few hundred allocations (CPython's default threshold is 700), each time walking the
    app's long-lived objects (routes, ORM mappers, contracts) again: sampled as time in
    ``Session()`` and other allocating lines. Frozen objects are never walked; a
    request's garbage is still freed by reference counting at once, and cycles still by
    the collector, only in larger batches.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)


def create_app(services: Services, run_worker: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sweeper = None
        if run_worker:
            services.pipeline.start()
            if services.settings.notice_follow_seconds:
                services.notices.start_follower(services.settings.notice_follow_seconds)
            services.mailer.start()  # only when an SMTP host is configured
            services.recoveries.run()  # the member's record follows recoveries done on the chain (issue 20)
            if expiry_interval():
                services.expiry.start(expiry_interval())  # notices daily, each month's sweep once (issue 20)
            if registry_interval():
                services.reconciler.start(registry_interval())  # officers' on-chain suspensions followed
            if services.settings.help_sweep_seconds:
                settings = services.settings
                sweeper = services.help.start_sweeper(settings.help_sweep_seconds, settings.help_expiry_grace_seconds)
        settle_garbage_collector()
        if passwords.INSECURE_TEST_HASHING:
            log.warning(
                "%s=1: passwords and PINs are hashed at a test server's cost, not safe for members' real secrets",
                passwords.TEST_ENV,
            )
        yield
        if sweeper is not None:
            sweeper.set()
        if run_worker:
            services.recoveries.stop()
            services.expiry.stop()
            services.reconciler.stop()
            services.notices.stop()
            services.mailer.stop()
            services.pipeline.stop()

    app = FastAPI(
        title="Takasago wallet API",
        version="1.0.0",
        description=(
            "Custodial wallets for Takasago regional points: residents earn, thank and pay by QR code; "
            "merchants take payment at the till; city officers verify accounts and claims. Errors carry a "
            "stable code and messages in Japanese and English."
        ),
        lifespan=lifespan,
        docs_url=None,  # served by routes/docs.py from this service, not from a CDN
        redoc_url=None,
    )
    app.state.services = services

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {}
        if "retry_after_seconds" in exc.detail:
            headers["Retry-After"] = str(exc.detail["retry_after_seconds"])
        return JSONResponse(
            error_body(exc.code, exc.detail, _language(request)), status_code=exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(error_body("MALFORMED_JSON", {}, _language(request)), status_code=400)
        fields = {
            ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body": str(e.get("msg", "invalid"))[:200]
            for e in errors
        }
        return JSONResponse(error_body("VALIDATION_ERROR", {"fields": fields}, _language(request)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND"}.get(exc.status_code)
        if code is None:
            body = error_body("VALIDATION_ERROR", {"reason": str(exc.detail)[:200]}, _language(request))
            return JSONResponse(body, status_code=exc.status_code if 400 <= exc.status_code < 500 else 400)
        return JSONResponse(error_body(code, {}, _language(request)), status_code=exc.status_code)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        """The database went away mid-request (a restart, a failover, a dropped link) or stayed locked.

        Its transaction was rolled back, so nothing half-done is stored; the pool reconnects,
        and a retry under the same Idempotency-Key finds what was committed before. Handled
        here rather than by the catch-all below, whose 500 Starlette re-raises to the server.
        """
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
            return JSONResponse(error_body("DATABASE_UNAVAILABLE", {}, _language(request)), status_code=503)
        return _internal_error(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, NODE_ERRORS):
            log.warning("node unreachable: %s", type(exc).__name__)
            return JSONResponse(error_body("NODE_UNAVAILABLE", {}, _language(request)), status_code=503)
        return _internal_error(request, exc)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, object]:
        try:
            block = services.ledger.w3.eth.block_number
        except NODE_ERRORS:
            return {"status": "degraded", "node": "unreachable"}
        return {"status": "ok", "block": block}

    # FastAPI (0.165) tries an included router's routes one by one, ~2.5 µs each, before the next
    # router's: the till's payment request sat behind ~170 routes (~1 ms of CPU a request, a fifth
    # of the API's CPU in a payment rush). The busiest routers come first, after the five routes
    # of signing in (which the API reference shows first); no route shadows another, so the order
    # changes nothing else (tests/test_wallet_routes.py).
    for module in (
        auth,
        wallet,
        merchant,
        shops,
        help_routes,
        notice_routes,
        coordinator,
        counter,
        proxy,
        watch,
        co2,
        resident_fixes,
        programmes,
        business,
        research,
        officer,
        web,
        docs,
    ):
        app.include_router(module.router)
    app.add_middleware(RateLimit, services=services)  # type: ignore[arg-type]
    app.add_middleware(BodyLimit, limit=services.settings.max_body_bytes)  # type: ignore[arg-type]
    app.add_middleware(AccessLog)  # type: ignore[arg-type]
    return app


def configure_logging() -> None:
    """The service's own lines (requests, decisions, refusals) to stderr, i.e. the wallet log.

    uvicorn configures only its own loggers; without this, INFO lines of ``wallet_api``
    would be dropped and the operators' trail would stay empty.
    """
    logger = logging.getLogger("wallet_api")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
