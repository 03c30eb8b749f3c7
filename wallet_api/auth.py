"""Log-in, access tokens and refresh sessions, with lockout after repeated failures.

Access tokens are short-lived JWTs (HS256) naming the user, role and session; every
request also checks that the session is still open and the user active, so logging
out or suspending takes effect at once. Refresh tokens are ``<session>.<secret>``;
only the secret's SHA-256 is stored, it rotates on every use, and presenting an old
one (a replayed or stolen token) closes the whole session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from wallet_api.crypto.passwords import hash_secret, needs_rehash, verify_secret
from wallet_api.db.models import Session, User
from wallet_api.errors import ApiError
from wallet_api.settings import WalletSettings

_DUMMY_HASH = hash_secret("takasago-dummy-password-for-timing")


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every stored time is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class Principal:
    user_id: int
    public_id: str
    role: str
    session_id: str


class Authenticator:
    def __init__(self, settings: WalletSettings, secret: bytes) -> None:
        self.settings = settings
        self._secret = secret

    # -- log-in ------------------------------------------------------------------------
    def login(self, db: DbSession, login: str, password: str) -> Tokens:
        user = db.scalar(select(User).where(User.login == login.strip().lower()))
        if user is None:
            verify_secret(_DUMMY_HASH, password)  # same work as a real check: no user enumeration by timing
            raise ApiError("LOGIN_FAILED")
        locked = aware(user.locked_until)
        if locked is not None and locked > now():
            raise ApiError("ACCOUNT_LOCKED", {"retry_after_seconds": int((locked - now()).total_seconds()) + 1})
        if not verify_secret(user.password_hash, password):
            user.failed_logins += 1
            if user.failed_logins >= self.settings.login_failures_before_lock:
                user.failed_logins = 0
                user.locked_until = now() + timedelta(seconds=self.settings.login_lock_seconds)
                db.commit()
                raise ApiError("ACCOUNT_LOCKED", {"retry_after_seconds": self.settings.login_lock_seconds})
            db.commit()
            raise ApiError("LOGIN_FAILED")
        if user.status in ("rejected", "suspended"):
            raise ApiError("ACCOUNT_NOT_ACTIVE")
        user.failed_logins = 0
        user.locked_until = None
        if needs_rehash(user.password_hash):
            user.password_hash = hash_secret(password)
        session_id = str(uuid.uuid4())
        secret = secrets.token_urlsafe(32)
        db.add(
            Session(
                id=session_id,
                user_id=user.id,
                refresh_hash=_digest(secret),
                created_at=now(),
                expires_at=now() + timedelta(seconds=self.settings.refresh_token_seconds),
            )
        )
        db.commit()
        return self._tokens(user, session_id, secret)

    def refresh(self, db: DbSession, refresh_token: str) -> Tokens:
        session_id, _, secret = refresh_token.partition(".")
        session = db.get(Session, session_id) if session_id and secret else None
        if session is None:
            raise ApiError("TOKEN_INVALID")
        if session.revoked_at is not None:
            raise ApiError("TOKEN_REUSED" if session.revoked_reason == "reuse" else "TOKEN_INVALID")
        if aware(session.expires_at) <= now():  # type: ignore[operator]
            raise ApiError("TOKEN_EXPIRED")
        if not hmac.compare_digest(session.refresh_hash, _digest(secret)):
            session.revoked_at = now()
            session.revoked_reason = "reuse"
            db.commit()
            raise ApiError("TOKEN_REUSED")
        user = db.get(User, session.user_id)
        if user is None or user.status in ("rejected", "suspended"):
            raise ApiError("ACCOUNT_NOT_ACTIVE")
        new_secret = secrets.token_urlsafe(32)
        session.refresh_hash = _digest(new_secret)
        db.commit()
        return self._tokens(user, session.id, new_secret)

    def logout(self, db: DbSession, principal: Principal) -> None:
        session = db.get(Session, principal.session_id)
        if session is not None and session.revoked_at is None:
            session.revoked_at = now()
            session.revoked_reason = "logout"
            db.commit()

    def _tokens(self, user: User, session_id: str, secret: str) -> Tokens:
        issued = now()
        claims = {
            "sub": user.public_id,
            "role": user.role,
            "sid": session_id,
            "iat": issued,
            "exp": issued + timedelta(seconds=self.settings.access_token_seconds),
            "typ": "access",
        }
        access = jwt.encode(claims, self._secret, algorithm="HS256")
        return Tokens(access, f"{session_id}.{secret}", self.settings.access_token_seconds)

    # -- each request ------------------------------------------------------------------
    def principal(self, db: DbSession, bearer: str) -> Principal:
        try:
            claims = jwt.decode(
                bearer, self._secret, algorithms=["HS256"], options={"require": ["exp", "sub", "sid", "role"]}
            )
        except jwt.ExpiredSignatureError:
            raise ApiError("TOKEN_EXPIRED") from None
        except jwt.PyJWTError:
            raise ApiError("TOKEN_INVALID") from None
        if claims.get("typ") != "access":
            raise ApiError("TOKEN_INVALID")
        session = db.get(Session, str(claims["sid"]))
        if session is None or session.revoked_at is not None:
            raise ApiError("TOKEN_INVALID")
        user = db.get(User, session.user_id)
        if user is None or user.public_id != claims["sub"]:
            raise ApiError("TOKEN_INVALID")
        if user.status in ("rejected", "suspended"):
            raise ApiError("ACCOUNT_NOT_ACTIVE")
        return Principal(user.id, user.public_id, user.role, session.id)
