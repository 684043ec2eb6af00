"""session and user activity rollups

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = (("session_activity", "session_id"), ("user_activity", "user_id"))


def upgrade() -> None:
    for name, key in _TABLES:
        op.create_table(
            name,
            sa.Column("project_id", sa.String(length=36), nullable=False),
            sa.Column(key, sa.String(length=200), nullable=False),
            sa.Column("trace_count", sa.BigInteger(), nullable=False),
            sa.Column("first_seen_us", sa.BigInteger(), nullable=False),
            sa.Column("last_seen_us", sa.BigInteger(), nullable=False),
            sa.Column("total_tokens", sa.BigInteger(), nullable=False),
            sa.Column("total_cost_nanos", sa.BigInteger(), nullable=False),
            sa.Column("error_traces", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("project_id", key, name=op.f(f"pk_{name}")),
        )
        op.create_index(op.f(f"ix_{name}_project_id_last_seen_us"), name, ["project_id", "last_seen_us"])
        # Existing data: one row per session/user from the trace rollups already stored.
        op.execute(
            f"INSERT INTO {name} (project_id, {key}, trace_count, first_seen_us, last_seen_us, total_tokens, "
            "total_cost_nanos, error_traces) "
            f"SELECT project_id, {key}, count(*), min(start_us), max(COALESCE(end_us, start_us)), "
            "sum(total_tokens), sum(total_cost_nanos), sum(CASE WHEN error_count > 0 THEN 1 ELSE 0 END) "
            f"FROM traces WHERE {key} IS NOT NULL AND observation_count > 0 GROUP BY project_id, {key}"
        )


def downgrade() -> None:
    for name, _ in _TABLES:
        op.drop_table(name)
