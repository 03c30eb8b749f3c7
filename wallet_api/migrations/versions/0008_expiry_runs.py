"""expiry (issue 20): the monthly sweep of expired points, one row per month; the sweep's operation kind

``expiry_runs`` holds one row per month that ended (``YYYY-MM``, JST): the accounts with
expired points frozen when the run started (so every batch is the same list whoever
resumes it), the batches' outbox operations, what they burned and when the run finished.
The CHECK on ``operations.kind`` (0004, widened by 0005) gains ``expiry-sweep``; the values
are written out here, as in 0004 and 0005.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KINDS_BEFORE = (
    *("register", "attest", "thank", "pay", "refund", "settle", "charge"),
    *("help-post", "help-choose", "help-complete", "help-withdraw", "help-cancel", "help-step-back"),
    *("help-dispute", "help-expire", "help-resolve", "help-remove", "help-suspend"),
)
KINDS_AFTER = (*KINDS_BEFORE, "expiry-sweep")
RUN_STATES = ("running", "finished")


def _condition(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _kinds(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_constraint("ck_operations_kind", type_="check")
        batch_op.create_check_constraint("ck_operations_kind", _condition("kind", values))


def upgrade() -> None:
    _kinds(KINDS_AFTER)
    op.create_table(
        "expiry_runs",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("month_index", sa.Integer(), nullable=False),
        sa.Column("from_month", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accounts", sa.JSON(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("operation_ids", sa.JSON(), nullable=False),
        sa.Column("accounts_swept", sa.Integer(), nullable=True),
        sa.Column("points_swept", sa.BigInteger(), nullable=True),
        sa.Column("tx_hashes", sa.JSON(), nullable=True),
        sa.CheckConstraint(_condition("state", RUN_STATES), name="ck_expiry_runs_state"),
        sa.PrimaryKeyConstraint("month"),
    )


def downgrade() -> None:
    op.drop_table("expiry_runs")
    op.execute("DELETE FROM operations WHERE kind = 'expiry-sweep'")
    _kinds(KINDS_BEFORE)
    op.execute("DELETE FROM wallet_meta WHERE name = 'expiry_notices_day'")
