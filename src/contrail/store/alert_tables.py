"""Budgets, spike alerts, webhooks and their deliveries (migration 0009).

On the shared metadata of store.tables; store/migrations/env.py imports this module.

A webhook's signing secret is stored as-is: an HMAC needs the secret itself, and a key to encrypt
it with would have to live next to the database anyway. It is returned once, at creation, and
never logged or shown again (the UI and API show ``secret_hint``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from contrail.store.tables import metadata

budgets = Table(
    "budgets",
    metadata,
    Column("project_id", String(36), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("period", String(8), primary_key=True),  # daily | monthly
    Column("amount_nanos", BigInteger, nullable=False),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("updated_us", BigInteger, nullable=False),
)

# Per-project spike detection thresholds; a project without a row uses the defaults.
alert_settings = Table(
    "alert_settings",
    metadata,
    Column("project_id", String(36), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("spike_factor", Float, nullable=False),
    Column("spike_min_tokens", BigInteger, nullable=False),
    Column("spike_min_cost_nanos", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(36), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", String(100), nullable=False),
    Column("secret_hint", String(20), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_us", BigInteger, nullable=False),
    Index(None, "project_id"),
)

# The unique (project_id, kind, dedupe_key) lets several server processes evaluate the same rule:
# only the one whose insert wins records the event, and so only it queues deliveries.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(36), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("dedupe_key", String(200), nullable=False),
    Column("period_start_us", BigInteger),
    Column("details", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    UniqueConstraint("project_id", "kind", "dedupe_key"),
    Index(None, "project_id", "created_us"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(36), nullable=False),
    Column("event_id", String(36), ForeignKey("alert_events.id", ondelete="CASCADE"), nullable=False),
    Column("webhook_id", String(36), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(12), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_us", BigInteger, nullable=False),
    Column("last_error", Text),
    Column("response_code", Integer),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    UniqueConstraint("event_id", "webhook_id"),
    Index(None, "status", "next_attempt_us"),
    Index(None, "webhook_id"),
)
