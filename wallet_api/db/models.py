"""The wallet service's tables (SQLAlchemy 2 declarative; migrations in ``wallet_api/migrations``).

Personal data (name, address, date of birth) and private keys are stored only as
envelope-sealed blobs; amounts are integers (points have no decimals). Times are UTC.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wallet_api.statuses import (
    AccountStatus,
    ClaimStatus,
    ConsentMethod,
    HelpStatus,
    OperationKind,
    OperationStatus,
    PaymentRequestStatus,
    Role,
)


class Base(DeclarativeBase):
    pass


def stored_enum(values: type[StrEnum], constraint: str) -> Enum:
    """``values`` stored as their text (VARCHAR(16)) under a CHECK constraint named ``constraint``.

    Read back as enum members; writing a value not in the enum fails in Python and, for
    any other writer, in the database (the constraints come from migration 0004).
    """
    return Enum(
        values,
        name=constraint,
        native_enum=False,
        create_constraint=True,
        length=16,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


class User(Base):
    """A resident, merchant or city officer (:class:`Role`); ``status``: :class:`AccountStatus`."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(stored_enum(Role, "ck_users_role"))
    status: Mapped[AccountStatus] = mapped_column(stored_enum(AccountStatus, "ck_users_status"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(42), unique=True)
    sealed_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed_personal: Mapped[bytes | None] = mapped_column(LargeBinary)
    record_hash: Mapped[str | None] = mapped_column(String(66))
    display_name: Mapped[str | None] = mapped_column(String(80))
    short_code: Mapped[str] = mapped_column(String(12), unique=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Session(Base):
    """A login: one refresh-token family. A refresh token used twice revokes the family."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    refresh_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    # the token rotated away last, still honoured for a few seconds (two tabs refreshing at once)
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Operation(Base):
    """The outbox: one accepted money-moving (or registering) request and its transaction.

    ``status`` (:class:`OperationStatus`): accepted → signed → sent → confirmed | failed. The signed raw transaction
    is stored before it is broadcast, so after a crash it is re-sent unchanged (same
    nonce, same hash): the ledger applies it at most once.
    """

    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_operations_idempotency"),
        Index("ix_operations_status_lease", "status", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[OperationKind] = mapped_column(stored_enum(OperationKind, "ck_operations_kind"))
    sender: Mapped[str] = mapped_column(String(42), index=True)
    target: Mapped[str] = mapped_column(String(42))
    calldata: Mapped[bytes] = mapped_column(LargeBinary)
    summary: Mapped[dict[str, object]] = mapped_column(JSON)
    status: Mapped[OperationStatus] = mapped_column(stored_enum(OperationStatus, "ck_operations_status"))
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    tx_hash: Mapped[str | None] = mapped_column(String(66), index=True)
    raw_tx: Mapped[bytes | None] = mapped_column(LargeBinary)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_detail: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # issue 15 (0003): when the raw transaction was last handed to the node, and how often
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    broadcasts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AccountNonce(Base):
    """The next nonce of a custodial address; its row lock serialises signing per address."""

    __tablename__ = "account_nonces"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)


class PaymentRequest(Base):
    """A merchant's request to be paid (the QR at the till).

    ``status``: open, paying, paid, expired; ``review`` when the chain's record of the
    request is not this payer's payment of this amount; ``confirming`` while a charge
    above the resident's limit waits for the resident, ``declined`` if refused, and
    ``cancelled`` for a charge refused before anything was sent.
    """

    __tablename__ = "payment_requests"
    __table_args__ = (Index("ix_payment_requests_payer_status", "payer_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    request_id: Mapped[str] = mapped_column(String(66), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    memo: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[PaymentRequestStatus] = mapped_column(
        stored_enum(PaymentRequestStatus, "ck_payment_requests_status")
    )
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    operation_id: Mapped[str | None] = mapped_column(ForeignKey("operations.id"))
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # issue 15 (0003): why the chain's record did not match (status "review")
    review_reason: Mapped[str | None] = mapped_column(String(200))


class Card(Base):
    """A printed QR card with a PIN, for residents without a smartphone."""

    __tablename__ = "cards"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    card_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pin_hash: Mapped[str] = mapped_column(String(200))
    failed_pins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    max_amount: Mapped[int | None] = mapped_column(BigInteger)  # above it the resident confirms (0003)
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # lost: refused everywhere (0007)


class PaymentCode(Base):
    """A short-lived, single-use code a resident shows for a shop to scan (CPM)."""

    __tablename__ = "payment_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    max_amount: Mapped[int | None] = mapped_column(BigInteger)  # above it the resident confirms (0003)


class Claim(Base):
    """A resident's claim on a reward programme; an officer approves it and the service attests."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    programme_id: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(BigInteger)
    evidence: Mapped[str] = mapped_column(String(500))
    status: Mapped[ClaimStatus] = mapped_column(stored_enum(ClaimStatus, "ck_claims_status"), index=True)
    operation_id: Mapped[str | None] = mapped_column(ForeignKey("operations.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ServiceKey(Base):
    """The service's own on-chain account (registers verified users, attests claims)."""

    __tablename__ = "service_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)


class LoginThrottle(Base):
    """Failed log-ins of one (log-in, client) pair: progressive delay instead of a lock.

    ``key`` is a keyed hash of the pair, so neither the log-in ID nor the address is
    stored. Rows exist for unknown log-ins too: known and unknown ones answer alike.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class RateLimit(Base):
    """Requests per key and minute, shared by every worker process (atomic upserts)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)


class OfficerRead(Base):
    """An officer (or the command line, ``officer_id`` empty) opened a person's sealed record."""

    __tablename__ = "officer_reads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(String(80))
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class WalletMeta(Base):
    """Facts about this database, e.g. the id of the KEK its values are sealed under."""

    __tablename__ = "wallet_meta"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class HelpRequest(Base):
    """A resident's request for help (issue 18): public part (district, task, window, thanks) and private part.

    ``details`` and ``place`` are shown only to the requester and the chosen helper; the
    chain holds ``chain_id`` and a salted hash of them (``details_salt``), never the text.
    """

    __tablename__ = "help_requests"
    __table_args__ = (Index("ix_help_requests_status_district", "status", "district", "starts_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    task_type: Mapped[int] = mapped_column(Integer)
    district: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    thanks: Mapped[int] = mapped_column(BigInteger)
    details: Mapped[str] = mapped_column(String(500))
    place: Mapped[str] = mapped_column(String(200))
    details_salt: Mapped[str] = mapped_column(String(34))
    chain_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    helper_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[HelpStatus] = mapped_column(stored_enum(HelpStatus, "ck_help_requests_status"))
    operation_id: Mapped[str | None] = mapped_column(ForeignKey("operations.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # a coordinator, when not the requester
    thank_message: Mapped[str | None] = mapped_column(String(200))  # the requester's words to the helper on completion
    rating: Mapped[int | None] = mapped_column(Integer)  # 1-5, for the city only (never shown to the helper)


class HelpOffer(Base):
    """A neighbour's offer to help with a request (off-chain; only the chosen helper goes on-chain)."""

    __tablename__ = "help_offers"
    __table_args__ = (UniqueConstraint("request_id", "helper_id", name="uq_help_offers_request_helper"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("help_requests.id"), index=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    message: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HelpLink(Base):
    """A coordinator may act for a resident in help matching: the resident's consent, how and when it was given."""

    __tablename__ = "help_links"
    __table_args__ = (UniqueConstraint("coordinator_id", "resident_id", name="uq_help_links_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    coordinator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    consent: Mapped[ConsentMethod] = mapped_column(stored_enum(ConsentMethod, "ck_help_links_consent"))
    consented_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class HelpAction(Base):
    """Who did what in help matching on someone else's behalf, or as the city (append-only trail)."""

    __tablename__ = "help_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    request_id: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HelpBlock(Base):
    """A resident who does not want to deal with another: neither sees the other's requests or offers."""

    __tablename__ = "help_blocks"
    __table_args__ = (UniqueConstraint("blocker_id", "blocked_id", name="uq_help_blocks_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    blocker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    blocked_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HelpReport(Base):
    """A resident's report about another (and, optionally, a request), for the city to look at."""

    __tablename__ = "help_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reported_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    request_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Notice(Base):
    """One notice to a member (issue 20): a kind and its parameters, rendered in Japanese or English when read.

    ``dedupe_key`` names the event the notice is about (an operation, a mint's log, an
    expiring month), unique per member, so a producer run twice adds nothing. No free text
    is stored except what the member was sent by another resident (a thanks message).
    """

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("user_id", "dedupe_key", name="uq_notices_user_key"),
        Index("ix_notices_user_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, object]] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NoticePreference(Base):
    """A member's e-mail for notices: the address sealed like the real-name record, and whether to send at all."""

    __tablename__ = "notice_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    email_enabled: Mapped[bool] = mapped_column(default=True)
    sealed_email: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NoticeMail(Base):
    """The mail outbox: one row per notice to send by e-mail; ``sent_at`` set only after the server accepted it.

    ``status``: pending → sent, or refused (the server refused the address for good). A
    pending row is leased by one worker while it talks to the server; ``next_attempt_at``
    backs off exponentially after each failure. ``message_id`` is fixed when the row is
    made, so a mail sent again after a crash carries the same Message-ID.
    """

    __tablename__ = "notice_mails"
    __table_args__ = (Index("ix_notice_mails_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PersonKeys(Base):
    """Keyed hashes of a person's normalised name, birth date and address (0007): search and duplicate checks
    at the counter without opening a sealed record (``wallet_api.people_index``)."""

    __tablename__ = "person_keys"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    name_key: Mapped[str] = mapped_column(String(64), index=True)
    name_dob_key: Mapped[str] = mapped_column(String(64), index=True)
    name_address_key: Mapped[str] = mapped_column(String(64), index=True)
    dob_key: Mapped[str] = mapped_column(String(64), index=True)


class PinEntry(Base):
    """A PIN the resident types on the counter's PIN pad, accepted once against this entry (0007)."""

    __tablename__ = "pin_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(16))  # new_card | reset_pin
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ResetCode(Base):
    """A one-time code, printed at the counter, for setting a new app password (0007)."""

    __tablename__ = "reset_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CounterLogEntry(Base):
    """Each privileged action at the counter: which officer, for whom, what, why (0007)."""

    __tablename__ = "counter_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(200))


class ExpiryRun(Base):
    """One month's sweep of expired points (0008): the accounts frozen at its start, its batches' operations and
    what they burned, so a crash resumes the remaining batches and a second run sends nothing
    (``wallet_api.expiry``)."""

    __tablename__ = "expiry_runs"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM (JST), the month that ended
    month_index: Mapped[int] = mapped_column(Integer)  # year * 12 + month - 1, as the token's currentMonth()
    from_month: Mapped[int] = mapped_column(Integer)  # the sweep's first bucket month
    state: Mapped[str] = mapped_column(String(16))  # running | finished
    started_by: Mapped[str] = mapped_column(String(80))  # "scheduler" or "cli:<who>"
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accounts: Mapped[list[str]] = mapped_column(JSON)  # addresses with expired points at the start, in batch order
    batch_size: Mapped[int] = mapped_column(Integer)
    batches: Mapped[int] = mapped_column(Integer)
    operation_ids: Mapped[list[str]] = mapped_column(JSON)  # one per batch, in order, as each confirms
    accounts_swept: Mapped[int | None] = mapped_column(Integer)
    points_swept: Mapped[int | None] = mapped_column(BigInteger)
    tx_hashes: Mapped[list[str] | None] = mapped_column(JSON)


class Recovery(Base):
    """A lost account replaced by a new custodial key at the counter (0009); the member's record follows the chain.

    ``state``: announcing → announced → recovering → recovered → done (or cancelled).
    """

    __tablename__ = "recoveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    lost_address: Mapped[str] = mapped_column(String(42))
    new_address: Mapped[str] = mapped_column(String(42), unique=True)
    sealed_new_key: Mapped[bytes] = mapped_column(LargeBinary)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Proxy(Base):
    """A family member or carer (``proxy``) acting for a resident (``principal``) within limits (0010)."""

    __tablename__ = "proxies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    proxy_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    daily_limit: Mapped[int] = mapped_column(BigInteger)
    relationship: Mapped[str] = mapped_column(String(40))
    checked_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ProxyAction(Base):
    """An action taken under a proxy: what, how many points, which operation (0010)."""

    __tablename__ = "proxy_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proxy_link: Mapped[str] = mapped_column(ForeignKey("proxies.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    operation_id: Mapped[str | None] = mapped_column(String(100))  # the idempotency key it was sent under
