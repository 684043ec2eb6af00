"""observations: a partial index for "calls made with prompt X version N"

The prompt pages' per-version panel (latency, cost, scores of the calls a version produced) read all of
a project's observations without it. Partial (prompt_name IS NOT NULL), so spans without a prompt,
most of them, cost nothing more at ingest.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_WHERE = sa.text("prompt_name IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_observations_prompt",
        "observations",
        ["project_id", "prompt_name", "prompt_version", "start_us"],
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_observations_prompt", table_name="observations")
