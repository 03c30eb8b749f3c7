"""Signed batches in from home gateways (``POST /v1/batches``).

Ingest order (issue 15, finding 18): the gateway named in the header must be registered
and the signature header well formed before a byte of the body is read (the
:func:`signed_by` dependency); the body is then read into a ``bytearray`` with a hard cap
(no quadratic ``bytes +=``), and the signature check, the parse and the meter check run
in a worker thread, so a large batch never blocks the event loop (``/health`` and other
gateways keep being answered). At most ``MAX_BATCHES_IN_FLIGHT`` batches are read at
once, which bounds memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from oracle.deps import InboxDep, InFlightDep
from oracle.errors import MAX_BATCH_BYTES, Refusal, too_large
from oracle.evidence import Stored
from oracle.gateways import BatchRefused, Inbox
from oracle.readings import Reading, RowError, drop_future, parse_readings

log = logging.getLogger("oracle.ingest")
router = APIRouter()


def well_formed_signature(signature: str) -> bool:
    try:
        return len(base64.b64decode(signature, validate=True)) == 64
    except (binascii.Error, ValueError):
        return False


@dataclass(frozen=True)
class SignedBy:
    """The headers of a batch: a registered gateway and a well-formed signature (not yet verified)."""

    gateway: str
    signature: str


def signed_by(
    inbox: InboxDep,
    x_gateway_id: Annotated[str | None, Header(max_length=64)] = None,
    x_signature: Annotated[str | None, Header(max_length=200)] = None,
) -> SignedBy:
    """Refuses (401) from the headers alone: an unknown gateway's body is never read."""
    if not x_gateway_id or not x_signature:
        raise Refusal(
            401,
            "UNSIGNED_BATCH",
            "a batch needs the X-Gateway-Id and X-Signature headers / X-Gateway-Id と X-Signature ヘッダーが必要です",
        )
    try:
        inbox.gateway(x_gateway_id)
    except BatchRefused as exc:
        log.warning("batch refused before reading: %s from gateway %r", exc.code, x_gateway_id[:64])
        raise Refusal(401, exc.code, str(exc)) from None
    if not well_formed_signature(x_signature):
        log.warning("batch refused before reading: malformed signature from gateway %r", x_gateway_id)
        raise Refusal(
            401, "BAD_SIGNATURE", "X-Signature is not a base64 Ed25519 signature / X-Signature の形式が不正です"
        )
    return SignedBy(x_gateway_id, x_signature)


async def read_capped(request: Request) -> bytes:
    """The body, refused (413) as soon as it is declared or read beyond ``MAX_BATCH_BYTES``."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BATCH_BYTES:
            raise too_large()
    return bytes(body)


def admit(
    inbox: Inbox, gateway: str, payload: bytes, signature: str, suffix: str
) -> tuple[Stored, list[Reading], list[RowError]]:
    """Verifies, parses, checks the meters and stores one batch (CPU-bound: runs in a worker thread)."""
    inbox.verify(gateway, payload, signature)  # nothing unauthenticated is parsed
    name = hashlib.sha256(payload).hexdigest() + suffix
    every, errors = parse_readings(name, payload, now=math.inf)  # every row that could ever count
    readings, future = drop_future(every, time.time())
    # accept() refuses the whole batch if any meter is not bound to this gateway, before storing it
    times = (min(r.time for r in every), max(r.time for r in every)) if every else None
    accepted = inbox.accept(gateway, payload, signature, {r.meter_id for r in every}, times, len(every), suffix)
    return accepted, readings, errors + future


@router.post("/v1/batches")
async def ingest(
    request: Request, signed: Annotated[SignedBy, Depends(signed_by)], inbox: InboxDep, in_flight: InFlightDep
) -> JSONResponse:
    """Accepts a gateway's signed batch of readings (JSON lines or CSV, UTF-8 or Shift_JIS)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BATCH_BYTES):
        raise too_large()
    with in_flight.slot():
        body = await read_capped(request)
        suffix = ".csv" if "csv" in request.headers.get("content-type", "") else ".jsonl"
        try:
            accepted, readings, errors = await run_in_threadpool(
                admit, inbox, signed.gateway, body, signed.signature, suffix
            )
        except BatchRefused as exc:
            log.warning("batch refused: %s from gateway %r (%d bytes)", exc.code, signed.gateway, len(body))
            raise Refusal(403 if exc.code == "METER_NOT_BOUND" else 401, exc.code, str(exc)) from None
    log.info("batch %s from gateway %r: %d readings", accepted.digest[:16], signed.gateway, len(readings))
    result = {
        "batch": accepted.digest, "replay": accepted.replay, "readings": len(readings),
        "rejected": [{"row": e.source, "reason": e.reason} for e in errors[:200]],
    }  # fmt: skip
    return JSONResponse(result, status_code=200 if accepted.replay else 201)
