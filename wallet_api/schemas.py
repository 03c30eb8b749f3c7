"""Request and response bodies. Strict types: an amount is a whole number, never "5" or 5.5."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

MAX_POINTS = 2**40 - 1
Points = Annotated[StrictInt, Field(gt=0, le=MAX_POINTS, description="Whole points (no decimals)")]
Text = Annotated[StrictStr, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignupIn(Strict):
    login: Annotated[StrictStr, Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._@+-]+$")]
    password: Annotated[StrictStr, Field(min_length=10, max_length=200)]
    role: Literal["resident", "merchant"]
    full_name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    postal_address: Annotated[StrictStr, Field(min_length=1, max_length=300)]
    date_of_birth: date
    display_name: Annotated[StrictStr | None, Field(max_length=80)] = None


class SignupOut(BaseModel):
    id: str
    status: str
    short_code: str


class LoginIn(Strict):
    login: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    password: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class RefreshIn(Strict):
    refresh_token: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class MeOut(BaseModel):
    id: str
    login: str
    role: str
    status: str
    address: str | None
    short_code: str
    display_name: str | None


class Bucket(BaseModel):
    expires_at: int
    amount: int


class BalanceOut(BaseModel):
    balance: int
    expiring_soon: int = Field(description="Points that expire within the next 60 days")
    buckets: list[Bucket]
    merchant: dict[str, int] | None = None


class HistoryItem(BaseModel):
    kind: str
    amount: int
    direction: Literal["in", "out"]
    counterparty: str | None
    counterparty_name: str | None
    text: str
    text_ja: str
    tx_hash: str
    block: int
    timestamp: int
    request_id: str | None = None
    category: str | None = None
    message: str | None = Field(None, description="A thanks' message, kept off-chain")
    message_salt: str | None = Field(
        None, description="Key of the on-chain memoHash = HMAC-SHA256(message_salt, message), to verify the message"
    )


class HistoryOut(BaseModel):
    items: list[HistoryItem]
    next_cursor: str | None


class ThanksIn(Strict):
    to: Annotated[StrictStr, Field(min_length=1, max_length=64, description="Short code or address")]
    amount: Points
    category: Literal["thanks", "help", "community", "care", "environment", "other"] = "thanks"
    message: Annotated[StrictStr, Field(max_length=200)] = ""


class ErrorOut(BaseModel):
    code: str
    message: str
    messages: dict[str, str]
    detail: dict[str, Any]


class OperationOut(BaseModel):
    id: str
    kind: str
    status: str
    tx_hash: str | None
    block_number: int | None
    error: ErrorOut | None = None
    summary: dict[str, Any]


class PaymentRequestIn(Strict):
    amount: Points
    memo: Annotated[StrictStr | None, Field(max_length=80)] = None


class PaymentRequestOut(BaseModel):
    id: str
    request_id: str = Field(description="the reference printed in the QR (EIP-681 `requestId`)")
    chain_request_id: str = Field(
        description="the id the chain and the explorer record the payment under: "
        "keccak256(abi.encode(merchant, amount, reference))"
    )
    amount: int
    status: str
    uri: str
    merchant: str
    merchant_name: str | None
    expires_at: str
    paid_at: str | None
    refunded: int
    review: dict[str, Any] | None = Field(
        None, description="status review: what the chain recorded instead (chain_payer, chain_amount)"
    )


class PayIn(Strict):
    uri: Annotated[StrictStr, Field(min_length=1, max_length=512)]


class PaymentPreviewOut(BaseModel):
    payment_request_id: str
    amount: int
    merchant: str
    merchant_name: str | None
    memo: str | None
    status: str
    balance: int | None = Field(
        default=None, description="the resident's spendable points now (null when the ledger cannot be reached)"
    )


class MemberOut(BaseModel):
    """Whom a member code names, as a neighbour may see it: the code and the chosen display name only."""

    short_code: str
    display_name: str | None = Field(description="the nickname the member chose (null: none; show the code)")


class PaymentOut(BaseModel):
    operation: OperationOut
    payment_request: PaymentRequestOut | None = None


class CardIn(Strict):
    pin: Annotated[StrictStr, Field(pattern=r"^[0-9]{4,6}$")]
    max_amount: Annotated[
        StrictInt | None, Field(gt=0, le=MAX_POINTS, description="Above it a charge waits for your confirmation")
    ] = None


class LimitIn(Strict):
    max_amount: Annotated[StrictInt | None, Field(gt=0, le=MAX_POINTS)] = None


class CardLimitOut(BaseModel):
    has_card: bool
    max_amount: int | None


class ConfirmationIn(Strict):
    approve: bool


class ConfirmationOut(BaseModel):
    payment_request_id: str
    amount: int
    merchant: str
    merchant_name: str | None
    expires_at: str


class CardOut(BaseModel):
    card: str
    qr_svg: str


class CodeOut(BaseModel):
    code: str
    expires_in: int
    qr_svg: str


class ChargeIn(Strict):
    amount: Points
    card: Annotated[StrictStr | None, Field(max_length=100)] = None
    pin: Annotated[StrictStr | None, Field(pattern=r"^[0-9]{4,6}$")] = None
    code: Annotated[StrictStr | None, Field(max_length=100)] = None


class RefundIn(Strict):
    payment_request_id: Annotated[StrictStr, Field(min_length=1, max_length=36)]
    amount: Points


class SettlementIn(Strict):
    amount: Points


class TakingsOut(BaseModel):
    date: str
    payments: int
    total: int
    refunded: int
    requests: list[PaymentRequestOut]


class ClaimIn(Strict):
    programme_id: Annotated[StrictInt, Field(gt=0, le=2**32)]
    units: Annotated[StrictInt, Field(gt=0, le=2**32)]
    evidence: Annotated[StrictStr, Field(min_length=1, max_length=500)]


class ClaimOut(BaseModel):
    id: str
    programme_id: int
    units: int
    evidence: str
    status: str
    resident: str | None = None

    @classmethod
    def of(cls, claim: Any, resident: str | None = None) -> ClaimOut:
        return cls(
            id=claim.public_id,
            programme_id=claim.programme_id,
            units=claim.units,
            evidence=claim.evidence,
            status=claim.status,
            resident=resident,
        )


class PendingAccountOut(BaseModel):
    id: str
    login: str
    role: str
    status: str
    address: str | None
    display_name: str | None
    created_at: str
    record: dict[str, Any]


class AccountDecisionOut(BaseModel):
    id: str
    status: str
    operation: OperationOut | None = None


class RecordReadOut(BaseModel):
    """One audited read of a sealed personal record (issue 15): who, whose, why, when."""

    officer: str
    officer_name: str | None
    account: str
    account_login: str
    reason: str
    read_at: str


# -- help matching (issue 18) ------------------------------------------------------------
District = Annotated[
    StrictStr, Field(min_length=1, max_length=40, description="District (町名) only, never an address")
]


class HelpRequestIn(Strict):
    task_type: Annotated[StrictInt, Field(ge=0, le=8, description="0 shopping … 8 other (docs/help-matching.md)")]
    district: District
    starts_at: datetime
    ends_at: datetime
    thanks: Points
    details: Annotated[StrictStr, Field(min_length=1, max_length=500, description="Shown to the chosen helper only")]
    place: Annotated[StrictStr, Field(min_length=1, max_length=200, description="Exact place: chosen helper only")]


class HelpOfferIn(Strict):
    message: Annotated[StrictStr, Field(max_length=200)] = ""


class HelpChooseIn(Strict):
    helper: Annotated[StrictStr, Field(min_length=1, max_length=36, description="The helper id from the offers")]


class HelpRequestOut(BaseModel):
    id: str
    task_type: int
    district: str
    starts_at: str
    ends_at: str
    thanks: int
    status: str
    role: str | None = None
    details: str | None = None
    place: str | None = None
    counterpart: dict[str, str] | None = None
    offers: list[dict[str, str]] | None = None
    thank_message: str | None = None


class HelpCompleteIn(Strict):
    message: Annotated[StrictStr, Field(max_length=200, description="A thank-you to the helper (shown to them)")] = ""
    rating: Annotated[StrictInt | None, Field(ge=1, le=5, description="1-5, seen only by the city")] = None


class HelpVoucherIn(Strict):
    units: Annotated[StrictInt, Field(ge=1, le=1000, description="Vouchers asked for (the programme sets points each)")]
    evidence: Annotated[StrictStr, Field(min_length=1, max_length=500, description="Why (e.g. 通院の付き添いに必要)")]


class HelpDisputeIn(Strict):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200, description="Kept here; a salted hash on-chain")]


class HelpResolveIn(Strict):
    to_helper: Annotated[StrictInt, Field(ge=0, le=MAX_POINTS, description="Points to the helper; the rest return")]
    decision: Annotated[StrictStr, Field(min_length=1, max_length=200, description="The recorded decision")]


class HelpRemoveIn(Strict):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class HelpSuspendIn(Strict):
    member: Annotated[StrictStr, Field(min_length=4, max_length=64, description="The resident's member code")]
    suspended: StrictBool
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class HelpCaseOut(BaseModel):
    """A request as the city sees it for moderation: public part, the parties' member codes, the trail."""

    request: HelpRequestOut
    requester: str
    helper: str | None
    trail: list[dict[str, str]]
    rating: int | None = None


class HelpMemberIn(Strict):
    member: Annotated[StrictStr, Field(min_length=4, max_length=64, description="The person's member code")]


class HelpReportIn(Strict):
    member: Annotated[StrictStr, Field(min_length=4, max_length=64, description="Who is reported (member code)")]
    request_id: Annotated[StrictStr | None, Field(max_length=36)] = None
    reason: Annotated[StrictStr, Field(min_length=1, max_length=500)]


class HelpReportOut(BaseModel):
    id: str
    reported: str
    reporter: str
    request: str | None
    reason: str
    at: str


class HelpLinkIn(Strict):
    """The resident, in person, consents with their card and PIN (they type the PIN themselves)."""

    member: Annotated[StrictStr, Field(min_length=4, max_length=64, description="The resident's member code")]
    card: Annotated[StrictStr, Field(min_length=1, max_length=100, description="The card's code (scanned)")]
    pin: Annotated[StrictStr, Field(pattern=r"^[0-9]{4,6}$")]


class HelpConsentIn(Strict):
    coordinator: Annotated[StrictStr, Field(min_length=4, max_length=64, description="The coordinator's code")]


class LinkedResidentOut(BaseModel):
    id: str
    member: str
    name: str
    consent: str
    consented_at: str


class CoordinatorOut(BaseModel):
    id: str
    member: str
    name: str
    consent: str
    consented_at: str


class HelpActionOut(BaseModel):
    actor: str
    actor_name: str
    actor_role: str
    resident: str | None
    request: str | None
    action: str
    note: str
    at: str


class HelpTaskOut(BaseModel):
    task_type: int
    min_thanks: int
    max_thanks: int
    enabled: bool


class HelpPageOut(BaseModel):
    items: list[HelpRequestOut]
    total: int
    page: int
    size: int
