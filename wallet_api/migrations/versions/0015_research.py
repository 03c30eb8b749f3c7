"""research attributes, opt-out and the Well-being survey (issue 22)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "research_attributes",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("district", sa.String(16), nullable=False),
        sa.Column("age_band", sa.String(8), nullable=False),
        sa.Column("derived_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "research_preferences",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("opted_out", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "survey_participation",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("year", sa.Integer, nullable=False, index=True),
        sa.Column("district", sa.String(16), nullable=False),
        sa.Column("age_band", sa.String(8), nullable=False),
        sa.Column("answers", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    for table in ("survey_responses", "survey_participation", "research_preferences", "research_attributes"):
        op.drop_table(table)
