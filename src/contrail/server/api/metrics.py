"""Metrics: aggregates per group and time bucket, top-N groups, trace/user cost, latency by segment and
score summaries, under any list filter. Answers come from the rollups when they can (see
analytics.metrics); ``precision=exact`` forces exact queries."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from contrail.analytics import insights, metrics
from contrail.schema.timeconv import us_to_rfc3339
from contrail.server.api.params import filter_params
from contrail.server.auth import Principal
from contrail.server.errors import ERROR_RESPONSES, ApiError
from contrail.server.state import principal, server_state
from contrail.store.filters import Filter

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"], responses=ERROR_RESPONSES)

Caller = Annotated[Principal, Depends(principal)]
Filters = Annotated[Filter, Depends(filter_params)]
GROUP_HELP = f"One of {', '.join(metrics.GROUPS)}, or metadata:<key>"
PRECISION_HELP = "auto (rollups when they can answer: histogram percentiles) or exact"


@router.get("/observations", summary="Observation metrics per group and time bucket")
def observation_metrics(
    request: Request,
    caller: Caller,
    flt: Filters,
    group_by: Annotated[str | None, Query(description=GROUP_HELP)] = None,
    bucket: Annotated[
        str | None,
        Query(
            description="minute, hour, day (UTC) or auto (coarsest grain under ~200 buckets); "
            f"more than {metrics.MAX_BUCKETS} buckets is a 422"
        ),
    ] = None,
    type: str | None = None,
    precision: Annotated[str, Query(description=PRECISION_HELP)] = "auto",
) -> dict[str, Any]:
    flt.type = type
    with _metrics_errors():
        rows = metrics.observation_metrics(
            server_state(request).engine,
            caller.project_id,
            flt,
            group_by=group_by,
            bucket=bucket,
            precision=precision,
        )
    return {"data": [_metric_dict(row) for row in rows]}


@router.get(
    "/summary", summary="Traces, distinct users, cost per trace and per user, trace latency percentiles"
)
def summary(
    request: Request,
    caller: Caller,
    flt: Filters,
    precision: Annotated[str, Query(description=PRECISION_HELP)] = "auto",
) -> dict[str, Any]:
    with _metrics_errors():
        metrics.check_range(flt)
        found = insights.trace_summary(server_state(request).engine, caller.project_id, flt, precision)
    return {"data": dataclasses.asdict(found)}


@router.get(
    "/segments", summary="Trace latency percentiles for the busiest users, sessions or metadata values"
)
def segments(
    request: Request,
    caller: Caller,
    flt: Filters,
    by: Annotated[str, Query(description="user_id, session_id or metadata:<key>")] = "user_id",
    n: Annotated[int, Query(ge=1, le=metrics.MAX_TOP)] = 10,
    precision: Annotated[str, Query(description=PRECISION_HELP)] = "auto",
) -> dict[str, Any]:
    with _metrics_errors():
        metrics.check_range(flt)
        try:
            rows = insights.latency_segments(
                server_state(request).engine, caller.project_id, by, flt, n=n, precision=precision
            )
        except metrics.MetricsError:
            raise
        except ValueError as exc:
            raise metrics.MetricsError("by", str(exc)) from exc
    return {"data": [dataclasses.asdict(row) for row in rows], "by": by}


@router.get("/users", summary="Users whose traces cost most in the range")
def top_users(
    request: Request, caller: Caller, flt: Filters, n: Annotated[int, Query(ge=1, le=metrics.MAX_TOP)] = 10
) -> dict[str, Any]:
    with _metrics_errors():
        metrics.check_range(flt)
    rows = insights.top_users(server_state(request).engine, caller.project_id, flt, n=n)
    return {"data": [dataclasses.asdict(row) for row in rows]}


@router.get("/scores", summary="Score count, mean, range and distribution per score name (and group)")
def score_metrics(
    request: Request,
    caller: Caller,
    flt: Filters,
    group_by: Annotated[
        str | None,
        Query(description=f"The scored trace's {', '.join(insights.SCORE_GROUPS)} or metadata:<key>"),
    ] = None,
) -> dict[str, Any]:
    with _metrics_errors():
        metrics.check_range(flt)
        try:
            rows = insights.score_summaries(server_state(request).engine, caller.project_id, flt, group_by)
        except ValueError as exc:
            raise metrics.MetricsError("group_by", str(exc)) from exc
    return {"data": [dataclasses.asdict(row) for row in rows], "group_by": group_by}


@router.get("/top", summary="Top groups by cost, tokens, count, errors or mean latency")
def top(
    request: Request,
    caller: Caller,
    flt: Filters,
    by: Annotated[str, Query(description=GROUP_HELP)] = "user_id",
    metric: Annotated[str, Query(description=", ".join(metrics.TOP_METRICS))] = "cost",
    n: Annotated[int, Query(ge=1, le=metrics.MAX_TOP)] = 10,
    type: str | None = None,
) -> dict[str, Any]:
    flt.type = type
    with _metrics_errors():
        rows = metrics.top(server_state(request).engine, caller.project_id, flt, by=by, metric=metric, n=n)
    return {"data": [dataclasses.asdict(row) for row in rows], "by": by, "metric": metric}


def _metric_dict(row: metrics.MetricRow) -> dict[str, Any]:
    out = dataclasses.asdict(row)
    start = out.pop("bucket_start_us")
    out["bucket_start"] = None if start is None else us_to_rfc3339(start)
    return out


@contextlib.contextmanager
def _metrics_errors() -> Iterator[None]:
    try:
        yield
    except metrics.MetricsError as exc:
        raise ApiError(
            422,
            "invalid_parameters",
            str(exc),
            [{"loc": ["query", exc.field], "message": exc.message}],
        ) from exc
