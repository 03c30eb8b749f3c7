"""Recovering a lost account at the counter (issue 20), with the wallet's record following the chain.

Before, an officer recovered an account from the command line: the chain moved to a new
address the wallet knew nothing about, and the resident could no longer use the app. Now:

1. **At the counter** the officer starts the recovery: the wallet makes the new custodial key
   (sealed like every key), records the recovery, ends the lost phone's app sessions, and shows
   the two commands a registrar officer runs with their own key.
2. **On the chain**, by a registrar officer (``takasago account recover LOST NEW``, then after the
   registry's waiting period ``… --execute``): the registry announces, then replaces the account;
   the points move with their expiry months. The wallet's service key never holds the registrar
   role (issue 15, finding 15): recovery stays with officers' own keys and the registry's delay,
   which lets anyone stop a recovery made with a stolen key.
3. **The wallet follows**: :meth:`Recoveries.sync` (every few seconds in the service, and on every
   look at the counter) asks the registry who succeeded each lost account. The moment the chain
   names the new address, the member's record takes the new address and key, in one
   transaction; when the lost account is empty, the recovery is done. A recovery the chain
   completed to an address the wallet did not make is reported (``moved_out``), never guessed.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from eth_account import Account
from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api.auth import now
from wallet_api.counter import Counter
from wallet_api.db.models import Recovery, User
from wallet_api.db.models import Session as LoginSession
from wallet_api.errors import ApiError
from wallet_api.keyring import Keyring
from wallet_api.ledger import Ledger
from wallet_api.periodic import Periodic

log = logging.getLogger("wallet_api.recovery")
OPEN_STATES = ("prepared", "recovered")
ZERO = "0x" + "00" * 20


class Recoveries:
    def __init__(self, sessions: sessionmaker[DbSession], keyring: Keyring, ledger: Ledger, counter: Counter) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.ledger = ledger
        self.counter = counter
        self._follower = Periodic("recovery", self.sync, log)

    def start(self, officer: User, public_id: str, reason: str) -> dict[str, Any]:
        """Prepares the recovery: a new key for the member, their app sessions ended; the officers' commands."""
        user = self.counter.member(public_id)
        if user.address is None:
            raise ApiError("ACCOUNT_NOT_ACTIVE", {"status": user.status})
        new = Account.create()
        with self.sessions.begin() as db:
            if db.scalar(select(Recovery.id).where(Recovery.user_id == user.id, Recovery.state.in_(OPEN_STATES))):
                raise ApiError("RECOVERY_OPEN")
            db.add(Recovery(id=str(uuid.uuid4()), user_id=user.id, lost_address=user.address,
                            new_address=new.address, sealed_new_key=self.keyring.seal_private_key(new.address, new),
                            officer_id=officer.id, reason=reason[:200], state="prepared",
                            created_at=now()))  # fmt: skip
            # the lost phone (or password) may be in someone else's hands: every app session ends now
            db.execute(
                update(LoginSession)
                .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
                .values(revoked_at=now(), revoked_reason="recovery")
            )
            Counter.log(db, officer, user, "recovery_prepared", reason)
        return self.status(public_id)

    def status(self, public_id: str) -> dict[str, Any]:
        """The member's latest recovery after following the chain, and what the officers run next."""
        user = self.counter.member(public_id)
        self.sync()
        with self.sessions() as db:
            row = db.scalar(
                select(Recovery).where(Recovery.user_id == user.id).order_by(Recovery.created_at.desc()).limit(1)
            )
        if row is None:
            raise ApiError("NO_RECOVERY")
        announced, executable_at = self.ledger.registry.functions.recoveryOf(row.lost_address).call()
        lost, new = row.lost_address, row.new_address
        return {
            "state": row.state,
            "lost_address": lost,
            "new_address": new,
            "announced": announced == new,
            "executable_at": int(executable_at) if announced == new else None,
            "commands": [f"takasago account recover {lost} {new}", f"takasago account recover {lost} {new} --execute"],
        }

    def sync(self) -> int:
        """Follows the chain for every open recovery; how many changed state."""
        with self.sessions() as db:
            rows = db.scalars(select(Recovery).where(Recovery.state.in_(OPEN_STATES))).all()
        changed = 0
        registry, token = self.ledger.registry.functions, self.ledger.token.functions
        for row in rows:
            successor = registry.successorOf(row.lost_address).call()
            if successor == ZERO:
                continue
            if successor != row.new_address:
                changed += self._set(row.id, "moved_out")
                log.warning("recovery %s: the chain recovered the account to an address this wallet did not make",
                            row.id)  # fmt: skip
                continue
            if row.state == "prepared":
                changed += self._adopt(row.id)
            if int(token.balanceOf(row.lost_address).call()) == 0:
                changed += self._set(row.id, "done")
        return changed

    def _adopt(self, recovery_id: str) -> int:
        """The registry replaced the account: the member's record takes the new address and key."""
        with self.sessions.begin() as db:
            row = db.get(Recovery, recovery_id, with_for_update=True)
            if row is None or row.state != "prepared":
                return 0
            user = db.get(User, row.user_id, with_for_update=True)
            if user is None or user.address != row.lost_address:
                return 0
            user.address, user.sealed_key = row.new_address, row.sealed_new_key
            row.state = "recovered"
        return 1

    def _set(self, recovery_id: str, state: str) -> int:
        with self.sessions.begin() as db:
            row = db.get(Recovery, recovery_id, with_for_update=True)
            if row is None or row.state == state:
                return 0
            if state == "done" and row.state != "recovered":
                return 0
            row.state = state
            if state in ("done", "moved_out"):
                row.finished_at = now()
        return 1

    # -- the service's follower ---------------------------------------------------------------
    def run(self, every: float = 5.0) -> None:
        """Follows the chain in the background (a thread per service process)."""
        self._follower.start(every)

    def stop(self) -> None:
        self._follower.stop()
