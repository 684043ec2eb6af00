"""Session and user activity rollups, updated from trace rollup changes in the same transaction.

Each trace counts once for its session and once for its user. When a write changes a trace, its
old contribution is taken back and its new one added, as deltas applied with an atomic upsert, so
several server processes can update the same session concurrently on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite

from contrail.store.rollup import TraceRollup
from contrail.store.tables import session_activity, user_activity

_SUMMED = ("trace_count", "total_tokens", "total_cost_nanos", "error_traces")


def apply(connection: Connection, rollups: Iterable[TraceRollup]) -> None:
    """Fold the changes of ``rollups`` (after their observations were added) into the activity tables."""
    rollups = list(rollups)
    for table, key in ((session_activity, "session_id"), (user_activity, "user_id")):
        deltas: dict[tuple[str, str], dict[str, Any]] = {}
        for rollup in rollups:
            if rollup.before is not None and rollup.before[key] is not None:
                _add(deltas, rollup.project_id, rollup.before[key], rollup.before, -1)
            if rollup.values[key] is not None:
                _add(deltas, rollup.project_id, rollup.values[key], rollup.values, +1)
        rows = [
            {"project_id": project, key: name, **delta}
            for (project, name), delta in sorted(deltas.items())  # one lock order for every writer
            if any(delta[c] for c in _SUMMED) or delta["changed_times"]
        ]
        for row in rows:
            del row["changed_times"]
        if rows:
            _upsert(connection, table, key, rows)


def _add(
    deltas: dict[tuple[str, str], dict[str, Any]], project: str, name: str, trace: dict[str, Any], sign: int
) -> None:
    delta = deltas.setdefault(
        (project, name),
        {
            "trace_count": 0,
            "total_tokens": 0,
            "total_cost_nanos": 0,
            "error_traces": 0,
            "first_seen_us": trace["start_us"],
            "last_seen_us": trace["end_us"],
            "changed_times": False,
        },
    )
    delta["trace_count"] += sign
    delta["total_tokens"] += sign * (trace["total_tokens"] or 0)
    delta["total_cost_nanos"] += sign * (trace["total_cost_nanos"] or 0)
    delta["error_traces"] += sign * int(bool(trace["error_count"]))
    if sign > 0:
        # Times only widen: a trace leaving a session does not shrink its span of activity.
        delta["first_seen_us"] = min(delta["first_seen_us"], trace["start_us"])
        delta["last_seen_us"] = max(delta["last_seen_us"], trace["end_us"])
        delta["changed_times"] = True


def _upsert(connection: Connection, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    postgres = connection.dialect.name == "postgresql"
    statement = (postgresql.insert if postgres else sqlite.insert)(table)
    lowest, highest = (func.least, func.greatest) if postgres else (func.min, func.max)
    changes = {c: table.c[c] + statement.excluded[c] for c in _SUMMED}
    changes["first_seen_us"] = lowest(table.c.first_seen_us, statement.excluded.first_seen_us)
    changes["last_seen_us"] = highest(table.c.last_seen_us, statement.excluded.last_seen_us)
    connection.execute(
        statement.on_conflict_do_update(index_elements=["project_id", key], set_=changes), rows
    )
