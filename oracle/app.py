"""The oracle's HTTP side: signed batches in from home gateways, public totals and Merkle proofs out."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

from oracle.gateways import BatchRefused, Inbox
from oracle.readings import parse_readings
from oracle.settlement import Report, SettlementError, proof_of

MAX_BATCH_BYTES = 8 * 1024 * 1024
SALTED = re.compile(r"^0x[0-9a-f]{64}$")


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def create_oracle_app(inbox: Inbox, reports_dir: Path) -> FastAPI:
    app = FastAPI(
        title="Takasago CO2 oracle",
        version="1.0.0",
        description="Signed meter batches in; public totals and proofs out.",
    )

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
            return error(401, "UNSIGNED_BATCH", "a batch needs the X-Gateway-Id and X-Signature headers")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BATCH_BYTES):
            return error(413, "BATCH_TOO_LARGE", f"a batch is at most {MAX_BATCH_BYTES} bytes")
        payload = b""
        async for chunk in request.stream():
            payload += chunk
            if len(payload) > MAX_BATCH_BYTES:
                return error(413, "BATCH_TOO_LARGE", f"a batch is at most {MAX_BATCH_BYTES} bytes")
        suffix = ".csv" if "csv" in request.headers.get("content-type", "") else ".jsonl"
        try:
            accepted = inbox.accept(x_gateway_id, payload, x_signature, suffix)
        except BatchRefused as exc:
            return error(401, exc.code, str(exc))
        readings, errors = parse_readings(accepted.path.name, payload)
        body = {
            "batch": accepted.digest, "replay": accepted.replay, "readings": len(readings),
            "rejected": [{"row": e.source, "reason": e.reason} for e in errors[:200]],
        }  # fmt: skip
        return JSONResponse(body, status_code=200 if accepted.replay else 201)

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
