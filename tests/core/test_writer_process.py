"""The writer process: commits what it is sent, reports database errors, survives its own death,
dies with the server; and the SQLite write lock that hands writes from one writer to the next."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError

from contrail.schema.observation import Observation
from contrail.schema.timeconv import now_us
from contrail.store.database import open_engine, writing
from contrail.store.migrate import upgrade
from contrail.store.projects import create_project
from contrail.store.tables import observations, traces
from contrail.store.writer import WriteBatch
from contrail.store.writer_process import WriterProcess, WriterProcessError
from tests.conftest import start_contrail


def _batch(project_id: str, trace_no: int, spans: int = 3) -> WriteBatch:
    start = now_us() - 1_000_000
    trace_id = f"{trace_no:032x}"
    return WriteBatch(
        project_id,
        [
            Observation(
                trace_id=trace_id,
                span_id=f"{n + 1:016x}",
                parent_span_id=None if n == 0 else f"{1:016x}",
                name=f"step {n}",
                start_us=start + n,
                end_us=start + 1000 + n,
                input={"question": f"trace {trace_no}"},
            )
            for n in range(spans)
        ],
    )


def _count(engine: Engine, project_id: str) -> tuple[int, int]:
    with engine.connect() as connection:
        spans = connection.scalar(
            select(func.count()).select_from(observations).where(observations.c.project_id == project_id)
        )
        trace_spans = connection.scalar(
            select(func.sum(traces.c.observation_count)).where(traces.c.project_id == project_id)
        )
    return int(spans or 0), int(trace_spans or 0)


@pytest.fixture
def writer(engine: Engine, database_url: str) -> Iterator[WriterProcess]:
    """A started writer process on the migrated database; stopped afterwards (stopping is idempotent)."""
    writer = WriterProcess(database_url)
    writer.start()
    try:
        yield writer
    finally:
        writer.stop()


def test_commits_groups_from_several_threads_with_rollups(engine: Engine, writer: WriterProcess) -> None:
    project = create_project(engine, "writer-process").id
    errors: list[BaseException] = []

    def send(first: int) -> None:
        try:
            for n in range(first, first + 10):
                writer.write([_batch(project, n), _batch(project, n + 1000)], now_us())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(k * 100,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert _count(engine, project) == (3 * 10 * 2 * 3, 3 * 10 * 2 * 3)
    writer.stop()
    assert writer.pid is None


def test_a_database_error_is_reported_and_the_next_write_succeeds(
    engine: Engine, writer: WriterProcess
) -> None:
    project = create_project(engine, "writer-errors").id
    broken = _batch(project, 1).prepare(now_us())
    assert broken.rows is not None
    broken.rows[0]["ingested_us"] = None  # a NOT NULL column
    with pytest.raises(WriterProcessError, match=r"IntegrityError.*(?i:not.null)"):
        writer.write([broken], now_us())
    writer.write([_batch(project, 2)], now_us())
    assert _count(engine, project) == (3, 3)


def test_a_killed_writer_process_fails_its_write_and_is_replaced(
    engine: Engine, writer: WriterProcess
) -> None:
    project = create_project(engine, "writer-killed").id
    first = writer.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    psutil.Process(first).wait(timeout=10)
    with pytest.raises(WriterProcessError, match="restarted"):
        writer.write([_batch(project, 1)], now_us())
    writer.write([_batch(project, 2)], now_us())  # the replacement commits
    assert writer.pid not in (None, first)
    assert _count(engine, project) == (3, 3)


def test_the_writer_process_dies_with_its_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = open_engine(url)
    upgrade(engine)
    engine.dispose()
    script = textwrap.dedent(
        f"""
        import time
        from contrail.store.writer_process import WriterProcess
        writer = WriterProcess({url!r})
        writer.start()
        print(writer.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        assert child.is_running()
    finally:
        parent.kill()  # SIGKILL: no chance to stop its child
        parent.wait(timeout=10)
        parent.stdout.close()  # type: ignore[union-attr]
    child.wait(timeout=10)  # raises psutil.TimeoutExpired if the child outlived its server
    assert not child.is_running()


def test_the_server_ingests_through_its_writer_process(database_url: str, tmp_path: Path) -> None:
    server, live = start_contrail(database_url, tmp_path / "home", writer_process=True)
    try:
        queue = live.app.state.contrail.writes  # type: ignore[attr-defined]
        child = psutil.Process(queue._process.pid)
        assert child.cmdline()[-2:] == ["contrail.store.writer_process", child.cmdline()[-1]]
        events = [
            {
                "id": f"ev-{n}",
                "type": "observation",
                "body": {
                    "trace_id": "ab" * 16,
                    "span_id": f"{n + 1:016x}",
                    "name": "s",
                    "start_us": now_us(),
                },
            }
            for n in range(20)
        ]
        with live.client() as client:
            response = client.post("/api/v1/ingest", json={"batch": events})
            assert response.status_code == 207 and response.json()["errors"] == [], response.text
            trace = client.get(f"/api/v1/traces/{'ab' * 16}").json()
            assert trace["observation_count"] == 20
    finally:
        server.stop()
    psutil.wait_procs([child], timeout=10)
    assert not child.is_running()  # the server stopped its writer


def test_sqlite_write_lock_hands_over_between_engines_and_after_rollback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    first, second = open_engine(url), open_engine(url)  # as two server processes would hold them
    upgrade(first)
    project = create_project(first, "locks").id
    with pytest.raises(RuntimeError), writing(first).begin() as connection:
        connection.exec_driver_sql("SELECT 1")
        raise RuntimeError("the transaction fails and rolls back")
    done = threading.Event()

    def write_with_second() -> None:
        with writing(second).begin() as connection:
            connection.exec_driver_sql("UPDATE projects SET name = 'renamed' WHERE id = ?", (project,))
        done.set()

    thread = threading.Thread(target=write_with_second, daemon=True)
    holder = writing(first).connect()
    transaction = holder.begin()  # holds the lock: the other engine must wait, not fail
    thread.start()
    time.sleep(0.3)
    assert not done.is_set()
    transaction.commit()
    holder.close()
    assert done.wait(10), "the second writer never got the lock after the first committed"
    assert (tmp_path / "c.db-writelock").exists()
    first.dispose()
    second.dispose()


def test_a_write_that_cannot_begin_gives_the_write_lock_back(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    url = f"sqlite:///{path}"
    engine = open_engine(url)
    upgrade(engine)
    engine.dispose()
    # Runs after the engine's own settings: give up on SQLite's lock after 0.2 s instead of 30.
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=200"))
    outsider = sqlite3.connect(path, isolation_level=None)  # a tool that does not take our flock
    outsider.execute("BEGIN IMMEDIATE")
    with pytest.raises(OperationalError, match="locked"), writing(engine).begin() as connection:
        connection.exec_driver_sql("SELECT 1")
    outsider.execute("ROLLBACK")
    outsider.close()
    done = threading.Event()

    def write_again() -> None:
        with writing(open_engine(url)).begin() as connection:
            connection.exec_driver_sql("UPDATE projects SET name = name")
        done.set()

    threading.Thread(target=write_again, daemon=True).start()
    assert done.wait(10), "the failed BEGIN kept the flock: every later writer waits forever"
    engine.dispose()


def test_server_keeps_answering_when_its_writer_process_was_killed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    server, live = start_contrail(url, tmp_path / "home", writer_process=True)
    try:
        queue = live.app.state.contrail.writes  # type: ignore[attr-defined]
        os.kill(queue._process.pid, signal.SIGKILL)
        time.sleep(0.2)
        body = {"trace_id": "cd" * 16, "span_id": "1".zfill(16), "name": "s", "start_us": now_us()}
        with live.client() as client:
            statuses = []
            for n in range(2):
                response = client.post(
                    "/api/v1/ingest", json={"batch": [{"id": f"k{n}", "type": "observation", "body": body}]}
                )
                statuses.append(response.status_code)
                if response.status_code == 503:
                    assert response.headers["Retry-After"] == "1"
                    assert response.json()["error"]["code"] == "writer_restarted"
            # The first write finds the writer dead: 503 + Retry-After (never a hang); then it is back.
            assert statuses == [503, 207], statuses
            assert client.get(f"/api/v1/traces/{'cd' * 16}").status_code == 200
    finally:
        server.stop()
