"""Migration 0004: every stored status and kind is checked by the database, on SQLite and PostgreSQL.

A database with rows from before (0003) upgrades in place keeping them; afterwards a value
outside the enums is refused whoever writes it (here: plain SQL, as a hand-made fix
would); downgrading lifts the constraints again. The migration's value lists are the
enums' values today.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from tests.wallet_support import database_url
from wallet_api import statuses
from wallet_api.db.engine import alembic_config, make_engine

checks = importlib.import_module("wallet_api.migrations.versions.0004_status_checks").CHECKS
help_matching = importlib.import_module("wallet_api.migrations.versions.0005_help_matching")
expiry_runs = importlib.import_module("wallet_api.migrations.versions.0008_expiry_runs")
business = importlib.import_module("wallet_api.migrations.versions.0014_business")
business_members = importlib.import_module("wallet_api.migrations.versions.0016_business_members")

ROWS = [
    "INSERT INTO users (id, public_id, login, role, status, password_hash, short_code, failed_logins, created_at)"
    " VALUES (1, 'u1', 'alice', 'resident', 'approving', 'x', 'AAAA2222', 0, '2026-01-01 00:00:00')",
    "INSERT INTO operations (id, user_id, idempotency_key, request_hash, kind, sender, target, calldata, summary,"
    " status, attempts, created_at, updated_at, broadcasts) VALUES ('op1', 1, 'k', 'h', 'register', '0x1', '0x2',"
    " :blob, '{}', 'sent', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)",
    "INSERT INTO payment_requests (id, merchant_id, request_id, amount, status, refunded, created_at, expires_at)"
    " VALUES ('pr1', 1, '0x01', 5, 'confirming', 0, '2026-01-01 00:00:00', '2026-01-01 00:05:00')",
    "INSERT INTO claims (id, public_id, user_id, programme_id, units, evidence, status, created_at)"
    " VALUES (1, 'c1', 1, 1, 1, 'river bank', 'granted', '2026-01-01 00:00:00')",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield database_url(request.param, tmp_path)


def _write(engine: Engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), {"blob": b"\x00"} if ":blob" in sql else {})


def test_0004_keeps_the_rows_and_refuses_unknown_statuses(database: str) -> None:
    config = alembic_config(database)
    command.upgrade(config, "0003")
    engine = make_engine(database)
    try:
        for row in ROWS:
            _write(engine, row)
        engine.dispose()
        command.upgrade(config, "head")

        with engine.connect() as conn:
            kept = conn.execute(
                text(
                    "SELECT u.status, o.status, p.status, c.status FROM users u, operations o, payment_requests p,"
                    " claims c"
                )
            ).one()
        assert tuple(kept) == ("approving", "sent", "confirming", "granted")
        names = {table: {c["name"] for c in inspect(engine).get_check_constraints(table)} for table in checks}
        assert names == {t: {f"ck_{t}_{c}" for c in columns} for t, columns in checks.items()}
        assert "ix_users_status" in {i["name"] for i in inspect(engine).get_indexes("users")}  # rebuilt on SQLite

        for sql in (
            "UPDATE users SET role = 'admin'",
            "UPDATE users SET status = 'aproving'",
            "UPDATE operations SET kind = 'mint'",
            "UPDATE operations SET status = 'lost'",
            "UPDATE payment_requests SET status = 'refunded'",
            "UPDATE claims SET status = 'paid'",
        ):
            with pytest.raises(IntegrityError, match="ck_"):
                _write(engine, sql)
        _write(engine, "UPDATE claims SET status = 'failed'")  # a listed value is fine
        engine.dispose()

        command.downgrade(config, "0003")
        _write(engine, "UPDATE users SET status = 'aproving'")  # the constraints are gone again
    finally:
        engine.dispose()


def test_the_migration_lists_the_enums_values() -> None:
    enums = {
        ("users", "role"): statuses.Role,
        ("users", "status"): statuses.AccountStatus,
        ("operations", "kind"): statuses.OperationKind,
        ("operations", "status"): statuses.OperationStatus,
        ("payment_requests", "status"): statuses.PaymentRequestStatus,
        ("claims", "status"): statuses.ClaimStatus,
        ("help_requests", "status"): statuses.HelpStatus,
        ("help_links", "consent"): statuses.ConsentMethod,
    }
    listed = {(t, c): set(values) for t, columns in checks.items() for c, values in columns.items()}
    listed[("operations", "kind")] = set(help_matching.KINDS_AFTER)  # widened by 0005 (issue 18)
    listed[("operations", "kind")] = set(expiry_runs.KINDS_AFTER)  # the monthly sweep (0008, issue 20)
    listed[("operations", "kind")] = set(business.KINDS_AFTER)  # points that stay local (0014, issue 21)
    listed[("help_requests", "status")] = set(help_matching.HELP_STATUSES)
    listed[("users", "role")] = set(help_matching.ROLES_AFTER)  # coordinators (0005)
    listed[("users", "role")] = set(business_members.ROLES_AFTER)  # businesses (0016, issue 21)
    listed[("help_links", "consent")] = set(help_matching.CONSENTS)
    assert listed == {key: {m.value for m in enum} for key, enum in enums.items()}
