"""Reading the metric rollups: hourly totals, summed buckets and percentiles from histograms.

The rollups (``store.rollup_tables``) hold hourly and daily rows per combination of model,
provider, name, type, environment, release, prompt name/version and error flag. A range whose ends
fall on whole hours is answered from them: whole UTC days from daily rows, the ragged ends from
hourly rows. Percentiles from the log-spaced histograms are the geometric middle of the bin holding
the nearest-rank value, within 12.2% of the exact value (bins are 2^(1/3) wide); they are computed
in Python from integer sums, so SQLite and PostgreSQL give the same answer.

For the budgets helper: ``hourly_totals``. For ``contrail db rebuild-rollups``: ``rebuild_rollups``
(metric and trace rollups of a range), in one writing transaction.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, case, func, literal_column, select

from contrail.store import metric_rollups
from contrail.store import trace_rollups as trace_rollup_store
from contrail.store.rollup_tables import DAY_US, DIMENSIONS, HOUR_US, SUMMED, TRACE_SUMMED, trace_rollups
from contrail.store.rollup_tables import metric_rollups as _table
from contrail.store.types import nanos_to_usd

_c = _table.c
INDEX = {name: i for i, name in enumerate(SUMMED)}
ERRORS = len(SUMMED)  # the error count follows the SUMMED columns in every summed row
LATENCY0 = INDEX["lat_00"]
TTFT0 = INDEX["ttft_00"]
BINS = TTFT0 - LATENCY0

Sums = dict[tuple[Any, ...], list[int]]
TRACE_INDEX = {name: i for i, name in enumerate(TRACE_SUMMED)}
TRACE_LATENCY0 = TRACE_INDEX["lat_00"]


@dataclasses.dataclass(slots=True)
class HourlyTotal:
    """One hour (UTC) of one group: ``group`` maps each ``group_by`` dimension to its value."""

    hour_us: int
    group: dict[str, Any]
    count: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal


def hourly_totals(
    connection: Connection,
    project_id: str,
    start_us: int,
    end_us: int,
    group_by: Sequence[str] = ("model",),
) -> list[HourlyTotal]:
    """Per hour and group, the observations starting in hours that start in [start_us, end_us).

    ``group_by``: dimensions of the rollups (``store.rollup_tables.DIMENSIONS``, e.g. "model",
    "provider", "environment", "prompt_name"); raises ValueError for anything else. Ordered by hour,
    then group. Cost is exact (integer nano-dollars summed), zero when nothing was priced.
    """
    unknown = [name for name in group_by if name not in DIMENSIONS]
    if unknown:
        raise ValueError(f"cannot group hourly totals by {unknown}; use any of {', '.join(DIMENSIONS)}")
    sums = bucket_sums(connection, project_id, start_us, end_us, {}, tuple(group_by), HOUR_US, HOUR_US)
    totals = []
    for key in sorted(sums, key=_sort_key):
        values = sums[key]
        if not values[INDEX["span_count"]]:
            continue
        totals.append(
            HourlyTotal(
                hour_us=key[-1],
                group=dict(zip(group_by, key[:-1], strict=True)),
                count=values[INDEX["span_count"]],
                errors=values[ERRORS],
                input_tokens=values[INDEX["input_tokens"]],
                output_tokens=values[INDEX["output_tokens"]],
                cost_usd=nanos_to_usd(values[INDEX["cost_nanos"]]) or Decimal(0),
            )
        )
    return totals


def rebuild_rollups(
    connection: Connection, project_id: str, start_us: int | None, end_us: int | None
) -> None:
    """Recompute the metric rollups of one project's observations and the trace rollups of its traces
    starting in [start_us, end_us).

    Call it in a writing transaction; the range is widened to whole UTC days. None on either end means
    "from the first"/"to the last".
    """
    metric_rollups.rebuild(connection, project_id, start_us, end_us)
    trace_rollup_store.rebuild(connection, project_id, start_us, end_us)


def bucket_sums(
    connection: Connection,
    project_id: str,
    start_us: int | None,
    end_us: int | None,
    where: Mapping[str, Any],
    group_by: tuple[str, ...],
    width: int | None,
    finest: int = DAY_US,
) -> Sums:
    """Summed rollup columns (SUMMED order, then the error count) per group values (+ bucket start).

    ``start_us``/``end_us`` must be whole hours (None: open). ``where`` holds equality conditions on
    dimensions. ``width`` (a multiple of an hour) splits time into buckets; ``finest`` is the
    coarsest grain the buckets allow (days only when ``width`` is a whole number of days).
    """
    sums: Sums = {}
    for grain, low, high in time_pieces(start_us, end_us, DAY_US if finest >= DAY_US else HOUR_US):
        query = _segment_query(project_id, grain, low, high, where, group_by, width)
        for row in connection.execute(query):
            key = tuple(row[: len(group_by) + (1 if width else 0)])
            values = [int(v or 0) for v in row[len(key) :]]
            slot = sums.get(key)
            if slot is None:
                sums[key] = values
            else:
                for i, value in enumerate(values):
                    slot[i] += value
    return sums


def trace_sums(
    connection: Connection,
    project_id: str,
    segment: str,
    start_us: int | None,
    end_us: int | None,
    environment: str | None,
) -> dict[str, list[int]]:
    """Summed trace rollup columns (``TRACE_SUMMED`` order) per value of ``segment`` (``""``: every
    trace, under the value ``""``; ``metadata:<key>``), over traces starting in [start_us, end_us).

    ``start_us``/``end_us`` must be whole hours (None: open); ``environment`` None means any, and must
    not be ``""`` (traces without an environment are stored under it).
    """
    t = trace_rollups.c
    sums: dict[str, list[int]] = {}
    for grain, low, high in time_pieces(start_us, end_us, DAY_US):
        conditions = [t.project_id == project_id, t.segment == segment, t.grain_us == grain]
        if low is not None:
            conditions.append(t.bucket_us >= low)
        if high is not None:
            conditions.append(t.bucket_us < high)
        if environment is not None:
            conditions.append(t.environment == environment)
        query = select(t.value, *(func.sum(t[name]) for name in TRACE_SUMMED)).where(*conditions)
        for row in connection.execute(query.group_by(t.value)):
            values = [int(v or 0) for v in row[1:]]
            slot = sums.get(row[0])
            if slot is None:
                sums[row[0]] = values
            else:
                for i, value in enumerate(values):
                    slot[i] += value
    return sums


def percentiles(values: Sequence[int], first_bin: int, wanted: Sequence[int]) -> dict[str, float | None]:
    """Nearest-rank percentiles (ms) from a histogram stored at ``values[first_bin:first_bin+BINS]``."""
    bins = values[first_bin : first_bin + BINS]
    total = sum(bins)
    out: dict[str, float | None] = {}
    for p in wanted:
        if total <= 0:
            out[f"p{p}"] = None
            continue
        rank, seen = (p * total + 99) // 100, 0
        for index, count in enumerate(bins):
            seen += count
            if seen >= rank:
                out[f"p{p}"] = _bin_value(index)
                break
    return out


def _bin_value(index: int) -> float:
    low, high = metric_rollups.bin_bounds_ms(index)
    middle = 0.5 if index == 0 else math.sqrt(low * high)
    return round(middle, 3)


def time_pieces(start: int | None, end: int | None, finest: int) -> list[tuple[int, int | None, int | None]]:
    """(grain, low, high) pieces covering [start, end) (whole hours or open): daily rows for whole
    days, hourly rows at the ends; only hourly rows when ``finest`` is under a day."""
    if finest < DAY_US:
        return [(HOUR_US, start, end)]
    first_day = None if start is None else -(-start // DAY_US) * DAY_US
    last_day = None if end is None else end // DAY_US * DAY_US
    if first_day is not None and last_day is not None and first_day >= last_day:
        return [(HOUR_US, start, end)]
    pieces: list[tuple[int, int | None, int | None]] = [(DAY_US, first_day, last_day)]
    if start is not None and first_day != start:
        pieces.insert(0, (HOUR_US, start, first_day))
    if end is not None and last_day != end:
        pieces.append((HOUR_US, last_day, end))
    return pieces


def _segment_query(
    project_id: str,
    grain: int,
    low: int | None,
    high: int | None,
    where: Mapping[str, Any],
    group_by: tuple[str, ...],
    width: int | None,
) -> Any:
    keys: list[ColumnElement[Any]] = [_c[name] for name in group_by]
    if width:
        size = literal_column(str(int(width)), BigInteger)  # inlined: GROUP BY matches the select
        keys.append((_c.bucket_us // size) * size)
    conditions = [_c.project_id == project_id, _c.grain_us == grain]
    if low is not None:
        conditions.append(_c.bucket_us >= low)
    if high is not None:
        conditions.append(_c.bucket_us < high)
    for name, value in where.items():
        conditions.append(_c[name].is_(None) if value is None else _c[name] == value)
    columns = [func.sum(_c[name]) for name in SUMMED]
    columns.append(func.sum(case((_c.is_error, _c.span_count), else_=0)))
    labelled = [k.label(f"k{i}") for i, k in enumerate(keys)]
    return select(*labelled, *columns).where(*conditions).group_by(*keys)


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    # Hour first, then groups with None before any value.
    return (key[-1], *((value is not None, value if value is not None else "") for value in key[:-1]))
