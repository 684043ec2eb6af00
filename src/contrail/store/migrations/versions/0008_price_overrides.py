"""per-project price overrides with effective dates; cache-write and audio token counts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_USAGE_COLUMNS = ("cache_write_input_tokens", "audio_input_tokens", "audio_output_tokens")


def upgrade() -> None:
    op.create_table(
        "price_overrides",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_price_overrides_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "provider", "model", name=op.f("pk_price_overrides")),
    )
    op.create_table(
        "price_override_versions",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_price_override_versions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_price_override_versions")),
    )
    with op.batch_alter_table("observations") as batch:
        for name in _USAGE_COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("observations") as batch:
        for name in reversed(_USAGE_COLUMNS):
            batch.drop_column(name)
    op.drop_table("price_override_versions")
    op.drop_table("price_overrides")
