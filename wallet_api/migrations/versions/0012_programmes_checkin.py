"""programmes, claim evidence and event check-in (issue 21)

A placeholder the feature fills in; until then it changes nothing.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
