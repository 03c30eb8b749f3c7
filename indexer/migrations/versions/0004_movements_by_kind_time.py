"""movements indexed by kind and time

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 22:00:00

Issue 21: the explorer's local hops per month (shop/business → shop/business, shop/business →
resident rewards) group a few kinds' movements by JST month. With (kind, timestamp, amount)
the database reads only those kinds' rows, from the index alone, however many payments,
thanks and grants there are.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.create_index("ix_movements_kind_time", ["kind", "timestamp", "amount"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE movements")


def downgrade() -> None:
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.drop_index("ix_movements_kind_time")
