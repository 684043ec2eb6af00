"""Metric rollups: kept exact by the writer's deltas, rebuilt from observations, read per hour."""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select

from contrail.analytics.rollups import hourly_totals, percentiles, rebuild_rollups
from contrail.schema.observation import Cost, Observation, ObservationType, Status, Usage
from contrail.store import rollup_tables
from contrail.store.database import writing
from contrail.store.metric_rollups import histogram_bin
from contrail.store.projects import create_project
from contrail.store.rollup_tables import DAY_US, HOUR_US, metric_rollups
from contrail.store.writer import WriteBatch, write_group
from tests.migration_checks import assert_migration_round_trip

START = 1_759_996_800_000_000  # 2025-10-09T08:00:00Z


def _project(engine: Engine) -> str:
    return create_project(engine, f"rollups-{uuid.uuid4().hex[:10]}").id


def _span(i: int, model: str = "gpt-4o", **fields: Any) -> Observation:
    values: dict[str, Any] = {
        "trace_id": f"{i // 3 + 1:032x}",
        "span_id": f"{i + 1:016x}",
        "name": "chat",
        "type": ObservationType.GENERATION,
        "start_us": START + i * 20 * 60_000_000,  # three spans an hour
        "end_us": START + i * 20 * 60_000_000 + (i + 1) * 37_000,
        "model_requested": model,
        "provider": "openai",
        "usage": Usage(input_tokens=100 + i, output_tokens=10),
        "cost": Cost(total=Decimal("0.001") * (i + 1)),
        "ttft_us": 5_000 * (i + 1),
    }
    return Observation(**(values | fields))


def _write(engine: Engine, project_id: str, spans: list[Observation]) -> None:
    write_group(engine, [WriteBatch(project_id, spans)], now_us=START)


def _rows(engine: Engine, project_id: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Every non-empty rollup row of the project, keyed by its primary key."""
    columns = [c for c in metric_rollups.c if c.name != "project_id"]
    with engine.connect() as connection:
        rows = connection.execute(
            select(*columns).where(
                metric_rollups.c.project_id == project_id, metric_rollups.c.span_count != 0
            )
        ).all()
    return {tuple(r[:3]): tuple(r[3:]) for r in rows}


def _rebuilt(engine: Engine, project_id: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    with writing(engine).begin() as connection:
        rebuild_rollups(connection, project_id, None, None)
    return _rows(engine, project_id)


def test_ingest_keeps_rollups_equal_to_a_rebuild_through_resends_and_updates(engine: Engine) -> None:
    project = _project(engine)
    spans = [_span(i, model="gpt-4o" if i % 2 else "claude-x") for i in range(12)]
    _write(engine, project, spans[:8])
    _write(engine, project, spans[4:])  # 4..7 re-sent unchanged
    # 0..2 updated: another model, an error, a refusal, a longer duration, a new cost
    changed = [
        dataclasses.replace(
            spans[i],
            model_requested="gpt-4o-mini",
            status=Status.ERROR,
            end_us=spans[i].end_us + 90_000_000,  # type: ignore[operator]
            cost=Cost(total=Decimal("0.5")),
            output=[{"role": "assistant", "content": "no", "finish_reason": "content_filter"}],
        )
        for i in range(3)
    ]
    _write(engine, project, changed + changed[:1])
    incremental = _rows(engine, project)
    assert incremental == _rebuilt(engine, project)

    with engine.connect() as connection:
        totals = hourly_totals(connection, project, START, START + 4 * HOUR_US)
    # 12 spans in 4 hours; hour 0 held spans 0..2, now all gpt-4o-mini errors
    assert [(t.hour_us, t.group, t.count, t.errors) for t in totals] == [
        (START, {"model": "gpt-4o-mini"}, 3, 3),
        (START + HOUR_US, {"model": "claude-x"}, 1, 0),
        (START + HOUR_US, {"model": "gpt-4o"}, 2, 0),
        (START + 2 * HOUR_US, {"model": "claude-x"}, 2, 0),
        (START + 2 * HOUR_US, {"model": "gpt-4o"}, 1, 0),
        (START + 3 * HOUR_US, {"model": "claude-x"}, 1, 0),
        (START + 3 * HOUR_US, {"model": "gpt-4o"}, 2, 0),
    ]
    first = totals[0]
    assert (first.input_tokens, first.output_tokens, first.cost_usd) == (303, 30, Decimal("1.5"))
    assert sum(t.cost_usd for t in totals[1:]) == sum(Decimal("0.001") * (i + 1) for i in range(3, 12))
    refusals = _sum(engine, project, "refusal_count", HOUR_US)
    assert refusals == 3


def test_only_generations_count_as_refusals_through_resends(engine: Engine) -> None:
    """A tool or agent span may carry a refusal-looking output; ingest, re-sends and a rebuild must
    agree that it is not a model refusal (ingest once counted it and the take-back did not)."""
    project = _project(engine)
    refusal = [{"role": "assistant", "content": None, "refusal": "I can't help with that."}]
    spans = [
        _span(0, output=refusal),
        _span(1, type=ObservationType.TOOL, output=refusal),
        _span(2, type=ObservationType.AGENT, output=refusal),
    ]
    _write(engine, project, spans)
    _write(engine, project, spans)  # re-sent unchanged: each takes back what it added
    assert _sum(engine, project, "refusal_count", HOUR_US) == 1
    assert _rows(engine, project) == _rebuilt(engine, project)


def _sum(engine: Engine, project_id: str, column: str, grain: int) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.sum(metric_rollups.c[column])).where(
                    metric_rollups.c.project_id == project_id, metric_rollups.c.grain_us == grain
                )
            ).scalar_one()
        )


def test_daily_rows_add_up_to_the_hourly_rows(engine: Engine) -> None:
    project = _project(engine)
    _write(engine, project, [_span(i * 7) for i in range(20)])  # 20 spans over ~2 days
    for column in ("span_count", "cost_nanos", "latency_sum_us", "lat_10", "ttft_05"):
        assert _sum(engine, project, column, DAY_US) == _sum(engine, project, column, HOUR_US)
    assert _sum(engine, project, "span_count", DAY_US) == 20


def test_hourly_totals_are_scoped_to_the_project_and_range(engine: Engine) -> None:
    mine, other = _project(engine), _project(engine)
    _write(engine, mine, [_span(i) for i in range(6)])
    _write(engine, other, [_span(i, model="other-model") for i in range(6)])
    with engine.connect() as connection:
        totals = hourly_totals(connection, mine, START + HOUR_US, START + 2 * HOUR_US, group_by=())
        by_provider = hourly_totals(
            connection, mine, START, START + 2 * HOUR_US, group_by=("provider", "type")
        )
    assert [(t.hour_us, t.group, t.count) for t in totals] == [(START + HOUR_US, {}, 3)]
    assert [t.group for t in by_provider] == [{"provider": "openai", "type": "generation"}] * 2


def test_hourly_totals_refuse_a_dimension_the_rollups_do_not_have(engine: Engine) -> None:
    with engine.connect() as connection, pytest.raises(ValueError, match="user_id"):
        hourly_totals(connection, "p", START, START + HOUR_US, group_by=("user_id",))


def test_rebuild_of_a_range_only_touches_its_days(engine: Engine) -> None:
    project = _project(engine)
    _write(engine, project, [_span(i * 30) for i in range(8)])  # one span every 10 hours
    before = _rows(engine, project)
    with writing(engine).begin() as connection:
        connection.execute(delete(metric_rollups).where(metric_rollups.c.project_id == project))
        rebuild_rollups(connection, project, START + DAY_US, START + DAY_US + 1)
    after = _rows(engine, project)
    day = (START + DAY_US) // DAY_US * DAY_US
    assert after and all(day <= bucket < day + DAY_US for _, bucket, _ in after)
    assert after == {k: v for k, v in before.items() if day <= k[1] < day + DAY_US}


def test_histogram_percentiles_stay_within_the_bin_error() -> None:
    durations_us = [int(1000 * 1.07**i) for i in range(200)] + [0, 999, 7 * 3600 * 10**6]
    values = [0] * (len(rollup_tables.SUMMED) + 1)
    first = rollup_tables.SUMMED.index("lat_00")
    for d in durations_us:
        values[first + histogram_bin(d)] += 1
    estimate = percentiles(values, first, (50, 90, 95))
    ordered = sorted(durations_us)
    for p in (50, 90, 95):
        exact = ordered[math.ceil(p * len(ordered) / 100) - 1] / 1000
        assert estimate[f"p{p}"] == pytest.approx(exact, rel=0.123)
    assert percentiles([0] * len(values), first, (50,)) == {"p50": None}


def test_migration_matches_the_table_backfills_and_downgrades(empty_database_url: str) -> None:
    def backfill(engine: Engine) -> Callable[[], None]:
        project = _project(engine)
        _write(engine, project, [_span(i) for i in range(9)])
        expected = _rows(engine, project)
        assert len(expected) == 3 + 1  # three hours, one day

        def check() -> None:  # the upgrade rolls up what is already stored
            assert _rows(engine, project) == expected

        return check

    assert_migration_round_trip(empty_database_url, {"metric_rollups"}, down_to="0009", backfill=backfill)
