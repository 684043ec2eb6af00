"""metric rollups: pre-aggregated buckets for the dashboard

Hourly and daily rows per dimension combination (see store.rollup_tables), kept current by the
writer. Existing observations are rolled up here, so an upgraded database answers from the first
request.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_DIMENSIONS = (
    ("model", sa.String(length=200)),
    ("provider", sa.String(length=100)),
    ("name", sa.Text()),
    ("type", sa.String(length=16)),
    ("environment", sa.String(length=100)),
    ("release", sa.String(length=100)),
    ("prompt_name", sa.String(length=200)),
    ("prompt_version", sa.Integer()),
)
_COUNTERS = (
    "span_count",
    "refusal_count",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "total_tokens",
    "cost_nanos",
    "priced_count",
    "latency_count",
    "latency_sum_us",
    "ttft_count",
    "ttft_sum_us",
    *(f"lat_{i:02d}" for i in range(64)),
    *(f"ttft_{i:02d}" for i in range(64)),
)


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("grain_us", sa.BigInteger(), nullable=False),
        sa.Column("bucket_us", sa.BigInteger(), nullable=False),
        sa.Column("dims_key", sa.String(length=32), nullable=False),
        *(sa.Column(name, kind, nullable=True) for name, kind in _DIMENSIONS),
        sa.Column("is_error", sa.Boolean(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in _COUNTERS),
        sa.PrimaryKeyConstraint(
            "project_id", "grain_us", "bucket_us", "dims_key", name=op.f("pk_metric_rollups")
        ),
    )
    # The writer's own code computes histogram bins and refusals, so the backfill reuses it.
    from contrail.store.metric_rollups import rebuild_all

    rebuild_all(op.get_bind())


def downgrade() -> None:
    op.drop_table("metric_rollups")
