"""Points that stay local (issue 21): a shop pays a supplier, rewards a resident, runs its own programme.

Every point a resident spends at a shop used to leave circulation at the shop (settled into
yen). Here a shop passes points on instead: it pays another participating shop or a
business the city registered (B2B, ``payBusiness``), rewards an employee or customer
(``rewardResident``), or runs a small programme of its own whose claims it pays from its
points (``createBusinessProgramme``, ``attest`` with the same exactly-once claim ids as the
city's programmes). The chain enforces who may pay whom and the city's per-transfer caps;
this module checks the same first, so a bad request is refused with a clear reason and
nothing is sent: a resident or an unregistered address as a supplier, an amount over the
cap, a programme that has run out of points.

The recipient's registered name is shown before the shop confirms (:meth:`Business.preview`):
a shop's name from the shop directory (issue 21's shops feature), a business's from the
officer desk that registered it. A business registered by address holds its own key; the wallet's
service key only enrols it (ENROLLER), as it enrols residents and shops an officer approved.

A business that is not a shop may instead have a custodial account here (role ``business``):
it applies (:meth:`Business.apply`), the desk approves (:meth:`Business.approve_account`, the
address registered as kind Business through the outbox) and it then uses the same movements as a
shop from the till; the shop-only routes refuse it (``BUSINESS_NOT_A_SHOP``, in ``deps.role``).
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_utils import is_hex_address, keccak, to_checksum_address
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from ledger_client.local_circulation import ACTIVE, PAYING_KINDS, AccountKind, LocalCirculationLimits, standing, text32
from wallet_api import business_errors  # noqa: F401 - registers the feature's error codes
from wallet_api.accounts import Accounts, new_short_code, personal_context
from wallet_api.crypto.passwords import hash_secret
from wallet_api.db.models import Operation, User
from wallet_api.db.models_business import BusinessAccount, BusinessMember, BusinessProgramme, BusinessTransfer
from wallet_api.db.models_shops import Shop
from wallet_api.errors import ApiError
from wallet_api.ledger import Ledger
from wallet_api.officer_desk import log_action
from wallet_api.outbox import Outbox
from wallet_api.statuses import AccountStatus, OperationKind, OperationStatus, Role

REWARD_CATEGORIES = ("commute", "customer", "staff", "eco", "community", "other")
FAR_FUTURE = 2**40 - 1
CAP_PROGRAMME, EXPIRY_DAYS_AFTER = 3, 1  # RewardProgrammes.CapPeriod.Programme, ExpiryPolicy.DaysAfterGrant
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Party:
    """Who a shop is about to pay or reward, as the confirm screen shows it."""

    address: str
    name: str
    kind: AccountKind
    user_id: int | None = None
    code: str | None = None


class Business:
    def __init__(self, sessions: sessionmaker[DbSession], ledger: Ledger, outbox: Outbox, accounts: Accounts) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.outbox = outbox
        self.accounts = accounts

    # -- reading ------------------------------------------------------------------------
    def limits(self) -> LocalCirculationLimits:
        return LocalCirculationLimits.read(self.ledger.token)

    def balance(self, user: User) -> int:
        return int(self.ledger.token.functions.balanceOf(user.address).call())

    def _user_party(self, db: DbSession, user: User) -> Party:
        kind = {
            Role.RESIDENT: AccountKind.RESIDENT,
            Role.MERCHANT: AccountKind.MERCHANT,
            Role.BUSINESS: AccountKind.BUSINESS,
        }.get(user.role)
        if kind is None or user.address is None:
            raise ApiError("SUPPLIER_NOT_REGISTERED")
        name = user.display_name or user.short_code
        if kind == AccountKind.MERCHANT:
            shop = db.get(Shop, user.id)
            name = (shop.name if shop is not None and shop.name else None) or name
        return Party(user.address, name, kind, user.id, user.short_code)

    def find_party(self, who: str) -> Party:
        """A member (by code or address), a registered business (by code or address), or an address
        the registry knows; its kind and status are read from the chain, the one truth."""
        who = unicodedata.normalize("NFKC", who).strip().removeprefix("takasago-member:").strip()
        with self.sessions() as db:
            party: Party | None = None
            if is_hex_address(who):
                address = to_checksum_address(who)
                user = db.scalar(select(User).where(User.address == address))
                business = db.scalar(select(BusinessAccount).where(BusinessAccount.address == address))
            else:
                code = re.sub(r"[\s\-]", "", who).upper()  # as typed: spaces, hyphens and case ignored
                user = db.scalar(select(User).where(User.short_code == code))
                business = db.scalar(select(BusinessAccount).where(BusinessAccount.code == code))
                address = None
            if user is not None:
                party = self._user_party(db, user)
            elif business is not None:
                party = Party(business.address, business.name, AccountKind.BUSINESS, None, business.code)
        if party is None and address is None:
            raise ApiError("SUPPLIER_NOT_REGISTERED")
        kind, status = standing(self.ledger.registry, party.address if party else str(address))
        if kind == AccountKind.NONE:
            raise ApiError("SUPPLIER_NOT_REGISTERED")
        if party is None:  # known to the chain only (a business registered from the command line)
            party = Party(str(address), str(address), kind)
        party = Party(party.address, party.name, kind, party.user_id, party.code)
        if status != ACTIVE and kind in PAYING_KINDS:
            raise ApiError("SUPPLIER_NOT_ACTIVE", {"name": party.name})
        return party

    def preview(self, payer: User, who: str, amount: int | None) -> dict[str, Any]:
        """What the confirm screen shows before a B2B payment: the supplier's registered name, the
        cap and the shop's balance; a resident or an unknown address is refused here already."""
        party = self.find_party(who)
        self._check_supplier(payer, party)
        limits = self.limits()
        if amount is not None:
            self._check_amount(payer, amount, limits.max_payment)
        return {
            "to": party.address,
            "name": party.name,
            "kind": party.kind.name.lower(),
            "code": party.code,
            "limit": limits.max_payment,
            "balance": self.balance(payer),
            "amount": amount,
        }

    def _check_supplier(self, payer: User, party: Party) -> None:
        if party.kind == AccountKind.RESIDENT:
            raise ApiError("SUPPLIER_IS_RESIDENT")
        if party.kind not in PAYING_KINDS:
            raise ApiError("SUPPLIER_NOT_REGISTERED")
        if party.address == payer.address:
            raise ApiError("CANNOT_PAY_YOURSELF")

    def _check_amount(self, payer: User, amount: int, limit: int) -> None:
        if amount > limit:
            raise ApiError("BUSINESS_OVER_LIMIT", {"limit": limit, "amount": amount})
        available = self.balance(payer)
        if amount > available:
            raise ApiError("INSUFFICIENT_BALANCE", {"available": available, "amount": amount})

    # -- moving points --------------------------------------------------------------------
    def _record(
        self,
        kind: str,
        payer: User,
        party: Party,
        amount: int,
        note: str,
        programme: str | None = None,
        claim: int | None = None,
    ) -> Any:
        def add(db: DbSession, op: Operation) -> None:
            db.add(
                BusinessTransfer(
                    id=str(uuid.uuid4()), kind=kind, payer_id=payer.id, to_address=party.address,
                    to_user_id=party.user_id, to_name=party.name[:80], amount=amount, note=note[:32],
                    programme_id=programme, claim_id=claim, operation_id=op.id, created_at=now(),
                )
            )  # fmt: skip

        return add

    def pay(self, payer: User, who: str, amount: int, reference: str, key: str) -> Operation:
        """Pays ``amount`` points to the shop or business ``who`` (B2B); ``reference`` is the shop's own
        (an invoice number), on-chain as bytes32 text."""
        party = self.find_party(who)
        if self.outbox.find(payer, key) is None:  # a retry is answered as it was
            self._check_supplier(payer, party)
            self._check_amount(payer, amount, self.limits().max_payment)
        target, calldata = self.ledger.calldata(
            "RegionalPoints", "payBusiness", party.address, amount, text32(reference)
        )
        return self.outbox.submit(
            payer, key, {"b2b": party.address, "amount": amount, "reference": reference},
            kind=OperationKind.B2B_PAY, sender=payer.address or "", target=target, calldata=calldata,
            summary={"to": party.address, "name": party.name, "amount": amount, "reference": reference},
            before_commit=self._record("b2b", payer, party, amount, reference),
        )  # fmt: skip

    def _resident(self, member: str) -> Party:
        party = self.find_party(member)
        if party.kind != AccountKind.RESIDENT:
            raise ApiError("REWARD_NOT_RESIDENT")
        return party

    def reward(self, payer: User, member: str, amount: int, category: str, key: str) -> Operation:
        """Rewards the resident ``member`` (code or address) with ``amount`` of the shop's points."""
        party = self._resident(member)
        if self.outbox.find(payer, key) is None:
            self._check_amount(payer, amount, self.limits().max_reward)
        target, calldata = self.ledger.calldata(
            "RegionalPoints", "rewardResident", party.address, amount, text32(category)
        )
        return self.outbox.submit(
            payer, key, {"reward": party.address, "amount": amount, "category": category},
            kind=OperationKind.BIZ_REWARD, sender=payer.address or "", target=target, calldata=calldata,
            summary={"to": party.code or party.address, "name": party.name, "amount": amount, "category": category},
            before_commit=self._record("reward", payer, party, amount, category),
        )  # fmt: skip

    # -- programmes -----------------------------------------------------------------------
    def create_programme(self, owner: User, name: str, points: int, budget: int, key: str) -> Operation:
        """A programme of the shop's own: ``points`` per claim, at most ``budget`` in all, paid from its points."""
        start = int(self.ledger.w3.eth.get_block("latest")["timestamp"]) - 60
        params = (name, b"\0" * 32, points, 1, 0, CAP_PROGRAMME, budget, start, FAR_FUTURE, EXPIRY_DAYS_AFTER, 365)
        target, calldata = self.ledger.calldata("RewardProgrammes", "createBusinessProgramme", params)

        def add(db: DbSession, op: Operation) -> None:
            db.add(
                BusinessProgramme(
                    id=str(uuid.uuid4()), owner_id=owner.id, name=name, points_per_claim=points, budget=budget,
                    chain_id=None, next_claim=1, operation_id=op.id, created_at=now(),
                )
            )  # fmt: skip

        return self.outbox.submit(
            owner, key, {"programme": name, "points": points, "budget": budget},
            kind=OperationKind.BIZ_PROGRAMME, sender=owner.address or "", target=target, calldata=calldata,
            summary={"name": name, "points": points, "budget": budget}, before_commit=add,
        )  # fmt: skip

    def _chain_id(self, programme: BusinessProgramme) -> int | None:
        """The programme's on-chain id, read once from its creating receipt and kept."""
        if programme.chain_id is not None:
            return programme.chain_id
        with self.sessions() as db:
            op = db.get(Operation, programme.operation_id)
        if op is None or op.status != OperationStatus.CONFIRMED or not op.tx_hash:
            return None
        receipt = self.ledger.w3.eth.get_transaction_receipt(op.tx_hash)  # type: ignore[arg-type]
        from web3.logs import DISCARD

        events = self.ledger.programmes.events.BusinessProgrammeCreated().process_receipt(receipt, errors=DISCARD)
        if not events:
            return None
        chain_id = int(events[0]["args"]["programmeId"])
        with self.sessions.begin() as db:
            stored = db.get_one(BusinessProgramme, programme.id)
            stored.chain_id = chain_id
        programme.chain_id = chain_id
        return chain_id

    def programmes(self, owner: User) -> list[dict[str, Any]]:
        with self.sessions() as db:
            rows = db.scalars(
                select(BusinessProgramme)
                .where(BusinessProgramme.owner_id == owner.id)
                .order_by(BusinessProgramme.created_at.desc())
            ).all()
            statuses = {r.id: _status(db, r.operation_id) for r in rows}
        out = []
        for r in rows:
            chain_id = self._chain_id(r) if statuses[r.id] == OperationStatus.CONFIRMED else None
            issued = 0
            if chain_id is not None:
                issued = int(self.ledger.programmes.functions.programme(chain_id).call()[10])
            out.append({
                "id": r.id, "name": r.name, "points_per_claim": r.points_per_claim, "budget": r.budget,
                "issued": issued, "chain_id": chain_id, "status": statuses[r.id],
            })  # fmt: skip
        return out

    def award(self, owner: User, programme_pk: str, member: str, claim_id: int | None, key: str) -> Operation:
        """Pays one claim of the shop's programme to the resident ``member``. ``claim_id`` (e.g. a
        receipt number) pays once: the same id again is refused (CLAIM_ALREADY_GRANTED); without one,
        the programme's next number is used."""
        with self.sessions() as db:
            programme = db.get(BusinessProgramme, programme_pk)
        if programme is None or programme.owner_id != owner.id:
            raise ApiError("NOT_FOUND")
        chain_id = self._chain_id(programme)
        if chain_id is None:
            raise ApiError("BUSINESS_PROGRAMME_NOT_READY")
        party = self._resident(member)
        retry = self.outbox.find(owner, key)
        if retry is None:
            if claim_id is None:
                with self.sessions.begin() as db:
                    stored = db.get_one(BusinessProgramme, programme.id)
                    claim_id = stored.next_claim
                    stored.next_claim += 1
            if self.ledger.programmes.functions.isClaimed(chain_id, claim_id).call():
                raise ApiError("CLAIM_ALREADY_GRANTED", {"claim_id": claim_id})
            available = self.balance(owner)
            if available < programme.points_per_claim:
                raise ApiError(
                    "BUSINESS_PROGRAMME_OUT_OF_POINTS", {"available": available, "needed": programme.points_per_claim}
                )
        else:
            claim_id = int(retry.summary.get("claim_id", 0))  # type: ignore[call-overload]
        target, calldata = self.ledger.calldata(
            "RewardProgrammes",
            "attest",
            chain_id,
            party.address,
            1,
            keccak(text=f"{programme.id}:{claim_id}"),
            claim_id,
        )
        return self.outbox.submit(
            owner, key, {"programme": programme.id, "member": party.address, "claim_id": claim_id},
            kind=OperationKind.BIZ_ATTEST, sender=owner.address or "", target=target, calldata=calldata,
            summary={"programme": programme.name, "to": party.code or party.address, "name": party.name,
                     "amount": programme.points_per_claim, "claim_id": claim_id},
            before_commit=self._record("reward", owner, party, programme.points_per_claim, "programme",
                                       programme.id, claim_id),
        )  # fmt: skip

    # -- history --------------------------------------------------------------------------
    def history(self, payer: User, limit: int = 50) -> list[dict[str, Any]]:
        """What the shop sent: B2B payments and rewards, newest first, each with its operation's state."""
        with self.sessions() as db:
            rows = db.scalars(
                select(BusinessTransfer)
                .where(BusinessTransfer.payer_id == payer.id)
                .order_by(BusinessTransfer.created_at.desc())
                .limit(limit)
            ).all()
            return [_transfer_out(db, r) for r in rows]

    def received(self, resident: User, limit: int = 50) -> list[dict[str, Any]]:
        """Rewards a resident received from shops through this wallet, with the shop's name."""
        with self.sessions() as db:
            rows = db.scalars(
                select(BusinessTransfer)
                .where(BusinessTransfer.to_user_id == resident.id, BusinessTransfer.kind == "reward")
                .order_by(BusinessTransfer.created_at.desc())
                .limit(limit)
            ).all()
            out = []
            for r in rows:
                item = _transfer_out(db, r)
                payer = db.get(User, r.payer_id)
                item["from"] = self._user_party(db, payer).name if payer is not None else ""
                out.append(item)
            return out

    # -- the officer desk ---------------------------------------------------------------------
    def register_business(self, officer: User, name: str, address: str, category: str, key: str) -> Operation:
        """Registers a business (kind Business) with the service's enroller key, after the officer
        checked it at the desk; its public name is kept here to show to paying shops."""
        if not is_hex_address(address):
            raise ApiError("BUSINESS_ADDRESS_INVALID")
        address = to_checksum_address(address)
        retry = self.outbox.find(officer, key)
        if retry is None:
            with self.sessions() as db:
                known = db.scalar(select(BusinessAccount).where(BusinessAccount.address == address))
                member = db.scalar(select(User).where(User.address == address))
            kind, _ = standing(self.ledger.registry, address)
            if known is not None or member is not None or kind != AccountKind.NONE:
                raise ApiError("BUSINESS_ALREADY_REGISTERED")
        record = keccak(text=f"takasago-business:{address}:{name}")
        target, calldata = self.ledger.calldata(
            "AccountRegistry", "register", address, int(AccountKind.BUSINESS), record
        )
        code = "B" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(7))

        def add(db: DbSession, op: Operation) -> None:
            db.add(
                BusinessAccount(
                    id=str(uuid.uuid4()), code=code, address=address, name=name, category=category,
                    registered_by=officer.id, operation_id=op.id, created_at=now(),
                )
            )  # fmt: skip

        return self.outbox.submit(
            officer, key, {"business": address, "name": name, "category": category},
            kind=OperationKind.REGISTER, sender=self.accounts.service_address(), target=target, calldata=calldata,
            summary={"user": f"business:{address}", "business": address, "name": name}, before_commit=add,
        )  # fmt: skip

    def businesses(self) -> list[dict[str, Any]]:
        with self.sessions() as db:
            rows = db.scalars(select(BusinessAccount).order_by(BusinessAccount.created_at.desc())).all()
            return [
                {"code": r.code, "name": r.name, "address": r.address, "category": r.category,
                 "status": _status(db, r.operation_id), "registered_at": r.created_at.isoformat()}
                for r in rows
            ]  # fmt: skip

    # -- custodial business accounts (a business that is not a shop signs in to the till) ------------
    def apply(self, login: str, password: str, profile: dict[str, str]) -> User:
        """A business applies from the till site: a pending account of role ``business`` with a fresh
        custodial key sealed by the keyring, as every member's; the representative, the address and the
        corporate number are sealed like a personal record. The city decides on the officer desk."""
        number = profile["corporate_number"]
        if not valid_corporate_number(number):
            raise ApiError("CORPORATE_NUMBER_INVALID")
        account = Account.create()
        public_id = str(uuid.uuid4())
        record = {
            "business": profile["name"],
            "name": profile["representative"],
            "address": profile["postal_address"],
            "corporate_number": number,
            "salt": secrets.token_hex(16),
        }
        canonical = json.dumps(record, sort_keys=True, ensure_ascii=False).encode()
        keyring = self.accounts.keyring
        user = User(
            public_id=public_id, login=login.strip().lower(), role=Role.BUSINESS, status=AccountStatus.PENDING,
            password_hash=hash_secret(password), address=account.address,
            sealed_key=keyring.seal_private_key(account.address, account),
            sealed_personal=keyring.seal(canonical, personal_context(public_id)),
            record_hash="0x" + keccak(canonical).hex(), display_name=profile["name"], short_code=new_short_code(),
            failed_logins=0, created_at=now(),
        )  # fmt: skip
        try:
            with self.sessions.begin() as db:
                if db.scalar(select(User.id).where(User.login == user.login)) is not None:
                    raise ApiError("LOGIN_TAKEN")
                db.add(user)
                db.flush()
                db.add(BusinessMember(user_id=user.id, name=profile["name"], category=profile["category"],
                                      applied_at=now()))  # fmt: skip
        except IntegrityError:
            raise ApiError("LOGIN_TAKEN") from None
        return user

    def account(self, user: User) -> dict[str, Any]:
        """The business's own account as its till shows it: name, state, the desk's reason, its code."""
        with self.sessions() as db:
            row = db.get(BusinessMember, user.id)
        return {
            "name": row.name if row else (user.display_name or ""), "category": row.category if row else "",
            "status": str(user.status), "reason": row.reason if row else None, "code": user.short_code,
            "address": user.address or "",
        }  # fmt: skip

    def applications(self, status: str) -> list[dict[str, Any]]:
        """Business accounts by their account state (pending: waiting for the desk), oldest first."""
        statement = (
            select(User, BusinessMember)
            .join(BusinessMember, BusinessMember.user_id == User.id)
            .where(User.role == Role.BUSINESS)
            .order_by(BusinessMember.applied_at)
        )
        if status != "all":
            statement = statement.where(User.status == AccountStatus(status))
        with self.sessions() as db:
            rows = db.execute(statement).all()
        return [
            {"id": u.public_id, "code": u.short_code, "name": m.name, "category": m.category, "status": str(u.status),
             "address": u.address or "", "applied_at": _aware(m.applied_at).isoformat(), "reason": m.reason}
            for u, m in rows
        ]  # fmt: skip

    def _pending(self, db: DbSession, public_id: str) -> tuple[User, BusinessMember]:
        user = db.scalar(select(User).where(User.public_id == public_id, User.role == Role.BUSINESS).with_for_update())
        member = db.get(BusinessMember, user.id, with_for_update=True) if user is not None else None
        if user is None or member is None:
            raise ApiError("NOT_FOUND")
        return user, member

    def approve_account(self, officer: User, public_id: str, reason: str, key: str) -> Operation:
        """The city approves: the custodial address is registered on-chain as kind Business with the
        service's key, through the outbox (exactly once per Idempotency-Key); the account is active
        when the registration confirms (the registration hook, as for any member)."""
        with self.sessions() as db:
            user, _ = self._pending(db, public_id)
        if self.outbox.find(officer, key) is None and user.status != AccountStatus.PENDING:
            raise ApiError("BUSINESS_NOT_PENDING", {"status": str(user.status)})
        target, calldata = self.ledger.calldata(
            "AccountRegistry", "register", user.address, int(AccountKind.BUSINESS),
            bytes.fromhex((user.record_hash or "")[2:]),
        )  # fmt: skip

        def mark(db: DbSession, op: Operation) -> None:
            row, member = self._pending(db, public_id)
            if row.status != AccountStatus.PENDING:
                raise ApiError("BUSINESS_NOT_PENDING", {"status": str(row.status)})
            row.status, row.decided_by = AccountStatus.APPROVING, officer.id
            member.decided_by, member.decided_at, member.reason = officer.id, now(), reason
            log_action(db, officer, row, "business approved", f"{member.name}: {reason}")

        return self.outbox.submit(
            officer, key, {"approve-business": public_id}, kind=OperationKind.REGISTER,
            sender=self.accounts.service_address(), target=target, calldata=calldata,
            summary={"user": public_id, "business": user.address, "name": user.display_name}, before_commit=mark,
        )  # fmt: skip

    def reject_account(self, officer: User, public_id: str, reason: str) -> None:
        """The city refuses the application with a reason the business sees at the till (nothing on-chain)."""
        with self.sessions.begin() as db:
            row, member = self._pending(db, public_id)
            if row.status != AccountStatus.PENDING:
                raise ApiError("BUSINESS_NOT_PENDING", {"status": str(row.status)})
            row.status, row.decided_by, row.decided_at = AccountStatus.REJECTED, officer.id, now()
            member.decided_by, member.decided_at, member.reason = officer.id, now(), reason
            log_action(db, officer, row, "reject", reason)  # log-in answers ACCOUNT_REJECTED with this reason


def valid_corporate_number(number: str) -> bool:
    """A 法人番号: 13 digits whose first is the check digit, 9 - (sum of the others weighted 1, 2 from the
    right) mod 9 (the National Tax Agency's rule)."""
    if not re.fullmatch(r"[0-9]{13}", number):
        return False
    body = [int(c) for c in reversed(number[1:])]
    total = sum(d * (1 if i % 2 == 0 else 2) for i, d in enumerate(body))
    return int(number[0]) == 9 - total % 9


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _status(db: DbSession, operation_id: str) -> str:
    op = db.get(Operation, operation_id)
    return str(op.status) if op is not None else "unknown"


def _transfer_out(db: DbSession, r: BusinessTransfer) -> dict[str, Any]:
    created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
    return {
        "id": r.id, "kind": r.kind, "to": r.to_address, "name": r.to_name, "amount": r.amount, "note": r.note,
        "claim_id": r.claim_id, "status": _status(db, r.operation_id), "at": created.isoformat(),
    }  # fmt: skip


_parts: dict[int, Business] = {}


def business_of(svc: Any) -> Business:
    """This process's :class:`Business`, built once from the services it uses (the wiring in services.py is shared)."""
    part = _parts.get(id(svc))
    if part is None:
        part = _parts[id(svc)] = Business(svc.sessions, svc.ledger, svc.outbox, svc.accounts)
    return part
