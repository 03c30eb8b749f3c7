"""Every state and kind the wallet stores, as enums: one list each, checked by the database too.

Before, these were free strings written in many modules; a typo ("aproving") was a new
state nobody handled. Each enum is a ``StrEnum``, so the stored text is unchanged (the
API, the apps and old rows read the same words), and each column carries a CHECK
constraint listing the same values (migration ``0004_status_checks``): a value not
listed here cannot be written, whoever writes it.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    RESIDENT = "resident"
    MERCHANT = "merchant"
    OFFICER = "officer"
    COORDINATOR = (
        "coordinator"  # 社会福祉協議会 or 民生委員: acts in help matching for residents who consented (issue 18)
    )
    BUSINESS = "business"  # a business (法人) that is not a shop: kind Business on-chain, the till's business screens


MEMBER_ROLES = (Role.RESIDENT, Role.MERCHANT)
"""Residents and shops: the members who sign up, are verified and served at the counter."""
CHAIN_MEMBER_ROLES = (*MEMBER_ROLES, Role.BUSINESS)
"""Every role with an on-chain account of its own (officers act through the service's key): members and
businesses (issue 21). The registry follower, the reconciliation and the expiry sweep cover these."""


class AccountStatus(StrEnum):
    """pending → approving (registration sent) → active; or rejected. Suspended on-chain by the city."""

    PENDING = "pending"
    APPROVING = "approving"
    ACTIVE = "active"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class OperationKind(StrEnum):
    """What an outbox operation does; each kind may have a hook run when it settles."""

    REGISTER = "register"
    ATTEST = "attest"
    THANK = "thank"
    PAY = "pay"
    REFUND = "refund"
    SETTLE = "settle"
    CHARGE = "charge"  # the till's record of a charge: follows its payment, never sent itself
    HELP_POST = "help-post"  # help matching (issue 18): a request posted with its thanks in escrow
    HELP_CHOOSE = "help-choose"
    HELP_COMPLETE = "help-complete"
    HELP_WITHDRAW = "help-withdraw"
    HELP_CANCEL = "help-cancel"  # the requester cancels a matched request before it starts
    HELP_STEP_BACK = "help-step-back"  # the chosen helper steps back
    HELP_DISPUTE = "help-dispute"  # either party asks the city to decide
    HELP_EXPIRE = "help-expire"  # an unmatched request's window ended: the escrow returns
    HELP_RESOLVE = "help-resolve"  # the city decides a dispute (the service key, HELP_MODERATOR)
    HELP_REMOVE = "help-remove"  # the city takes a request down
    HELP_SUSPEND = "help-suspend"  # the city suspends (or readmits) an account from the service
    EXPIRY_SWEEP = "expiry-sweep"  # the monthly sweep of expired points, one batch of accounts (issue 20)
    # points that stay local (issue 21, migration 0014): a shop pays a shop or business, rewards a
    # resident, runs its own programme and pays its claims
    B2B_PAY = "b2b-pay"
    BIZ_REWARD = "biz-reward"
    BIZ_PROGRAMME = "biz-programme"
    BIZ_ATTEST = "biz-attest"


class OperationStatus(StrEnum):
    """accepted → signed → sent → confirmed | failed; ``linked`` for a charge, which follows its payment."""

    ACCEPTED = "accepted"
    SIGNED = "signed"
    SENT = "sent"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    LINKED = "linked"


FINAL_OPERATION = (OperationStatus.CONFIRMED, OperationStatus.FAILED)


class PaymentRequestStatus(StrEnum):
    """A till's request: open → paying → paid; see :mod:`wallet_api.payments` for the rest.

    ``expired`` is what an open request past its time is shown as (computed, not written
    today; kept allowed for rows written by earlier versions).
    """

    OPEN = "open"
    CONFIRMING = "confirming"  # a charge above the resident's limit waits for the resident
    PAYING = "paying"
    PAID = "paid"
    REVIEW = "review"  # the chain recorded another payer or amount
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


FINAL_REQUEST = (
    PaymentRequestStatus.PAID,
    PaymentRequestStatus.EXPIRED,
    PaymentRequestStatus.REVIEW,
    PaymentRequestStatus.DECLINED,
    PaymentRequestStatus.CANCELLED,
)


class ClaimStatus(StrEnum):
    """pending → approving (attestation sent) → granted | failed; or rejected by the officer."""

    PENDING = "pending"
    APPROVING = "approving"
    GRANTED = "granted"
    REJECTED = "rejected"
    FAILED = "failed"


class HelpStatus(StrEnum):
    """A help request in the wallet: posting → open → matched → completed; or withdrawn, or failed to post.

    Matched may also be cancelled (before it starts), disputed (then resolved by the city), or go
    back to open when the helper steps back; open or matched may be removed by the city; open
    expires when its window ends unmatched. The chain's ``HelpBoard.Status`` has the same names.
    """

    POSTING = "posting"
    OPEN = "open"
    MATCHED = "matched"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    DISPUTED = "disputed"
    RESOLVED = "resolved"
    REMOVED = "removed"


class ConsentMethod(StrEnum):
    """How a resident agreed that a coordinator may act for them in help matching."""

    CARD_PIN = "card_pin"  # in person: the resident's card and PIN, entered by the resident
    IN_APP = "in_app"  # in the resident's own app
