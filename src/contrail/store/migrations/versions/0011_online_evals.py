"""online evaluation rules and their job queue

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "eval_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("filter", _JSON, nullable=True),
        sa.Column("sampling_percent", sa.Float(), nullable=False),
        sa.Column("scorer", _JSON, nullable=False),
        sa.Column("target", sa.String(length=12), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("watermark_id", sa.BigInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_rules")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_eval_rules_project_id_name")),
    )
    op.create_table(
        "eval_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=36), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("observation_id", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until_us", sa.BigInteger(), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_jobs")),
        sa.UniqueConstraint(
            "rule_id", "trace_id", "observation_id", name=op.f("uq_eval_jobs_rule_id_trace_id_observation_id")
        ),
    )
    op.create_index(op.f("ix_eval_jobs_status_created_us"), "eval_jobs", ["status", "created_us"])
    op.create_index(op.f("ix_eval_jobs_rule_id_created_us"), "eval_jobs", ["rule_id", "created_us"])


def downgrade() -> None:
    op.drop_table("eval_jobs")
    op.drop_table("eval_rules")
