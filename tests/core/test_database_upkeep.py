"""SQLite upkeep: the server checkpoints the WAL itself and keeps planner statistics."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from contrail.schema.observation import Observation
from contrail.store.database import open_engine
from contrail.store.maintenance import checkpoint, refresh_statistics
from contrail.store.migrate import upgrade
from contrail.store.writer import WriteBatch, write_group


def test_commits_leave_the_wal_to_the_upkeep_thread(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'c.db'}", sqlite_autocheckpoint=False)
    upgrade(engine)
    spans = [
        Observation(trace_id=f"{i:032x}", span_id="1" * 16, name="x" * 2000, start_us=1_760_000_000_000_000)
        for i in range(1, 3000)
    ]
    write_group(engine, [WriteBatch("p", spans)], 1)
    with engine.connect() as connection:
        before = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    assert before[1] > 1000  # nothing had copied the WAL back: autocheckpoint is off
    checkpoint(engine)
    with engine.connect() as connection:
        busy, log_pages, done = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
    engine.dispose()
    assert busy == 0
    assert done == log_pages


def test_statistics_cover_the_observation_indexes(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    write_group(
        engine, [WriteBatch("p", [Observation(trace_id="a" * 32, span_id="b" * 16, name="n", start_us=1)])], 1
    )
    refresh_statistics(engine)
    with engine.connect() as connection:
        analysed = {row[0] for row in connection.execute(text("SELECT tbl FROM sqlite_stat1"))}
    engine.dispose()
    assert {"observations", "traces"} <= analysed


def test_a_starting_server_analyses_its_database(tmp_path: Path) -> None:
    import time

    from tests.conftest import start_contrail

    server, _live = start_contrail(f"sqlite:///{tmp_path / 'c.db'}", tmp_path)
    engine = open_engine(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        deadline = time.monotonic() + 20
        analysed = False
        while not analysed and time.monotonic() < deadline:
            with engine.connect() as connection:
                analysed = (
                    connection.exec_driver_sql(
                        "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
                    ).scalar_one()
                    == 1
                )
            time.sleep(0.05)
    finally:
        engine.dispose()
        server.stop()
    assert analysed


def test_postgres_without_autovacuum_gets_statistics_from_the_server() -> None:
    """Where autovacuum is off nothing else would analyse the tables (see store.maintenance)."""
    from tests.conftest import fresh_postgres_database

    with fresh_postgres_database() as url:
        engine = open_engine(url)
        try:
            upgrade(engine)
            with engine.connect() as connection:
                autovacuum = connection.exec_driver_sql("SHOW autovacuum").scalar_one()
            refresh_statistics(engine)
            with engine.connect() as connection:
                analysed = connection.exec_driver_sql(
                    "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'traces'"
                ).scalar_one()
        finally:
            engine.dispose()
    # With autovacuum on, analysing is its job and the server leaves it alone.
    assert analysed is (autovacuum == "off")
