"""The city counter (窓口, issue 20): ``/v1/counter/…`` for officers; the card's own routes for residents and tills.

Officers only (the wallet checks the role; every action is in ``counter_log``). The PIN pad's
call carries the PIN from the resident's fingers to the server; nothing returns it. Residents:
``POST /v1/me/card/block`` (my card is lost) and ``POST /v1/auth/reset-password`` (the code from
the counter). Tills: ``POST /v1/merchant/card-balance`` (scan the card, the holder types the PIN;
the balance is shown and nothing is paid).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field, StrictStr

from wallet_api import qr
from wallet_api.counter import RESET_CODE_HOURS, redeem_reset_code
from wallet_api.deps import IdempotencyKey, Member, Merchant, Officer, ServicesDep, operation_response
from wallet_api.schemas import Strict

router = APIRouter(prefix="/v1", tags=["counter"])
PublicId = Annotated[str, Path(max_length=36)]
Reason = Annotated[StrictStr, Field(min_length=1, max_length=200, description="Why (recorded)")]


class SearchIn(Strict):
    reason: Reason
    name: Annotated[StrictStr | None, Field(max_length=100)] = None
    date_of_birth: date | None = None
    member_code: Annotated[StrictStr | None, Field(max_length=20)] = None
    card: Annotated[StrictStr | None, Field(max_length=100, description="The card's QR text, scanned")] = None


class CounterSignupIn(Strict):
    full_name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    postal_address: Annotated[StrictStr, Field(min_length=1, max_length=300)]
    date_of_birth: date
    display_name: Annotated[StrictStr | None, Field(max_length=80)] = None
    id_document: Annotated[
        StrictStr,
        Field(min_length=2, max_length=60, description="Which ID the officer checked (e.g. マイナンバーカード)"),
    ]


class PinEntryIn(Strict):
    purpose: Literal["new_card", "reset_pin"]


class PinIn(Strict):
    pin: Annotated[StrictStr, Field(pattern=r"^[0-9]{6}$")]
    pin_again: Annotated[StrictStr, Field(pattern=r"^[0-9]{6}$")]


class ReasonIn(Strict):
    reason: Reason


class ResetIn(Strict):
    login: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    code: Annotated[StrictStr, Field(min_length=6, max_length=30)]
    new_password: Annotated[StrictStr, Field(min_length=10, max_length=200)]


class CardBalanceIn(Strict):
    card: Annotated[StrictStr, Field(min_length=10, max_length=100)]
    pin: Annotated[StrictStr, Field(pattern=r"^[0-9]{4,6}$")]


class BucketOut(BaseModel):
    expires_at: int
    amount: int


class CardBalanceOut(BaseModel):
    display_name: str | None
    short_code: str
    balance: int
    buckets: list[BucketOut]


class SlipOut(BaseModel):
    name: str
    short_code: str
    login: str
    balance: int
    buckets: list[BucketOut]
    printed_at: datetime


class ResetCodeOut(BaseModel):
    login: str
    code: str
    hours: int


class NewCardOut(BaseModel):
    card: str | None
    qr_svg: str | None


@router.post("/counter/search", tags=["officer"])
def search(body: SearchIn, officer: Officer, svc: ServicesDep) -> list[dict[str, Any]]:
    """Residents matching every criterion given; each record opened is recorded with the reason."""
    return svc.counter.search(officer, body.reason, name=body.name, date_of_birth=body.date_of_birth,
                              member_code=body.member_code, card=body.card)  # fmt: skip


@router.post("/counter/signups", tags=["officer"], status_code=201)
def signup(
    request: Request, body: CounterSignupIn, officer: Officer, key: IdempotencyKey, svc: ServicesDep
) -> Response:
    """Signs a resident up after an ID check at the desk and approves them; shows likely duplicates."""
    done = svc.counter.signup(officer, key, full_name=body.full_name, postal_address=body.postal_address,
                              date_of_birth=body.date_of_birth, display_name=body.display_name,
                              id_document=body.id_document)  # fmt: skip
    member = {"id": done.user.public_id, "short_code": done.user.short_code, "login": done.user.login}
    extra: dict[str, object] = {"member": member,
             "duplicates": [{"id": u.public_id, "short_code": u.short_code, "status": u.status.value}
                            for u in done.duplicates]}  # fmt: skip
    return operation_response(request, done.operation, extra)


@router.post("/counter/members/{public_id}/pin-entries", tags=["officer"], status_code=201)
def open_pin_entry(public_id: PublicId, body: PinEntryIn, officer: Officer, svc: ServicesDep) -> dict[str, str]:
    """Opens the PIN pad for this resident (5 minutes, once): a new card, or a new PIN for the same card."""
    return {"entry": svc.counter.open_pin_entry(officer, public_id, body.purpose)}


@router.post("/counter/pin-entries/{entry}", tags=["officer"])
def enter_pin(
    entry: Annotated[str, Path(max_length=36)], body: PinIn, officer: Officer, svc: ServicesDep
) -> NewCardOut:
    """The PIN pad: the resident's PIN, typed twice. A new card comes back to print; the PIN never does."""
    token = svc.counter.enter_pin(officer, entry, body.pin, body.pin_again)
    if token is None:
        return NewCardOut(card=None, qr_svg=None)
    svg, _ = qr.render(token, "svg", 4)
    return NewCardOut(card=token, qr_svg=svg.decode())


@router.post("/counter/members/{public_id}/card/block", tags=["officer"], status_code=204)
def block_card(public_id: PublicId, body: ReasonIn, officer: Officer, svc: ServicesDep) -> Response:
    """Blocks the resident's card at once (lost or stolen); a new card keeps the balance."""
    svc.counter.block_card(officer, public_id, body.reason)
    return Response(status_code=204)


@router.post("/counter/members/{public_id}/reset-code", tags=["officer"], status_code=201)
def reset_code(public_id: PublicId, officer: Officer, svc: ServicesDep) -> ResetCodeOut:
    """A one-time code to hand over on paper; with their log-in ID the resident sets a new app password."""
    login, code = svc.counter.reset_code(officer, public_id)
    return ResetCodeOut(login=login, code=code, hours=RESET_CODE_HOURS)


@router.post("/counter/members/{public_id}/slip", tags=["officer"])
def slip(public_id: PublicId, body: ReasonIn, officer: Officer, svc: ServicesDep) -> SlipOut:
    """What the printed balance slip shows (the record opened is recorded)."""
    return SlipOut(**svc.counter.slip(officer, public_id, body.reason))


@router.post("/counter/members/{public_id}/recovery", tags=["officer"], status_code=201)
def start_recovery(public_id: PublicId, body: ReasonIn, officer: Officer, svc: ServicesDep) -> dict[str, Any]:
    """Prepares the recovery of a lost account: a new key made here, app sessions ended, and the two commands a
    registrar officer runs with their own key. The member's record follows the chain when they do."""
    return svc.recoveries.start(officer, public_id, body.reason)


@router.get("/counter/members/{public_id}/recovery", tags=["officer"])
def recovery_status(public_id: PublicId, officer: Officer, svc: ServicesDep) -> dict[str, Any]:
    """The member's recovery after following the chain: prepared, recovered (new key in use) or done."""
    return svc.recoveries.status(public_id)


@router.get("/counter/trail", tags=["officer"])
def trail(officer: Officer, svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    """Every action at the counter, newest first: when, which officer, for whom, what, why."""
    return svc.counter.trail(limit)


@router.post("/me/card/block", tags=["wallet"], status_code=204)
def block_my_card(user: Member, svc: ServicesDep) -> Response:
    """My card is lost: blocked at once; a new one (here or at the counter) keeps the balance."""
    svc.counter.block_card(user, user.public_id, "本人からの紛失届（アプリ）")
    return Response(status_code=204)


@router.post("/auth/reset-password", tags=["auth"], status_code=204)
def reset_password(body: ResetIn, svc: ServicesDep) -> Response:
    """Sets a new password with the one-time code from the counter (used once, for 24 hours)."""
    redeem_reset_code(svc.sessions, body.login, body.code, body.new_password)
    return Response(status_code=204)


@router.post("/merchant/card-balance", tags=["merchant"])
def card_balance(body: CardBalanceIn, user: Merchant, svc: ServicesDep) -> CardBalanceOut:
    """A card holder's balance at the till: scan the card, they type the PIN; nothing is paid.

    Wrong PINs count towards the card's lock like a charge's.
    """
    holder, _limit = svc.charges.card_holder(body.card, body.pin)
    balance, buckets = svc.ledger.balance(holder.address) if holder.address else (0, [])
    return CardBalanceOut(display_name=holder.display_name, short_code=holder.short_code, balance=balance,
                          buckets=[BucketOut(expires_at=e, amount=a) for e, a in buckets])  # fmt: skip
