"""Metric rollups for the dashboard (migration 0010).

On the shared metadata of store.tables; store/migrations/env.py imports this module.
"""

from __future__ import annotations

from contrail.store.tables import metadata  # noqa: F401
