"""Background upkeep of the database: SQLite WAL checkpoints, full-text indexing of waiting
documents, and planner statistics.

The writer's connections never checkpoint on commit (``wal_autocheckpoint=0``): a checkpoint copies
the WAL into the database file and was a quarter of the writer's time. This thread does it instead,
on its own connection, where SQLite releases the GIL and the second core can do the work. It also
refreshes the planner's statistics (a bounded ANALYZE), without which SQLite picks the wrong index
once tables grow (a trace's detail page scanned a whole index). PostgreSQL checkpoints itself and
its autovacuum keeps the statistics; where autovacuum is off (as on some test and bench machines),
the same thread runs ANALYZE instead, on the same schedule. Documents waiting for the SQLite
full-text index (store.search) are indexed every few seconds, so under light traffic the batch
does not sit until the next search.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from contrail.store import search
from contrail.store.database import writes_paused

logger = logging.getLogger(__name__)

CHECKPOINT_EVERY_S = 1.0
SEARCH_CATCH_UP_EVERY_S = 5.0
# 64 MB of 4 KB pages: about a second of full-speed ingest on two cores (see checkpoint()).
WAL_RESET_FRAMES = 16_384
ANALYZE_EVERY_S = 600.0
# Rows ANALYZE samples per index: enough for index choice, fast on a multi-GB file.
ANALYSIS_LIMIT = 1000


def refresh_statistics(engine: Engine) -> None:
    """Update the planner's statistics: SQLite a bounded ANALYZE; PostgreSQL ANALYZE when autovacuum,
    which otherwise does it, is off."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            if connection.exec_driver_sql("SHOW autovacuum").scalar_one() == "off":
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        return
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        connection.exec_driver_sql("ANALYZE")
        connection.commit()


def checkpoint(engine: Engine, reset_from_frames: int = WAL_RESET_FRAMES) -> None:
    """Copy committed WAL pages into the database file without waiting for readers or writers; once
    the WAL holds ``reset_from_frames`` pages, finish the copy with writes paused, so the next write
    starts the WAL over.

    SQLite reuses the WAL from its start only when a write begins after a checkpoint that copied
    every frame. Under steady ingest the writer commits back to back, every pass ended a few frames
    short, and the WAL grew without bound: 3.2 GB beside a 1 GB database after 400k spans, with
    every page lookup searching a longer WAL index. The paused pass only copies what arrived during
    the first one; readers are never waited for (one holding an old snapshot defers the restart).
    """
    with engine.connect() as connection:
        _busy, frames, _copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        if frames >= reset_from_frames:
            with writes_paused(engine):
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


class DatabaseUpkeep:
    """A daemon thread running :func:`refresh_statistics` at start and every ten minutes, and on
    SQLite :func:`checkpoint` every second and ``search.catch_up`` every five."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="contrail-database-upkeep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._engine.dialect.name == "sqlite":
            self._safely(checkpoint)

    def _run(self) -> None:
        self._safely(refresh_statistics)  # at once: a server may start on a large, never-analysed file
        next_analyze = time.monotonic() + ANALYZE_EVERY_S
        next_catch_up = time.monotonic() + SEARCH_CATCH_UP_EVERY_S
        sqlite = self._engine.dialect.name == "sqlite"
        while not self._stop.wait(CHECKPOINT_EVERY_S):
            if sqlite:
                self._safely(checkpoint)
                if time.monotonic() >= next_catch_up:
                    self._safely(search.catch_up)
                    next_catch_up = time.monotonic() + SEARCH_CATCH_UP_EVERY_S
            if time.monotonic() >= next_analyze:
                self._safely(refresh_statistics)
                next_analyze = time.monotonic() + ANALYZE_EVERY_S

    def _safely(self, task: object) -> None:
        try:
            task(self._engine)  # type: ignore[operator]
        except Exception:
            # Upkeep must never take the server down; the next round tries again.
            logger.warning(
                "Database upkeep (%s) failed; will retry", getattr(task, "__name__", task), exc_info=True
            )
