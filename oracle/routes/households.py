"""One household's settled months, for the wallet only (``GET /v1/households/{id}/months``, issue 21).

The residents' app shows "My CO2" through the wallet, which authenticated the resident and knows
which household they enrolled; the wallet asks here with the service token the two services
share (``X-Oracle-Service-Token``, a 0600 file), the same way it reaches the watch service.
Without the token, nothing: these figures are one home's electricity use and are never public.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse

from oracle.deps import InboxDep
from oracle.errors import Refusal

router = APIRouter()


def wallet_only(request: Request, x_oracle_service_token: Annotated[str | None, Header(max_length=200)] = None) -> None:
    """The caller holds the service token (the wallet); an oracle with no token configured answers no one."""
    token: str | None = request.app.state.service_token
    if token is None:
        raise Refusal(503, "NOT_CONFIGURED", "no service token is configured / サービス間トークンが設定されていません")
    if not x_oracle_service_token or not hmac.compare_digest(x_oracle_service_token.encode(), token.encode()):
        raise Refusal(401, "NOT_AUTHORISED", "a missing or wrong service token / サービス間トークンが違います")


@router.get("/v1/households/{household_id}/months", dependencies=[Depends(wallet_only)])
def months(household_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")], inbox: InboxDep) -> JSONResponse:
    """The household's settled months, newest first: use, baseline, reduction, grams, or the reason it was excluded,
    with the period's city totals and the blocks its grants were sent in."""
    return JSONResponse({"household_id": household_id, "months": inbox.store.months_of(household_id)})
