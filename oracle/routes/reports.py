"""Public totals and Merkle proofs out: what anyone may check against the root on chain."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from oracle.deps import ReportsDir
from oracle.enrolment import MIN_HOUSEHOLDS, load_district_totals
from oracle.errors import Refusal
from oracle.settlement import Report, SettlementError, load, proof_of

SALTED = re.compile(r"^0x[0-9a-f]{64}$")
router = APIRouter()


def saved_report(directory: ReportsDir, programme: int, period: int) -> Report:
    """The report of ``programme`` and ``period``: 400 for ids out of range, 404 when none is saved."""
    if not (0 < programme < 2**32 and 0 < period < 10**8):
        raise Refusal(400, "BAD_REQUEST", "programme and period are positive whole numbers")
    found = load(directory, programme, period)
    if found is None:
        raise Refusal(404, "NO_REPORT", f"no report for programme {programme}, period {period}")
    return found


@router.get("/v1/reports/{programme}/{period}")
def report(programme: int, period: int, directory: ReportsDir) -> JSONResponse:
    """A period's public totals (households verified and excluded by reason, Wh and grams of CO2), and the same
    by district (households with a reduction, Wh, grams; no row under 10 households: small districts are folded
    into "other") when the households came from the wallet with their districts."""
    found = saved_report(directory, programme, period)
    return JSONResponse(
        {
            "programmeId": programme,
            "period": period,
            "merkleRoot": "0x" + found.root.hex(),
            "households": len(found.leaves),
            "totalUnits": found.total_units,
            "totals": found.totals,
            "districts": load_district_totals(directory, programme, period),
            "min_households": MIN_HOUSEHOLDS,
        }
    )


@router.get("/v1/proofs/{programme}/{period}/{household}")
def proof(programme: int, period: int, household: str, directory: ReportsDir) -> JSONResponse:
    """A household's leaf and Merkle proof, by its salted hash, to check against the on-chain root."""
    if not SALTED.match(household):
        raise Refusal(
            400, "BAD_REQUEST", "a household is identified by its salted hash, 0x and 64 lowercase hex digits"
        )
    found = saved_report(directory, programme, period)
    try:
        return JSONResponse(proof_of(found, household))
    except SettlementError as exc:
        raise Refusal(404, "NOT_IN_REPORT", str(exc)) from None
