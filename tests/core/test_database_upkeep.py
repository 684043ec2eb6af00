"""SQLite upkeep: the server checkpoints the WAL itself and keeps planner statistics."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, text

from contrail.schema.observation import Observation
from contrail.store.database import open_engine, writes_paused
from contrail.store.maintenance import checkpoint, refresh_statistics
from contrail.store.migrate import upgrade
from contrail.store.writer import WriteBatch, write_group


def test_commits_leave_the_wal_to_the_upkeep_thread(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'c.db'}", sqlite_autocheckpoint=False)
    upgrade(engine)
    write_group(engine, [WriteBatch("p", _spans(3000))], 1)
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


def _spans(count: int, first: int = 1) -> list[Observation]:
    return [
        Observation(trace_id=f"{i:032x}", span_id="1" * 16, name="x" * 2000, start_us=1_760_000_000_000_000)
        for i in range(first, first + count)
    ]


def _wal_frames(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()[1])


def test_a_long_wal_is_finished_with_writes_paused_and_starts_over(tmp_path: Path) -> None:
    """Under steady ingest a checkpoint running beside the writer never copies the last frames, and
    only a fully copied WAL is started over: it grew without bound (3 GB beside a 1 GB database)."""
    engine = open_engine(f"sqlite:///{tmp_path / 'c.db'}", sqlite_autocheckpoint=False)
    upgrade(engine)
    write_group(engine, [WriteBatch("p", _spans(3000))], 1)
    assert _wal_frames(engine) > 1000
    writes_held, release = threading.Event(), threading.Event()

    def hold_writes() -> None:
        with writes_paused(engine):
            writes_held.set()
            release.wait(30)

    holder = threading.Thread(target=hold_writes)
    holder.start()
    assert writes_held.wait(10)
    checkpoint(engine, reset_from_frames=10**9)  # a short WAL: copied beside writers, nothing waits
    finisher = threading.Thread(target=checkpoint, args=(engine,), kwargs={"reset_from_frames": 1000})
    finisher.start()
    finisher.join(0.5)
    waited_for_writers = finisher.is_alive()  # the final pass needs the writers' lock
    release.set()
    holder.join(10)
    finisher.join(30)
    write_group(engine, [WriteBatch("p", _spans(1, first=5000))], 2)
    frames_after = _wal_frames(engine)
    engine.dispose()
    assert waited_for_writers
    assert not finisher.is_alive()
    assert frames_after < 100  # the write after the full copy started the WAL over


def test_fast_parameter_adapters_store_the_same_values() -> None:
    """store.database registers pass-through sqlite3 adapters for None, bool and bytes (a speed-up);
    SQLite must still receive NULL, integers and blobs."""
    import sqlite3

    import contrail.store.database  # noqa: F401 - registers the adapters

    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (a, b, c, d)")
    connection.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(None, True, False, b"x\x00y")])
    stored = connection.execute(
        "SELECT a, typeof(a), b, typeof(b), c, typeof(c), d, typeof(d) FROM t"
    ).fetchone()
    connection.close()
    assert stored == (None, "null", 1, "integer", 0, "integer", b"x\x00y", "blob")
