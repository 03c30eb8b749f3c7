"""The watch service's HTTP side (issue 19): detectors' signed batches in; health.

``POST /v1/batches``: the body is the batch's exact bytes (``watch.batches``), the signature is
the ``X-Watch-Signature`` header (base64 Ed25519). The answer is the acknowledgement (how many
sightings were kept, how many were outside the city; never a ward) or a refusal with a stable
code and a message in Japanese and English. A resent batch gets its acknowledgement again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

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
}


def refusal(code: str, detail: str) -> JSONResponse:
    status, english, japanese = MESSAGES.get(code, (422, "Refused.", "受け付けられません。"))
    body = {"error": {"code": code, "message": japanese, "messages": {"ja": japanese, "en": english}, "detail": detail}}
    return JSONResponse(body, status_code=status)


def create_watch_app(store: WatchStore, purge_seconds: float = 3600.0) -> FastAPI:
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
