"""Keeping ``trace_rollups`` current: delta upserts at ingest, cost moves, and rebuilding a time range.

The writer calls ``apply`` in its transaction with the rollup of every trace it touched. A trace's
figures change as its spans arrive across batches (its duration grows, its cost adds up, metadata
appears), so what the trace counted for before the write is taken back and what it counts for now is
added: a trace counts once, under its current duration bin, whatever the number of batches. Deltas
are summed per row in Python (a batch of many traces becomes a few rows per hour) and upserted in key
order, one lock order for every writer on PostgreSQL; a trace that did not change adds nothing.

Segments: every trace counts under ``segment=""``; a trace whose metadata holds a scalar under a key
usable in filters (``store.filters.METADATA_KEY``) also counts under ``metadata:<key>`` with the value
as text (strings as they are, numbers as Python prints them, booleans ``true``/``false``). Objects,
lists, nulls and strings over ``VALUE_CHARS`` characters are not segments, and only the first
``MAX_SEGMENT_KEYS`` keys in name order count: precision=exact answers for the others.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, or_, select

from contrail.store.database import executemany
from contrail.store.filters import METADATA_KEY
from contrail.store.metric_rollups import histogram_bin
from contrail.store.rollup import TraceRollup
from contrail.store.rollup_tables import (
    DAY_US,
    GRAINS,
    TRACE_KEY,
    TRACE_SUMMED,
    VALUE_CHARS,
    trace_rollups,
)
from contrail.store.tables import traces

MAX_SEGMENT_KEYS = 32
TOTAL = ""  # the segment (and value) every trace counts under

# (project, segment, grain, bucket, value, environment) -> summed counters in TRACE_SUMMED order
Deltas = dict[tuple[Any, ...], list[int]]

_COLUMNS = (*TRACE_KEY, *TRACE_SUMMED)
_UPSERT = (
    f"INSERT INTO trace_rollups ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    f"ON CONFLICT ({', '.join(TRACE_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = trace_rollups.{c} + excluded.{c}" for c in TRACE_SUMMED)
)
_WIDTH = len(TRACE_SUMMED)
_LAT0 = TRACE_SUMMED.index("lat_00")
_COST = TRACE_SUMMED.index("cost_nanos")
# What the fold reads of a trace, whether a writer's TraceRollup or a stored traces row.
_FOLDED = (
    "trace_id",
    "start_us",
    "environment",
    "total_cost_nanos",
    "duration_us",
    "error_count",
    "metadata",
)
_FOLDED_VALUES = operator.itemgetter(*_FOLDED[1:])
_REBUILD_CHUNK = 5_000


def segment_value(value: Any) -> str | None:
    """The text a metadata value counts under as a segment, or None when it is not a segment."""
    if isinstance(value, str):
        return value if len(value) <= VALUE_CHARS else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        text = str(value)
        return text if len(text) <= VALUE_CHARS else None
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


def apply(connection: Connection, rollups: Iterable[TraceRollup]) -> None:
    """Fold the changes of the written traces (their rollups after this write's spans were added)."""
    deltas: Deltas = {}
    for rollup in rollups:
        before, after = rollup.before, rollup.values
        if before is not None:
            if _FOLDED_VALUES(before) == _FOLDED_VALUES(after):
                continue  # a re-sent span that changed nothing the rollups count
            _fold(deltas, rollup.project_id, before, -1)
        _fold(deltas, rollup.project_id, after, +1)
    _upsert(connection, deltas)


def apply_cost_changes(
    connection: Connection, project_id: str, changes: Iterable[tuple[Mapping[str, Any], int]]
) -> None:
    """Add each ``(trace, cost delta in nano-dollars)`` to the rows the trace counts under (price
    recalculation). ``trace`` needs ``start_us``, ``environment`` and ``metadata``."""
    deltas: Deltas = {}
    for trace, delta in changes:
        for key in _keys(project_id, trace):
            slot = deltas.get(key)
            if slot is None:
                slot = deltas[key] = [0] * _WIDTH
            slot[_COST] += delta
    _upsert(connection, deltas)


def rebuild(connection: Connection, project_id: str, start_us: int | None, end_us: int | None) -> None:
    """Recompute the trace rollups of traces starting in [start_us, end_us) (open ends: all), widened
    to whole UTC days, from the ``traces`` table. Run it in a writing transaction."""
    low = None if start_us is None else start_us // DAY_US * DAY_US
    high = None if end_us is None else -(-end_us // DAY_US) * DAY_US
    t, r = traces.c, trace_rollups.c
    removal = delete(trace_rollups).where(r.project_id == project_id)
    source = [t.project_id == project_id, t.observation_count > 0]
    if low is not None:
        removal = removal.where(r.bucket_us >= low)
        source.append(t.start_us >= low)
    if high is not None:
        removal = removal.where(r.bucket_us < high)
        source.append(t.start_us < high)
    connection.execute(removal)
    query = select(*(t[name] for name in _FOLDED)).where(*source).order_by(t.start_us, t.trace_id)
    deltas: Deltas = {}
    after: tuple[int, str] | None = None
    while True:  # keyset pages on (start, trace) through the (project, start, trace) index
        page = (
            query
            if after is None
            else query.where(or_(t.start_us > after[0], (t.start_us == after[0]) & (t.trace_id > after[1])))
        )
        rows = connection.execute(page.limit(_REBUILD_CHUNK)).mappings().all()
        for row in rows:
            _fold(deltas, project_id, dict(row), +1)
        if len(rows) < _REBUILD_CHUNK:
            break
        after = (rows[-1]["start_us"], rows[-1]["trace_id"])
    _upsert(connection, deltas)


def rebuild_all(connection: Connection) -> None:
    """Recompute every project's trace rollups (the migration's backfill)."""
    projects = connection.execute(select(traces.c.project_id).distinct()).scalars().all()
    for project_id in projects:
        rebuild(connection, project_id, None, None)


def _segments(metadata: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    found = [_EVERY_TRACE]
    if not metadata:
        return found
    for name in sorted(metadata)[:MAX_SEGMENT_KEYS]:
        value = segment_value(metadata[name])
        if value is not None:
            segment = _segment_names.get(name)
            if segment is None:
                segment = _segment_name(name)
            if segment:
                found.append((segment, value))
    return found


_EVERY_TRACE = (TOTAL, TOTAL)
_segment_names: dict[str, str] = {}


def _segment_name(key: str) -> str:
    # The writer folds every trace twice per write; checking each key against the pattern again cost
    # more than the rest of the fold. Bounded: cleared when it grows large ("" marks a refused key).
    if len(_segment_names) >= 4096:
        _segment_names.clear()
    name = _segment_names[key] = "metadata:" + key if METADATA_KEY.match(key) else ""
    return name


def _keys(project_id: str, trace: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    start, environment = trace["start_us"], trace["environment"] or ""
    segments = _segments(trace["metadata"])
    return [
        (project_id, segment, grain, start - start % grain, value, environment)
        for grain in GRAINS
        for segment, value in segments
    ]


def _fold(deltas: Deltas, project_id: str, trace: Mapping[str, Any], sign: int) -> None:
    start = trace["start_us"]
    if start is None:
        return  # a trace row no span has reached yet
    cost, duration = sign * (trace["total_cost_nanos"] or 0), trace["duration_us"]
    errors = sign if trace["error_count"] else 0
    timed = duration is not None and duration >= 0
    bin_slot = _LAT0 + histogram_bin(duration) if timed else 0
    environment = trace["environment"] or ""
    segments = _segments(trace["metadata"])
    for grain in GRAINS:
        bucket = start - start % grain
        for segment, value in segments:
            key = (project_id, segment, grain, bucket, value, environment)
            slot = deltas.get(key)
            if slot is None:
                slot = deltas[key] = [0] * _WIDTH
            slot[0] += sign
            slot[1] += errors
            slot[2] += cost
            if timed:
                slot[3] += sign
                slot[4] += sign * duration
                slot[bin_slot] += sign


def _upsert(connection: Connection, deltas: Deltas) -> None:
    rows = [(*key, *deltas[key]) for key in sorted(deltas) if any(deltas[key])]
    if rows:
        executemany(connection, _UPSERT, rows)
