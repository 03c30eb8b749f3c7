"""programmes, claim evidence and event check-in (issue 21)

``programme_rules``: the city's plain-words description of an on-chain programme, its kind
(eco, volunteer, watch, help, other) and whether a claim needs a photo. ``claim_photos``:
evidence photos, sealed under the KEK like personal records, each attached to at most one
claim. ``claim_photo_views``: every showing of a photo to an officer. ``claim_decisions``:
an officer's reason (a rejection's is shown to the resident). ``programme_events`` and
``event_checkins``: events whose signed QR residents scan, and one attendance per resident
and event (unique pair), each paid by its own claim.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CATEGORIES = ("eco", "volunteer", "watch", "help", "other")  # written out: this revision must not change later
EVIDENCE = ("note", "photo")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "programme_rules",
        sa.Column("programme_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.String(length=16), nullable=False),
        sa.Column("description_ja", sa.String(length=300), nullable=False),
        sa.Column("description_en", sa.String(length=300), nullable=False),
        sa.Column("updated_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("category", CATEGORIES), name="ck_programme_rules_category"),
        sa.CheckConstraint(_in("evidence", EVIDENCE), name="ck_programme_rules_evidence"),
    )
    op.create_table(
        "claim_photos",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("claim_id", sa.Integer(), sa.ForeignKey("claims.id"), nullable=True, unique=True),
        sa.Column("media_type", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "claim_photo_views",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("claim_id", sa.Integer(), sa.ForeignKey("claims.id"), nullable=False, index=True),
        sa.Column("officer_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("viewed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "claim_decisions",
        sa.Column("claim_id", sa.Integer(), sa.ForeignKey("claims.id"), primary_key=True, autoincrement=False),
        sa.Column("officer_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "programme_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("public_id", sa.String(length=36), nullable=False, unique=True),
        sa.Column("programme_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "event_checkins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("programme_events.id"), nullable=False, index=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("claim_id", sa.Integer(), sa.ForeignKey("claims.id"), nullable=False, unique=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", "user_id", name="uq_event_checkins_event_user"),
    )


def downgrade() -> None:
    op.drop_table("event_checkins")
    op.drop_table("programme_events")
    op.drop_table("claim_decisions")
    op.drop_table("claim_photo_views")
    op.drop_table("claim_photos")
    op.drop_table("programme_rules")
