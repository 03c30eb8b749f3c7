"""Proxies (代理, issue 20): ``/v1/proxy/…`` for a family member or carer acting for a resident from their own
app; ``/v1/me/proxies`` for the resident (who acts for me, what they did, end it); ``/v1/counter/…/proxies``
for the officer who checks and records a proxy at the counter."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field, StrictInt, StrictStr

from wallet_api.db.models import Operation
from wallet_api.deps import IdempotencyKey, Officer, Resident, ServicesDep, operation_response
from wallet_api.routes.help import post_for
from wallet_api.schemas import MAX_POINTS, HelpRequestIn, PayIn, Strict, ThanksIn

router = APIRouter(prefix="/v1", tags=["proxy"])
MemberCode = Annotated[str, Path(min_length=4, max_length=12, pattern=r"^[0-9A-Za-z]+$")]
LinkId = Annotated[str, Path(max_length=36)]
Scope = Literal["balance", "pay", "thanks", "help", "card"]


class ProxyIn(Strict):
    proxy_member_code: Annotated[StrictStr, Field(min_length=4, max_length=64, description="The family member's code")]
    relationship: Annotated[StrictStr, Field(min_length=1, max_length=40, description="e.g. 娘, ケアマネジャー")]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=5)]
    daily_limit: Annotated[StrictInt, Field(ge=0, le=MAX_POINTS, description="Points a day for pay+thanks+help")]
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200, description="What was checked (recorded)")]


class RevokeIn(Strict):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]


# -- the counter ------------------------------------------------------------------------------
@router.post("/counter/members/{public_id}/proxies", tags=["officer"], status_code=201)
def grant(
    public_id: Annotated[str, Path(max_length=36)], body: ProxyIn, officer: Officer, svc: ServicesDep
) -> dict[str, Any]:
    """Records a proxy the officer checked (both identities and the relationship), with its scopes and day limit."""
    principal = svc.counter.member(public_id)
    return svc.proxies.grant(officer, principal, body.proxy_member_code, list(body.scopes), body.daily_limit,
                             body.relationship, body.reason)  # fmt: skip


@router.get("/counter/members/{public_id}/proxies", tags=["officer"])
def counter_list(
    public_id: Annotated[str, Path(max_length=36)], officer: Officer, svc: ServicesDep
) -> list[dict[str, Any]]:
    """Who may act for this resident (and who did), ended ones included."""
    return svc.proxies.links(svc.counter.member(public_id), as_proxy=False, include_revoked=True)


@router.post("/counter/proxies/{link}/revoke", tags=["officer"], status_code=204)
def counter_revoke(link: LinkId, body: RevokeIn, officer: Officer, svc: ServicesDep) -> Response:
    svc.proxies.revoke(officer, link, body.reason)
    return Response(status_code=204)


# -- the resident -----------------------------------------------------------------------------
@router.get("/me/proxies")
def my_proxies(user: Resident, svc: ServicesDep) -> dict[str, Any]:
    """Who acts for me (with what they did), and for whom I act."""
    given = svc.proxies.links(user, as_proxy=False)
    for link in given:
        link["actions"] = svc.proxies.actions(link["id"])
    return {"acting_for_me": given, "i_act_for": svc.proxies.links(user, as_proxy=True)}


@router.post("/me/proxies/{link}/revoke", status_code=204)
def my_revoke(link: LinkId, user: Resident, svc: ServicesDep) -> Response:
    """Ends a proxy I gave, or one I hold."""
    svc.proxies.revoke(user, link, "本人による取り消し")
    return Response(status_code=204)


# -- the proxy acting -------------------------------------------------------------------------
@router.get("/proxy/{principal}/balance")
def balance(principal: MemberCode, user: Resident, svc: ServicesDep) -> dict[str, Any]:
    """The resident's balance and when their points expire (scope ``balance``)."""
    _link, person = svc.proxies.acting(user, principal, "balance")
    amount, buckets = svc.ledger.balance(person.address) if person.address else (0, [])
    return {"principal": person.short_code, "balance": amount,
            "buckets": [{"expires_at": e, "amount": a} for e, a in buckets]}  # fmt: skip


@router.post("/proxy/{principal}/thanks")
def thanks(
    request: Request, principal: MemberCode, body: ThanksIn, user: Resident, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Sends thanks from the resident's points, signed by their key (scope ``thanks``; counts to the day's limit)."""
    link, person = svc.proxies.acting(user, principal, "thanks")

    def send(k: str) -> Operation:
        return svc.thanks.thank(person, body.to, body.amount, body.category, body.message, k)

    op = svc.proxies.act(link, "thanks", body.amount, send, key)
    return operation_response(request, op, {"by_proxy": user.short_code})


@router.post("/proxy/{principal}/payments")
def pay(
    request: Request, principal: MemberCode, body: PayIn, user: Resident, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Pays a shop's QR for the resident (scope ``pay``; counts to the day's limit)."""
    link, person = svc.proxies.acting(user, principal, "pay")
    payment_request, _merchant = svc.payments.resolve_uri(body.uri)
    op = svc.proxies.act(link, "pay", payment_request.amount, lambda k: svc.payments.pay_uri(person, body.uri, k), key)
    return operation_response(request, op, {"by_proxy": user.short_code})


@router.post("/proxy/{principal}/help-requests")
def help_request(
    request: Request, principal: MemberCode, body: HelpRequestIn, user: Resident, key: IdempotencyKey, svc: ServicesDep
) -> JSONResponse:
    """Posts a help request for the resident, its thanks from their points (scope ``help``; counts to the limit)."""
    link, person = svc.proxies.acting(user, principal, "help")
    answer: list[JSONResponse] = []

    def send(k: str) -> Any:
        answer.append(post_for(request, svc, person, k, body, actor=user))
        return answer[-1]

    svc.proxies.act(link, "help", body.thanks, send, key)
    return answer[-1]


@router.post("/proxy/{principal}/card/block", status_code=204)
def block_card(principal: MemberCode, user: Resident, svc: ServicesDep) -> Response:
    """Blocks the resident's lost card at once (scope ``card``)."""
    link, person = svc.proxies.acting(user, principal, "card")
    svc.counter.block_card(user, person.public_id, f"代理人 {user.short_code} による紛失届")
    svc.proxies.record(link, "card_block")
    return Response(status_code=204)
