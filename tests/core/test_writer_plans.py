"""The writer's lookups on PostgreSQL use the primary key whatever the statistics or cached plans say.

A young table (or autovacuum off or behind) has no statistics; with "trace_id IN (...)" the planner
then scanned every trace of the project through another index on each write, and ingest slowed
down as the table grew. These checks run on a never-analysed database, as a new install is.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text

from contrail.schema.observation import Observation
from contrail.schema.timeconv import now_us
from contrail.store.database import open_engine
from contrail.store.migrate import upgrade
from contrail.store.projects import create_project
from contrail.store.writer import _PG_LOCK_TRACES, _PG_OLD_SPANS, WriteBatch, write_group
from tests.conftest import fresh_postgres_database

TRACES = 600
# Rows added by SQL around the written ones: at a few hundred rows every index costs the same to the
# planner, and the choice that matters is the one it makes once the table is large.
FILLER = 50_000


@pytest.fixture
def never_analysed() -> Iterator[tuple[Engine, str, list[str]]]:
    with fresh_postgres_database() as url:
        engine = open_engine(url)
        upgrade(engine)
        project_id = create_project(engine, "plans").id
        start = now_us() - 3_600_000_000
        trace_ids = [f"{n + 1:032x}" for n in range(TRACES)]
        spans = [
            Observation(
                trace_id=trace_id,
                span_id=f"{n + 1:016x}",
                name="root",
                start_us=start + n,
                end_us=start + n + 1000,
                user_id=f"user-{n % 3}",
            )
            for n, trace_id in enumerate(trace_ids)
        ]
        write_group(engine, [WriteBatch(project_id, spans)], now_us())
        with engine.begin() as connection:
            _add_filler(connection, project_id, start)
            analysed = connection.execute(
                text(
                    "SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'traces'"
                )
            ).one()
        assert analysed == (None, None), "the check needs a table without statistics"
        try:
            yield engine, project_id, trace_ids
        finally:
            engine.dispose()


def _add_filler(connection: Connection, project_id: str, start: int) -> None:
    params = {"p": project_id, "start": start, "n": FILLER}
    connection.execute(
        text(
            "INSERT INTO traces (project_id, trace_id, start_us, updated_us, user_id, name_rank, io_rank, "
            "input_tokens, output_tokens, total_tokens, total_cost_nanos, error_count, observation_count) "
            "SELECT :p, 'f' || lpad(to_hex(i), 31, '0'), :start + i, :start, 'user-' || (i % 50), "
            "0, 0, 0, 0, 0, 0, 0, 1 FROM generate_series(1, :n) AS i"
        ),
        params,
    )
    connection.execute(
        text(
            "INSERT INTO observations (project_id, trace_id, span_id, name, type, start_us, status, level, "
            "is_error, ingested_us) SELECT :p, 'f' || lpad(to_hex(i), 31, '0'), lpad(to_hex(i), 16, '0'), "
            "'filler', 'span', :start + i, 'ok', 'default', false, :start FROM generate_series(1, :n) AS i"
        ),
        params,
    )


def _plan(engine: Engine, statement: object, params: dict[str, object]) -> str:
    with engine.begin() as connection:
        compiled = statement.compile(dialect=connection.dialect)  # type: ignore[attr-defined]
        rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.construct_params(params))
        return "\n".join(row[0] for row in rows)


def test_trace_lookup_uses_the_primary_key_without_statistics(
    never_analysed: tuple[Engine, str, list[str]],
) -> None:
    engine, project_id, trace_ids = never_analysed
    plan = _plan(engine, _PG_LOCK_TRACES, {"project_id": project_id, "trace_ids": trace_ids[:500]})
    assert "Index Scan using pk_traces" in plan, plan
    assert "ix_traces_project_id_user_id" not in plan and "Seq Scan on traces" not in plan, plan
    with engine.begin() as connection:
        rows = connection.execute(
            _PG_LOCK_TRACES, {"project_id": project_id, "trace_ids": [*trace_ids[:5], "e" * 32]}
        ).mappings()
        found = [(row["trace_id"], row["observation_count"], row["user_id"]) for row in rows]
    # In the order asked (the lock order), unknown ids skipped, typed like select(traces).
    assert found == [(trace_id, 1, f"user-{n % 3}") for n, trace_id in enumerate(trace_ids[:5])]


def test_resent_span_lookup_uses_the_unique_key_without_statistics(
    never_analysed: tuple[Engine, str, list[str]],
) -> None:
    engine, project_id, trace_ids = never_analysed
    keys = {"trace_ids": trace_ids[:500], "span_ids": [f"{n + 1:016x}" for n in range(500)]}
    plan = _plan(engine, _PG_OLD_SPANS, {"project_id": project_id, **keys})
    assert "uq_observations_project_id_trace_id_span_id" in plan, plan
    assert "Seq Scan on observations" not in plan, plan
    # A re-sent span goes through this lookup: it replaces the stored one and is counted once.
    resent = Observation(
        trace_id=trace_ids[7], span_id=f"{8:016x}", name="renamed", start_us=now_us() - 1000, end_us=now_us()
    )
    write_group(engine, [WriteBatch(project_id, [resent])], now_us())
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT count(*), max(name) FROM observations WHERE project_id = :p AND trace_id = :t"),
            {"p": project_id, "t": trace_ids[7]},
        ).one()
        count = connection.execute(
            text("SELECT observation_count FROM traces WHERE project_id = :p AND trace_id = :t"),
            {"p": project_id, "t": trace_ids[7]},
        ).scalar_one()
    assert tuple(row) == (1, "renamed") and count == 1


def test_postgres_connections_plan_each_run_for_its_values(postgres_database: str) -> None:
    """No generic plan made while the tables were small outlives their growth (store.database)."""
    engine = open_engine(postgres_database)
    try:
        with engine.connect() as first, engine.connect() as second:
            modes = {c.exec_driver_sql("SHOW plan_cache_mode").scalar_one() for c in (first, second)}
    finally:
        engine.dispose()
    assert modes == {"force_custom_plan"}
