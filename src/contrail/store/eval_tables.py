"""Evaluation tables: datasets, items, experiments, results (0007); online-eval rules and jobs (0011).

On the shared metadata of store.tables; store/migrations/env.py imports this module.
"""

from __future__ import annotations

from contrail.store.tables import metadata  # noqa: F401
