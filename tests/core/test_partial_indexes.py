"""Migration 0016: the model and error indexes are partial, match their table definitions on both
dialects, go down and up again, and still serve the filters they were made for."""

from __future__ import annotations

import uuid
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select

from contrail.schema.observation import Observation, Status
from contrail.store.database import open_engine, writing
from contrail.store.filters import Filter, observation_conditions
from contrail.store.migrate import _config, upgrade
from contrail.store.tables import metadata, observations
from contrail.store.writer import WriteBatch, write_group


def _observation_index_diff(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    return [
        d
        for d in diff
        if "index" in str(d[0])
        and getattr(d[1], "table", None) is not None
        and d[1].table.name == "observations"
    ]


def _index_names(engine: Engine) -> set[str]:
    return {i["name"] for i in inspect(engine).get_indexes("observations") if i["name"]}


def test_migration_0016_matches_the_tables_and_downgrades(empty_database_url: str) -> None:
    engine = open_engine(empty_database_url)
    try:
        upgrade(engine)
        assert _observation_index_diff(engine) == []
        assert {"ix_observations_model", "ix_observations_errors"} <= _index_names(engine)
        with writing(engine).begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0015")
        names = _index_names(engine)
        assert "ix_observations_project_id_model_start_us" in names
        assert "ix_observations_project_id_is_error_start_us" in names
        assert not {"ix_observations_model", "ix_observations_errors"} & names
        upgrade(engine)
        assert _observation_index_diff(engine) == []
    finally:
        engine.dispose()


def _plan(engine: Engine, flt: Filter, project: str) -> str:
    query = (
        select(observations.c.id)
        .where(*observation_conditions(observations, flt, project, engine))
        .order_by(observations.c.start_us.desc())
        .limit(50)
    )
    compiled = query.compile(dialect=engine.dialect)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            params = tuple(compiled.params[name] for name in compiled.positiontup or ())
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params).all()
            return " ".join(str(row[-1]) for row in rows)
        # A few rows: make the planner show whether it can use an index at all.
        connection.exec_driver_sql("SET enable_seqscan = off")
        rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).all()
        return " ".join(str(row[0]) for row in rows)


def test_model_and_error_filters_use_the_partial_indexes(engine: Engine) -> None:
    project = str(uuid.uuid4())
    spans = [
        Observation(
            trace_id=f"{n + 1:032x}",
            span_id=f"{n + 1:016x}",
            name="call",
            start_us=1_000 + n,
            model_requested="gpt-4o" if n % 2 else None,
            status=Status.ERROR if n % 10 == 0 else Status.UNSET,
        )
        for n in range(200)
    ]
    write_group(engine, [WriteBatch(project, spans)], 1)
    if engine.dialect.name == "sqlite":
        with writing(engine).begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    assert "ix_observations_model" in _plan(engine, Filter(model="gpt-4o"), project)
    assert "ix_observations_errors" in _plan(engine, Filter(has_error=True), project)
    # and the partial indexes answer correctly: the spans with a model, the errors
    for flt, expected in ((Filter(model="gpt-4o"), 100), (Filter(has_error=True), 20)):
        query = select(observations.c.id).where(*observation_conditions(observations, flt, project, engine))
        with engine.connect() as connection:
            assert len(connection.execute(query).all()) == expected
