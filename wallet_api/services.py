"""Everything a request handler needs, built once per process from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api import storage
from wallet_api.auth import Authenticator
from wallet_api.db.engine import make_engine, make_sessions, migrate
from wallet_api.db.models import Operation, User
from wallet_api.errors import ApiError
from wallet_api.keyring import Keyring, load_keyring
from wallet_api.ledger import Ledger
from wallet_api.pipeline import Pipeline, request_hash
from wallet_api.settings import WalletSettings


@dataclass
class Services:
    settings: WalletSettings
    engine: Engine
    sessions: sessionmaker[DbSession]
    keyring: Keyring
    ledger: Ledger
    auth: Authenticator
    pipeline: Pipeline

    @classmethod
    def build(cls, settings: WalletSettings, create_secrets: bool = False, run_migrations: bool = True) -> Services:
        storage.prepare(settings)  # private files (umask 0077), tightened modes, KEK placement (issue 15)
        if run_migrations:
            migrate(settings.database)
        keyring = load_keyring(settings, create=create_secrets)
        engine = make_engine(settings.database)
        sessions = make_sessions(engine)
        storage.check_kek(sessions, keyring)  # refuses a KEK the database was not sealed under
        ledger = Ledger(settings.rpc_url, settings.deployments_dir)
        pipeline = Pipeline(sessions, ledger, keyring)
        pipeline.watch_commits()
        services = cls(
            settings, engine, sessions, keyring, ledger, Authenticator(settings, keyring.token_secret), pipeline
        )
        from wallet_api import accounts, claims, payments

        for module in (accounts, payments, claims):
            module.register_hooks(services)
        return services

    def close(self) -> None:
        self.pipeline.stop()
        self.engine.dispose()

    def submit(
        self,
        user: User,
        key: str,
        body: dict[str, Any],
        *,
        kind: str,
        sender: str,
        target: str,
        calldata: bytes,
        summary: dict[str, Any],
        before_commit: Callable[[DbSession, Operation], None] | None = None,
    ) -> Operation:
        """Accepts (or finds, for a retry) one operation, sends it, and waits briefly for its receipt."""
        digest = request_hash({"kind": kind, **body})
        with self.sessions() as db:
            found = self.pipeline.existing(db, user.id, key, digest)
        if found is None:
            gas = self.pipeline.precheck(sender, target, calldata)
            try:
                with self.sessions.begin() as db:
                    found = self.pipeline.existing(db, user.id, key, digest)
                    if found is None:
                        op = self.pipeline.add(
                            db,
                            user_id=user.id,
                            key=key,
                            digest=digest,
                            kind=kind,
                            sender=sender,
                            target=target,
                            calldata=calldata,
                            gas=gas,
                            summary=summary,
                        )
                        if before_commit is not None:
                            before_commit(db, op)
                        found = op
            except IntegrityError:  # the same key accepted concurrently by another request
                with self.sessions() as db:
                    found = self.pipeline.find(db, user.id, key)
                if found is None:
                    raise
                if found.request_hash != digest:
                    raise ApiError("IDEMPOTENCY_KEY_REUSED") from None
            self.pipeline.execute(found.id)
        elif found.status in ("accepted", "signed"):  # a retry of something a crash left half-way
            self.pipeline.execute(found.id)
        latest = self.pipeline.wait(found.id, self.settings.confirm_wait_seconds)
        return latest or found


def build_services(settings: WalletSettings | None = None, create_secrets: bool = False) -> Services:
    return Services.build(settings or WalletSettings(), create_secrets=create_secrets)
