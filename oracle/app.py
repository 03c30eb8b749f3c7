"""The oracle's HTTP side: signed batches in from home gateways, public totals and Merkle proofs out.

Ingest order (issue 15, finding 18): the gateway named in the header must be registered
and the signature header well formed before a byte of the body is read; the body is
then read into a ``bytearray`` with a hard cap (no quadratic ``bytes +=``), and the
signature check, the parse and the meter check run in a worker thread, so a large batch
never blocks the event loop (``/health`` and other gateways keep being answered). At
most ``MAX_BATCHES_IN_FLIGHT`` batches are read at once, which bounds memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import math
import re
import time
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from oracle.gateways import Accepted, BatchRefused, Inbox
from oracle.readings import Reading, RowError, drop_future, parse_readings
from oracle.settlement import Report, SettlementError, proof_of

MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_BATCHES_IN_FLIGHT = 4
SALTED = re.compile(r"^0x[0-9a-f]{64}$")
log = logging.getLogger("oracle.ingest")


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def too_large() -> JSONResponse:
    return error(
        413,
        "BATCH_TOO_LARGE",
        f"a batch is at most {MAX_BATCH_BYTES} bytes / バッチは最大 {MAX_BATCH_BYTES} バイトです",
    )


def well_formed_signature(signature: str) -> bool:
    try:
        return len(base64.b64decode(signature, validate=True)) == 64
    except (binascii.Error, ValueError):
        return False


def admit(
    inbox: Inbox, gateway: str, payload: bytes, signature: str, suffix: str
) -> tuple[Accepted, list[Reading], list[RowError]]:
    """Verifies, parses, checks the meters and stores one batch (CPU-bound: runs in a worker thread)."""
    inbox.verify(gateway, payload, signature)  # nothing unauthenticated is parsed
    name = hashlib.sha256(payload).hexdigest() + suffix
    every, errors = parse_readings(name, payload, now=math.inf)  # every row that could ever count
    readings, future = drop_future(every, time.time())
    # accept() refuses the whole batch if any meter is not bound to this gateway, before storing it
    accepted = inbox.accept(gateway, payload, signature, {r.meter_id for r in every}, suffix)
    return accepted, readings, errors + future


def create_oracle_app(inbox: Inbox, reports_dir: Path) -> FastAPI:
    app = FastAPI(
        title="Takasago CO2 oracle",
        version="1.0.0",
        description="Signed meter batches in; public totals and proofs out.",
    )
    in_flight = [0]

    @app.get("/health")
    def health() -> dict[str, object]:
        return {"status": "ok", "batches": len(inbox.batches())}

    @app.post("/v1/batches")
    async def ingest(
        request: Request,
        x_gateway_id: Annotated[str | None, Header(max_length=64)] = None,
        x_signature: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        """Accepts a gateway's signed batch of readings (JSON lines or CSV, UTF-8 or Shift_JIS)."""
        if not x_gateway_id or not x_signature:
            return error(
                401,
                "UNSIGNED_BATCH",
                "a batch needs the X-Gateway-Id and X-Signature headers / "
                "X-Gateway-Id と X-Signature ヘッダーが必要です",
            )
        try:
            inbox.gateway(x_gateway_id)  # from the header alone: an unknown gateway's body is never read
        except BatchRefused as exc:
            log.warning("batch refused before reading: %s from gateway %r", exc.code, x_gateway_id[:64])
            return error(401, exc.code, str(exc))
        if not well_formed_signature(x_signature):
            log.warning("batch refused before reading: malformed signature from gateway %r", x_gateway_id)
            return error(
                401, "BAD_SIGNATURE", "X-Signature is not a base64 Ed25519 signature / X-Signature の形式が不正です"
            )
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BATCH_BYTES):
            return too_large()
        if in_flight[0] >= MAX_BATCHES_IN_FLIGHT:
            return error(
                503,
                "BUSY",
                "too many batches are being received; retry shortly / "
                "受信中のバッチが多すぎます。少し後で再送してください",
            )
        in_flight[0] += 1
        try:
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BATCH_BYTES:
                    return too_large()
            suffix = ".csv" if "csv" in request.headers.get("content-type", "") else ".jsonl"
            try:
                accepted, readings, errors = await run_in_threadpool(
                    admit, inbox, x_gateway_id, bytes(body), x_signature, suffix
                )
            except BatchRefused as exc:
                log.warning("batch refused: %s from gateway %r (%d bytes)", exc.code, x_gateway_id, len(body))
                return error(403 if exc.code == "METER_NOT_BOUND" else 401, exc.code, str(exc))
        finally:
            in_flight[0] -= 1
        log.info("batch %s from gateway %r: %d readings", accepted.digest[:16], x_gateway_id, len(readings))
        result = {
            "batch": accepted.digest, "replay": accepted.replay, "readings": len(readings),
            "rejected": [{"row": e.source, "reason": e.reason} for e in errors[:200]],
        }  # fmt: skip
        return JSONResponse(result, status_code=200 if accepted.replay else 201)

    def load(programme: int, period: int) -> Report | None:
        path = reports_dir / f"report-{programme}-{period}.json"
        return Report.from_json(path.read_text(encoding="utf-8")) if path.exists() else None

    @app.get("/v1/reports/{programme}/{period}")
    def report(programme: int, period: int) -> JSONResponse:
        """A period's public totals (households verified and excluded by reason, Wh and grams of CO2)."""
        if not (0 < programme < 2**32 and 0 < period < 10**8):
            return error(400, "BAD_REQUEST", "programme and period are positive whole numbers")
        found = load(programme, period)
        if found is None:
            return error(404, "NO_REPORT", f"no report for programme {programme}, period {period}")
        return JSONResponse(
            {
                "programmeId": programme,
                "period": period,
                "merkleRoot": "0x" + found.root.hex(),
                "households": len(found.leaves),
                "totalUnits": found.total_units,
                "totals": found.totals,
            }
        )

    @app.get("/v1/proofs/{programme}/{period}/{household}")
    def proof(programme: int, period: int, household: str) -> JSONResponse:
        """A household's leaf and Merkle proof, by its salted hash, to check against the on-chain root."""
        if not SALTED.match(household):
            return error(
                400, "BAD_REQUEST", "a household is identified by its salted hash, 0x and 64 lowercase hex digits"
            )
        if not (0 < programme < 2**32 and 0 < period < 10**8):
            return error(400, "BAD_REQUEST", "programme and period are positive whole numbers")
        found = load(programme, period)
        if found is None:
            return error(404, "NO_REPORT", f"no report for programme {programme}, period {period}")
        try:
            return JSONResponse(proof_of(found, household))
        except SettlementError as exc:
            return error(404, "NOT_IN_REPORT", str(exc))

    return app
