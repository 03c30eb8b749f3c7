"""notices (issue 20): members' notices, their e-mail preference and the mail outbox

``notices`` holds one row per member and event (kind + parameters, unique per member and
``dedupe_key`` so a producer that runs twice adds nothing); ``notice_preferences`` a
member's sealed e-mail address and whether mail is wanted; ``notice_mails`` the outbox of
mails, one per notice, with its fixed Message-ID, attempts and back-off. The chain
follower's cursor (the last block read) is a ``wallet_meta`` row, no table of its own.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MAIL_STATUSES = ("pending", "sent", "refused")


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "dedupe_key", name="uq_notices_user_key"),
    )
    op.create_index("ix_notices_user_id", "notices", ["user_id", "id"])
    op.create_table(
        "notice_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email_enabled", sa.Boolean(), nullable=False),
        sa.Column("sealed_email", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "notice_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"status IN ({', '.join(repr(s) for s in MAIL_STATUSES)})", name="ck_notice_mails_status"),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_notice_mails_user_id", "notice_mails", ["user_id"])
    op.create_index("ix_notice_mails_due", "notice_mails", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_notice_mails_due", table_name="notice_mails")
    op.drop_index("ix_notice_mails_user_id", table_name="notice_mails")
    op.drop_table("notice_mails")
    op.drop_table("notice_preferences")
    op.drop_index("ix_notices_user_id", table_name="notices")
    op.drop_table("notices")
    op.execute("DELETE FROM wallet_meta WHERE name = 'notices_follow_block'")
