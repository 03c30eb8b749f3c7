"""the city counter (issue 20): people's search keys, blocked cards, PIN-pad entries, reset codes, the counter log

``person_keys``: keyed hashes (HMAC under the wallet's token secret) of a person's normalised
name, name + birth date and name + address, so the counter finds a person and sign-up spots a
likely duplicate without opening any sealed record. ``cards.blocked_at``: a lost card is blocked
at once and refused at every till. ``pin_entries``: a PIN typed by the resident on the PIN pad
goes straight to the server against this one-time entry; the officer never sees it.
``reset_codes``: a one-time code printed on paper to set a new app password. ``counter_log``:
every privileged action at the counter with the officer, the resident and the reason.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_keys",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("name_key", sa.String(length=64), nullable=False, index=True),
        sa.Column("name_dob_key", sa.String(length=64), nullable=False, index=True),
        sa.Column("name_address_key", sa.String(length=64), nullable=False, index=True),
        sa.Column("dob_key", sa.String(length=64), nullable=False, index=True),
    )
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "pin_entries",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("officer_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "reset_codes",
        sa.Column("code_hash", sa.String(length=64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("officer_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "counter_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("officer_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True, index=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("counter_log")
    op.drop_table("reset_codes")
    op.drop_table("pin_entries")
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("blocked_at")
    op.drop_table("person_keys")
