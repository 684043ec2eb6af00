"""Garbage-collector settings for the long-running processes that allocate per span."""

from __future__ import annotations

import gc


def settle_after_startup() -> None:
    """Freeze what startup allocated and run the young-generation collector less often.

    Ingest makes a few hundred short-lived containers per span. With the default thresholds the
    collector runs every 700 allocations and its full collections walk the whole heap (FastAPI,
    SQLAlchemy, pydantic and the price catalogue: several hundred thousand objects that live as
    long as the process). Frozen objects are never walked again; cycles among request objects are
    still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
