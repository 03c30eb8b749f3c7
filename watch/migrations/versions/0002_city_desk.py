"""watch-over for the city (issue 19): watch mode, batch places for coverage, rules, shares, the access trail

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("watching", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("label", sa.String(length=40), nullable=False, server_default=""))
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("watching", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("district", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("hour", sa.SmallInteger(), nullable=True))
    op.create_index("ix_batches_district_hour", "batches", ["received_at", "district", "hour"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("share_outside", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hours", sa.String(length=100), nullable=False),
        sa.Column("max_minutes_per_day", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "shares",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("alert", sa.String(length=36), sa.ForeignKey("alerts.id"), nullable=False, index=True),
        sa.Column("granted_to", sa.String(length=80), nullable=False),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "access_log",
        sa.Column("id", BIG, primary_key=True),
        sa.Column("at", sa.BigInteger(), nullable=False, index=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("access_log")
    op.drop_table("shares")
    op.drop_table("rules")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("share_outside")
    op.drop_index("ix_batches_district_hour", table_name="batches")
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("hour")
        batch.drop_column("district")
        batch.drop_column("watching")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("label")
        batch.drop_column("watching")
