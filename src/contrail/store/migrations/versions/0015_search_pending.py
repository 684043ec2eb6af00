"""search pending: SQLite documents waiting to enter the full-text index in batches

FTS5 writes an index segment per commit and merges them as they pile up, so indexing each commit
group's few hundred spans cost about twice as much per span as batches of thousands
(see store.search). PostgreSQL indexes at write time and needs no such table.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # id = observations.id; body = the text as the FTS5 table indexes it (project word included).
        op.execute("CREATE TABLE search_pending (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # What waits is indexed first: the older schema indexes at write time and would never see it.
        op.execute(
            "INSERT INTO observations_fts(rowid, body) SELECT id, body FROM search_pending ORDER BY id"
        )
        op.execute("DROP TABLE search_pending")
