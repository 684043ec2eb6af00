"""merge the accounts (0002) and activity rollup (0003) branches, developed side by side

Revision ID: 0004
Revises: 0002, 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

revision = "0004"
down_revision = ("0002", "0003")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
