"""SQLite full-text indexing in batches: documents wait in ``search_pending`` until a batch has
gathered, yet every search sees every stored span (both backends run the search checks)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine

from contrail.schema.observation import Observation
from contrail.store import maintenance, search
from contrail.store.database import open_engine, writing
from contrail.store.filters import Filter
from contrail.store.migrate import _config, upgrade
from contrail.store.queries import list_observations, list_traces
from contrail.store.writer import WriteBatch, write_group


def _span(n: int, text: str) -> Observation:
    return Observation(
        trace_id=f"{n + 1:032x}", span_id=f"{n + 1:016x}", name="answer", start_us=1_000 + n, output=text
    )


def _found(engine: Engine, project: str, words: str) -> list[str]:
    return [o["span_id"] for o in list_observations(engine, project, Filter(search=words)).items]


def _waiting(engine: Engine) -> int:
    with engine.connect() as connection:
        count: int = connection.exec_driver_sql("SELECT count(*) FROM search_pending").scalar_one()
    return count


def _indexed(engine: Engine, word: str) -> int:
    with engine.connect() as connection:
        count: int = connection.exec_driver_sql(
            "SELECT count(*) FROM observations_fts WHERE observations_fts MATCH ?", (f'"{word}"',)
        ).scalar_one()
    return count


def test_a_search_sees_spans_still_waiting_for_the_index(engine: Engine) -> None:
    project = str(uuid.uuid4())
    write_group(engine, [WriteBatch(project, [_span(0, "the zeppelin landed")])], 1)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        assert (_waiting(engine), _indexed(engine, "zeppelin")) == (1, 0)
    assert _found(engine, project, "zeppelin") == [f"{1:016x}"]
    assert [t["trace_id"] for t in list_traces(engine, project, Filter(search="landed")).items] == [
        f"{1:032x}"
    ]
    if sqlite:  # the search indexed what waited
        assert (_waiting(engine), _indexed(engine, "zeppelin")) == (0, 1)


def test_the_writer_indexes_a_full_batch_in_its_own_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "INDEX_BATCH_DOCS", 10)
    engine = open_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    write_group(engine, [WriteBatch("p", [_span(n, f"alpha doc{n}") for n in range(6)])], 1)
    assert (_waiting(engine), _indexed(engine, "alpha")) == (6, 0)
    write_group(engine, [WriteBatch("p", [_span(n, f"alpha doc{n}") for n in range(6, 10)])], 1)
    # Ten waited: the same commit moved them all into the index, without any search.
    assert (_waiting(engine), _indexed(engine, "alpha")) == (0, 10)
    assert len(_found(engine, "p", "alpha")) == 10
    engine.dispose()


def test_a_re_sent_span_is_found_by_its_new_text_only(engine: Engine) -> None:
    project = str(uuid.uuid4())

    def send(text: str) -> None:
        write_group(engine, [WriteBatch(project, [_span(7, text)])], 1)

    send("first amber")
    send("second beryl")  # replaced while its first version still waited
    assert _found(engine, project, "amber") == []
    assert _found(engine, project, "beryl") == [f"{8:016x}"]  # the search indexed it
    send("third coral")  # replaced after its text was indexed
    assert _found(engine, project, "beryl") == []
    assert _found(engine, project, "coral") == [f"{8:016x}"]
    if engine.dialect.name == "sqlite":
        assert (_indexed(engine, "amber"), _indexed(engine, "beryl"), _indexed(engine, "coral")) == (0, 0, 1)


def test_waiting_documents_are_kept_across_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = open_engine(url)
    upgrade(engine)
    write_group(engine, [WriteBatch("p", [_span(0, "durable quokka")])], 1)
    engine.dispose()
    engine = open_engine(url)  # committed with its span, so a new process finds it waiting
    assert _waiting(engine) == 1
    assert _found(engine, "p", "quokka") == [f"{1:016x}"]
    engine.dispose()


def test_the_upkeep_thread_indexes_waiting_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maintenance, "CHECKPOINT_EVERY_S", 0.05)
    monkeypatch.setattr(maintenance, "SEARCH_CATCH_UP_EVERY_S", 0.1)
    engine = open_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    write_group(engine, [WriteBatch("p", [_span(0, "idle wombat")])], 1)
    upkeep = maintenance.DatabaseUpkeep(engine)
    upkeep.start()
    try:
        deadline = time.monotonic() + 10
        while _waiting(engine) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        upkeep.stop()
    assert (_waiting(engine), _indexed(engine, "wombat")) == (0, 1)
    engine.dispose()


def test_a_downgrade_indexes_what_waits(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    write_group(engine, [WriteBatch("p", [_span(0, "migrating narwhal")])], 1)
    with writing(engine).begin() as connection:
        config = _config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
    assert _indexed(engine, "narwhal") == 1  # the older schema indexes at write time only
    upgrade(engine)
    assert _waiting(engine) == 0
    assert _found(engine, "p", "narwhal") == [f"{1:016x}"]
    engine.dispose()
