"""Who the client is, and how often it (and the account it acts for) may call the API.

Issue 15, finding 11. The client is the TCP peer, unless that peer is one of the
explicitly trusted proxies (``TAKASAGO_WALLET_TRUSTED_PROXIES``, none by default), in
which case it is the right-most ``X-Forwarded-For`` address that is not itself a
trusted proxy; a header from anyone else is ignored (uvicorn's own proxy handling,
which trusts any local peer, is switched off by ``wallet serve``). Limits are kept in
the database, one row per (keyed hash of client or account, minute), bumped by an
atomic upsert, so every worker process counts against the same budget; rows of past
minutes and idle log-in throttles are pruned once a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session, sessionmaker

from wallet_api.auth import now
from wallet_api.db.models import LoginThrottle, RateLimit
from wallet_api.db.upsert import add_hit

log = logging.getLogger("wallet_api.limits")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None, networks: Sequence[Network]) -> str:
    """The client's address: the peer, or what trusted proxies say the peer of the first one was."""
    client = peer or "unknown"
    if not networks or not _trusted(client, networks) or not forwarded_for:
        return client
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return client  # a malformed hop: stop believing the chain at the last trusted proxy
        client = hop
        if not _trusted(hop, networks):
            return hop
    return client


class SharedRateLimiter:
    """Fixed one-minute windows per key, counted in the database (shared by all workers)."""

    def __init__(self, sessions: sessionmaker[Session], secret: bytes, login_idle_seconds: int) -> None:
        self.sessions = sessions
        self._secret = secret
        self.login_idle_seconds = login_idle_seconds
        self._next_prune = 0.0

    def key(self, kind: str, value: str) -> str:
        return hmac.new(self._secret, f"rate|{kind}|{value}".encode(), hashlib.sha256).hexdigest()

    def hit(self, budgets: Sequence[tuple[str, int]]) -> int | None:
        """Counts one request against each (key, per-minute budget); seconds to wait if any is spent."""
        minute = int(time.time() // 60)
        with self.sessions.begin() as db:
            over = [limit for key, limit in budgets if add_hit(db, RateLimit, key, minute) > limit]
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + 60
            self.prune(minute)
        return 60 - int(time.time() % 60) if over else None

    def prune(self, minute: int) -> None:
        idle_since = now() - timedelta(seconds=self.login_idle_seconds)
        with self.sessions.begin() as db:
            stale = db.execute(delete(RateLimit).where(RateLimit.minute < minute - 1)).rowcount  # type: ignore[attr-defined]
            idle = db.execute(
                delete(LoginThrottle).where(
                    LoginThrottle.updated_at < idle_since,
                    or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < now()),
                )
            ).rowcount  # type: ignore[attr-defined]
        if stale or idle:
            log.info("pruned %d rate-limit windows and %d idle log-in throttles", stale, idle)
