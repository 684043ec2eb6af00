"""Sessions and users, derived from the ``traces`` rollup (grouped by session_id / user_id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from contrail.schema.timeconv import us_to_rfc3339
from contrail.store.pagination import Page, after_cursor, encode_cursor
from contrail.store.queries import trace_summary
from contrail.store.tables import traces
from contrail.store.types import nanos_to_usd


def list_sessions(
    engine: Engine,
    project_id: str,
    *,
    user_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[dict[str, Any]]:
    """Sessions, most recently active first."""
    return _grouped(engine, project_id, traces.c.session_id, "session_id", limit, cursor, user_id=user_id)


def list_users(
    engine: Engine, project_id: str, *, limit: int = 50, cursor: str | None = None
) -> Page[dict[str, Any]]:
    """Users with their trace counts, tokens, cost and when they were last seen."""
    return _grouped(engine, project_id, traces.c.user_id, "user_id", limit, cursor)


def get_session(engine: Engine, project_id: str, session_id: str) -> dict[str, Any] | None:
    """A session's traces in time order, or None when the project has no such session."""
    query = (
        select(traces)
        .where(traces.c.project_id == project_id, traces.c.session_id == session_id)
        .order_by(traces.c.start_us, traces.c.trace_id)
        .limit(1000)
    )
    with engine.connect() as connection:
        rows = list(connection.execute(query).mappings())
    if not rows:
        return None
    return {
        "session_id": session_id,
        "user_ids": sorted({r["user_id"] for r in rows if r["user_id"]}),
        "traces": [trace_summary(r) for r in rows],
    }


def _grouped(
    engine: Engine,
    project_id: str,
    key: Any,
    key_name: str,
    limit: int,
    cursor: str | None,
    *,
    user_id: str | None = None,
) -> Page[dict[str, Any]]:
    last_seen = func.max(traces.c.end_us).label("last_seen_us")
    query = (
        select(
            key.label("key"),
            func.count().label("trace_count"),
            func.min(traces.c.start_us).label("first_seen_us"),
            last_seen,
            func.sum(traces.c.total_tokens).label("total_tokens"),
            func.sum(traces.c.total_cost_nanos).label("total_cost_nanos"),
            func.sum(traces.c.error_count).label("error_count"),
            func.count(
                func.distinct(traces.c.user_id if key_name == "session_id" else traces.c.session_id)
            ).label("distinct_other"),
        )
        .where(traces.c.project_id == project_id, key.is_not(None))
        .group_by(key)
    )
    if user_id is not None:
        query = query.where(traces.c.user_id == user_id)
    if cursor:
        query = query.having(after_cursor(last_seen, key, cursor, descending=True))
    query = query.order_by(last_seen.desc(), key.desc()).limit(limit + 1)
    with engine.connect() as connection:
        rows = list(connection.execute(query).mappings())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["last_seen_us"], rows[-1]["key"])
    other = "user_count" if key_name == "session_id" else "session_count"
    return Page(
        [
            {
                key_name: r["key"],
                "trace_count": r["trace_count"],
                "first_seen": us_to_rfc3339(r["first_seen_us"]),
                "last_seen": us_to_rfc3339(r["last_seen_us"]),
                "total_tokens": int(r["total_tokens"] or 0),
                "total_cost_usd": nanos_to_usd(int(r["total_cost_nanos"] or 0)),
                "error_count": int(r["error_count"] or 0),
                other: r["distinct_other"],
            }
            for r in rows
        ],
        next_cursor,
    )
