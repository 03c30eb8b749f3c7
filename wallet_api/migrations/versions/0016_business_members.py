"""custodial business accounts (issue 21): a business (法人) that is not a shop signs in to the till

``users.role`` gains ``business`` (the CHECK of 0004, widened by 0005; values written out, as
there): a business applies from the till site with a custodial key like any member, the city
approves it on the officer desk, and the wallet registers the address on-chain as kind Business.
``business_members`` holds what the application said in public (the registered name and the
category) and the desk's decision; the representative's name and the business's address are
sealed on the user like a personal record.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ROLES_BEFORE = ("resident", "merchant", "officer", "coordinator")
ROLES_AFTER = (*ROLES_BEFORE, "business")


def _roles(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("ck_users_role", type_="check")
        batch_op.create_check_constraint("ck_users_role", f"role IN ({', '.join(repr(v) for v in values)})")


def upgrade() -> None:
    _roles(ROLES_AFTER)
    op.create_table(
        "business_members",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("business_members")
    _roles(ROLES_BEFORE)
