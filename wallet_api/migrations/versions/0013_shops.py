"""shops (issue 21): shop profiles and applications (bank account sealed), settlements and their payment

``shops``: one row per merchant account: the registered name (set when the city approves),
the name asked for, category, district, opening hours, cards taken, the static QR's
per-payment limit, the application's status and decision, and the sealed bank account.
``shop_settlements``: each settlement request with its outbox operation, and the city's
transfer (date, reference, officer) once paid.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shops",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("name", sa.String(length=80), nullable=True, index=True),
        sa.Column("requested_name", sa.String(length=80), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("district", sa.String(length=40), nullable=False),
        sa.Column("hours", sa.String(length=120), nullable=False),
        sa.Column("takes_cards", sa.Boolean(), nullable=False),
        sa.Column("static_limit", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.String(length=16),
            sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="ck_shops_status"),
            nullable=False,
            index=True,
        ),
        sa.Column("sealed_bank", sa.LargeBinary(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
    )
    op.create_table(
        "shop_settlements",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("merchant_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("operation_id", sa.String(length=36), sa.ForeignKey("operations.id"), nullable=False, unique=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=66), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transfer_date", sa.String(length=10), nullable=True),
        sa.Column("transfer_reference", sa.String(length=40), nullable=True),
        sa.Column("marked_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("shop_settlements")
    op.drop_table("shops")
