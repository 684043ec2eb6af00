"""Read queries for traces, observations and scores. Every query is scoped to one project.

Rows come back as plain dicts in the API's shape (RFC 3339 times, costs as Decimal, JSON decoded).
List pages read the ``traces`` rollup table and never scan observations.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Engine, Select, select

from contrail.schema.timeconv import us_to_rfc3339
from contrail.store.filters import Filter, observation_conditions, trace_conditions
from contrail.store.pagination import Page, after_cursor, split_page
from contrail.store.tables import observations, scores, traces
from contrail.store.types import nanos_to_usd, unpack_json

TraceSort = Literal["start_time", "latency", "cost", "tokens"]
_TRACE_SORT_COLUMNS = {
    "start_time": traces.c.start_us,
    "latency": traces.c.duration_us,
    "cost": traces.c.total_cost_nanos,
    "tokens": traces.c.total_tokens,
}
MAX_TRACE_OBSERVATIONS = 10_000


def list_traces(
    engine: Engine,
    project_id: str,
    flt: Filter,
    *,
    limit: int = 50,
    cursor: str | None = None,
    sort: TraceSort = "start_time",
    descending: bool = True,
) -> Page[dict[str, Any]]:
    sort_column = _TRACE_SORT_COLUMNS[sort]
    query = select(traces).where(*trace_conditions(traces, flt, project_id, engine))
    if cursor:
        query = query.where(after_cursor(sort_column, traces.c.trace_id, cursor, descending))
    order = (sort_column.desc(), traces.c.trace_id.desc()) if descending else (sort_column, traces.c.trace_id)
    rows, next_cursor = split_page(
        _fetch(engine, query.order_by(*order).limit(limit + 1)), limit, sort_column.name, "trace_id"
    )
    return Page([trace_summary(r) for r in rows], next_cursor)


def get_trace(engine: Engine, project_id: str, trace_id: str) -> dict[str, Any] | None:
    """One trace with its observations (start order) and scores, or None if not in this project."""
    with engine.connect() as connection:
        row = (
            connection.execute(
                select(traces).where(traces.c.project_id == project_id, traces.c.trace_id == trace_id)
            )
            .mappings()
            .first()
        )
        if row is None or not row["observation_count"]:
            return None
        observation_rows = connection.execute(
            select(observations)
            .where(observations.c.project_id == project_id, observations.c.trace_id == trace_id)
            # "+ 0": order after fetching by the (project, trace, span) key; letting the planner walk
            # the start-time index instead to avoid a sort reads the whole project.
            .order_by(observations.c.start_us + 0, observations.c.id)
            .limit(MAX_TRACE_OBSERVATIONS)
        ).mappings()
        detail = trace_summary(row)
        detail["metadata"] = row["metadata"] or {}
        detail["observations"] = [observation_detail(o) for o in observation_rows]
        detail["scores"] = [score_dict(s) for s in _scores_of(connection, project_id, trace_id)]
    return detail


def list_observations(
    engine: Engine, project_id: str, flt: Filter, *, limit: int = 50, cursor: str | None = None
) -> Page[dict[str, Any]]:
    query = select(observations).where(*observation_conditions(observations, flt, project_id, engine))
    if cursor:
        query = query.where(after_cursor(observations.c.start_us, observations.c.id, cursor, True))
    rows = _fetch(
        engine, query.order_by(observations.c.start_us.desc(), observations.c.id.desc()).limit(limit + 1)
    )
    rows, next_cursor = split_page(rows, limit, "start_us", "id")
    return Page([observation_detail(r) for r in rows], next_cursor)


def list_scores(
    engine: Engine,
    project_id: str,
    *,
    trace_id: str | None = None,
    name: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[dict[str, Any]]:
    query = select(scores).where(scores.c.project_id == project_id)
    if trace_id is not None:
        query = query.where(scores.c.trace_id == trace_id)
    if name is not None:
        query = query.where(scores.c.name == name)
    if cursor:
        query = query.where(after_cursor(scores.c.timestamp_us, scores.c.id, cursor, True))
    rows = _fetch(engine, query.order_by(scores.c.timestamp_us.desc(), scores.c.id.desc()).limit(limit + 1))
    rows, next_cursor = split_page(rows, limit, "timestamp_us", "id")
    return Page([score_dict(r) for r in rows], next_cursor)


def trace_summary(row: Any) -> dict[str, Any]:
    return {
        "trace_id": row["trace_id"],
        "name": row["name"],
        "start_time": us_to_rfc3339(row["start_us"]),
        "end_time": us_to_rfc3339(row["end_us"]),
        "latency_ms": None if row["duration_us"] is None else row["duration_us"] / 1000,
        "user_id": row["user_id"],
        "session_id": row["session_id"],
        "environment": row["environment"],
        "release": row["release"],
        "version": row["version"],
        "tags": row["tags"] or [],
        "models": row["models"] or [],
        "input_preview": row["input_preview"],
        "output_preview": row["output_preview"],
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "total_tokens": row["total_tokens"],
        "total_cost_usd": nanos_to_usd(row["total_cost_nanos"]),
        "error_count": row["error_count"],
        "observation_count": row["observation_count"],
        "root_span_id": row["root_span_id"],
    }


def observation_detail(row: Any) -> dict[str, Any]:
    return {
        "trace_id": row["trace_id"],
        "span_id": row["span_id"],
        "parent_span_id": row["parent_span_id"],
        "name": row["name"],
        "type": row["type"],
        "start_time": us_to_rfc3339(row["start_us"]),
        "end_time": us_to_rfc3339(row["end_us"]),
        "latency_ms": None if row["duration_us"] is None else row["duration_us"] / 1000,
        "time_to_first_token_ms": None if row["ttft_us"] is None else row["ttft_us"] / 1000,
        "status": row["status"],
        "status_message": row["status_message"],
        "level": row["level"],
        "model_requested": row["model_requested"],
        "model_response": row["model_response"],
        "model": row["model"],
        "provider": row["provider"],
        "model_parameters": row["model_parameters"],
        "input": unpack_json(row["input"]),
        "output": unpack_json(row["output"]),
        "usage": {
            "input_tokens": row["input_tokens"],
            "output_tokens": row["output_tokens"],
            "cached_input_tokens": row["cached_input_tokens"],
            "reasoning_tokens": row["reasoning_tokens"],
            "total_tokens": row["total_tokens"],
            "cache_write_input_tokens": row["cache_write_input_tokens"],
            "audio_input_tokens": row["audio_input_tokens"],
            "audio_output_tokens": row["audio_output_tokens"],
        },
        "cost_usd": {
            "input": nanos_to_usd(row["input_cost_nanos"]),
            "output": nanos_to_usd(row["output_cost_nanos"]),
            "total": nanos_to_usd(row["total_cost_nanos"]),
        },
        "user_id": row["user_id"],
        "session_id": row["session_id"],
        "environment": row["environment"],
        "release": row["release"],
        "version": row["version"],
        "tags": row["tags"] or [],
        "metadata": row["metadata"] or {},
        "prompt_name": row["prompt_name"],
        "prompt_version": row["prompt_version"],
    }


def score_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "trace_id": row["trace_id"],
        "observation_id": row["observation_id"],
        "session_id": row["session_id"],
        "name": row["name"],
        "value": row["value"],
        "string_value": row["string_value"],
        "data_type": row["data_type"],
        "source": row["source"],
        "comment": row["comment"],
        "metadata": row["metadata"] or {},
        "environment": row["environment"],
        "timestamp": us_to_rfc3339(row["timestamp_us"]),
    }


def _scores_of(connection: Any, project_id: str, trace_id: str) -> Any:
    return connection.execute(
        select(scores)
        .where(scores.c.project_id == project_id, scores.c.trace_id == trace_id)
        .order_by(scores.c.timestamp_us)
    ).mappings()


def _fetch(engine: Engine, query: Select[Any]) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(query).mappings())


# --- lean reads for the Web UI: a trace's outline without its documents, one observation, scores of
# a page of traces, and the root input/output of a session's traces ----------------------------------

_OUTLINE_COLUMNS = (
    "span_id",
    "parent_span_id",
    "name",
    "type",
    "start_us",
    "end_us",
    "duration_us",
    "level",
    "is_error",
    "model",
    "total_tokens",
    "total_cost_nanos",
    "ttft_us",
)


def get_trace_outline(engine: Engine, project_id: str, trace_id: str) -> dict[str, Any] | None:
    """A trace's summary, metadata and scores, and its observations (start order) as rows of ``id``
    and ``_OUTLINE_COLUMNS`` only: no input, output or metadata is read or decoded. A trace over
    MAX_TRACE_OBSERVATIONS keeps an arbitrary subset of that size."""
    with engine.connect() as connection:
        row = (
            connection.execute(
                select(traces).where(traces.c.project_id == project_id, traces.c.trace_id == trace_id)
            )
            .mappings()
            .first()
        )
        if row is None or not row["observation_count"]:
            return None
        columns = [observations.c[name] for name in _OUTLINE_COLUMNS]
        # No ORDER BY: without planner statistics SQLite would walk the (project, start) index to
        # produce that order, scanning the whole project; the (project, trace, span) key is direct.
        outline = connection.execute(
            select(observations.c.id, *columns)
            .where(observations.c.project_id == project_id, observations.c.trace_id == trace_id)
            .limit(MAX_TRACE_OBSERVATIONS)
        ).mappings()
        detail = trace_summary(row)
        detail["metadata"] = row["metadata"] or {}
        detail["observations"] = sorted((dict(o) for o in outline), key=lambda o: (o["start_us"], o["id"]))
        detail["scores"] = [score_dict(s) for s in _scores_of(connection, project_id, trace_id)]
    return detail


def get_observation(engine: Engine, project_id: str, trace_id: str, span_id: str) -> dict[str, Any] | None:
    """One observation in full (the API's shape), or None."""
    query = select(observations).where(
        observations.c.project_id == project_id,
        observations.c.trace_id == trace_id,
        observations.c.span_id == span_id,
    )
    rows = _fetch(engine, query)
    return observation_detail(rows[0]) if rows else None


def scores_by_trace(engine: Engine, project_id: str, trace_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The scores of each of ``trace_ids`` (a page of a list), oldest first."""
    found: dict[str, list[dict[str, Any]]] = {}
    if not trace_ids:
        return found
    query = (
        select(scores)
        .where(scores.c.project_id == project_id, scores.c.trace_id.in_(trace_ids))
        .order_by(scores.c.timestamp_us)
    )
    for row in _fetch(engine, query):
        found.setdefault(row["trace_id"], []).append(score_dict(row))
    return found


def root_documents(engine: Engine, project_id: str, roots: dict[str, str]) -> dict[str, tuple[Any, Any]]:
    """Input and output of each trace's root observation (``roots``: trace_id -> root span_id)."""
    if not roots:
        return {}
    query = select(
        observations.c.trace_id, observations.c.span_id, observations.c.input, observations.c.output
    ).where(
        observations.c.project_id == project_id,
        observations.c.trace_id.in_(list(roots)),
        observations.c.span_id.in_(list(set(roots.values()))),
    )
    return {
        row["trace_id"]: (unpack_json(row["input"]), unpack_json(row["output"]))
        for row in _fetch(engine, query)
        if roots.get(row["trace_id"]) == row["span_id"]
    }
