"""Evaluation tables: datasets, items, experiments, results (0007); online-eval rules and jobs (0011).

On the shared metadata of store.tables; store/migrations/env.py imports this module.

Datasets are versioned: every change that alters items bumps ``datasets.version``.
``dataset_items`` holds each item's current state (with the version it last changed in), and
``dataset_item_history`` one row per (item, version it changed in), so a dataset as of version V is,
per item, its newest history row at or below V. Lists page by ``position`` (the order items were
added), which a per-dataset index serves directly at 100k items.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from contrail.store.tables import JsonDoc, metadata

# Client-chosen item ids and dataset names are both at most 200 characters.
_NAME = 200

datasets = Table(
    "datasets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(36), nullable=False),
    Column("name", String(_NAME), nullable=False),
    Column("description", Text),
    Column("metadata", JsonDoc),
    Column("version", Integer, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("deleted_us", BigInteger),
    # A deleted dataset's name can be used again: unique among live datasets only.
    Index(
        "ux_datasets_project_id_name_live",
        "project_id",
        "name",
        unique=True,
        sqlite_where=text("deleted_us IS NULL"),
        postgresql_where=text("deleted_us IS NULL"),
    ),
)


def _item_content() -> list[Column[Any]]:
    """What an item holds, in its current row and in each history row."""
    return [
        Column("input", LargeBinary),
        Column("expected_output", LargeBinary),
        Column("metadata", JsonDoc),
        Column("source_trace_id", String(32)),
        Column("source_span_id", String(16)),
        Column("status", String(10), nullable=False),
    ]


dataset_items = Table(
    "dataset_items",
    metadata,
    Column("dataset_id", String(36), primary_key=True),
    Column("id", String(_NAME), primary_key=True),
    Column("position", BigInteger, nullable=False),
    *_item_content(),
    Column("created_version", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    UniqueConstraint("dataset_id", "position"),
    Index(None, "dataset_id", "source_trace_id"),
)

dataset_item_history = Table(
    "dataset_item_history",
    metadata,
    Column("dataset_id", String(36), primary_key=True),
    Column("item_id", String(_NAME), primary_key=True),
    Column("version", Integer, primary_key=True),
    *_item_content(),
    Column("created_us", BigInteger, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(36), nullable=False),
    Column("dataset_id", String(36), nullable=False),
    Column("name", String(_NAME), nullable=False),
    Column("description", Text),
    Column("dataset_version", Integer, nullable=False),
    Column("status", String(12), nullable=False),
    Column("target", JsonDoc),
    Column("metadata", JsonDoc),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("finished_us", BigInteger),
    UniqueConstraint("dataset_id", "name"),
    Index(None, "project_id", "created_us"),
)

experiment_results = Table(
    "experiment_results",
    metadata,
    Column("experiment_id", String(36), primary_key=True),
    Column("item_id", String(_NAME), primary_key=True),
    Column("trace_id", String(32)),
    Column("output", LargeBinary),
    Column("error", Text),
    Column("latency_us", BigInteger),
    Column("cost_nanos", BigInteger),
    Column("input_tokens", BigInteger),
    Column("output_tokens", BigInteger),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

# One row per (result, scorer): summaries and comparisons aggregate these in SQL.
experiment_scores = Table(
    "experiment_scores",
    metadata,
    Column("experiment_id", String(36), primary_key=True),
    Column("item_id", String(_NAME), primary_key=True),
    Column("name", String(_NAME), primary_key=True),
    Column("value", Float),
    Column("label", Text),
    Column("passed", Boolean),
    Column("reason", Text),
    Column("error", Text),
    Index(None, "experiment_id", "name"),
)

# --- online evaluation (0011) ---------------------------------------------------------------------

# A rule scores sampled production traces (or their matching observations) as they arrive.
# ``watermark_id`` is the last observations.id its sampler has looked at.
eval_rules = Table(
    "eval_rules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(36), nullable=False),
    Column("name", String(_NAME), nullable=False),
    Column("filter", JsonDoc),
    Column("sampling_percent", Float, nullable=False),
    Column("scorer", JsonDoc, nullable=False),
    Column("target", String(12), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("watermark_id", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)

# The job queue. ``observation_id`` is "" for trace-level jobs so the unique key enqueues each once.
eval_jobs = Table(
    "eval_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(36), nullable=False),
    Column("rule_id", String(36), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("observation_id", String(16), nullable=False),
    Column("status", String(8), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_until_us", BigInteger),
    Column("worker", String(100)),
    Column("last_error", Text),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    UniqueConstraint("rule_id", "trace_id", "observation_id"),
    # Workers claim by (status, created); the jobs page lists a rule's newest.
    Index(None, "status", "created_us"),
    Index(None, "rule_id", "created_us"),
)
