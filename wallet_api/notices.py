"""Members' notices (issue 20, "no one left behind"): what happened to them, in the app and by e-mail.

A notice is a kind and its parameters, rendered in Japanese and English when it is read
(:func:`render`), so a wording fix reaches old notices too and no personal free text is
stored — except a thanks message, which a neighbour wrote to this member. Every notice is
added by :func:`add` inside the transaction of the event it reports (an operation settling,
an officer's decision, an offer), under a ``dedupe_key`` unique per member: the event and
its notice commit together or not at all, and a producer that runs twice adds nothing.
When the member gave an e-mail address and wants mail, the same transaction queues one
mail (``notice_mails``) for :mod:`wallet_api.mailer`.

Points issued from outside the wallet (an officer's mint from the CLI, a programme's grant,
the oracle) have no event here: :class:`Notices` follows the token's mints on the chain
with a cursor (the last block read) kept in ``wallet_meta``, moved in the same transaction
as the notices it produced — a restart neither repeats nor skips a block.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from ledger_client.jst import JST
from wallet_api.auth import now
from wallet_api.db.models import (
    Claim,
    HelpRequest,
    Notice,
    NoticeMail,
    NoticePreference,
    Operation,
    PaymentRequest,
    User,
    WalletMeta,
)
from wallet_api.keyring import Keyring
from wallet_api.ledger import ZERO, Ledger
from wallet_api.periodic import Periodic
from wallet_api.statuses import MEMBER_ROLES, AccountStatus, ClaimStatus, HelpStatus, OperationStatus, Role

log = logging.getLogger("wallet_api.notices")

Hook = Callable[[DbSession, Operation], None]
CURSOR = "notices_follow_block"
EXPIRING_DAYS = 30
FOLLOW_MAX_BLOCKS = 10_000  # the node's eth_getLogs range cap
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
ZERO_TOPIC = "0x" + "0" * 64

# kind: (English title, Japanese title, English body, Japanese body); fields from the notice's parameters
TEXTS: dict[str, tuple[str, str, str, str]] = {
    "points_received": (
        "Points received",
        "ポイントが届きました",
        "Takasago City issued you {amount} points.",
        "高砂市から {amount} ポイントが付与されました。",
    ),
    "thanks_received": (
        "Thanks received",
        "「ありがとう」が届きました",
        "{sender} thanked you with {amount} points.",
        "{sender} さんから {amount} ポイントの「ありがとう」が届きました。",
    ),
    "payment_made": (
        "Payment made",
        "お支払いが完了しました",
        "You paid {amount} points at {merchant}.",
        "{merchant} で {amount} ポイントを支払いました。",
    ),
    "payment_received": (
        "Payment received",
        "お支払いを受け取りました",
        "A customer paid you {amount} points.",
        "お客さまから {amount} ポイントの支払いを受け取りました。",
    ),
    "claim_approved": (
        "Claim approved",
        "申請が承認されました",
        "Your claim on programme {programme} was approved: {units} unit(s).",
        "プログラム {programme} への申請（{units} 件）が承認されました。",
    ),
    "claim_rejected": (
        "Claim not approved",
        "申請は承認されませんでした",
        "Your claim on programme {programme} was not approved. Please ask the city office if unsure.",
        "プログラム {programme} への申請は承認されませんでした。ご不明な点は市役所へお問い合わせください。",
    ),
    "signup_approved": (
        "Welcome",
        "ご登録ありがとうございます",
        "The city confirmed your account. You can now receive and use points.",
        "市がアカウントを確認しました。ポイントの受け取りと利用ができます。",
    ),
    "signup_rejected": (
        "Sign-up not confirmed",
        "ご登録を確認できませんでした",
        "The city could not confirm your sign-up. Please visit the city office with an identity document.",
        "市はご登録を確認できませんでした。本人確認書類をお持ちのうえ市役所の窓口へお越しください。",
    ),
    "help_offered": (
        "Someone offered to help",
        "お手伝いの申し出がありました",
        "A neighbour offered to help with your request in {district}. Open the help tab to choose.",
        "{district} の困りごとに近所の方からお手伝いの申し出がありました。困りごとタブで選んでください。",
    ),
    "help_matched": (
        "You were chosen to help",
        "お手伝いをお願いされました",
        "You were chosen to help in {district} ({thanks} points of thanks). The details are in the help tab.",
        "{district} のお手伝いに選ばれました（お礼 {thanks} ポイント）。詳しくは困りごとタブをご覧ください。",
    ),
    "help_completed": (
        "Help completed — thank you",
        "お手伝いが完了しました",
        "The help in {district} is done: {thanks} points of thanks were sent to you.",
        "{district} のお手伝いが完了し、お礼の {thanks} ポイントが届きました。",
    ),
    "watch_alert": (
        "Watch-over alert",
        "みまもりのお知らせ",
        "There is news about {ward}. Please open the watch-over tab.",
        "{ward} さんについてお知らせがあります。みまもりタブをご確認ください。",
    ),
    "watch_nearby": (
        "Someone is missing near you",
        "近くで行方不明の方を探しています",
        "A family is looking for someone near where you watch: {description}. The watch-over tab shows where "
        "they were last seen.",
        "あなたが見守っている近くで、ご家族が探しています：{description}。みまもりタブで最後に見かけた場所を確認できます。",
    ),
    "points_expiring": (
        "Points expiring soon",
        "ポイントの有効期限が近づいています",
        "{amount} points expire at the end of {month}. Use them at a shop in the city or thank a neighbour.",
        "{amount} ポイントが {month} 末で失効します。市内のお店や「ありがとう」でお使いください。",
    ),
}
KINDS = tuple(TEXTS)


def render(kind: str, params: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The notice's title and body in both languages; a thanks message is shown as written, never translated."""
    en_title, ja_title, en_body, ja_body = TEXTS.get(kind, ("Notice", "お知らせ", "", ""))
    fields = _Fields(params)
    out = {"ja": {"title": ja_title, "body": ja_body.format_map(fields)}, "en": {"title": en_title, "body": ""}}
    out["en"]["body"] = en_body.format_map(fields)
    message = params.get("message")
    if isinstance(message, str) and message:
        out["ja"]["message"] = out["en"]["message"] = message
    return out


class _Fields(dict[str, Any]):
    """Parameters for :meth:`str.format_map`: a missing one renders as "?" rather than failing a whole page."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(
            {k: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else v for k, v in params.items()}
        )

    def __missing__(self, key: str) -> str:
        return "?"


def add(db: DbSession, user_id: int, kind: str, params: dict[str, Any], dedupe_key: str) -> int | None:
    """Adds a notice for ``user_id`` (and its mail, if wanted) unless one with ``dedupe_key`` exists.

    One ``INSERT … ON CONFLICT DO NOTHING`` on both databases, so concurrent producers (two
    workers following the chain) and a replayed hook never raise or add twice. Returns the
    new notice's id, or None when it existed.

    The statements are built once per dialect and run on the session's connection (no ORM
    unit of work): a payment's two notices are written in the settling transaction, which
    on SQLite every worker's writes queue for, and issue 17's profile found building and
    compiling these statements per call a sixth of that queue's time.
    """
    if kind not in TEXTS:
        raise ValueError(f"unknown notice kind: {kind}")
    db.flush()  # as the ORM statements did: the caller's pending changes first (e.g. a preference)
    connection = db.connection()
    statements = _statements(connection.dialect.name)
    moment = now()
    notice_id = connection.execute(
        statements.insert_notice,
        {"user_id": user_id, "kind": kind, "params": params, "dedupe_key": dedupe_key[:120], "created_at": moment},
    ).scalar_one_or_none()
    if notice_id is None:
        return None
    if connection.execute(statements.wants_mail, {"user_id": user_id}).first() is not None:
        connection.execute(
            statements.insert_mail,
            {
                "notice_id": notice_id,
                "user_id": user_id,
                "message_id": f"notice-{notice_id}-{uuid.uuid4().hex}",
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": moment,
                "created_at": moment,
            },
        )
    return int(notice_id)


@dataclass(frozen=True)
class _Statements:
    insert_notice: Any
    wants_mail: Any
    insert_mail: Any
    paid_request: Any


@functools.cache
def _statements(dialect_name: str) -> _Statements:
    """The hot statements of :func:`add` and the payment hook, built once per dialect."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    notices: Table = Notice.__table__  # type: ignore[assignment]
    preferences: Table = NoticePreference.__table__  # type: ignore[assignment]
    users: Table = User.__table__  # type: ignore[assignment]
    mails: Table = NoticeMail.__table__  # type: ignore[assignment]
    requests: Table = PaymentRequest.__table__  # type: ignore[assignment]
    return _Statements(
        insert_notice=dialect.insert(notices).on_conflict_do_nothing().returning(notices.c.id),
        wants_mail=select(preferences.c.user_id).where(
            preferences.c.user_id == bindparam("user_id"),
            preferences.c.email_enabled.is_(True),
            preferences.c.sealed_email.is_not(None),
        ),
        insert_mail=insert(mails),
        paid_request=select(
            requests.c.amount,
            requests.c.payer_id,
            requests.c.merchant_id,
            requests.c.operation_id,
            requests.c.paid_at,
            users.c.display_name,
            users.c.short_code,
        )
        .join_from(requests, users, users.c.id == requests.c.merchant_id, isouter=True)
        .where(requests.c.id == bindparam("request_pk")),
    )


def name_of(user: User | None) -> str:
    """How a member is named to another: the shop's or chosen display name, else the member code."""
    if user is None:
        return "?"
    return user.display_name or user.short_code


# -- producers: the outbox's settle hooks, composed with the domain's own in services.py -----------
def then(first: Hook, second: Hook) -> Hook:
    """``first`` (the domain's hook), then ``second`` (its notices), in the same settling transaction."""

    def both(db: DbSession, op: Operation) -> None:
        first(db, op)
        second(db, op)

    return both


def on_thank(db: DbSession, op: Operation) -> None:
    """A thanks confirmed: the recipient is told by whom, how much, and the message."""
    if op.status != OperationStatus.CONFIRMED:
        return
    recipient = db.scalar(select(User).where(User.short_code == str(op.summary.get("to", ""))))
    if recipient is None:
        return
    params: dict[str, Any] = {
        "amount": int(str(op.summary.get("amount", 0))),
        "sender": name_of(db.get(User, op.user_id)),
        "category": str(op.summary.get("category", "")),
    }
    if op.summary.get("message"):
        params["message"] = str(op.summary["message"])[:200]
    add(db, recipient.id, "thanks_received", params, f"op:{op.id}")


def on_pay(db: DbSession, op: Operation) -> None:
    """A payment settled as paid: the payer and the merchant are each told once.

    The request and its shop's name in one Core read (issue 17: the settling write queue),
    after the payment's own hook settled the request by Core statements too.
    """
    connection = db.connection()
    request = connection.execute(
        _statements(connection.dialect.name).paid_request, {"request_pk": op.summary.get("payment_request")}
    ).first()
    if request is None or request.operation_id != op.id or request.paid_at is None or request.payer_id is None:
        return
    name = request.display_name or request.short_code or "?"
    add(db, request.payer_id, "payment_made", {"amount": request.amount, "merchant": name}, f"op:{op.id}")
    add(db, request.merchant_id, "payment_received", {"amount": request.amount}, f"op:{op.id}")


def on_register(db: DbSession, op: Operation) -> None:
    user = db.scalar(select(User).where(User.public_id == op.summary.get("user")))
    if user is not None and user.status == AccountStatus.ACTIVE:
        add(db, user.id, "signup_approved", {}, "signup")


def signup_rejected(db: DbSession, user: User, reason: str | None = None) -> None:
    """Called in the officer's rejection transaction; the reason, when the officer gave one, is shown as is."""
    add(db, user.id, "signup_rejected", {"message": reason} if reason else {}, "signup")


def on_attest(db: DbSession, op: Operation) -> None:
    claim = db.get(Claim, op.summary.get("claim"))
    if claim is not None and claim.status == ClaimStatus.GRANTED:
        params = {"programme": claim.programme_id, "units": claim.units}
        add(db, claim.user_id, "claim_approved", params, f"claim:{claim.public_id}")


def claim_rejected(db: DbSession, claim: Claim) -> None:
    params = {"programme": claim.programme_id, "units": claim.units}
    add(db, claim.user_id, "claim_rejected", params, f"claim:{claim.public_id}")


def help_offered(db: DbSession, request: HelpRequest, helper: User) -> None:
    """Called in the offer's transaction: the requester learns someone offered (not who: that is in the tab)."""
    params = {"district": request.district, "request": request.id}
    add(db, request.requester_id, "help_offered", params, f"offer:{request.id}:{helper.id}")


def _help_params(request: HelpRequest) -> dict[str, Any]:
    return {"district": request.district, "thanks": request.thanks, "request": request.id}


def on_help_choose(db: DbSession, op: Operation) -> None:
    request = db.get(HelpRequest, str(op.summary.get("help_request")))
    if request is not None and request.status == HelpStatus.MATCHED and request.helper_id is not None:
        add(db, request.helper_id, "help_matched", _help_params(request), f"op:{op.id}")


def on_help_complete(db: DbSession, op: Operation) -> None:
    request = db.get(HelpRequest, str(op.summary.get("help_request")))
    if request is None or request.status != HelpStatus.COMPLETED or request.helper_id is None:
        return
    params = _help_params(request)
    if request.thank_message:
        params["message"] = request.thank_message
    add(db, request.helper_id, "help_completed", params, f"op:{op.id}")


def watch_nearby(db: DbSession, user_id: int, description: str, alert_id: str) -> None:
    """A volunteer near a missing person's last sighting: the family's description only, never who it is."""
    add(db, user_id, "watch_nearby", {"description": description}, f"watch-nearby:{alert_id}")


def watch_alert(db: DbSession, user_id: int, ward: str, alert_id: str) -> None:
    """For the watch-over service's alerts once they reach the wallet (not wired yet: no alert feed exists here)."""
    add(db, user_id, "watch_alert", {"ward": ward}, f"watch:{alert_id}")


# -- reading ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoticePage:
    items: list[dict[str, Any]]
    unread: int
    next_before: int | None


class Notices:
    """The notice centre's reads and writes, the chain follower and the expiring-points check."""

    def __init__(self, sessions: sessionmaker[DbSession], keyring: Keyring, ledger: Ledger) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.ledger = ledger
        self._follower = Periodic("notices", self.follow_once, log)

    def page(self, user: User, before: int | None, limit: int) -> NoticePage:
        """The member's notices, newest first, ``limit`` at most, older than notice ``before``; and the unread count."""
        with self.sessions() as db:
            query = select(Notice).where(Notice.user_id == user.id)
            if before is not None:
                query = query.where(Notice.id < before)
            rows = db.scalars(query.order_by(Notice.id.desc()).limit(limit + 1)).all()
            unread = db.scalar(
                select(func.count()).select_from(Notice).where(Notice.user_id == user.id, Notice.read_at.is_(None))
            )
        items = [
            {
                "id": n.id,
                "kind": n.kind,
                "params": n.params,
                "texts": render(n.kind, n.params),
                "created_at": n.created_at,
                "read": n.read_at is not None,
            }
            for n in rows[:limit]
        ]
        return NoticePage(items, int(unread or 0), rows[limit - 1].id if len(rows) > limit else None)

    def mark_read(self, user: User, up_to: int) -> int:
        """Marks the member's notices up to id ``up_to`` (inclusive) read; returns how many were unread."""
        with self.sessions.begin() as db:
            result = db.execute(
                update(Notice)
                .where(Notice.user_id == user.id, Notice.id <= up_to, Notice.read_at.is_(None))
                .values(read_at=now())
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # -- e-mail preference -------------------------------------------------------------------------
    def preference(self, user: User) -> tuple[bool, bool]:
        """(e-mail wanted, an address is on file); the address itself is never read back to the client."""
        with self.sessions() as db:
            row = db.get(NoticePreference, user.id)
        return (row.email_enabled, row.sealed_email is not None) if row is not None else (True, False)

    def set_preference(self, user: User, email_enabled: bool, email: str | None, forget_email: bool) -> None:
        """Turns notice mail on or off; ``email`` replaces the sealed address, ``forget_email`` deletes it."""
        sealed = self.keyring.seal(email.encode(), email_context(user.public_id)) if email else None
        with self.sessions.begin() as db:
            row = db.get(NoticePreference, user.id, with_for_update=True)
            if row is None:
                row = NoticePreference(user_id=user.id, email_enabled=email_enabled, updated_at=now())
                db.add(row)
            row.email_enabled = email_enabled
            if sealed is not None:
                row.sealed_email = sealed
            elif forget_email:
                row.sealed_email = None
            row.updated_at = now()

    def email_of(self, db: DbSession, user_id: int) -> str | None:
        """The member's address, opened only to send a mail now (never logged, never returned by the API)."""
        row = db.get(NoticePreference, user_id)
        user = db.get(User, user_id)
        if row is None or not row.email_enabled or row.sealed_email is None or user is None:
            return None
        return self.keyring.open(row.sealed_email, email_context(user.public_id)).decode()

    # -- the chain follower ------------------------------------------------------------------------
    def follow_once(self) -> int:
        """Reads the token's mints after the cursor up to the head; notices for members; returns how many.

        Mints the wallet sent itself (a claim's attestation) are skipped: their own notice says
        more. The cursor starts at the head the first time, so an existing deployment does not
        announce its whole history.
        """
        head = int(self.ledger.w3.eth.block_number)
        with self.sessions() as db:
            meta = db.get(WalletMeta, CURSOR)
            cursor = int(meta.value) if meta is not None else None
        if cursor is None:
            self._move_cursor(None, head)
            return 0
        if head <= cursor:
            return 0
        upper = min(head, cursor + FOLLOW_MAX_BLOCKS)
        logs = self.ledger.w3.eth.get_logs(
            {
                "address": self.ledger.token.address,
                "fromBlock": cursor + 1,
                "toBlock": upper,
                "topics": [TRANSFER_TOPIC, ZERO_TOPIC],  # type: ignore[list-item]
            }
        )
        mints = [_mint(entry) for entry in logs if len(entry["topics"]) == 3]
        return self._move_cursor(cursor, upper, mints)

    def _move_cursor(self, expected: int | None, to: int, mints: Iterable[tuple[str, int, str, int]] = ()) -> int:
        """Adds the mints' notices and moves the cursor in one transaction (nothing repeated, nothing skipped)."""
        try:
            return self._move_cursor_once(expected, to, list(mints))
        except IntegrityError:  # two workers' first pass both created the cursor: the other one's stands
            return 0

    def _move_cursor_once(self, expected: int | None, to: int, mints: list[tuple[str, int, str, int]]) -> int:
        added = 0
        with self.sessions.begin() as db:
            meta = db.get(WalletMeta, CURSOR, with_for_update=True)
            current = int(meta.value) if meta is not None else None
            if current != expected:  # another worker moved it meanwhile: its pass covered these blocks
                return 0
            hashes = {tx for _, _, tx, _ in mints}
            own = set(db.scalars(select(Operation.tx_hash).where(Operation.tx_hash.in_(hashes)))) if hashes else set()
            addresses = {address for address, _, _, _ in mints}
            members: dict[str, int] = {}
            if addresses:
                query = select(User.address, User.id).where(User.address.in_(addresses), User.role.in_(MEMBER_ROLES))
                members = {str(address): int(user_id) for address, user_id in db.execute(query)}
            for address, amount, tx, index in mints:
                user_id = members.get(address)
                if user_id is None or tx in own or amount == 0 or address == ZERO:
                    continue
                added += add(db, user_id, "points_received", {"amount": amount}, f"mint:{tx}:{index}") is not None
            if meta is None:
                db.add(WalletMeta(name=CURSOR, value=str(to)))
            else:
                meta.value = str(to)
        return added

    def start_follower(self, interval: float) -> None:
        self._follower.start(interval)

    def stop(self) -> None:
        self._follower.stop()

    # -- points expiring -------------------------------------------------------------------------
    def notify_expiring(self, at: datetime | None = None, days: int = EXPIRING_DAYS) -> int:
        """One notice per member and expiring month for buckets that expire within ``days`` of ``at``.

        Meant for a daily job: the key ``expiring:YYYY-MM`` makes a second run (or a second
        day) add nothing for the same month. Returns how many notices were added.
        """
        moment = (at or datetime.now(UTC)).timestamp()
        horizon = moment + timedelta(days=days).total_seconds()
        with self.sessions() as db:
            members = db.execute(
                select(User.id, User.address).where(
                    User.role == Role.RESIDENT, User.status == AccountStatus.ACTIVE, User.address.is_not(None)
                )
            ).all()
        added = 0
        for user_id, address in members:
            _balance, buckets = self.ledger.balance(str(address))
            due = [(expires, amount) for expires, amount in buckets if amount > 0 and moment < expires <= horizon]
            if not due:
                continue
            with self.sessions.begin() as db:
                for expires, amount in due:
                    last_day = datetime.fromtimestamp(expires - 1, JST)
                    month = f"{last_day.year}-{last_day.month:02d}"
                    params = {"amount": amount, "month": month, "expires_at": expires}
                    added += add(db, user_id, "points_expiring", params, f"expiring:{month}") is not None
        return added


def _mint(entry: Any) -> tuple[str, int, str, int]:
    """(recipient, amount, transaction hash, log index) of a ``Transfer`` log from the zero address."""
    recipient = to_checksum_address("0x" + bytes(entry["topics"][2])[-20:].hex())
    amount = int(bytes(entry["data"]).hex() or "0", 16)
    return recipient, amount, "0x" + bytes(entry["transactionHash"]).hex().removeprefix("0x"), int(entry["logIndex"])


def email_context(public_id: str) -> bytes:
    return b"notice-email:" + public_id.encode()
