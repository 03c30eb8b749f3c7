"""watch-over store (issue 19): devices, wards (sealed tag secrets), accepted batches, sightings, alerts, volunteer days

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("owner", sa.String(length=64), nullable=False, index=True),
        sa.Column("owner_address", sa.String(length=42), nullable=True, index=True),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("enrolled_at", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=True),
        sa.Column("last_lat", sa.Float(), nullable=True),
        sa.Column("last_lon", sa.Float(), nullable=True),
    )
    op.create_table(
        "wards",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("family", sa.String(length=64), nullable=False, index=True),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("registered_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "batches",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(length=64), sa.ForeignKey("devices.id"), nullable=False, index=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False, index=True),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("outside", sa.Integer(), nullable=False),
        sa.UniqueConstraint("device", "seq", name="uq_batches_device_seq"),
    )
    op.create_table(
        "sightings",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("ward", sa.String(length=36), sa.ForeignKey("wards.id"), nullable=False, index=True),
        sa.Column("at", sa.BigInteger(), nullable=False, index=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("batch", BIG, sa.ForeignKey("batches.id"), nullable=False),
    )

    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("ward", sa.String(length=36), sa.ForeignKey("wards.id"), nullable=False, index=True),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("raised_by", sa.String(length=64), nullable=False),
        sa.Column("raised_at", sa.BigInteger(), nullable=False),
        sa.Column("cleared_by", sa.String(length=64), nullable=True),
        sa.Column("cleared_at", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "volunteer_days",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.UniqueConstraint("address", "day", name="uq_volunteer_days_address_day"),
    )


def downgrade() -> None:
    op.drop_table("volunteer_days")
    op.drop_table("alerts")
    op.drop_table("sightings")
    op.drop_table("batches")
    op.drop_table("wards")
    op.drop_table("devices")
