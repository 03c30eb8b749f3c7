"""recovery at the counter (issue 20): a lost account replaced by a new key, the wallet following each step

``recoveries``: one row per recovery of a member's lost account: the new address and its key
(sealed like every custodial key), who started it and why, and its state as the chain moves —
prepared (the new key made at the counter), recovered (the registry replaced the account: the
member's record now holds the new address and key), done (the points moved with their expiry).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recoveries",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("lost_address", sa.String(length=42), nullable=False),
        sa.Column("new_address", sa.String(length=42), nullable=False, unique=True),
        sa.Column("sealed_new_key", sa.LargeBinary(), nullable=False),
        sa.Column("officer_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("recoveries")
