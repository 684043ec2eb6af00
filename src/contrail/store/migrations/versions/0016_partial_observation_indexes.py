"""observations: the model and error indexes hold only the spans that have a model or an error

Each index entry is a b-tree leaf the writer dirties at ingest. Tool, retrieval and agent spans have
no model, and errors are a few percent of spans, so the full (project, model, start) and (project,
is_error, start) indexes cost every span a write for entries almost no query reads: 23% of the WAL
pages a commit group wrote (counted by page owner), about 3 µs of writer CPU per span. The filters
that used them (``model = ?``, ``is_error IS 1``) imply the partial conditions, so their plans keep
the index.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_HAS_MODEL = sa.text("model IS NOT NULL")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("ix_observations_project_id_model_start_us", table_name="observations")
    op.drop_index("ix_observations_project_id_is_error_start_us", table_name="observations")
    op.create_index(
        "ix_observations_model",
        "observations",
        ["project_id", "model", "start_us"],
        sqlite_where=_HAS_MODEL,
        postgresql_where=_HAS_MODEL,
    )
    op.create_index(
        "ix_observations_errors",
        "observations",
        ["project_id", "start_us"],
        sqlite_where=sa.text("is_error IS 1") if sqlite else None,
        postgresql_where=None if sqlite else sa.text("is_error IS true"),
    )


def downgrade() -> None:
    op.drop_index("ix_observations_errors", table_name="observations")
    op.drop_index("ix_observations_model", table_name="observations")
    op.create_index(
        "ix_observations_project_id_model_start_us", "observations", ["project_id", "model", "start_us"]
    )
    op.create_index(
        "ix_observations_project_id_is_error_start_us", "observations", ["project_id", "is_error", "start_us"]
    )
