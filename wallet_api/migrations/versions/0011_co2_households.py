"""My CO2: households enrolled by residents with consent (issue 21)

``co2_households``: a resident's link to a household's meter (the id the city's gateways know),
the consent version they agreed to and when, the salt of the household's public hash, the
city's decision (by whom, when, why) and the withdrawal. ``active_user`` / ``active_household``
are set only while the link is pending or approved: unique, so one live link per resident and
per household. ``co2_household_actions``: every step, with the actor's id and role.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

STATUSES = ("pending", "approved", "rejected", "revoked")


def upgrade() -> None:
    op.create_table(
        "co2_households",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("household_id", sa.String(length=64), nullable=False, index=True),
        sa.Column("meter_ids", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="ck_co2_households_status", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("consent_version", sa.String(length=16), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("active_user", sa.Integer(), nullable=True, unique=True),
        sa.Column("active_household", sa.String(length=64), nullable=True, unique=True),
        sa.Column("decided_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=200), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "co2_household_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "household_link", sa.String(length=36), sa.ForeignKey("co2_households.id"), nullable=False, index=True
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("co2_household_actions")
    op.drop_table("co2_households")
