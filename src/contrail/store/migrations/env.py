"""Alembic environment: always run programmatically with a connection from ``store.migrate``."""

from __future__ import annotations

from alembic import context

from contrail.store import account_tables  # noqa: F401  (registers the account tables on metadata)
from contrail.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
