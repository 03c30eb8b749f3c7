"""Proxies (代理, issue 20): a family member or carer acting for a resident, within limits, every action attributed.

A proxy is set up at the counter: the officer checks who the two people are and how they are
related, and records which things the proxy may do (``SCOPES``) and how many points a day they
may move for the resident (payments, thanks and help requests' thanks together). The proxy
acts from their own app, signed in as themselves; the resident's own key signs, as for anything
the resident does. Each action is recorded against the proxy link before it is sent (so two at
once cannot both slip under the day's limit) and named in the counter's trail. The resident, the
proxy or the counter can end it at any time.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api.accounts import Accounts
from wallet_api.auth import aware, now
from wallet_api.counter import Counter
from wallet_api.db.models import Proxy, ProxyAction, User
from wallet_api.errors import ApiError
from wallet_api.help_safety import start_of_day_jst
from wallet_api.statuses import AccountStatus, Role

SCOPES = ("balance", "pay", "thanks", "help", "card")
T = TypeVar("T")
MOVING = ("pay", "thanks", "help")  # the scopes whose points count towards the day's limit


class Proxies:
    def __init__(self, sessions: sessionmaker[DbSession], accounts: Accounts) -> None:
        self.sessions = sessions
        self.accounts = accounts

    # -- at the counter -----------------------------------------------------------------------
    def grant(
        self,
        officer: User,
        principal: User,
        proxy_code: str,
        scopes: list[str],
        daily_limit: int,
        relationship: str,
        reason: str,
    ) -> dict[str, Any]:
        """Records a proxy checked at the counter (both people's identity and their relationship)."""
        proxy = self.accounts.find_member(proxy_code)
        if proxy.id == principal.id or proxy.role != Role.RESIDENT or proxy.status != AccountStatus.ACTIVE:
            raise ApiError("PROXY_NOT_ELIGIBLE")
        with self.sessions.begin() as db:
            if db.scalar(
                select(Proxy.id).where(
                    Proxy.principal_id == principal.id, Proxy.proxy_id == proxy.id, Proxy.revoked_at.is_(None)
                )  # fmt: skip
            ):
                raise ApiError("PROXY_EXISTS")
            link = Proxy(id=str(uuid.uuid4()), principal_id=principal.id, proxy_id=proxy.id,
                         scopes=sorted(set(scopes)), daily_limit=daily_limit, relationship=relationship,
                         checked_by=officer.id, reason=reason[:200], created_at=now())  # fmt: skip
            db.add(link)
            what = f"{relationship}: {proxy.short_code} ({', '.join(link.scopes)}; {daily_limit} pt/日)"
            Counter.log(db, officer, principal, "proxy_granted", f"{what}; {reason}")
        return self._view(link, principal, proxy)

    def revoke(self, actor: User, link_id: str, reason: str) -> None:
        """Ends a proxy: by an officer, the resident or the proxy themselves (recorded)."""
        with self.sessions.begin() as db:
            link = db.get(Proxy, link_id, with_for_update=True)
            if link is None or (actor.role != Role.OFFICER and actor.id not in (link.principal_id, link.proxy_id)):
                raise ApiError("NOT_FOUND")
            if link.revoked_at is None:
                link.revoked_at, link.revoked_by = now(), actor.id
                principal = db.get(User, link.principal_id)
                if actor.role == Role.OFFICER:
                    Counter.log(db, actor, principal, "proxy_revoked", reason)

    # -- views --------------------------------------------------------------------------------
    def _view(self, link: Proxy, principal: User, proxy: User, used: int = 0) -> dict[str, Any]:
        return {"id": link.id, "principal": principal.short_code,
                "principal_name": principal.display_name or principal.short_code, "proxy": proxy.short_code,
                "proxy_name": proxy.display_name or proxy.short_code, "relationship": link.relationship,
                "scopes": link.scopes, "daily_limit": link.daily_limit, "used_today": used,
                "created_at": aware(link.created_at), "revoked_at": aware(link.revoked_at)}  # fmt: skip

    def links(self, user: User, as_proxy: bool, include_revoked: bool = False) -> list[dict[str, Any]]:
        """The proxies ``user`` holds (``as_proxy``) or has given, with today's points used."""
        column = Proxy.proxy_id if as_proxy else Proxy.principal_id
        with self.sessions() as db:
            query = select(Proxy).where(column == user.id)
            if not include_revoked:
                query = query.where(Proxy.revoked_at.is_(None))
            rows = db.scalars(query.order_by(Proxy.created_at)).all()
            people = {u.id: u for u in db.scalars(select(User).where(
                User.id.in_({r.principal_id for r in rows} | {r.proxy_id for r in rows})))}  # fmt: skip
            return [self._view(r, people[r.principal_id], people[r.proxy_id], self._used(db, r.id)) for r in rows]

    def actions(self, link_id: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.sessions() as db:
            rows = db.scalars(
                select(ProxyAction)
                .where(ProxyAction.proxy_link == link_id)
                .order_by(ProxyAction.id.desc())
                .limit(limit)
            ).all()
        return [{"at": aware(r.at), "action": r.action, "points": r.points} for r in rows]

    @staticmethod
    def _used(db: DbSession, link_id: str) -> int:
        total = db.scalar(
            select(func.coalesce(func.sum(ProxyAction.points), 0)).where(
                ProxyAction.proxy_link == link_id,
                ProxyAction.at >= start_of_day_jst(now()),
                ProxyAction.action.in_(MOVING),
            )  # fmt: skip
        )
        return int(total or 0)

    # -- acting -------------------------------------------------------------------------------
    def acting(self, proxy: User, principal_code: str, scope: str) -> tuple[Proxy, User]:
        """The live proxy link letting ``proxy`` do ``scope`` for the resident ``principal_code``."""
        with self.sessions() as db:
            row = db.execute(
                select(Proxy, User)
                .join(User, User.id == Proxy.principal_id)
                .where(
                    Proxy.proxy_id == proxy.id,
                    Proxy.revoked_at.is_(None),
                    User.short_code == principal_code.strip().upper(),
                )  # fmt: skip
            ).first()
        if row is None:
            raise ApiError("PROXY_NOT_ALLOWED")
        link, principal = row
        if scope not in link.scopes:
            raise ApiError("PROXY_NOT_ALLOWED", {"scope": scope})
        if principal.status != AccountStatus.ACTIVE:
            raise ApiError("ACCOUNT_NOT_ACTIVE", {"status": principal.status})
        return link, principal

    def act(self, link: Proxy, action: str, points: int, send: Callable[[str], T], key: str) -> T:
        """Reserves ``points`` of the day's limit, sends (``send(prefixed key)``), records the operation.

        A retry under the same key finds its first reservation and sends nothing new beyond what
        ``send`` itself finds under the key.
        """
        # the resident's own namespace of keys, kept apart per proxy link and short enough for any key
        scoped_key = "proxy:" + hashlib.sha256(f"{link.id}:{key}".encode()).hexdigest()[:40]
        with self.sessions.begin() as db:
            db.get(Proxy, link.id, with_for_update=True)  # one action of this proxy link at a time decides the limit
            again = db.scalar(select(ProxyAction).where(ProxyAction.proxy_link == link.id,
                                                        ProxyAction.operation_id == scoped_key))  # fmt: skip
            if again is None:
                used = self._used(db, link.id)
                if action in MOVING and used + points > link.daily_limit:
                    raise ApiError("PROXY_LIMIT", {"daily_limit": link.daily_limit, "used_today": used})
                reservation = ProxyAction(proxy_link=link.id, at=now(), action=action, points=points,
                                          operation_id=scoped_key)  # fmt: skip
                db.add(reservation)
        try:
            op = send(scoped_key)
        except ApiError:
            if again is None:
                with self.sessions.begin() as db:
                    db.execute(delete(ProxyAction).where(ProxyAction.proxy_link == link.id,
                                                         ProxyAction.operation_id == scoped_key))  # fmt: skip
            raise
        return op

    def record(self, link: Proxy, action: str) -> None:
        """An action that moves no points (a card blocked): attributed all the same."""
        with self.sessions.begin() as db:
            db.add(ProxyAction(proxy_link=link.id, at=now(), action=action, points=0, operation_id=None))
