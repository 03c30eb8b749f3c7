"""each household's settled months, and each settled period's public totals

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 18:40:00

Issue 21 (My CO2): a resident sees each month's electricity use against the baseline and,
for an excluded month, the reason. The report keeps only the households that earned; these
tables keep every household's result of a settled month (excluded ones with their reason
code) and the period's totals (the city's figures for comparison) with the blocks its grants
were sent in (where the wallet reads the points each household was paid). Both stay inside
the oracle: the wallet reads one household's rows over HTTP with the service token.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "household_months",
        sa.Column("household_id", sa.String(length=64), primary_key=True),
        sa.Column("programme_id", sa.BigInteger(), primary_key=True),
        sa.Column("month", sa.Integer(), primary_key=True),
        sa.Column("consumption_wh", sa.BigInteger(), nullable=True),
        sa.Column("baseline_wh", sa.BigInteger(), nullable=True),
        sa.Column("baseline_source", sa.String(length=40), nullable=False),
        sa.Column("reduction_wh", sa.BigInteger(), nullable=False),
        sa.Column("co2_g", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("leaf_index", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "settled_periods",
        sa.Column("programme_id", sa.BigInteger(), primary_key=True),
        sa.Column("month", sa.Integer(), primary_key=True),
        sa.Column("households_verified", sa.Integer(), nullable=False),
        sa.Column("households_excluded", sa.Integer(), nullable=False),
        sa.Column("reduction_wh", sa.BigInteger(), nullable=False),
        sa.Column("co2_g", sa.BigInteger(), nullable=False),
        sa.Column("first_block", sa.BigInteger(), nullable=True),
        sa.Column("last_block", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("settled_periods")
    op.drop_table("household_months")
