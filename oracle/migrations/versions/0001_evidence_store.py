"""the evidence store: accepted batches and verified months

Revision ID: 0001
Revises:
Create Date: 2026-12-03 16:00:00

Issue 17: batches were loose files in an inbox directory and the history a JSON file given
to each settlement; both now live here (see ``oracle/evidence.py``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("digest", sa.String(length=64), nullable=False, unique=True),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=True),
        sa.Column("signature", sa.String(length=100), nullable=True),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("first_time", sa.BigInteger(), nullable=True),
        sa.Column("last_time", sa.BigInteger(), nullable=True),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_batches_first_time", "batches", ["first_time"])
    op.create_index("ix_batches_last_time", "batches", ["last_time"])
    op.create_table(
        "verified_months",
        sa.Column("household_id", sa.String(length=64), primary_key=True),
        sa.Column("month", sa.Integer(), primary_key=True),
        sa.Column("consumption_wh", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("verified_months")
    op.drop_index("ix_batches_last_time", table_name="batches")
    op.drop_index("ix_batches_first_time", table_name="batches")
    op.drop_table("batches")
