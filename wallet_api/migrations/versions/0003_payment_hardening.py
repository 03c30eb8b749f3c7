"""payment review states, idempotency digests, spending limits (issue 15)

- ``payment_requests.review_reason``: a request whose on-chain record does not match what
  was asked (another payer or amount) is held for review instead of shown as paid.
- ``operations.sent_at`` / ``broadcasts``: when a raw transaction was last handed to the
  node and how many times, so one still without a receipt is re-broadcast.
- ``cards.max_amount`` / ``payment_codes.max_amount``: the resident's limit per card or
  code; a larger charge waits for the resident's confirmation.
- ``payment_requests.payer_id`` gets an index (a resident's charges awaiting confirmation).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_reason", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_payment_requests_payer_status", ["payer_id", "status"])
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("broadcasts", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_amount", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("payment_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_amount", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_codes", schema=None) as batch_op:
        batch_op.drop_column("max_amount")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_column("max_amount")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_column("broadcasts")
        batch_op.drop_column("sent_at")
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_requests_payer_status")
        batch_op.drop_column("review_reason")
