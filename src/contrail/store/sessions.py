"""Sessions and users, derived from the ``traces`` rollup (grouped by session_id / user_id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select

from contrail.schema.timeconv import us_to_rfc3339
from contrail.store.pagination import Page, after_cursor, split_page
from contrail.store.queries import trace_summary
from contrail.store.tables import session_activity, traces, user_activity
from contrail.store.types import nanos_to_usd


def list_sessions(
    engine: Engine,
    project_id: str,
    *,
    user_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[dict[str, Any]]:
    """Sessions, most recently active first (``user_id``: only sessions that user took part in)."""
    return _list(engine, session_activity, "session_id", project_id, limit, cursor, user_id=user_id)


def list_users(
    engine: Engine, project_id: str, *, limit: int = 50, cursor: str | None = None
) -> Page[dict[str, Any]]:
    """Users with their trace counts, tokens, cost and when they were last seen."""
    return _list(engine, user_activity, "user_id", project_id, limit, cursor)


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


def _list(
    engine: Engine,
    table: Table,
    key_name: str,
    project_id: str,
    limit: int,
    cursor: str | None,
    *,
    user_id: str | None = None,
) -> Page[dict[str, Any]]:
    key = table.c[key_name]
    query = select(table).where(table.c.project_id == project_id)
    if user_id is not None:
        of_user = select(traces.c.session_id).where(
            traces.c.project_id == project_id, traces.c.user_id == user_id
        )
        query = query.where(key.in_(of_user))
    if cursor:
        query = query.where(after_cursor(table.c.last_seen_us, key, cursor, descending=True))
    query = query.order_by(table.c.last_seen_us.desc(), key.desc()).limit(limit + 1)
    with engine.connect() as connection:
        rows, next_cursor = split_page(
            list(connection.execute(query).mappings()), limit, "last_seen_us", key_name
        )
        other_name, other_counts = _distinct_others(
            connection, project_id, key_name, [r[key_name] for r in rows]
        )
    return Page(
        [
            {
                key_name: r[key_name],
                "trace_count": r["trace_count"],
                "first_seen": us_to_rfc3339(r["first_seen_us"]),
                "last_seen": us_to_rfc3339(r["last_seen_us"]),
                "total_tokens": r["total_tokens"],
                "total_cost_usd": nanos_to_usd(r["total_cost_nanos"]),
                "error_count": r["error_traces"],
                other_name: other_counts.get(r[key_name], 0),
            }
            for r in rows
        ],
        next_cursor,
    )


def _distinct_others(
    connection: Connection, project_id: str, key_name: str, keys: list[str]
) -> tuple[str, dict[str, int]]:
    """Users per session (or sessions per user), counted for one page only."""
    key, other = (
        (traces.c.session_id, traces.c.user_id)
        if key_name == "session_id"
        else (traces.c.user_id, traces.c.session_id)
    )
    name = "user_count" if key_name == "session_id" else "session_count"
    if not keys:
        return name, {}
    query = (
        select(key, func.count(func.distinct(other)))
        .where(traces.c.project_id == project_id, key.in_(keys))
        .group_by(key)
    )
    return name, {row[0]: row[1] for row in connection.execute(query)}
