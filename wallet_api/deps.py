"""Request dependencies: the services, the caller (by bearer token and role), idempotency keys."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from wallet_api import business_errors  # noqa: F401 - BUSINESS_NOT_A_SHOP, refused here
from wallet_api.charges import ChargeView
from wallet_api.db.engine import reads
from wallet_api.db.models import Operation, User
from wallet_api.errors import MESSAGES, ApiError, error_body, preferred_language
from wallet_api.outbox import validate_idempotency_key
from wallet_api.schemas import ErrorOut, OperationOut
from wallet_api.services import Services
from wallet_api.statuses import AccountStatus, OperationStatus, Role

bearer = HTTPBearer(auto_error=False, description="Access token from /v1/auth/login")
log = logging.getLogger("wallet_api.access")


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(services)]


def client_of(request: Request) -> str:
    """The client address the rate-limit middleware resolved (trusted proxies only)."""
    return str(getattr(request.state, "client", None) or (request.client.host if request.client else "unknown"))


def current_user(
    request: Request, svc: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError("UNAUTHENTICATED")
    with reads(svc.sessions) as db:  # one statement: no transaction around it
        principal, user = svc.auth.principal(db, credentials.credentials)
    request.state.session_id = principal.session_id
    request.state.pseudonym = svc.auth.pseudonym(principal.public_id)  # for the access log
    return user


def role(*allowed: str, active: bool = True) -> Callable[..., User]:
    """A dependency admitting only ``allowed`` roles (and, by default, only verified accounts)."""

    def check(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in allowed:
            route = getattr(request.scope.get("route"), "path", "?")
            log.warning(
                "refused privileged attempt: %s (%s) is not %s: %s %s",
                request.state.pseudonym,
                user.role,
                "/".join(allowed),
                request.method,
                route,
            )
            if user.role == Role.BUSINESS and Role.MERCHANT in allowed:
                raise ApiError("BUSINESS_NOT_A_SHOP")  # a business takes no payments from residents (issue 21)
            raise ApiError("FORBIDDEN", {"allowed_roles": list(allowed)})
        if active and user.status != AccountStatus.ACTIVE:
            pending = user.status in (AccountStatus.PENDING, AccountStatus.APPROVING)
            raise ApiError("ACCOUNT_PENDING" if pending else "ACCOUNT_NOT_ACTIVE")
        return user

    return check


Member = Annotated[User, Depends(role(Role.RESIDENT, Role.MERCHANT, Role.BUSINESS))]
Resident = Annotated[User, Depends(role(Role.RESIDENT))]
Merchant = Annotated[User, Depends(role(Role.MERCHANT))]
ShopOrBusiness = Annotated[User, Depends(role(Role.MERCHANT, Role.BUSINESS))]  # passes points on (issue 21)
Officer = Annotated[User, Depends(role(Role.OFFICER))]
Coordinator = Annotated[User, Depends(role(Role.COORDINATOR, Role.OFFICER))]
AnyUser = Annotated[User, Depends(current_user)]


def idempotency_key(
    idempotency_key: Annotated[
        str | None, Header(description="Unique per money-moving request; a retry with the same key never pays twice")
    ] = None,
) -> str:
    return validate_idempotency_key(idempotency_key)


IdempotencyKey = Annotated[str, Depends(idempotency_key)]


def operation_out(op: Operation | ChargeView, language: str = "ja") -> OperationOut:
    error = None
    if op.status == OperationStatus.FAILED and op.error_code in MESSAGES:
        try:
            detail = json.loads(op.error_detail or "{}")
        except ValueError:
            detail = {"reason": (op.error_detail or "")[:200]}
        if not isinstance(detail, dict):
            detail = {}
        error = ErrorOut(**error_body(op.error_code, detail, language)["error"])
    return OperationOut(
        id=op.id,
        kind=op.kind,
        status=op.status,
        tx_hash=op.tx_hash,
        block_number=op.block_number,
        error=error,
        summary={k: v for k, v in op.summary.items() if k != "gas"},
    )


def operation_status(op: Operation | ChargeView) -> int:
    """200 when confirmed, 202 while on its way, the error's status when it failed."""
    if op.status == OperationStatus.CONFIRMED:
        return 200
    if op.status == OperationStatus.FAILED and op.error_code in MESSAGES:
        return MESSAGES[op.error_code][0]
    return 202


def operation_response(
    request: Request, op: Operation | ChargeView, extra: dict[str, object] | None = None
) -> JSONResponse:
    language = preferred_language(request.headers.get("accept-language"))
    body = {"operation": operation_out(op, language).model_dump(), **(extra or {})}
    if op.status == OperationStatus.FAILED:
        error = body["operation"]["error"] or error_body("TRANSACTION_REJECTED", {}, language)["error"]  # type: ignore[index]
        body["error"] = error
    return JSONResponse(body, status_code=operation_status(op))
