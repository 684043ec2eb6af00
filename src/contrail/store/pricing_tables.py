"""Per-project price overrides (migration 0008).

On the shared metadata of store.tables; store/migrations/env.py imports this module.

``price_overrides`` holds one row per overridden model (the entry as a price-file JSON object, so it is
re-validated by the same parser when read); ``price_override_versions`` is a counter per project,
bumped in the same transaction as every change, that servers poll to refresh their cached catalogue.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, String, Table, Text

from contrail.store.tables import metadata

price_overrides = Table(
    "price_overrides",
    metadata,
    Column("project_id", String(36), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("provider", String(64), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("entry", Text, nullable=False),  # the price-file entry, JSON (prices as decimal strings)
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

price_override_versions = Table(
    "price_override_versions",
    metadata,
    Column("project_id", String(36), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)
