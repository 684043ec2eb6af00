"""Everything the Dashboard page shows for one project, time range and filter, and its CSV exports.

Ranges end at the next whole hour so the series, tables and percentiles come from the rollups; the
user, session and metadata segments read the ``traces`` rollup table (see analytics.insights).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from contrail.analytics import insights, metrics
from contrail.analytics.catalogue import PriceCatalogue
from contrail.schema.timeconv import us_to_rfc3339
from contrail.store.filters import METADATA_KEY, Filter

RANGES = {"24h": 1, "7d": 7, "30d": 30, "90d": 90}
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
CHARTS = ("traffic", "cost", "tokens", "latency", "ttft", "errors", "models", "prompts", "users")


@dataclasses.dataclass(slots=True)
class DashboardQuery:
    range: str = "7d"
    model: str | None = None
    environment: str | None = None
    release: str | None = None
    segment_key: str = "region"
    what_if_model: str = "gpt-4o-mini"


@dataclasses.dataclass(slots=True)
class Dashboard:
    query: DashboardQuery
    start_us: int
    end_us: int
    series: list[metrics.MetricRow]
    cost_by_model: list[metrics.MetricRow]
    models: list[metrics.MetricRow]
    prompts: list[metrics.MetricRow]
    users: list[insights.UserRow]
    summary: insights.TraceSummary
    segments: dict[str, list[Any]]
    projection: insights.Projection
    what_if: insights.WhatIf
    scores: list[insights.ScoreSummary]


def build(
    engine: Engine, project_id: str, query: DashboardQuery, now_us: int, prices: PriceCatalogue
) -> Dashboard:
    """Every figure of the page; raises MetricsError (or ValueError for the segment key) on bad input."""
    if query.range not in RANGES:
        raise metrics.MetricsError("range", f"{query.range!r} is not one of {', '.join(RANGES)}")
    if not METADATA_KEY.match(query.segment_key):
        raise metrics.MetricsError(
            "segment",
            f"{query.segment_key!r} is not a metadata key (1-100 letters, digits, _ . : - or space)",
        )
    end = -(-now_us // HOUR_US) * HOUR_US
    start = end - RANGES[query.range] * DAY_US
    flt = Filter(
        start_from_us=start,
        start_to_us=end,
        model=query.model,
        environment=query.environment,
        release=query.release,
    )
    observations = metrics.observation_metrics
    models = observations(engine, project_id, flt, group_by="model")
    last30 = dataclasses.replace(flt, start_from_us=end - 30 * DAY_US)
    daily = observations(engine, project_id, last30, bucket="day")
    segments: dict[str, list[Any]] = {
        "model": [_segment(r) for r in models],
        "prompt version": [_segment(r) for r in observations(engine, project_id, flt, group_by="prompt")],
    }
    for label, by in (
        ("user", "user_id"),
        ("session", "session_id"),
        (query.segment_key, f"metadata:{query.segment_key}"),
    ):
        segments[label] = [
            {"group": s.group, "count": s.traces, "latency_ms": s.latency_ms}
            for s in insights.latency_segments(engine, project_id, by, flt)
        ]
    return Dashboard(
        query=query,
        start_us=start,
        end_us=end,
        series=observations(engine, project_id, flt, bucket="auto"),
        cost_by_model=observations(engine, project_id, flt, group_by="model", bucket="auto"),
        models=models,
        prompts=[r for r in observations(engine, project_id, flt, group_by="prompt") if r.group],
        users=insights.top_users(engine, project_id, flt),
        summary=insights.trace_summary(engine, project_id, flt),
        segments=segments,
        projection=insights.project_cost([(r.bucket_start_us or 0, r.cost_usd or Decimal(0)) for r in daily]),
        what_if=insights.what_if(prices, query.what_if_model, models),
        scores=insights.score_summaries(engine, project_id, flt),
    )


def _segment(row: metrics.MetricRow) -> dict[str, Any]:
    return {"group": row.group or "(none)", "count": row.count, "latency_ms": row.latency_ms}


def chart_data(board: Dashboard) -> dict[str, Any]:
    """The charts' data for dashboard.js: x in seconds (uPlot), one list per series."""
    x = [(r.bucket_start_us or 0) // 1_000_000 for r in board.series]
    models = sorted({r.group or "(none)" for r in board.cost_by_model})
    cost: dict[str, dict[int, float]] = {m: {} for m in models}
    for r in board.cost_by_model:
        cost[r.group or "(none)"][(r.bucket_start_us or 0) // 1_000_000] = float(r.cost_usd or 0)
    return {
        "x": x,
        "traffic": [r.count for r in board.series],
        "errors": [round(r.error_rate * 100, 3) for r in board.series],
        "tokens": {
            "input": [r.input_tokens or 0 for r in board.series],
            "output": [r.output_tokens or 0 for r in board.series],
        },
        "latency": {f"p{p}": [r.latency_ms[f"p{p}"] for r in board.series] for p in (50, 95, 99)},
        "ttft": {f"p{p}": [r.ttft_ms[f"p{p}"] for r in board.series] for p in (50, 95)},
        "cost": {m: [cost[m].get(t, 0.0) for t in x] for m in models},
    }


def csv_rows(board: Dashboard, chart: str) -> list[list[Any]]:
    """Header and rows of one chart or table, as the page shows them."""
    if chart not in CHARTS:
        raise metrics.MetricsError("chart", f"{chart!r} is not one of {', '.join(CHARTS)}")
    if chart == "users":
        return [["user_id", "traces", "error_traces", "total_tokens", "cost_usd"]] + [
            [u.user_id, u.traces, u.error_traces, u.total_tokens, u.cost_usd] for u in board.users
        ]
    if chart in ("models", "prompts"):
        rows = board.models if chart == "models" else board.prompts
        return [
            [chart[:-1], "count", "errors", "input_tokens", "output_tokens", "cost_usd", "p50_ms", "p95_ms"]
        ] + [
            [
                r.group,
                r.count,
                r.error_count,
                r.input_tokens,
                r.output_tokens,
                r.cost_usd,
                r.latency_ms["p50"],
                r.latency_ms["p95"],
            ]
            for r in rows
        ]
    if chart == "cost":
        return [["bucket_start", "model", "cost_usd"]] + [
            [us_to_rfc3339(r.bucket_start_us or 0), r.group, r.cost_usd] for r in board.cost_by_model
        ]
    names, values = _SERIES_COLUMNS[chart]
    return [["bucket_start", *names]] + [
        [us_to_rfc3339(r.bucket_start_us or 0), *values(r)] for r in board.series
    ]


def _percentile_values(values: dict[str, float | None]) -> list[Any]:
    return list(values.values())


_SERIES_COLUMNS: dict[str, tuple[tuple[str, ...], Callable[[metrics.MetricRow], list[Any]]]] = {
    "traffic": (("count",), lambda r: [r.count]),
    "errors": (("count", "errors", "error_rate"), lambda r: [r.count, r.error_count, r.error_rate]),
    "tokens": (
        ("input_tokens", "output_tokens", "cached_input_tokens"),
        lambda r: [r.input_tokens, r.output_tokens, r.cached_input_tokens],
    ),
    "latency": (("p50_ms", "p90_ms", "p95_ms", "p99_ms"), lambda r: _percentile_values(r.latency_ms)),
    "ttft": (("p50_ms", "p90_ms", "p95_ms", "p99_ms"), lambda r: _percentile_values(r.ttft_ms)),
}


def to_csv(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        # A cell starting with = + - @ would run as a formula in a spreadsheet: prefix it with '.
        writer.writerow(["'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in row])
    return out.getvalue()
