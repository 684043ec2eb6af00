"""trace rollups: hourly and daily trace counts, cost and duration histograms per metadata segment

The dashboard's trace summary sorted every trace duration of the range and its metadata segments read
each trace's JSON; both now add up a few rollup rows (see store.rollup_tables). Existing traces are
rolled up here, so an upgraded database answers from the first request.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_COUNTERS = (
    "trace_count",
    "error_traces",
    "cost_nanos",
    "duration_count",
    "duration_sum_us",
    *(f"lat_{i:02d}" for i in range(64)),
)


def upgrade() -> None:
    op.create_table(
        "trace_rollups",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("segment", sa.String(length=110), nullable=False),
        sa.Column("grain_us", sa.BigInteger(), nullable=False),
        sa.Column("bucket_us", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        *(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in _COUNTERS),
        sa.PrimaryKeyConstraint(
            "project_id",
            "segment",
            "grain_us",
            "bucket_us",
            "value",
            "environment",
            name=op.f("pk_trace_rollups"),
        ),
        sqlite_with_rowid=False,
    )
    # The writer's own fold computes segments and histogram bins, so the backfill reuses it.
    from contrail.store.trace_rollups import rebuild_all

    rebuild_all(op.get_bind())


def downgrade() -> None:
    op.drop_table("trace_rollups")
