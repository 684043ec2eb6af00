"""Alembic environment: always run programmatically with a connection from ``store.migrate``."""

from __future__ import annotations

from alembic import context

# Registers every table module on the shared metadata.
from contrail.store import (  # noqa: F401
    account_tables,
    alert_tables,
    eval_tables,
    pricing_tables,
    prompt_tables,
    rollup_tables,
)
from contrail.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
