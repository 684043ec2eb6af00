"""Trace rollups: a trace counts once with its latest duration, cost and metadata however its spans
arrive; the writer's deltas equal a rebuild; the summary and metadata segments read them on both
dialects and fall back to the traces when they cannot answer."""

from __future__ import annotations

import dataclasses
import math
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import Engine, delete, select, update

from contrail.analytics.insights import latency_segments, trace_summary
from contrail.analytics.metrics import MetricsError
from contrail.analytics.rollups import rebuild_rollups
from contrail.schema.observation import Cost, Observation, ObservationType, Status, TraceAttributes
from contrail.store.database import open_engine, writing
from contrail.store.filters import Filter
from contrail.store.metric_rollups import bin_bounds_ms, histogram_bin
from contrail.store.migrate import _config, upgrade
from contrail.store.projects import create_project
from contrail.store.rollup_tables import DAY_US, HOUR_US, TRACE_SUMMED, VALUE_CHARS, trace_rollups
from contrail.store.tables import traces
from contrail.store.trace_rollups import apply_cost_changes, segment_value
from contrail.store.writer import WriteBatch, write_group
from tests.conftest import LiveContrail
from tests.migration_checks import assert_migration_round_trip

START = 1_759_996_800_000_000  # 2025-10-09T08:00:00Z, on an hour boundary
MS = 1_000
RANGE = Filter(start_from_us=START - DAY_US, start_to_us=START + 2 * DAY_US)


def _project(engine: Engine) -> str:
    return create_project(engine, f"traces-{uuid.uuid4().hex[:10]}").id


def _span(number: int, span: int, start_us: int, duration_us: int, **fields: Any) -> Observation:
    """Span ``span`` of trace ``number``; span ``number * 100`` is its root."""
    values: dict[str, Any] = {
        "trace_id": f"{number:032x}",
        "span_id": f"{span:016x}",
        "parent_span_id": None if span % 100 == 0 else f"{number * 100:016x}",
        "name": "step",
        "type": ObservationType.GENERATION,
        "start_us": start_us,
        "end_us": start_us + duration_us,
        "environment": "production",
    }
    return Observation(**(values | fields))


def _write(engine: Engine, project_id: str, spans: list[Observation]) -> None:
    write_group(engine, [WriteBatch(project_id, spans)], now_us=START)


def _rows(engine: Engine, project_id: str) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """Every row of the project holding a trace, keyed by (segment, grain, bucket, value, environment)."""
    c = trace_rollups.c
    keys = (c.segment, c.grain_us, c.bucket_us, c.value, c.environment)
    with engine.connect() as connection:
        rows = connection.execute(
            select(*keys, *(c[name] for name in TRACE_SUMMED)).where(
                c.project_id == project_id, c.trace_count != 0
            )
        ).all()
    return {tuple(r[:5]): tuple(r[5:]) for r in rows}


def _rebuilt(engine: Engine, project_id: str) -> dict[tuple[Any, ...], tuple[int, ...]]:
    with writing(engine).begin() as connection:
        rebuild_rollups(connection, project_id, None, None)
    return _rows(engine, project_id)


def _middle(duration_us: int) -> float:
    """What a rollup percentile reports for a duration: the geometric middle of its bin."""
    low, high = bin_bounds_ms(histogram_bin(duration_us))
    return round(math.sqrt(low * high), 3)


def _root(number: int, start_us: int, duration_us: int, **fields: Any) -> Observation:
    return _span(number, number * 100, start_us, duration_us, type=ObservationType.AGENT, **fields)


def test_a_trace_sent_in_batches_counts_once_with_its_latest_duration(engine: Engine) -> None:
    project = _project(engine)
    region = TraceAttributes(metadata={"region": "us"})
    root = _root(1, START, 10 * MS, user_id="u1", trace=region)
    first_call = _span(1, 101, START + MS, 5 * MS, cost=Cost(total=Decimal("0.001")))
    _write(engine, project, [root, first_call])
    assert _rows(engine, project)[("", HOUR_US, START, "", "production")][:4] == (1, 0, 1_000_000, 1)

    # Later batches: the root re-sent as it ends 2 s in, a slow failing call, the region corrected.
    ended = dataclasses.replace(
        root, end_us=START + 2_000 * MS, trace=TraceAttributes(metadata={"region": "eu"})
    )
    slow = _span(1, 102, START + 6 * MS, 1_900 * MS, cost=Cost(total=Decimal("0.002")), status=Status.ERROR)
    _write(engine, project, [ended, first_call])
    _write(engine, project, [slow, first_call])
    other = _root(2, START + 30 * 60 * 1_000_000, 100 * MS, user_id="u2", trace=region)
    _write(engine, project, [other])
    _write(engine, project, [first_call, other])  # re-sent unchanged: nothing moves

    rows = _rows(engine, project)
    total = rows[("", HOUR_US, START, "", "production")]
    index = {name: i for i, name in enumerate(TRACE_SUMMED)}
    assert (total[index["trace_count"]], total[index["error_traces"]], total[index["cost_nanos"]]) == (
        2,
        1,
        3_000_000,
    )
    assert total[index["duration_sum_us"]] == 2_100 * MS
    assert total[index[f"lat_{histogram_bin(2_000 * MS):02d}"]] == 1
    assert total[index[f"lat_{histogram_bin(10 * MS):02d}"]] == 0  # the first duration was taken back
    assert {k[3]: v[0] for k, v in rows.items() if k[:2] == ("metadata:region", HOUR_US)} == {
        "eu": 1,
        "us": 1,
    }
    assert rows == _rebuilt(engine, project)

    summary = trace_summary(engine, project, RANGE)
    exact = trace_summary(engine, project, RANGE, precision="exact")
    assert (summary.source, exact.source) == ("rollups", "exact")
    assert (summary.traces, summary.users, summary.cost_usd) == (exact.traces, exact.users, exact.cost_usd)
    assert (summary.traces, summary.users, summary.cost_usd) == (2, 2, Decimal("0.003"))
    assert summary.latency_ms == {"p50": _middle(100 * MS), "p90": _middle(2_000 * MS)} | {
        "p95": _middle(2_000 * MS),
        "p99": _middle(2_000 * MS),
    }
    assert exact.latency_ms == {"p50": 100.0, "p90": 2_000.0, "p95": 2_000.0, "p99": 2_000.0}


def test_rebuild_equals_the_writer_through_moves_between_buckets_and_segments(engine: Engine) -> None:
    project = _project(engine)
    midnight = (START // DAY_US + 1) * DAY_US
    late = midnight - 30 * 60 * 1_000_000  # trace 3 starts at 00:30, then gains a span at 23:30
    meta = {"region": "us", "tier": "pro", "n": 3, "beta": True, "ratio": 0.5}
    spans = [
        _root(1, START, 50 * MS, user_id="u1", trace=TraceAttributes(metadata=meta)),
        _root(2, START + HOUR_US, 70 * MS, user_id="u1", environment=None),
        _root(
            3,
            midnight + 30 * 60 * 1_000_000,
            20 * MS,
            user_id="u2",
            trace=TraceAttributes(metadata={"region": "ap"}),
        ),
        _root(
            4,
            START + 2 * HOUR_US,
            30 * MS,
            trace=TraceAttributes(
                metadata={"nested": {"a": 1}, "long": "x" * (VALUE_CHARS + 1), "bad key!": "v"}
            ),
        ),
    ]
    _write(engine, project, spans)
    # Trace 2 moves to staging and another user; trace 3 gains a span an hour earlier (its start moves
    # to the previous day); trace 1 gains cost and a key.
    _write(
        engine,
        project,
        [
            _span(2, 201, START + HOUR_US + MS, 5 * MS, environment="staging", user_id="u3"),
            _span(3, 301, late, 10 * MS, cost=Cost(total=Decimal("0.25"))),
            _span(
                1,
                101,
                START + MS,
                5 * MS,
                cost=Cost(total=Decimal("1")),
                trace=TraceAttributes(metadata={"team": "a"}),
            ),
        ],
    )
    rows = _rows(engine, project)
    assert rows == _rebuilt(engine, project)
    segments = {(k[0], k[3]) for k in rows}
    assert segments == {
        ("", ""),
        ("metadata:region", "us"),
        ("metadata:region", "ap"),
        ("metadata:tier", "pro"),
        ("metadata:n", "3"),
        ("metadata:beta", "true"),
        ("metadata:ratio", "0.5"),
        ("metadata:team", "a"),
    }
    day_of_3 = [k for k in rows if k[0] == "metadata:region" and k[3] == "ap"]
    assert sorted((k[1], k[2]) for k in day_of_3) == [
        (HOUR_US, midnight - HOUR_US),
        (DAY_US, midnight - DAY_US),
    ]
    environments = {
        k[4]: v[0] for k, v in rows.items() if k[:2] == ("", DAY_US) and k[2] == START // DAY_US * DAY_US
    }
    assert environments == {"production": 3, "staging": 1}


def test_metadata_segments_match_the_exact_answer_on_both_dialects(engine: Engine) -> None:
    project = _project(engine)
    regions = ["us"] * 5 + ["eu"] * 3 + ["ap"] * 3 + [None]
    spans = [
        _root(
            i + 1,
            START + i * 10 * 60 * 1_000_000,
            (i + 1) * 40 * MS,
            trace=TraceAttributes(metadata={} if r is None else {"region": r}),
        )
        for i, r in enumerate(regions)
    ]
    _write(engine, project, spans)
    auto = latency_segments(engine, project, "metadata:region", RANGE, n=2)
    exact = latency_segments(engine, project, "metadata:region", RANGE, n=2, precision="exact")
    # ties (eu, ap: 3 each) by value; the trace without a region is in no segment
    assert [(s.group, s.traces, s.source) for s in auto] == [("us", 5, "rollups"), ("ap", 3, "rollups")]
    assert [(s.group, s.traces, s.source) for s in exact] == [("us", 5, "exact"), ("ap", 3, "exact")]
    for rolled, precise in zip(auto, exact, strict=True):
        for p, value in precise.latency_ms.items():
            assert value is not None and rolled.latency_ms[p] == _middle(int(value * 1000))
    assert latency_segments(engine, project, "metadata:nothing", RANGE) == []


def test_the_summary_counts_each_user_once_and_traces_without_one_not_at_all(engine: Engine) -> None:
    project = _project(engine)
    users = ["u1", "u1", "u1", "u2", None, None, "u3"]
    spans = [_root(i + 1, START + i * HOUR_US, 10 * MS, user_id=u) for i, u in enumerate(users)]
    spans.append(_root(99, START - 2 * DAY_US, 10 * MS, user_id="u4"))  # before the range
    _write(engine, project, spans)
    summaries = [trace_summary(engine, project, RANGE, precision=p) for p in ("auto", "exact")]
    assert [(s.source, s.traces, s.users) for s in summaries] == [("rollups", 7, 3), ("exact", 7, 3)]


def test_what_the_rollups_cannot_answer_is_exact(engine: Engine) -> None:
    project = _project(engine)
    _write(
        engine,
        project,
        [
            _root(1, START, 10 * MS, user_id="u1", model_requested="gpt-4o"),
            _root(2, START + HOUR_US, 20 * MS, user_id="u2", environment="staging"),
            _root(3, START + 2 * HOUR_US, 30 * MS, user_id="u2", environment=None),
        ],
    )
    staging = trace_summary(engine, project, dataclasses.replace(RANGE, environment="staging"))
    assert (staging.source, staging.traces, staging.users) == ("rollups", 1, 1)
    ragged = dataclasses.replace(RANGE, start_from_us=START + 1)
    cases = {
        "not on whole hours": ragged,
        "a filter the rollups do not hold": dataclasses.replace(RANGE, model="gpt-4o"),
        "the empty environment": dataclasses.replace(RANGE, environment=""),
        "another user": dataclasses.replace(RANGE, user_id="u2"),
    }
    found = {name: trace_summary(engine, project, flt) for name, flt in cases.items()}
    assert {name: (s.source, s.traces) for name, s in found.items()} == {
        "not on whole hours": ("exact", 2),
        "a filter the rollups do not hold": ("exact", 1),
        "the empty environment": ("exact", 0),
        "another user": ("exact", 2),
    }
    open_range = trace_summary(engine, project, Filter())
    assert (open_range.source, open_range.traces, open_range.users) == ("rollups", 3, 2)
    assert [s.source for s in latency_segments(engine, project, "user_id", RANGE)] == ["exact", "exact"]


def test_bad_precision_and_segment_are_refused(engine: Engine) -> None:
    with pytest.raises(MetricsError, match="precision"):
        trace_summary(engine, "p", RANGE, precision="roughly")
    with pytest.raises(MetricsError, match="precision"):
        latency_segments(engine, "p", "metadata:region", RANGE, precision="roughly")
    with pytest.raises(ValueError, match="metadata:<key>"):
        latency_segments(engine, "p", "metadata:a'b", RANGE)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("us", "us"),
        ("", ""),
        ("é" * VALUE_CHARS, "é" * VALUE_CHARS),
        ("x" * (VALUE_CHARS + 1), None),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (10**300, None),
        (0.5, "0.5"),
        (float("nan"), None),
        (None, None),
        ({"a": 1}, None),
        (["a"], None),
    ],
)
def test_segment_values(value: Any, text: str | None) -> None:
    assert segment_value(value) == text


def test_enormous_and_reversed_ranges_are_422(sqlite_contrail: LiveContrail) -> None:
    cases = [
        ("summary", {"from_time": "1990-01-01T00:00:00Z", "to_time": "2026-01-01T00:00:00Z"}, "to_time"),
        (
            "segments",
            {"by": "metadata:region", "from_time": "1990-01-01T00:00:00Z", "to_time": "2026-01-01T00:00:00Z"},
            "to_time",
        ),
        (
            "segments",
            {"by": "metadata:region", "from_time": "2026-01-02T00:00:00Z", "to_time": "2026-01-01T00:00:00Z"},
            "from_time",
        ),
    ]
    with sqlite_contrail.client() as client:
        for path, params, field in cases:
            response = client.get(f"/api/v1/metrics/{path}", params=params)
            assert response.status_code == 422, (path, params, response.text)
            assert response.json()["error"]["details"][0]["loc"] == ["query", field]


def test_migration_creates_the_table_backfills_and_downgrades(empty_database_url: str) -> None:
    assert_migration_round_trip(empty_database_url, {"trace_rollups"}, "0013")
    engine = open_engine(empty_database_url)
    try:
        project = _project(engine)
        _write(engine, project, [_root(i + 1, START + i * HOUR_US, (i + 1) * MS) for i in range(3)])
        expected = _rows(engine, project)
        assert len(expected) == 3 + 1  # three hours, one day
        with writing(engine).begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0013")
        upgrade(engine)  # the backfill rolls up the traces already stored
        assert _rows(engine, project) == expected
    finally:
        engine.dispose()


def test_cli_rebuild_restores_the_trace_rollups(
    contrail: LiveContrail, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contrail.cli.main import cli

    monkeypatch.setenv("CONTRAIL_HOME", str(tmp_path / "cli-home"))
    engine = contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    url = str(contrail.app.state.contrail.settings.resolved_database_url())  # type: ignore[attr-defined]
    meta = TraceAttributes(metadata={"region": "eu"})
    _write(
        engine, contrail.project_id, [_root(i + 1, START + i * 7 * HOUR_US, MS, trace=meta) for i in range(6)]
    )
    before = _rows(engine, contrail.project_id)
    with engine.begin() as connection:
        connection.execute(delete(trace_rollups).where(trace_rollups.c.project_id == contrail.project_id))
    assert _rows(engine, contrail.project_id) == {}
    result = CliRunner().invoke(
        cli, ["--db", url, "db", "rebuild-rollups", "--project", contrail.project_id], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert _rows(engine, contrail.project_id) == before


def test_cost_changes_move_every_row_a_trace_counts_under(engine: Engine) -> None:
    project = _project(engine)
    meta = TraceAttributes(metadata={"region": "us", "tier": "pro"})
    _write(engine, project, [_root(i + 1, START + i * HOUR_US, MS, trace=meta) for i in range(3)])
    with writing(engine).begin() as connection:
        # What price recalculation does: the trace's cost moves, then its rollup rows.
        connection.execute(
            update(traces)
            .where(traces.c.project_id == project, traces.c.trace_id == f"{2:032x}")
            .values(total_cost_nanos=traces.c.total_cost_nanos + 7_000)
        )
        trace = (
            connection.execute(
                select(traces).where(traces.c.project_id == project, traces.c.trace_id == f"{2:032x}")
            )
            .mappings()
            .one()
        )
        apply_cost_changes(connection, project, [(trace, 7_000)])
    rows = _rows(engine, project)
    assert rows == _rebuilt(engine, project)
    cost = TRACE_SUMMED.index("cost_nanos")
    moved = {(k[0], k[1]) for k, v in rows.items() if v[cost] == 7_000}
    assert moved == {(s, g) for s in ("", "metadata:region", "metadata:tier") for g in (HOUR_US, DAY_US)}
