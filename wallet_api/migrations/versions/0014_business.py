"""business accounts, B2B payments and business programmes (issue 21)

Points that stay local: the CHECK on ``operations.kind`` (0004, widened by 0005 and 0008)
gains the four kinds a shop's local-circulation operations use (values written out, as in
0004, 0005 and 0008); ``business_accounts`` (businesses the city registered from the officer
desk, by public name and address), ``business_transfers`` (B2B payments and rewards a shop
sent, each with its operation) and ``business_programmes`` (a shop's own programmes).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

KINDS_BEFORE = (
    *("register", "attest", "thank", "pay", "refund", "settle", "charge"),
    *("help-post", "help-choose", "help-complete", "help-withdraw", "help-cancel", "help-step-back"),
    *("help-dispute", "help-expire", "help-resolve", "help-remove", "help-suspend"),
    "expiry-sweep",
)
KINDS_AFTER = (*KINDS_BEFORE, "b2b-pay", "biz-reward", "biz-programme", "biz-attest")


def _condition(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _kinds(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_constraint("ck_operations_kind", type_="check")
        batch_op.create_check_constraint("ck_operations_kind", _condition("kind", values))


def upgrade() -> None:
    _kinds(KINDS_AFTER)
    op.create_table(
        "business_accounts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("registered_by", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["registered_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["operation_id"], ["operations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("address"),
        sa.UniqueConstraint("code"),
        sa.UniqueConstraint("operation_id"),
    )
    op.create_index("ix_business_accounts_name", "business_accounts", ["name"])
    op.create_table(
        "business_programmes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("points_per_claim", sa.BigInteger(), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("next_claim", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["operation_id"], ["operations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("operation_id"),
    )
    op.create_index("ix_business_programmes_owner_id", "business_programmes", ["owner_id"])
    op.create_table(
        "business_transfers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=42), nullable=False),
        sa.Column("to_user_id", sa.Integer(), nullable=True),
        sa.Column("to_name", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=32), nullable=False),
        sa.Column("programme_id", sa.String(length=36), nullable=True),
        sa.Column("claim_id", sa.BigInteger(), nullable=True),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["payer_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["to_user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["programme_id"], ["business_programmes.id"]),
        sa.ForeignKeyConstraint(["operation_id"], ["operations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("operation_id"),
    )
    for column in ("payer_id", "to_address", "to_user_id", "created_at"):
        op.create_index(f"ix_business_transfers_{column}", "business_transfers", [column])


def downgrade() -> None:
    op.drop_table("business_transfers")
    op.drop_table("business_programmes")
    op.drop_index("ix_business_accounts_name", table_name="business_accounts")
    op.drop_table("business_accounts")
    _kinds(KINDS_BEFORE)
