"""The wallet follows the chain (issue 20): officers' on-chain account changes reach the wallet's records.

An officer suspends, reactivates or revokes an account from the command line
(``takasago account suspend …``) with their own key: the chain changes, and before this the
wallet went on letting that member in. :class:`Reconciler` closes both gaps:

* **The follower** reads the registry's ``AccountStatusChanged`` events after a cursor (the
  last block read, a ``wallet_meta`` row moved in the same transaction as the changes it
  made, as the notices' follower does) and applies them to the member with that address:
  suspended or revoked on-chain → ``suspended`` here (the app and the API refuse them at
  once: :data:`wallet_api.auth.INACTIVE`); active again → ``active``. Registrations (a change
  from "none") are the wallet's own REGISTER operations' business. A revoked account that
  the registry recovered to a successor is left to :mod:`wallet_api.recovery`, which moves the
  member to the new address. Each change is logged with the block and transaction.
* **The reconciliation** (``takasago wallet reconcile``) compares every member's status and
  address with the registry's ``accountOf`` (kind and status) at one block and lists each
  difference in English and Japanese; nothing is changed by it.

The chain is the authority for an account's standing, and the wallet follows it. One case runs
the other way on purpose: the officer desk suspends a member in the wallet at once (log-ins and
payments refused) and shows the ``takasago account suspend`` command a registrar officer runs with
their own key; until then ``takasago wallet reconcile`` lists that member as a difference.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api.db.models import User, WalletMeta
from wallet_api.ledger import Ledger
from wallet_api.periodic import Periodic
from wallet_api.statuses import CHAIN_MEMBER_ROLES, AccountStatus, Role

log = logging.getLogger("wallet_api.reconcile")

CURSOR = "registry_follow_block"
FOLLOW_MAX_BLOCKS = 10_000  # the node's eth_getLogs range cap
DEFAULT_INTERVAL = 2.0  # seconds between the follower's passes (env TAKASAGO_WALLET_REGISTRY_FOLLOW_SECONDS; 0: off)
STATUS_TOPIC = "0x" + keccak(text="AccountStatusChanged(address,uint8,uint8)").hex()
CHAIN_STATUS = {0: "not registered", 1: "active", 2: "suspended", 3: "revoked"}
CHAIN_STATUS_JA = {0: "未登録", 1: "有効", 2: "停止中", 3: "失効（取消）"}
KIND_OF_ROLE = {Role.RESIDENT: 1, Role.MERCHANT: 2, Role.BUSINESS: 6}
KIND_NAME = {0: "none", 1: "resident", 2: "merchant", 3: "city", 4: "oracle", 5: "validator", 6: "business"}
# the chain statuses each wallet status agrees with
AGREES: dict[AccountStatus, tuple[int, ...]] = {
    AccountStatus.ACTIVE: (1,),
    AccountStatus.SUSPENDED: (2, 3),
    AccountStatus.PENDING: (0,),
    AccountStatus.APPROVING: (0, 1),  # the registration is on its way
    AccountStatus.REJECTED: (0,),
}
ZERO = "0x" + "00" * 20


def env_interval() -> float:
    return max(0.0, float(os.environ.get("TAKASAGO_WALLET_REGISTRY_FOLLOW_SECONDS", DEFAULT_INTERVAL)))


@dataclass(frozen=True)
class Difference:
    """One member whose wallet record and on-chain account disagree."""

    member: str  # short code
    address: str
    wallet_status: str
    chain_status: str
    english: str
    japanese: str

    def as_dict(self) -> dict[str, str]:
        return {
            "member": self.member,
            "address": self.address,
            "wallet_status": self.wallet_status,
            "chain_status": self.chain_status,
            "en": self.english,
            "ja": self.japanese,
        }


class Reconciler:
    """The registry follower and the reconciliation report."""

    def __init__(self, sessions: sessionmaker[DbSession], ledger: Ledger) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self._follower = Periodic("registry", self.follow_once, log)

    # -- the follower -----------------------------------------------------------------------------
    def follow_once(self) -> int:
        """Applies the registry's status changes after the cursor up to the head; returns how many members changed."""
        head = int(self.ledger.w3.eth.block_number)
        with self.sessions() as db:
            meta = db.get(WalletMeta, CURSOR)
            cursor = int(meta.value) if meta is not None else None
        # first start: from the genesis, so the history's suspensions replay in order to today's standing
        lower = 0 if cursor is None else cursor + 1
        if head < lower:
            return 0
        upper = min(head, lower + FOLLOW_MAX_BLOCKS - 1)
        logs = self.ledger.w3.eth.get_logs(
            {
                "address": self.ledger.registry.address,
                "fromBlock": lower,
                "toBlock": upper,
                "topics": [STATUS_TOPIC],  # type: ignore[list-item]
            }
        )
        changes = [_status_change(entry) for entry in logs]
        return self._apply(cursor, upper, changes)

    def _apply(self, expected: int | None, to: int, changes: Iterable[tuple[str, int, int, str]]) -> int:
        """The changes and the cursor in one transaction (a restart neither repeats nor skips a block)."""
        changes = list(changes)
        recovered = {a for a, _, new, _ in changes if new == 3 and self._successor(a) != ZERO}
        changed = 0
        with self.sessions.begin() as db:
            meta = db.get(WalletMeta, CURSOR, with_for_update=True)
            current = int(meta.value) if meta is not None else None
            if current != expected:  # another worker moved it meanwhile: its pass covered these blocks
                return 0
            for address, previous, new, tx in changes:
                if previous == 0 or address in recovered:  # a registration (the REGISTER hook's), a recovery's
                    continue
                user = db.scalar(select(User).where(User.address == address, User.role.in_(CHAIN_MEMBER_ROLES)))
                if user is None:
                    continue
                if new == 1 and user.status == AccountStatus.SUSPENDED:
                    user.status = AccountStatus.ACTIVE
                elif new in (2, 3) and user.status == AccountStatus.ACTIVE:
                    user.status = AccountStatus.SUSPENDED
                else:
                    continue
                changed += 1
                log.info("registry: member %s (%s) is now %s here, following %s on-chain (tx %s)",
                         user.short_code, address, user.status.value, CHAIN_STATUS.get(new, new), tx)  # fmt: skip
            if meta is None:
                db.add(WalletMeta(name=CURSOR, value=str(to)))
            else:
                meta.value = str(to)
        return changed

    def _successor(self, address: str) -> str:
        return str(self.ledger.registry.functions.successorOf(address).call())

    def start(self, interval: float) -> None:
        self._follower.start(interval)

    def stop(self) -> None:
        self._follower.stop()

    # -- the reconciliation -----------------------------------------------------------------------
    def differences(self) -> tuple[int, int, list[Difference]]:
        """(block read, members compared, each difference) between the wallet's members and the registry."""
        with self.sessions() as db:
            members = db.execute(
                select(User.short_code, User.address, User.status, User.role)
                .where(User.role.in_(CHAIN_MEMBER_ROLES), User.address.is_not(None))
                .order_by(User.id)
            ).all()
        block = int(self.ledger.w3.eth.block_number)
        registry = self.ledger.registry.address
        selector = keccak(text="accountOf(address)")[:4]
        calls: list[tuple[str, list[Any]]] = [
            ("eth_call", [{"to": registry, "data": "0x" + (selector + encode(["address"], [str(m.address)])).hex()},
                          hex(block)])
            for m in members
        ]  # fmt: skip
        results: list[Any] = []
        for start in range(0, len(calls), 500):
            results += self.ledger.rpc.batch_within_limits(calls[start : start + 500])
        found: list[Difference] = []
        for member, raw in zip(members, results, strict=True):
            kind, status, _record = decode(["uint8", "uint8", "bytes32"], bytes.fromhex(str(raw)[2:])[:96])
            difference = _judge(member.short_code, str(member.address), AccountStatus(member.status),
                                Role(member.role), int(kind), int(status))  # fmt: skip
            if difference is not None and int(status) == 3:
                successor = self._successor(str(member.address))
                if successor != ZERO:  # recovered on-chain to an address this wallet does not hold for them
                    difference = Difference(
                        difference.member, difference.address, difference.wallet_status, difference.chain_status,
                        f"{difference.english}: recovered on-chain to {successor}; the wallet holds the lost address",
                        f"{difference.japanese}（チェーン上で {successor} に復旧済み、ウォレットは旧アドレスのまま）",
                    )  # fmt: skip
            if difference is not None:
                found.append(difference)
        return block, len(members), found


def _judge(code: str, address: str, wallet: AccountStatus, role: Role, kind: int, status: int) -> Difference | None:
    chain, chain_ja = CHAIN_STATUS.get(status, str(status)), CHAIN_STATUS_JA.get(status, str(status))
    if status not in AGREES.get(wallet, ()):
        return Difference(
            code, address, wallet.value, chain,
            f"member {code} ({address}) is {wallet.value} in the wallet but {chain} on-chain",
            f"会員 {code}（{address}）はウォレットでは「{wallet.value}」ですが、チェーン上では「{chain_ja}」です",
        )  # fmt: skip
    if status in (1, 2) and kind != KIND_OF_ROLE.get(role):
        on_chain = KIND_NAME.get(kind, str(kind))
        return Difference(
            code, address, wallet.value, chain,
            f"member {code} ({address}) is a {role.value} in the wallet but a {on_chain} account on-chain",
            f"会員 {code}（{address}）はウォレットでは {role.value} ですが、チェーン上の種別は {on_chain} です",
        )  # fmt: skip
    return None


def _status_change(entry: Any) -> tuple[str, int, int, str]:
    """(account, previous status, new status, transaction hash) of an ``AccountStatusChanged`` log."""
    account = to_checksum_address("0x" + bytes(entry["topics"][1])[-20:].hex())
    previous, new = decode(["uint8", "uint8"], bytes(entry["data"]))
    return account, int(previous), int(new), "0x" + bytes(entry["transactionHash"]).hex().removeprefix("0x")
