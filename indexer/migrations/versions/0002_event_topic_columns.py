"""event topics as indexed columns; movements by block

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 14:00:00

Issue 17: ``/api`` getLogs filtered topics by reading the JSON ``topics`` of every event in
range, and nothing indexed ``events.address``; the explorer's running totals need the
movements after a block; the registry's kinds read a contract's events after a position.
Existing rows get their topic columns from ``topics``; PostgreSQL's statistics are
refreshed for the new indexes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SLOTS = range(4)


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        for slot in SLOTS:
            batch_op.add_column(sa.Column(f"topic{slot}", sa.String(length=66), nullable=True))
    events = sa.table("events", sa.column("topics", sa.JSON()), *(sa.column(f"topic{s}", sa.String()) for s in SLOTS))
    op.execute(
        events.update().values({f"topic{slot}": sa.func.lower(events.c.topics[slot].as_string()) for slot in SLOTS})
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_contract_name")
        batch_op.create_index(
            "ix_events_contract_name_position", ["contract", "name", "block_number", "log_index"], unique=False
        )
        batch_op.create_index("ix_events_address_position", ["address", "block_number", "log_index"], unique=False)
        batch_op.create_index("ix_events_topic0_position", ["topic0", "block_number", "log_index"], unique=False)
        batch_op.create_index("ix_events_topic1_block", ["topic1", "block_number"], unique=False)
        batch_op.create_index("ix_events_topic2_block", ["topic2", "block_number"], unique=False)
        batch_op.create_index("ix_events_topic3_block", ["topic3", "block_number"], unique=False)
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.create_index("ix_movements_block", ["block_number", "log_index"], unique=False)
    if op.get_bind().dialect.name == "postgresql":  # SQLite plans by rule, see queries.logs
        op.execute("ANALYZE events")
        op.execute("ANALYZE movements")


def downgrade() -> None:
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.drop_index("ix_movements_block")
    with op.batch_alter_table("events", schema=None) as batch_op:
        for name in ("address_position", "topic0_position", "topic1_block", "topic2_block", "topic3_block"):
            batch_op.drop_index(f"ix_events_{name}")
        batch_op.drop_index("ix_events_contract_name_position")
        batch_op.create_index("ix_events_contract_name", ["contract", "name"], unique=False)
        for slot in SLOTS:
            batch_op.drop_column(f"topic{slot}")
