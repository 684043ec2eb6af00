"""observations: index errors instead of types

With a (project, type, start) index SQLite walked every generation newest-first to answer "model X,
errors" (0.9-1.5 s at 1M spans). Types are few and common, so a type filter does well on the
start-time index; errors are rare, so (project, is_error, start) answers "tool calls that failed"
or "errors of model X" by reading only errors.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_observations_project_id_type_start_us", table_name="observations")
    op.create_index(
        "ix_observations_project_id_is_error_start_us", "observations", ["project_id", "is_error", "start_us"]
    )


def downgrade() -> None:
    op.drop_index("ix_observations_project_id_is_error_start_us", table_name="observations")
    op.create_index(
        "ix_observations_project_id_type_start_us", "observations", ["project_id", "type", "start_us"]
    )
