"""evaluations: datasets, dataset items and their history, experiments and their item results

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _item_content() -> list[sa.Column[object]]:
    return [
        sa.Column("input", sa.LargeBinary(), nullable=True),
        sa.Column("expected_output", sa.LargeBinary(), nullable=True),
        sa.Column("metadata", _JSON, nullable=True),
        sa.Column("source_trace_id", sa.String(length=32), nullable=True),
        sa.Column("source_span_id", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("metadata", _JSON, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("deleted_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
    )
    op.create_index(
        "ux_datasets_project_id_name_live",
        "datasets",
        ["project_id", "name"],
        unique=True,
        sqlite_where=sa.text("deleted_us IS NULL"),
        postgresql_where=sa.text("deleted_us IS NULL"),
    )
    op.create_table(
        "dataset_items",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        *_item_content(),
        sa.Column("created_version", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "id", name=op.f("pk_dataset_items")),
        sa.UniqueConstraint("dataset_id", "position", name=op.f("uq_dataset_items_dataset_id_position")),
    )
    op.create_index(
        op.f("ix_dataset_items_dataset_id_source_trace_id"),
        "dataset_items",
        ["dataset_id", "source_trace_id"],
    )
    op.create_table(
        "dataset_item_history",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_item_content(),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "item_id", "version", name=op.f("pk_dataset_item_history")),
    )
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("dataset_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("target", _JSON, nullable=True),
        sa.Column("metadata", _JSON, nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("dataset_id", "name", name=op.f("uq_experiments_dataset_id_name")),
    )
    op.create_index(op.f("ix_experiments_project_id_created_us"), "experiments", ["project_id", "created_us"])
    op.create_table(
        "experiment_results",
        sa.Column("experiment_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("output", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("latency_us", sa.BigInteger(), nullable=True),
        sa.Column("cost_nanos", sa.BigInteger(), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=True),
        sa.Column("output_tokens", sa.BigInteger(), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "item_id", name=op.f("pk_experiment_results")),
    )
    op.create_table(
        "experiment_scores",
        sa.Column("experiment_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("experiment_id", "item_id", "name", name=op.f("pk_experiment_scores")),
    )
    op.create_index(
        op.f("ix_experiment_scores_experiment_id_name"), "experiment_scores", ["experiment_id", "name"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_experiment_scores_experiment_id_name"), table_name="experiment_scores")
    op.drop_table("experiment_scores")
    op.drop_table("experiment_results")
    op.drop_index(op.f("ix_experiments_project_id_created_us"), table_name="experiments")
    op.drop_table("experiments")
    op.drop_table("dataset_item_history")
    op.drop_index(op.f("ix_dataset_items_dataset_id_source_trace_id"), table_name="dataset_items")
    op.drop_table("dataset_items")
    op.drop_index("ux_datasets_project_id_name_live", table_name="datasets")
    op.drop_table("datasets")
