"""Log-in, access tokens and refresh sessions, with per-client throttling of failed log-ins.

Access tokens are short-lived JWTs (HS256) naming the user, role and session; every
request also checks that the session is still open and the user active, so logging
out or suspending takes effect at once. Refresh tokens are ``<session>.<secret>``;
only the secret's SHA-256 is stored and it rotates on every use. Presenting an old one
(a replayed or stolen token) closes the whole session, except the token rotated away
in the last ``refresh_grace_seconds``: two tabs refreshing at once both get the same new
pair (each successor is derived from its predecessor with the server's secret, so
it can be handed out again without being stored).

Failed log-ins never lock an account (issue 15, finding 10: anyone could lock anyone
out). They are counted per (log-in, client) and, past a few, each further attempt from
that client must wait twice as long as the one before; other clients, the real owner
among them, are not affected. The counter is taken *before* the password is checked,
in a locked row, so a parallel burst cannot evaluate more guesses than allowed
(finding 14). Unknown log-ins get the same counting, the same argon2 work (against a
dummy hash) and the same answers, so the API does not reveal which log-ins exist. The
password is checked outside any database transaction (finding 9).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool

from wallet_api.crypto.passwords import hash_secret, needs_rehash, verify_secret_async
from wallet_api.db.models import CounterLogEntry, LoginThrottle, Session, User
from wallet_api.db.upsert import insert_ignore
from wallet_api.errors import ApiError
from wallet_api.settings import WalletSettings
from wallet_api.statuses import AccountStatus

log = logging.getLogger("wallet_api.auth")
_LIVE_SESSION_MEMBER = (
    select(User, Session.revoked_at).join(Session, Session.user_id == User.id).where(Session.id == bindparam("sid"))
)
_DUMMY_HASH = hash_secret("takasago-dummy-password-for-timing")
INACTIVE = (AccountStatus.REJECTED, AccountStatus.SUSPENDED)


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


@dataclass(frozen=True)
class LoginAttempt:
    """One counted attempt: whose hash to check (a dummy for unknown log-ins) and against which row."""

    throttle_key: str
    user_id: int | None
    stored_hash: str
    pseudonym: str


class Authenticator:
    def __init__(self, settings: WalletSettings, secret: bytes) -> None:
        self.settings = settings
        self._secret = secret

    def pseudonym(self, value: str) -> str:
        """A stable, keyed alias for logs: correlates one account's lines without naming it."""
        return hmac.new(self._secret, b"pseudonym|" + value.encode(), hashlib.sha256).hexdigest()[:12]

    # -- log-in ------------------------------------------------------------------------
    async def login(self, sessions: sessionmaker[DbSession], login: str, password: str, client: str) -> Tokens:
        """Counts the attempt, checks the password on the bounded argon2 threads, opens a session.

        The two database steps are short and run on worker threads (see the route);
        ``login`` itself only awaits, so a queue of log-ins holds no thread and no lock.
        """
        attempt = await run_in_threadpool(self.count_attempt, sessions, login, client)
        ok = await verify_secret_async(attempt.stored_hash, password)
        if not ok or attempt.user_id is None:
            log.info("login failed for %s", attempt.pseudonym)
            raise ApiError("LOGIN_FAILED")
        return await run_in_threadpool(self.open_session, sessions, attempt, password)

    def _delay(self, failures: int) -> int:
        over = failures - self.settings.login_failures_before_delay
        return min(self.settings.login_max_delay_seconds, 2 ** min(over + 1, 30))

    def count_attempt(self, sessions: sessionmaker[DbSession], login: str, client: str) -> LoginAttempt:
        """Counts one attempt in the (log-in, client) row, under its lock; refuses it while that row waits."""
        name = login.strip().lower()
        key = hmac.new(self._secret, f"login|{name}|{client}".encode(), hashlib.sha256).hexdigest()
        moment = now()
        retry_after = 0
        with sessions.begin() as db:
            insert_ignore(db, LoginThrottle, key=key, attempts=0, failures=0, blocked_until=None, updated_at=moment)
            row = db.scalar(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update())
            assert row is not None
            row.attempts += 1
            row.updated_at = moment
            blocked = aware(row.blocked_until)
            if blocked is not None and blocked > moment:
                retry_after = int((blocked - moment).total_seconds()) + 1
            else:
                row.failures += 1  # counted before the check; reset when the password is right
                if row.failures >= self.settings.login_failures_before_delay:
                    row.blocked_until = moment + timedelta(seconds=self._delay(row.failures))
                user = db.scalar(select(User).where(User.login == name))
                user_id, stored = (user.id, user.password_hash) if user is not None else (None, _DUMMY_HASH)
        alias = self.pseudonym(name)
        if retry_after:
            log.warning("login throttled for %s from this client (%d s)", alias, retry_after)
            raise ApiError("LOGIN_THROTTLED", {"retry_after_seconds": retry_after})
        return LoginAttempt(key, user_id, stored, alias)

    def open_session(self, sessions: sessionmaker[DbSession], attempt: LoginAttempt, password: str) -> Tokens:
        """The password was right: clear this client's count and open a session."""
        new_hash = hash_secret(password) if needs_rehash(attempt.stored_hash) else None
        session_id = str(uuid.uuid4())
        secret = secrets.token_urlsafe(32)
        with sessions.begin() as db:
            db.execute(delete(LoginThrottle).where(LoginThrottle.key == attempt.throttle_key))
            user = db.get(User, attempt.user_id)
            if user is None:
                raise ApiError("LOGIN_FAILED")
            reason: str | None = None
            if user.status in INACTIVE:
                status = user.status
                if status == AccountStatus.REJECTED:  # the applicant, having proved the password, learns why
                    reason = db.scalar(
                        select(CounterLogEntry.reason)
                        .where(CounterLogEntry.user_id == user.id, CounterLogEntry.action == "reject")
                        .order_by(CounterLogEntry.id.desc())
                        .limit(1)
                    )
            else:
                status = None
                if new_hash is not None and user.password_hash == attempt.stored_hash:
                    user.password_hash = new_hash
                db.add(
                    Session(
                        id=session_id,
                        user_id=user.id,
                        refresh_hash=_digest(secret),
                        created_at=now(),
                        expires_at=now() + timedelta(seconds=self.settings.refresh_token_seconds),
                    )
                )
        if status == AccountStatus.REJECTED:
            raise ApiError("ACCOUNT_REJECTED", {"reason": reason or ""})
        if status is not None:
            raise ApiError("ACCOUNT_NOT_ACTIVE")
        log.info("login ok for %s (%s)", attempt.pseudonym, user.role)
        return self._tokens(user, session_id, secret)

    # -- refresh -----------------------------------------------------------------------
    def _successor(self, session_id: str, secret: str) -> str:
        """The secret that follows ``secret`` (derivable again during the grace window, never guessable)."""
        mac = hmac.new(self._secret, f"refresh|{session_id}|{secret}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")

    def refresh(self, sessions: sessionmaker[DbSession], refresh_token: str) -> Tokens:
        session_id, _, secret = refresh_token.partition(".")
        if not (session_id and secret and refresh_token.isascii()):
            raise ApiError("TOKEN_INVALID")
        digest, successor = _digest(secret), self._successor(session_id, secret)
        moment = now()
        failure: str | None = None
        with sessions.begin() as db:
            session = db.scalar(select(Session).where(Session.id == session_id).with_for_update())
            user = db.get(User, session.user_id) if session is not None else None
            if session is None or user is None:
                failure = "TOKEN_INVALID"
            elif session.revoked_at is not None:
                failure = "TOKEN_REUSED" if session.revoked_reason == "reuse" else "TOKEN_INVALID"
            elif aware(session.expires_at) <= moment:  # type: ignore[operator]
                failure = "TOKEN_EXPIRED"
            elif hmac.compare_digest(session.refresh_hash, digest):
                session.previous_hash, session.refresh_hash, session.rotated_at = digest, _digest(successor), moment
            elif self._within_grace(session, digest, successor, moment):
                pass  # the other tab's refresh a moment ago: hand out the same successor
            else:
                session.revoked_at, session.revoked_reason = moment, "reuse"
                failure = "TOKEN_REUSED"
            if failure is None and user is not None and user.status in INACTIVE:
                failure = "ACCOUNT_NOT_ACTIVE"
        if failure is not None:
            if failure == "TOKEN_REUSED" and user is not None:
                log.warning(
                    "refresh token reused after its grace: session of %s closed", self.pseudonym(user.public_id)
                )
            raise ApiError(failure)
        assert session is not None and user is not None
        return self._tokens(user, session.id, successor)

    def _within_grace(self, session: Session, digest: str, successor: str, moment: datetime) -> bool:
        rotated = aware(session.rotated_at)
        return (
            session.previous_hash is not None
            and rotated is not None
            and hmac.compare_digest(session.previous_hash, digest)
            and hmac.compare_digest(session.refresh_hash, _digest(successor))
            and moment - rotated <= timedelta(seconds=self.settings.refresh_grace_seconds)
        )

    def logout(self, sessions: sessionmaker[DbSession], session_id: str, user_id: int) -> None:
        """Closes ``user_id``'s session: its access and refresh tokens stop working at once."""
        with sessions.begin() as db:
            db.execute(
                update(Session)
                .where(Session.id == session_id, Session.user_id == user_id, Session.revoked_at.is_(None))
                .values(revoked_at=now(), revoked_reason="logout")
            )

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
    def subject(self, bearer: str) -> str | None:
        """The verified ``sub`` of an access token, without the database (for rate limits and logs)."""
        try:
            claims = self._claims(bearer)
        except ApiError:
            return None
        return str(claims["sub"])

    def _claims(self, bearer: str) -> dict[str, object]:
        if not bearer.isascii():  # a JWT is ASCII; anything else is not one of ours (finding 20)
            raise ApiError("TOKEN_INVALID")
        try:
            claims: dict[str, object] = jwt.decode(
                bearer, self._secret, algorithms=["HS256"], options={"require": ["exp", "sub", "sid", "role"]}
            )
        except jwt.ExpiredSignatureError:
            raise ApiError("TOKEN_EXPIRED") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise ApiError("TOKEN_INVALID") from None
        if claims.get("typ") != "access":
            raise ApiError("TOKEN_INVALID")
        return claims

    def principal(self, db: DbSession, bearer: str) -> tuple[Principal, User]:
        """The member a bearer token names, if its session is live: one query for the session and its member.

        Every request runs this; a session and a member read one after the other cost a second
        round trip on PostgreSQL (issue 17's profile: authentication was ~8% of a worker's
        CPU under 32 paying residents). The member is returned as loaded: the session's identity
        map holds it only weakly, so a later ``db.get(User, …)`` would have read it again.
        """
        claims = self._claims(bearer)
        row = db.execute(_LIVE_SESSION_MEMBER, {"sid": str(claims["sid"])}).first()
        if row is None:
            raise ApiError("TOKEN_INVALID")
        user, revoked_at = row
        if revoked_at is not None or user.public_id != claims["sub"]:
            raise ApiError("TOKEN_INVALID")
        if user.status in INACTIVE:
            raise ApiError("ACCOUNT_NOT_ACTIVE")
        return Principal(user.id, user.public_id, user.role, str(claims["sid"])), user
