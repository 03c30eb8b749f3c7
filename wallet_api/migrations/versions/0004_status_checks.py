"""every stored status and kind is checked by the database (issue 16)

The wallet's statuses became enums (``wallet_api/statuses.py``); each column gets a CHECK
constraint with the same values, so no writer (a bug, a hand-typed SQL fix) can store a
state the code does not know. The values are written out here, not imported: this
revision must mean the same thing after the enums change (a later revision widens them).
Stored text is unchanged. On SQLite the tables are rebuilt (batch mode); on PostgreSQL the
constraints are added in place, and either refuses to upgrade a database holding a value
outside the lists.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CHECKS: dict[str, dict[str, tuple[str, ...]]] = {
    "users": {
        "role": ("resident", "merchant", "officer"),
        "status": ("pending", "approving", "active", "rejected", "suspended"),
    },
    "operations": {
        "kind": ("register", "attest", "thank", "pay", "refund", "settle", "charge"),
        "status": ("accepted", "signed", "sent", "confirmed", "failed", "linked"),
    },
    "payment_requests": {
        "status": ("open", "confirming", "paying", "paid", "review", "declined", "cancelled", "expired"),
    },
    "claims": {
        "status": ("pending", "approving", "granted", "rejected", "failed"),
    },
}


def _condition(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, values in columns.items():
                batch_op.create_check_constraint(f"ck_{table}_{column}", _condition(column, values))


def downgrade() -> None:
    for table, columns in reversed(CHECKS.items()):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(columns):
                batch_op.drop_constraint(f"ck_{table}_{column}", type_="check")
