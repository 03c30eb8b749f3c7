"""Shops for residents (issue 21): the directory, the static shop QR (店舗掲示型), shop applications, settlements.

**Static QR.** A shop prints one QR for its counter: ``takasago-shop:<merchant>@<chainId>``
(``docs/payment-uri.md``). The resident scans it, types the amount and sees the shop's
registered name before confirming. Paying creates a one-off payment request for that
amount (``memo = "static"``) and pays it through :meth:`Payments.pay_request`, so a static
payment is settled, heard by the till, refunded and exported exactly like a dynamic one.
The request's id is derived from the payer and the Idempotency-Key, so a retry after a
crash finds the same request and the same operation: it never pays twice. An amount over
the shop's own per-payment limit is refused before anything is stored.

**Applications.** A merchant account applies from the till with its business details and
the bank account it is paid into (sealed like a personal record, context bound to the
account). The city approves on the officer desk: the name asked for becomes the registered
name (the one every screen and export shows) and, for an account not yet on the chain,
the registration is sent as for any approved account. A listed shop that asks for a new
name keeps the old one until the city approves the new one.

**Settlements.** Each settlement request is stored with its outbox operation in the same
transaction; its state is read from that operation (``sending`` → ``requested``, or
``failed``) until the city marks it ``paid`` with the transfer date and reference.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from eth_utils import keccak, to_checksum_address
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api.auth import aware, now
from wallet_api.db.models import Operation, PaymentRequest, User
from wallet_api.db.models_shops import Shop, ShopSettlement, ShopStatus
from wallet_api.errors import MESSAGES, ApiError
from wallet_api.keyring import Keyring
from wallet_api.ledger import Ledger
from wallet_api.officer_desk import log_action
from wallet_api.outbox import Outbox
from wallet_api.payments import Payments
from wallet_api.statuses import AccountStatus, OperationKind, OperationStatus, PaymentRequestStatus, Role

if TYPE_CHECKING:
    from wallet_api.services import Services

STATIC_MEMO = "static"  # the memo of a payment request made by a static-QR payment
STATIC_SCHEME = "takasago-shop:"
DEFAULT_STATIC_LIMIT = 10_000
MAX_STATIC_LIMIT = 100_000
REQUEST_NAMESPACE = uuid.UUID("6f1c1b5e-3c1a-4f0e-9d43-5a8c2f1e0b21")  # static payments' request ids

MESSAGES.update(
    {
        "STATIC_LIMIT_EXCEEDED": (
            422,
            "This is more than the shop accepts in one QR payment. Nothing was paid; ask the shop.",
            "このお店のQRで1回に支払える上限を超えています。支払いはしていません。お店にご相談ください。",
        ),
        "SHOP_NOT_LISTED": (
            404,
            "This shop is not (or no longer) a participating shop. Nothing was paid.",
            "このお店は登録されていない（または登録が終了した）お店です。支払いはしていません。",
        ),
        "INVALID_SHOP_QR": (
            422,
            "This is not a Takasago shop QR, or it is for another system.",
            "たかさごポイントのお店のQRではないか、別のシステムのQRです。",
        ),
        "SHOP_APPLICATION_NEEDS_BANK": (
            422,
            "A first application needs the bank account the city pays into.",
            "初めての申請には、振込先の口座が必要です。",
        ),
        "SHOP_NOT_PENDING": (409, "This application has already been decided.", "この申請は既に処理されています。"),
        "SETTLEMENT_NOT_REQUESTED": (
            409,
            "This settlement has not reached the city yet (or failed), so it cannot be marked paid.",
            "この換金申請はまだ市に届いていない（または失敗した）ため、振込済みにできません。",
        ),
        "SETTLEMENT_ALREADY_PAID": (409, "This settlement is already marked paid.", "この換金は既に振込済みです。"),
        "REFUND_AFTER_SETTLEMENT": (
            409,
            "The shop's points were already sent for settlement, so its balance is too small for this refund."
            " Refund in cash, or wait for today's takings.",
            "お店のポイントは換金申請済みのため、残高が足りずこの返金はできません。現金で返金するか、"
            "売上が入ってからお試しください。",
        ),
    }
)


def static_uri(merchant_address: str, chain_id: int) -> str:
    """The text of a shop's printed QR (``docs/payment-uri.md``)."""
    return f"{STATIC_SCHEME}{to_checksum_address(merchant_address)}@{chain_id}"


_STATIC = re.compile(r"^takasago-shop:(0x[0-9a-fA-F]{40})@([0-9]{1,12})$")


def parse_static_uri(uri: str, chain_id: int) -> str:
    """The merchant address a shop QR names; refuses anything else and another chain."""
    found = _STATIC.match(uri.strip())
    if found is None:
        raise ApiError("INVALID_SHOP_QR")
    if int(found.group(2)) != chain_id:
        raise ApiError("WRONG_CHAIN", {"chain_id": int(found.group(2)), "expected": chain_id})
    return to_checksum_address(found.group(1).lower())


def bank_context(user: User) -> bytes:
    return f"shop-bank:{user.public_id}".encode()


@dataclass(frozen=True)
class Listed:
    """A listed shop with its merchant account (what the directory, the static QR and exports read)."""

    shop: Shop
    merchant: User


def method_of(request: PaymentRequest) -> str:
    """How a paid request was paid: ``static`` (the shop's printed QR), ``charge`` (card or code) or ``qr``."""
    if request.memo == STATIC_MEMO:
        return "static"
    if request.memo == "charge":
        return "charge"
    return "qr"


def settlement_state(row: ShopSettlement, op: Operation | None) -> str:
    """``paid`` (the city transferred), ``requested`` (burned on-chain, the city owes it), ``sending``, ``failed``."""
    if row.paid_at is not None:
        return "paid"
    if op is None or op.status == OperationStatus.FAILED:
        return "failed"
    return "requested" if op.status == OperationStatus.CONFIRMED else "sending"


class Shops:
    """The directory, static-QR payments, applications and their decision, settlements and their export."""

    def __init__(
        self,
        sessions: sessionmaker[DbSession],
        keyring: Keyring,
        ledger: Ledger,
        outbox: Outbox,
        payments: Payments,
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.ledger = ledger
        self.outbox = outbox
        self.payments = payments

    # -- the directory ---------------------------------------------------------------------
    def directory(self, query: str | None, category: str | None, district: str | None) -> list[Listed]:
        """Listed shops (a registered name, an active merchant account), by name; filtered by words typed."""
        statement = (
            select(Shop, User)
            .join(User, User.id == Shop.user_id)
            .where(Shop.name.is_not(None), User.status == AccountStatus.ACTIVE)
            .order_by(Shop.name)
        )
        if category:
            statement = statement.where(Shop.category == category)
        if district:
            statement = statement.where(Shop.district == district)
        with self.sessions() as db:
            rows = [Listed(shop, user) for shop, user in db.execute(statement).all()]
        words = [w.casefold() for w in (query or "").split() if w]
        if words:  # in Python: the same matching on SQLite and PostgreSQL, for every script
            rows = [
                r
                for r in rows
                if all(w in f"{r.shop.name} {r.shop.category} {r.shop.district}".casefold() for w in words)
            ]
        return rows

    def listed(self, code_or_address: str) -> Listed:
        """A listed shop by its member code or merchant address (SHOP_NOT_LISTED otherwise)."""
        key = code_or_address.strip()
        with self.sessions() as db:
            found = db.execute(
                select(Shop, User)
                .join(User, User.id == Shop.user_id)
                .where(or_(User.short_code == key.upper(), User.address == key), User.role == Role.MERCHANT)
            ).first()
        if found is None or found[0].name is None or found[1].status != AccountStatus.ACTIVE:
            raise ApiError("SHOP_NOT_LISTED")
        return Listed(found[0], found[1])

    def names(self) -> dict[str, str]:
        """Every registered shop name by merchant address (for the explorer and the officer desk)."""
        with self.sessions() as db:
            rows = db.execute(
                select(User.address, Shop.name).join(User, User.id == Shop.user_id).where(Shop.name.is_not(None))
            ).all()
        return {str(a): str(n) for a, n in rows if a}

    # -- static QR ---------------------------------------------------------------------------
    def resolve(self, uri: str) -> Listed:
        return self.listed(parse_static_uri(uri, self.ledger.chain_id))

    def check_amount(self, listed: Listed, amount: int) -> None:
        if amount > listed.shop.static_limit:
            raise ApiError(
                "STATIC_LIMIT_EXCEEDED",
                {"amount": amount, "limit": listed.shop.static_limit, "merchant_name": listed.shop.name},
            )

    def pay_static(self, payer: User, code: str, amount: int, key: str) -> Operation:
        """Pays ``amount`` to a listed shop by its static QR; the same key always pays the same one request."""
        if payer.role != Role.RESIDENT:
            raise ApiError("NOT_A_RESIDENT")
        listed = self.listed(code)
        self.check_amount(listed, amount)
        request_pk = str(uuid.uuid5(REQUEST_NAMESPACE, f"{payer.public_id}:{key}"))
        request = self._static_request(request_pk, listed.merchant, payer, amount)
        body: dict[str, object] = {"shop": listed.merchant.short_code, "amount": amount}
        return self.payments.pay_request(payer, listed.merchant, request, key, body)

    def _static_request(self, request_pk: str, merchant: User, payer: User, amount: int) -> PaymentRequest:
        """The request a static payment pays: made once per (payer, key); a retry finds it again."""
        for _ in range(2):
            with self.sessions() as db:
                existing = db.get(PaymentRequest, request_pk)
                if existing is not None:
                    db.expunge(existing)
            if existing is not None:
                if existing.merchant_id != merchant.id or existing.amount != amount:
                    raise ApiError("IDEMPOTENCY_KEY_REUSED")
                return existing
            request = self.payments.create_request(merchant, amount, STATIC_MEMO)
            try:
                with self.sessions.begin() as db:
                    request.id = request_pk
                    db.add(request)
                return request
            except IntegrityError:  # the same key at the same moment: the other one made it
                continue
        raise ApiError("IDEMPOTENCY_KEY_REUSED")

    # -- applications ------------------------------------------------------------------------
    def own(self, merchant: User) -> Shop | None:
        with self.sessions() as db:
            shop = db.get(Shop, merchant.id)
            if shop is not None:
                db.expunge(shop)
        return shop

    def apply(self, merchant: User, profile: dict[str, Any], bank: dict[str, str] | None) -> Shop:
        """The till's application or profile update: a new name waits for the city; the rest applies at once."""
        with self.sessions.begin() as db:
            shop = db.get(Shop, merchant.id, with_for_update=True)
            if shop is None:
                if bank is None:
                    raise ApiError("SHOP_APPLICATION_NEEDS_BANK")
                shop = Shop(user_id=merchant.id, name=None, status=ShopStatus.PENDING, applied_at=now())
                db.add(shop)
            if bank is not None:
                shop.sealed_bank = self.keyring.seal(
                    json.dumps(bank, ensure_ascii=False).encode(), bank_context(merchant)
                )
            if profile["name"] != shop.name and (
                profile["name"] != shop.requested_name or shop.status != ShopStatus.PENDING
            ):
                shop.status, shop.applied_at, shop.reason = ShopStatus.PENDING, now(), None
            shop.requested_name = profile["name"]
            shop.category, shop.district, shop.hours = profile["category"], profile["district"], profile["hours"]
            shop.takes_cards, shop.static_limit = profile["takes_cards"], profile["static_limit"]
            db.flush()
            db.expunge(shop)
        return shop

    def applications(self, status: ShopStatus | None) -> list[Listed]:
        statement = select(Shop, User).join(User, User.id == Shop.user_id).order_by(Shop.applied_at)
        if status is not None:
            statement = statement.where(Shop.status == status)
        with self.sessions() as db:
            return [Listed(s, u) for s, u in db.execute(statement).all()]

    def decide(self, officer: User, public_id: str, approve: bool, reason: str) -> Listed:
        """The officer's decision on a pending application, recorded on the counter's log."""
        with self.sessions.begin() as db:
            user = db.scalar(select(User).where(User.public_id == public_id, User.role == Role.MERCHANT))
            shop = db.get(Shop, user.id, with_for_update=True) if user is not None else None
            if user is None or shop is None:
                raise ApiError("NOT_FOUND")
            if shop.status != ShopStatus.PENDING:
                raise ApiError("SHOP_NOT_PENDING", {"status": shop.status})
            shop.status = ShopStatus.APPROVED if approve else ShopStatus.REJECTED
            shop.decided_at, shop.decided_by, shop.reason = now(), officer.id, reason
            if approve:
                shop.name = shop.requested_name
                user.display_name = shop.requested_name  # the till and the app greet with the registered name
            log_action(
                db, officer, user, "shop approved" if approve else "shop rejected", f"{shop.requested_name}: {reason}"
            )
            db.flush()
            db.expunge_all()
        return Listed(shop, user)

    def bank_of(self, merchant: User, shop: Shop) -> dict[str, str]:
        return dict(json.loads(self.keyring.open(shop.sealed_bank, bank_context(merchant))))

    # -- settlements -------------------------------------------------------------------------
    def settle(self, merchant: User, amount: int, key: str) -> Operation:
        """The shop asks the city to pay ``amount`` out (burned on-chain); recorded with its operation."""
        reference = keccak(text=f"settlement:{merchant.public_id}:{key}")
        target, calldata = self.ledger.calldata("RegionalPoints", "requestSettlement", amount, reference)

        def record(db: DbSession, op: Operation) -> None:
            db.add(
                ShopSettlement(
                    id=str(uuid.uuid4()),
                    merchant_id=merchant.id,
                    operation_id=op.id,
                    amount=amount,
                    reference="0x" + reference.hex(),
                    requested_at=now(),
                )
            )

        return self.outbox.submit(
            merchant,
            key,
            {"settle": amount},
            kind=OperationKind.SETTLE,
            sender=merchant.address or "",
            target=target,
            calldata=calldata,
            summary={"amount": amount, "reference": "0x" + reference.hex()},
            before_commit=record,
        )

    def settlements(
        self, merchant_id: int | None = None, limit: int = 200
    ) -> list[tuple[ShopSettlement, Operation | None, User, Shop | None]]:
        statement = (
            select(ShopSettlement, Operation, User, Shop)
            .join(User, User.id == ShopSettlement.merchant_id)
            .outerjoin(Operation, Operation.id == ShopSettlement.operation_id)
            .outerjoin(Shop, Shop.user_id == ShopSettlement.merchant_id)
            .order_by(ShopSettlement.requested_at.desc())
            .limit(limit)
        )
        if merchant_id is not None:
            statement = statement.where(ShopSettlement.merchant_id == merchant_id)
        with self.sessions() as db:
            return [(s, o, u, sh) for s, o, u, sh in db.execute(statement).all()]

    def mark_paid(self, officer: User, settlement_id: str, transfer_date: str, transfer_reference: str) -> None:
        """The city transferred the yen: the settlement is ``paid``; the officer and the reference are recorded."""
        with self.sessions.begin() as db:
            row = db.get(ShopSettlement, settlement_id, with_for_update=True)
            if row is None:
                raise ApiError("NOT_FOUND")
            op = db.get(Operation, row.operation_id)
            state = settlement_state(row, op)
            if state == "paid":
                raise ApiError("SETTLEMENT_ALREADY_PAID")
            if state != "requested":
                raise ApiError("SETTLEMENT_NOT_REQUESTED", {"status": state})
            row.paid_at, row.transfer_date, row.transfer_reference = now(), transfer_date, transfer_reference
            row.marked_by = officer.id
            log_action(
                db, officer, db.get(User, row.merchant_id), "settlement paid", f"{row.amount} pt {transfer_reference}"
            )

    def export_csv(self, officer: User, status: str, encoding: str) -> bytes:
        """The settlements for municipal accounting: shop name, bank account, amounts and totals, one row each.

        Opening the sealed bank accounts is recorded on the counter's log. UTF-8 comes with a
        BOM (Excel opens it as UTF-8); ``shift_jis`` (cp932) for older accounting systems.
        """
        rows = [r for r in self.settlements(limit=10_000) if status == "all" or settlement_state(r[0], r[1]) == status]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(
            ["精算ID", "店舗名", "会員コード", "状態", "申請日時", "ポイント数", "金額（円）",
             "銀行名", "支店名", "口座種別", "口座番号", "口座名義", "振込日", "振込参照"]
        )  # fmt: skip
        total = 0
        for settlement, op, merchant, shop in rows:
            bank = self.bank_of(merchant, shop) if shop is not None else {}
            state = settlement_state(settlement, op)
            total += settlement.amount
            requested = aware(settlement.requested_at)
            writer.writerow(
                [
                    settlement.id,
                    (shop.name if shop is not None else None) or merchant.display_name or merchant.short_code,
                    merchant.short_code,
                    state,
                    requested.isoformat(timespec="seconds") if requested else "",
                    settlement.amount,
                    settlement.amount,
                    bank.get("bank", ""),
                    bank.get("branch", ""),
                    bank.get("account_type", ""),
                    bank.get("account_number", ""),
                    bank.get("holder", ""),
                    settlement.transfer_date or "",
                    settlement.transfer_reference or "",
                ]
            )
        writer.writerow(["合計", "", "", "", "", total, total, "", "", "", "", "", "", ""])
        with self.sessions.begin() as db:
            log_action(db, officer, None, "settlement export", f"{len(rows)} rows ({status}, {encoding})")
        text = out.getvalue()
        if encoding == "shift_jis":
            return text.encode("cp932", errors="replace")
        return ("\ufeff" + text).encode("utf-8")


def paid_since(db: DbSession, merchant_id: int, since: datetime) -> list[PaymentRequest]:
    """A merchant's requests paid at or after ``since`` (what the till's listening screen has not heard yet)."""
    return list(
        db.scalars(
            select(PaymentRequest)
            .where(
                PaymentRequest.merchant_id == merchant_id,
                PaymentRequest.status == PaymentRequestStatus.PAID,
                PaymentRequest.paid_at >= since,
            )
            .order_by(PaymentRequest.paid_at)
            .limit(100)  # a long-away till catches up in pages: the cursor moves to the last one heard
        ).all()
    )


_parts: dict[int, tuple[Services, Shops]] = {}


def shops_of(svc: Services) -> Shops:
    """This process's :class:`Shops`, built once from the services it uses (the wiring in services.py is shared).

    Kept with the services it was built from, so a later :class:`Services` that happens to get
    the same ``id`` never receives a part bound to a closed engine.
    """
    found = _parts.get(id(svc))
    if found is None or found[0] is not svc:
        found = _parts[id(svc)] = (svc, Shops(svc.sessions, svc.keyring, svc.ledger, svc.outbox, svc.payments))
    return found[1]
