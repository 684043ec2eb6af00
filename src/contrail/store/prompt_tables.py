"""Prompt registry tables (migration 0006): prompts, their immutable versions, labels, label audit log.

On the shared metadata of store.tables; store/migrations/env.py imports this module. Uniqueness does
the concurrency work: one row per (project, name), one per (prompt, version) and one holder per
(project, prompt, label), so racing writers fail and retry instead of producing duplicates.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from contrail.store.tables import JsonDoc, RowId, metadata

# A deleted prompt keeps its row (and versions), so a re-created name continues its numbering and
# traces that recorded (prompt_name, prompt_version) never point at a different text.
prompts = Table(
    "prompts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(36), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("type", String(8), nullable=False),
    Column("tags", JsonDoc, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("deleted_us", BigInteger),
    UniqueConstraint("project_id", "name"),
)

prompt_versions = Table(
    "prompt_versions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(36), nullable=False),
    Column("prompt_id", String(36), ForeignKey("prompts.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(8), nullable=False),
    Column("prompt", JsonDoc, nullable=False),
    Column("config", JsonDoc, nullable=False),
    Column("variables", JsonDoc, nullable=False),
    Column("tags", JsonDoc, nullable=False),
    Column("commit_message", Text),
    Column("content_hash", String(64), nullable=False),
    Column("created_by", String(200)),
    Column("created_us", BigInteger, nullable=False),
    Column("deleted_us", BigInteger),
    UniqueConstraint("prompt_id", "version"),
    Index(None, "project_id", "prompt_id"),
)

prompt_labels = Table(
    "prompt_labels",
    metadata,
    Column("project_id", String(36), primary_key=True),
    Column("prompt_id", String(36), ForeignKey("prompts.id", ondelete="CASCADE"), primary_key=True),
    Column("label", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_by", String(200)),
    Column("updated_us", BigInteger, nullable=False),
)

# Append-only: every label move, including `latest` following new versions. from/to None = absent.
prompt_label_events = Table(
    "prompt_label_events",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("project_id", String(36), nullable=False),
    Column("prompt_id", String(36), ForeignKey("prompts.id", ondelete="CASCADE"), nullable=False),
    Column("label", String(36), nullable=False),
    Column("from_version", Integer),
    Column("to_version", Integer),
    Column("actor", String(200)),
    Column("created_us", BigInteger, nullable=False),
    Index(None, "project_id", "prompt_id", "id"),
)
