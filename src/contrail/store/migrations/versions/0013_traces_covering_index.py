"""traces: the (project, start, trace) index also covers counts, cost, latency, tokens, user and session

The dashboard's trace-level panels (summary, top users, latency by user) aggregate every trace in the
range; through the narrow index SQLite visited each wide row (150-280 ms for 100k traces). Widening the
index the trace list already walks makes those scans index-only without adding an index to maintain.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COVERED = [
    "project_id",
    "start_us",
    "trace_id",
    "observation_count",
    "duration_us",
    "total_cost_nanos",
    "total_tokens",
    "error_count",
    "user_id",
    "session_id",
]


def upgrade() -> None:
    op.create_index("ix_traces_project_start_covering", "traces", _COVERED)
    op.drop_index("ix_traces_project_id_start_us_trace_id", table_name="traces")


def downgrade() -> None:
    op.create_index(
        "ix_traces_project_id_start_us_trace_id", "traces", ["project_id", "start_us", "trace_id"]
    )
    op.drop_index("ix_traces_project_start_covering", table_name="traces")
