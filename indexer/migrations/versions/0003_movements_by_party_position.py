"""movements indexed by party and position

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 16:00:00

Issue 17: an address's history (its page, ``/api`` tokentx) is newest first by (block, log
index). With ``(from_address, block_number)`` and ``(to_address, block_number)`` the database
gathered every movement of a busy merchant and sorted them for one page (≈ 50 ms at a million
movements). Indexed by (party, block, log index), each side is read already in order and
only as far as the page needs.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.drop_index("ix_movements_from")
        batch_op.drop_index("ix_movements_to")
        batch_op.create_index("ix_movements_from_position", ["from_address", "block_number", "log_index"])
        batch_op.create_index("ix_movements_to_position", ["to_address", "block_number", "log_index"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE movements")


def downgrade() -> None:
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.drop_index("ix_movements_to_position")
        batch_op.drop_index("ix_movements_from_position")
        batch_op.create_index("ix_movements_from", ["from_address", "block_number"])
        batch_op.create_index("ix_movements_to", ["to_address", "block_number"])
