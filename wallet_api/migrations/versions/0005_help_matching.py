"""help matching (issue 18): requests, offers, coordinators' links and trail; the help operation kinds

``help_requests`` keeps each request's public part (district, task type, window, thanks)
and its private part (details, exact place), shown only to the requester and the chosen
helper; ``help_offers`` the neighbours' offers (off-chain). The CHECK on
``operations.kind`` (0004) is widened to the four new kinds; the values are written out
here, as in 0004. ``users.role`` gains ``coordinator``; ``help_links`` records which
coordinator may act for which resident and how the resident consented; ``help_actions``
records every action taken for someone else (coordinators) or as the city (moderation);
``help_blocks`` and ``help_reports`` are residents' blocks of one another and their reports.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KINDS_BEFORE = ("register", "attest", "thank", "pay", "refund", "settle", "charge")
KINDS_AFTER = (
    *KINDS_BEFORE,
    *("help-post", "help-choose", "help-complete", "help-withdraw", "help-cancel", "help-step-back"),
    *("help-dispute", "help-expire", "help-resolve", "help-remove", "help-suspend"),
)
HELP_STATUSES = ("posting", "open", "matched", "completed", "withdrawn", "failed", "cancelled", "expired", "disputed",
                 "resolved", "removed")  # fmt: skip
ROLES_BEFORE = ("resident", "merchant", "officer")
ROLES_AFTER = (*ROLES_BEFORE, "coordinator")
CONSENTS = ("card_pin", "in_app")


def _condition(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _kinds(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_constraint("ck_operations_kind", type_="check")
        batch_op.create_check_constraint("ck_operations_kind", _condition("kind", values))


def _roles(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("ck_users_role", type_="check")
        batch_op.create_check_constraint("ck_users_role", _condition("role", values))


def upgrade() -> None:
    _kinds(KINDS_AFTER)
    _roles(ROLES_AFTER)
    op.create_table(
        "help_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("task_type", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=40), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("thanks", sa.BigInteger(), nullable=False),
        sa.Column("details", sa.String(length=500), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("details_salt", sa.String(length=34), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=True),
        sa.Column("helper_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_by_id", sa.Integer(), nullable=True),
        sa.Column("thank_message", sa.String(length=200), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.CheckConstraint(_condition("status", HELP_STATUSES), name="ck_help_requests_status"),
        sa.ForeignKeyConstraint(["posted_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["requester_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["helper_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["operation_id"], ["operations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id"),
    )
    op.create_index("ix_help_requests_requester_id", "help_requests", ["requester_id"])
    op.create_index("ix_help_requests_status_district", "help_requests", ["status", "district", "starts_at"])
    op.create_table(
        "help_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("helper_id", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["help_requests.id"]),
        sa.ForeignKeyConstraint(["helper_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "helper_id", name="uq_help_offers_request_helper"),
    )
    op.create_index("ix_help_offers_request_id", "help_offers", ["request_id"])
    op.create_table(
        "help_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coordinator_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("consent", sa.String(length=16), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(_condition("consent", CONSENTS), name="ck_help_links_consent"),
        sa.ForeignKeyConstraint(["coordinator_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["resident_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["revoked_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("coordinator_id", "resident_id", name="uq_help_links_pair"),
    )
    op.create_index("ix_help_links_coordinator_id", "help_links", ["coordinator_id"])
    op.create_index("ix_help_links_resident_id", "help_links", ["resident_id"])
    op.create_table(
        "help_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["resident_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_help_actions_actor_id", "help_actions", ["actor_id"])
    op.create_index("ix_help_actions_resident_id", "help_actions", ["resident_id"])
    op.create_table(
        "help_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blocker_id", sa.Integer(), nullable=False),
        sa.Column("blocked_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["blocker_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["blocked_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("blocker_id", "blocked_id", name="uq_help_blocks_pair"),
    )
    op.create_index("ix_help_blocks_blocker_id", "help_blocks", ["blocker_id"])
    op.create_index("ix_help_blocks_blocked_id", "help_blocks", ["blocked_id"])
    op.create_table(
        "help_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("reported_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["reported_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["handled_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_help_reports_reported_id", "help_reports", ["reported_id"])


def downgrade() -> None:
    op.drop_index("ix_help_reports_reported_id", table_name="help_reports")
    op.drop_table("help_reports")
    op.drop_index("ix_help_blocks_blocked_id", table_name="help_blocks")
    op.drop_index("ix_help_blocks_blocker_id", table_name="help_blocks")
    op.drop_table("help_blocks")
    op.drop_index("ix_help_actions_resident_id", table_name="help_actions")
    op.drop_index("ix_help_actions_actor_id", table_name="help_actions")
    op.drop_table("help_actions")
    op.drop_index("ix_help_links_resident_id", table_name="help_links")
    op.drop_index("ix_help_links_coordinator_id", table_name="help_links")
    op.drop_table("help_links")
    op.drop_index("ix_help_offers_request_id", table_name="help_offers")
    op.drop_table("help_offers")
    op.drop_index("ix_help_requests_status_district", table_name="help_requests")
    op.drop_index("ix_help_requests_requester_id", table_name="help_requests")
    op.drop_table("help_requests")
    _roles(ROLES_BEFORE)
    _kinds(KINDS_BEFORE)
