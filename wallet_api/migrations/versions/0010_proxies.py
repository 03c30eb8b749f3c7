"""proxies (代理, issue 20): a family member or carer acting for a resident within limits, every action attributed

``proxies``: who may act for whom (both members of this wallet), what they may do (``scopes``:
balance, pay, thanks, help, card), the most points they may move for them a day, the officer who
checked it at the counter and why, and when it was revoked and by whom. ``proxy_actions``: each
action taken under a proxy, with its points and the outbox operation it became.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proxies",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("principal_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("proxy_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("daily_limit", sa.BigInteger(), nullable=False),
        sa.Column("relationship", sa.String(length=40), nullable=False),
        sa.Column("checked_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
    )
    op.create_table(
        "proxy_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("proxy_link", sa.String(length=36), sa.ForeignKey("proxies.id"), nullable=False, index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("operation_id", sa.String(length=100), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("proxy_actions")
    op.drop_table("proxies")
