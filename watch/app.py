"""The watch service's HTTP side (issue 19): detectors' signed batches in; families' and volunteers' views.

``POST /v1/batches``: the body is the batch's exact bytes (``watch.batches``), the signature is
the ``X-Watch-Signature`` header (base64 Ed25519). The answer is the acknowledgement (how many
sightings were kept, how many were outside the city; never a ward) or a refusal with a stable
code and a message in Japanese and English. A resent batch gets its acknowledgement again.

``/v1/families/…`` and ``/v1/volunteers/…`` are for residents, reached through the wallet, which
authenticates them and forwards the member code (``X-Watch-Member``) with the service token
(``X-Watch-Service-Token``, a 0600 file shared by the two services); without the token, nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.concurrency import run_in_threadpool

from watch import people
from watch.batches import BatchRefused
from watch.store import WatchStore

log = logging.getLogger("watch")
MAX_BATCH_BYTES = 256 * 1024

# code → (HTTP status, English, Japanese)
MESSAGES: dict[str, tuple[int, str, str]] = {
    "UNKNOWN_DEVICE": (401, "This device is not enrolled.", "この端末は登録されていません。"),
    "BAD_SIGNATURE": (401, "The signature does not match this device and batch.", "署名が端末とデータに一致しません。"),
    "DEVICE_DISABLED": (403, "This device has been disabled.", "この端末は停止されています。"),
    "REPLAYED": (409, "This batch number was already used.", "このバッチ番号は使用済みです。"),
    "MALFORMED": (422, "The batch is not in the expected form.", "バッチの形式が正しくありません。"),
    "FUTURE": (
        422,
        "The batch is dated in the future; check the device's clock.",
        "日時が未来です。端末の時計を確認してください。",
    ),
    "STALE": (422, "The batch holds sightings that are too old.", "古すぎる検知が含まれています。"),
    "BURST": (422, "More sightings than a detector can hear.", "検知の数が多すぎます。"),
    "IMPLAUSIBLE_SPEED": (422, "The device moved faster than possible.", "端末の移動が速すぎます。"),
    "TOO_LARGE": (413, f"A batch is at most {MAX_BATCH_BYTES} bytes.", f"バッチは最大 {MAX_BATCH_BYTES} バイトです。"),
    "NO_SIGNATURE": (401, "The X-Watch-Signature header is missing.", "X-Watch-Signature ヘッダーがありません。"),
    "CONSENT_REQUIRED": (
        422,
        "Record the ward's (or guardian's) consent first.",
        "ご本人（または保護者）の同意を記録してください。",
    ),
    "NOT_FOUND": (404, "Not found.", "見つかりません。"),
    "NOT_AUTHORISED": (401, "Only the city's services may call this.", "市のサービスのみ利用できます。"),
    "NOT_CONFIGURED": (
        503,
        "Families' and volunteers' access is not set up here.",
        "家族・ボランティア向けの機能は未設定です。",
    ),
    "DEVICE_EXISTS": (409, "This device is already enrolled.", "この端末は登録済みです。"),
}


def refusal(code: str, detail: str) -> JSONResponse:
    status, english, japanese = MESSAGES.get(code, (422, "Refused.", "受け付けられません。"))
    body = {"error": {"code": code, "message": japanese, "messages": {"ja": japanese, "en": english}, "detail": detail}}
    return JSONResponse(body, status_code=status)


def resident(
    request: Request,
    x_watch_service_token: Annotated[str | None, Header(max_length=200)] = None,
    x_watch_member: Annotated[str | None, Header(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = None,
) -> str:
    """The resident the wallet authenticated, forwarded with the service token (no token, no access)."""
    token: str | None = request.app.state.service_token
    if token is None:
        raise BatchRefused("NOT_CONFIGURED", "no service token configured")
    if not x_watch_service_token or not hmac.compare_digest(x_watch_service_token.encode(), token.encode()):
        raise BatchRefused("NOT_AUTHORISED", "a missing or wrong service token")
    if not x_watch_member:
        raise BatchRefused("MALFORMED", "X-Watch-Member: the resident's member code")
    return x_watch_member.upper()


Member = Annotated[str, Depends(resident)]


class WardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    consent: StrictBool


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Annotated[StrictStr, Field(min_length=1, max_length=200)]


def create_watch_app(store: WatchStore, purge_seconds: float = 3600.0, service_token: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if purge_seconds:

            def purge() -> None:
                while not stop.wait(purge_seconds):
                    try:
                        removed = store.purge(int(time.time()))
                        if removed:
                            log.info("retention: deleted %d sightings past %d days", removed, store.retention_days)
                    except Exception:  # noqa: BLE001 - the purge must outlive one bad pass
                        log.exception("retention purge failed")

            threading.Thread(target=purge, name="watch-retention", daemon=True).start()
        yield
        stop.set()
        store.close()

    app = FastAPI(title="Takasago watch-over", version="0.1.0", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.service_token = service_token

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        return refusal("MALFORMED", f"{'.'.join(str(p) for p in first.get('loc', []))}: {first.get('msg', '')}")

    @app.exception_handler(people.NotFound)
    async def not_found(_request: Request, _exc: people.NotFound) -> JSONResponse:
        return refusal("NOT_FOUND", "")

    @app.exception_handler(BatchRefused)
    async def refused(_request: Request, exc: BatchRefused) -> JSONResponse:
        return refusal(exc.code, str(exc))

    @app.post("/v1/families/wards", status_code=201)
    def register_ward(body: WardIn, member: Member) -> dict[str, str]:
        """Registers a ward's tag; the secret is shown this once, to program the tag."""
        new = people.register(store, member, body.consent, int(time.time()))
        return {"ward": new.ward, "secret": new.secret.hex()}

    @app.get("/v1/families/wards")
    def my_wards(member: Member) -> list[dict[str, Any]]:
        return people.wards(store, member)

    @app.get("/v1/families/wards/{ward}/sightings")
    def ward_sightings(
        ward: Annotated[str, Path(max_length=36)], member: Member, hours: Annotated[int, Query(ge=1, le=720)] = 72
    ) -> list[dict[str, Any]]:
        """The ward's sightings of the last ``hours``, newest first (time and place to ~100 m)."""
        return people.sightings(store, member, ward, int(time.time()) - hours * 3600)

    @app.post("/v1/families/wards/{ward}/alert", status_code=201)
    def raise_alert(ward: Annotated[str, Path(max_length=36)], body: AlertIn, member: Member) -> dict[str, str]:
        """Raises a missing alert: volunteers nearby see the description, never who it is."""
        return {"alert": people.raise_alert(store, member, ward, body.description, int(time.time()))}

    @app.delete("/v1/families/wards/{ward}/alert", status_code=204)
    def clear_alert(ward: Annotated[str, Path(max_length=36)], member: Member) -> Response:
        people.clear_alert(store, member, ward, int(time.time()))
        return Response(status_code=204)

    @app.get("/v1/families/wards/{ward}/events")
    async def ward_events(ward: Annotated[str, Path(max_length=36)], member: Member) -> StreamingResponse:
        """New sightings of the ward as they arrive (server-sent events; checked every second)."""
        people.sightings(store, member, ward, 0)  # refuses another family's ward before streaming

        async def stream() -> AsyncIterator[bytes]:
            since = int(time.time()) - 60
            seen: set[int] = set()
            yield b": watching\n\n"
            while True:
                rows = await run_in_threadpool(people.sightings, store, member, ward, since)
                for row in reversed(rows):
                    key = hash((row["at"], row["lat"], row["lon"]))
                    if key not in seen:
                        seen.add(key)
                        yield f"data: {json.dumps(row)}\n\n".encode()
                await asyncio.sleep(1)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @app.get("/v1/volunteers/notices")
    def volunteer_notices(member: Member) -> list[dict[str, Any]]:
        """Missing alerts near where my detectors last reported (description and rough place only)."""
        return people.notices(store, member, int(time.time()))

    @app.get("/v1/volunteers/days")
    def volunteer_days(member: Member) -> list[dict[str, Any]]:
        """My settled days: watch minutes, points, and why a day earned nothing."""
        return people.volunteer_days(store, member)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/batches")
    async def batches(
        request: Request,
        x_watch_signature: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        """A detector's signed batch of sightings (docs/watch-over.md)."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BATCH_BYTES:
                return refusal("TOO_LARGE", f"more than {MAX_BATCH_BYTES} bytes")
        if not x_watch_signature:
            return refusal("NO_SIGNATURE", "")
        try:
            ack = await run_in_threadpool(store.ingest, body, x_watch_signature, int(time.time()))  # off the loop
        except BatchRefused as exc:
            log.info("batch refused: %s", exc.code)  # the device and the reason only; never ids or positions
            return refusal(exc.code, str(exc))
        return JSONResponse(ack.as_json())

    return app
