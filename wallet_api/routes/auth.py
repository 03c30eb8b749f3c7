"""Sign-up, log-in, token refresh and log-out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from wallet_api.deps import AnyUser, ServicesDep, client_of
from wallet_api.schemas import LoginIn, MeOut, RefreshIn, SignupIn, SignupOut, TokensOut

router = APIRouter(prefix="/v1", tags=["auth"])


@router.post("/auth/signup", status_code=201, response_model=SignupOut)
def signup(body: SignupIn, svc: ServicesDep) -> SignupOut:
    """Creates a pending account; a city officer verifies the person before it can hold points."""
    user = svc.accounts.signup(
        login=body.login,
        password=body.password,
        role=body.role,
        full_name=body.full_name,
        postal_address=body.postal_address,
        date_of_birth=body.date_of_birth,
        display_name=body.display_name,
    )
    return SignupOut(id=user.public_id, status=user.status, short_code=user.short_code)


@router.post("/auth/login", response_model=TokensOut)
async def login(request: Request, body: LoginIn, svc: ServicesDep) -> TokensOut:
    """Failed attempts slow down this client for this log-in only; unknown log-ins are answered alike."""
    tokens = await svc.auth.login(svc.sessions, body.login, body.password, client_of(request))
    request.state.pseudonym = svc.auth.pseudonym(svc.auth.subject(tokens.access_token) or "")
    return TokensOut(access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_in=tokens.expires_in)


@router.post("/auth/refresh", response_model=TokensOut)
def refresh(body: RefreshIn, svc: ServicesDep) -> TokensOut:
    """Rotates the refresh token; the previous one still works for a few seconds (two tabs at once)."""
    tokens = svc.auth.refresh(svc.sessions, body.refresh_token)
    return TokensOut(access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_in=tokens.expires_in)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, user: AnyUser, svc: ServicesDep) -> Response:
    """Closes this session: its access and refresh tokens stop working at once."""
    svc.auth.logout(svc.sessions, request.state.session_id, user.id)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
def me(user: AnyUser) -> MeOut:
    return MeOut(
        id=user.public_id,
        login=user.login,
        role=user.role,
        status=user.status,
        address=user.address,
        short_code=user.short_code,
        display_name=user.display_name,
    )
