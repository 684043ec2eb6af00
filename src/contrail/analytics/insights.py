"""Dashboard figures beyond observation aggregates: per-trace and per-user cost, top users, latency by
segment, score summaries, a 30-day cost projection and a what-if repricing.

Trace-level figures read the ``traces`` rollup table (one row per trace, indexed by project and
start time, user and session), never the observations. The trace summary and metadata segments come
from the trace rollups (``source: "rollups"``: counts and cost exact, latency percentiles from
histograms within 12.2%) when the range is on whole hours and the only other filter is the
environment; otherwise, or with ``precision="exact"``, from the traces. Every query is scoped to one
project.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Engine,
    Float,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB

from contrail.analytics import rollups
from contrail.analytics.catalogue import PriceCatalogue
from contrail.analytics.metrics import PRECISIONS, MetricsError
from contrail.store.filters import METADATA_KEY, Filter, trace_conditions
from contrail.store.rollup_tables import HOUR_US
from contrail.store.tables import scores, traces
from contrail.store.trace_rollups import TOTAL
from contrail.store.types import nanos_to_usd

PERCENTILES = (50, 90, 95, 99)
SEGMENTS = ("user_id", "session_id")
# Score groups: a column of the scored trace, each of its tags or models, or a metadata key.
SCORE_GROUPS = ("name", "user_id", "session_id", "environment", "release", "tag", "model")
SCORE_BINS = 10
_t = traces.c


@dataclasses.dataclass(slots=True)
class TraceSummary:
    """Traces in the range and filter; ``latency_ms`` are nearest-rank trace durations (exact, or the
    histogram bin holding them when ``source`` is ``rollups``)."""

    traces: int
    users: int
    cost_usd: Decimal
    cost_per_trace_usd: Decimal | None
    cost_per_user_usd: Decimal | None
    latency_ms: dict[str, float | None] = dataclasses.field(default_factory=dict)
    source: str = "exact"


@dataclasses.dataclass(slots=True)
class UserRow:
    user_id: str
    traces: int
    error_traces: int
    total_tokens: int
    cost_usd: Decimal


@dataclasses.dataclass(slots=True)
class Segment:
    group: str
    traces: int
    latency_ms: dict[str, float | None]
    source: str = "exact"


@dataclasses.dataclass(slots=True)
class ScoreSummary:
    name: str
    count: int
    mean: float | None
    minimum: float | None
    maximum: float | None
    # numeric: SCORE_BINS equal-width bins from minimum to maximum; categorical: one per value
    distribution: list[dict[str, Any]]
    group: str | None = None  # the value of ``group_by`` when grouped


@dataclasses.dataclass(slots=True)
class Projection:
    """Next 30 days' cost by a least-squares line through the daily costs seen (never below zero)."""

    days_observed: int
    daily_now_usd: Decimal
    slope_usd_per_day: Decimal
    next_30_days_usd: Decimal


def _traces_where(engine: Engine, project_id: str, flt: Filter) -> list[Any]:
    """Traces starting in the range that match the filter (and hold at least one observation)."""
    return [*trace_conditions(traces, flt, project_id, engine), _t.observation_count > 0]


def trace_summary(engine: Engine, project_id: str, flt: Filter, precision: str = "auto") -> TraceSummary:
    """Traces matching ``flt``, their distinct users, cost (exact) per trace and per user, and trace
    latency percentiles (nearest rank over trace durations).

    ``precision``: ``auto`` reads counts, cost and latency histograms from the trace rollups when they
    hold the answer (see the module docstring), ``exact`` never; distinct users are always counted
    from the traces. Raises MetricsError for an unknown precision.
    """
    _check_precision(precision)
    where = _traces_where(engine, project_id, flt)
    with engine.connect() as connection:
        if precision == "auto" and _rollups_answer(flt):
            return _rollup_summary(connection, project_id, flt, where)
        query = select(
            func.count(),
            func.count(func.distinct(_t.user_id)),
            func.coalesce(func.sum(_t.total_cost_nanos), 0),
        ).where(*where)
        n_traces, n_users, nanos = connection.execute(query).one()
        latency = _duration_percentiles(connection, where)
    return _summary(int(n_traces), int(n_users), int(nanos), latency, "exact")


def _rollup_summary(connection: Any, project_id: str, flt: Filter, where: list[Any]) -> TraceSummary:
    found = rollups.trace_sums(
        connection, project_id, TOTAL, flt.start_from_us, flt.start_to_us, flt.environment
    ).get(TOTAL)
    values = found or [0] * len(rollups.TRACE_INDEX)
    i = rollups.TRACE_INDEX
    latency = rollups.percentiles(values, rollups.TRACE_LATENCY0, PERCENTILES)
    n_users = _count_users(connection, where)
    return _summary(values[i["trace_count"]], n_users, values[i["cost_nanos"]], latency, "rollups")


def _count_users(connection: Any, where: list[Any]) -> int:
    """Distinct non-null user ids of the traces matching ``where``."""
    if connection.dialect.name == "postgresql":
        # count(DISTINCT) always sorts on PostgreSQL; a GROUP BY can hash (100k traces, 2,000 users:
        # 99 -> 45 ms). SQLite is the other way round (69 vs 82 ms), so it keeps count(DISTINCT).
        users = select(_t.user_id).where(*where, _t.user_id.is_not(None)).group_by(_t.user_id).subquery()
        return int(connection.execute(select(func.count()).select_from(users)).scalar_one())
    return int(connection.execute(select(func.count(func.distinct(_t.user_id))).where(*where)).scalar_one())


def _summary(
    n_traces: int, n_users: int, nanos: int, latency: dict[str, float | None], source: str
) -> TraceSummary:
    cost = nanos_to_usd(nanos) or Decimal(0)
    return TraceSummary(
        traces=n_traces,
        users=n_users,
        cost_usd=cost,
        cost_per_trace_usd=cost / n_traces if n_traces else None,
        cost_per_user_usd=cost / n_users if n_users else None,
        latency_ms=latency,
        source=source,
    )


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise MetricsError("precision", f"{precision!r} is not one of {', '.join(PRECISIONS)}")


def _rollups_answer(flt: Filter) -> bool:
    """Whether the trace rollups hold the answer: whole hours, no filter but a non-empty environment."""
    if any(t is not None and t % HOUR_US for t in (flt.start_from_us, flt.start_to_us)):
        return False
    if flt.environment == "":
        return False  # stored under "" together with the traces that have none
    return dataclasses.replace(flt, start_from_us=None, start_to_us=None, environment=None) == Filter()


def _duration_percentiles(connection: Any, where: list[Any]) -> dict[str, float | None]:
    # One scan of the covering (project, start, ...) index and a sort in Python: a window function
    # over the same rows cost SQLite several times more (820 vs ~150 ms for 100k traces).
    rows = connection.execute(select(_t.duration_us).where(*where, _t.duration_us.is_not(None)))
    return _nearest_rank(sorted(int(v) for (v,) in rows))


def top_users(engine: Engine, project_id: str, flt: Filter, n: int = 10) -> list[UserRow]:
    """The ``n`` users whose traces (matching ``flt``) cost most; ties by user id."""
    cost = func.sum(_t.total_cost_nanos)
    query = (
        select(
            _t.user_id,
            func.count(),
            func.sum(case((_t.error_count > 0, 1), else_=0)),
            func.sum(_t.total_tokens),
            cost,
        )
        .where(*_traces_where(engine, project_id, flt), _t.user_id.is_not(None))
        .group_by(_t.user_id)
        .order_by(cost.desc(), _t.user_id)
        .limit(n)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        UserRow(r[0], int(r[1]), int(r[2] or 0), int(r[3] or 0), nanos_to_usd(int(r[4] or 0)) or Decimal(0))
        for r in rows
    ]


def latency_segments(
    engine: Engine, project_id: str, by: str, flt: Filter, n: int = 10, precision: str = "auto"
) -> list[Segment]:
    """Trace latency percentiles (nearest rank) for the ``n`` busiest values of ``by``; ties by value.

    ``by``: ``user_id``, ``session_id`` (exact: only the busiest segments' durations are read, so the
    cost follows their traffic, not the project's) or ``metadata:<key>`` (trace metadata: from the
    trace rollups when they hold the answer and ``precision`` is ``auto``, see store.trace_rollups for
    the values they hold). Raises ValueError for an unknown ``by``, MetricsError for a bad precision.
    """
    _check_precision(precision)
    key = _segment_expr(by, engine.dialect.name)
    if by not in SEGMENTS and precision == "auto" and _rollups_answer(flt):
        with engine.connect() as connection:
            return _rollup_segments(connection, project_id, by, flt, n)
    where = _traces_where(engine, project_id, flt)
    busiest = (
        select(key.label("g"), func.count().label("c"))
        .where(*where, key.is_not(None))
        .group_by(key)
        .order_by(func.count().desc(), key)
        .limit(n)
    )
    with engine.connect() as connection:
        counts = [(str(g), int(c)) for g, c in connection.execute(busiest)]
        if not counts:
            return []
        durations: dict[str, list[int]] = {g: [] for g, _ in counts}
        rows = connection.execute(
            select(key, _t.duration_us).where(*where, key.in_(list(durations)), _t.duration_us.is_not(None))
        )
        for group, duration in rows:
            durations[str(group)].append(int(duration))
    return [Segment(g, c, _nearest_rank(sorted(durations[g]))) for g, c in counts]


def _rollup_segments(connection: Any, project_id: str, by: str, flt: Filter, n: int) -> list[Segment]:
    sums = rollups.trace_sums(connection, project_id, by, flt.start_from_us, flt.start_to_us, flt.environment)
    count = rollups.TRACE_INDEX["trace_count"]
    busiest = sorted((-v[count], value) for value, v in sums.items() if v[count] > 0)[:n]
    return [
        Segment(
            value,
            -negative,
            rollups.percentiles(sums[value], rollups.TRACE_LATENCY0, PERCENTILES),
            source="rollups",
        )
        for negative, value in busiest
    ]


def _segment_expr(by: str, dialect: str) -> Any:
    if by in SEGMENTS:
        return _t[by]
    return _metadata_expr(by, dialect, f"{by!r} is not one of {', '.join(SEGMENTS)} or metadata:<key>")


def _metadata_expr(by: str, dialect: str, message: str) -> Any:
    name = by.removeprefix("metadata:")
    if not (by.startswith("metadata:") and METADATA_KEY.match(name)):
        raise ValueError(message)
    if dialect == "postgresql":
        return type_coerce(_t.metadata, JSONB)[name].astext
    return cast(func.json_extract(_t.metadata, bindparam(None, '$."' + name + '"')), Text)


def _nearest_rank(values: Sequence[int]) -> dict[str, float | None]:
    if not values:
        return {f"p{p}": None for p in PERCENTILES}
    return {f"p{p}": values[(p * len(values) + 99) // 100 - 1] / 1000 for p in PERCENTILES}


@functools.cache
def _trace_array(column: str, dialect: str) -> Any:
    """One row per element of a trace's JSON array column (tags, models); one object per dialect."""
    if dialect == "postgresql":
        values = func.jsonb_array_elements_text(type_coerce(_t[column], JSONB))
    else:
        values = func.json_each(_t[column])
    return values.table_valued("value").alias(f"trace_{column}")


def _score_group(group_by: str | None, dialect: str) -> tuple[Any, Any]:
    """(group expression, FROM) for scores grouped by a property of their trace."""
    s = scores.c
    joined = scores.join(traces, (_t.project_id == s.project_id) & (_t.trace_id == s.trace_id))
    if group_by is None:
        return None, scores
    if group_by in ("tag", "model"):
        array = _trace_array("tags" if group_by == "tag" else "models", dialect)
        return array.c.value, joined.join(array, literal_column("1") == literal_column("1"))
    if group_by in SCORE_GROUPS:
        return _t[group_by], joined
    message = f"{group_by!r} is not one of {', '.join(SCORE_GROUPS)} or metadata:<key>"
    return _metadata_expr(group_by, dialect, message), joined


def _has_trace_filter(flt: Filter) -> bool:
    untimed = dataclasses.replace(flt, start_from_us=None, start_to_us=None)
    return untimed != Filter()


def score_summaries(
    engine: Engine, project_id: str, flt: Filter, group_by: str | None = None
) -> list[ScoreSummary]:
    """Per score name (and group), scores timestamped in the range whose trace matches the rest of
    ``flt``: count, mean, range and distribution.

    ``group_by``: a property of the scored trace (``SCORE_GROUPS``: ``name`` is the trace name,
    ``tag``/``model`` count a score under each of its trace's tags/models) or ``metadata:<key>``;
    scores without a trace are left out when grouping. Raises ValueError for an unknown group.
    """
    s = scores.c
    dialect = engine.dialect.name
    group, source = _score_group(group_by, dialect)
    where = [s.project_id == project_id]
    if flt.start_from_us is not None:
        where.append(s.timestamp_us >= flt.start_from_us)
    if flt.start_to_us is not None:
        where.append(s.timestamp_us < flt.start_to_us)
    if _has_trace_filter(flt):
        untimed = dataclasses.replace(flt, start_from_us=None, start_to_us=None)
        matching = select(_t.trace_id).where(*trace_conditions(traces, untimed, project_id, engine))
        where.append(s.trace_id.in_(matching))
    if group is not None:
        where.append(group.is_not(None))
    key = (literal_column("NULL") if group is None else group).label("g")
    value = cast(s.value, Float)
    grouping = [*([group] if group is not None else []), s.name]
    with engine.connect() as connection:
        rows = connection.execute(
            select(key, s.name, func.count(), func.avg(value), func.min(value), func.max(value))
            .select_from(source)
            .where(*where)
            .group_by(*grouping)
            .order_by(*grouping)
        ).all()
        labels = connection.execute(
            select(key, s.name, s.string_value, func.count())
            .select_from(source)
            .where(*where, s.value.is_(None), s.string_value.is_not(None))
            .group_by(*grouping, s.string_value)
            .order_by(*grouping, s.string_value)
        ).all()
        numeric: dict[tuple[Any, str], list[float]] = {}
        for g, name, v in connection.execute(
            select(key, s.name, s.value).select_from(source).where(*where, s.value.is_not(None))
        ):
            numeric.setdefault((g, name), []).append(float(v))
    out = []
    for g, name, count, mean, low, high in rows:
        if (g, name) in numeric:
            distribution = _bins(numeric[(g, name)], float(low), float(high))
        else:
            distribution = [
                {"label": str(v), "count": int(c)} for lg, n, v, c in labels if (lg, n) == (g, name)
            ]
        out.append(
            ScoreSummary(
                name,
                int(count),
                None if mean is None else round(float(mean), 6),
                None if low is None else float(low),
                None if high is None else float(high),
                distribution,
                None if g is None else str(g),
            )
        )
    return out


def _bins(values: list[float], low: float, high: float) -> list[dict[str, Any]]:
    width = (high - low) / SCORE_BINS or 1.0
    counts = [0] * SCORE_BINS
    for v in values:
        counts[min(int((v - low) / width), SCORE_BINS - 1)] += 1
    return [{"label": f"{low + i * width:g}", "count": c} for i, c in enumerate(counts)]


def project_cost(daily_costs: Sequence[tuple[int, Decimal]]) -> Projection:
    """Fit cost = a + b * day through ``(day_start_us, usd)`` points (missing days count as zero
    between the first and last seen) and sum the line over the next 30 days, clipped at zero."""
    if not daily_costs:
        return Projection(0, Decimal(0), Decimal(0), Decimal(0))
    day_us = 86_400_000_000
    first = min(d for d, _ in daily_costs)
    by_day = {(d - first) // day_us: c for d, c in daily_costs}
    n = max(by_day) + 1
    ys = [by_day.get(i, Decimal(0)) for i in range(n)]
    mean_x, mean_y = Decimal(n - 1) / 2, sum(ys, Decimal(0)) / n
    spread = sum((Decimal(i) - mean_x) ** 2 for i in range(n))
    slope = (
        sum((Decimal(i) - mean_x) * (y - mean_y) for i, y in enumerate(ys)) / spread if spread else Decimal(0)
    )
    now = mean_y + slope * (Decimal(n - 1) - mean_x)
    ahead = sum((max(now + slope * k, Decimal(0)) for k in range(1, 31)), Decimal(0))
    quantum = Decimal("0.000001")
    return Projection(
        n, max(now, Decimal(0)).quantize(quantum), slope.quantize(quantum), ahead.quantize(quantum)
    )


@dataclasses.dataclass(slots=True)
class WhatIf:
    target_model: str
    actual_usd: Decimal
    repriced_usd: Decimal | None  # None when the catalogue does not know the target model


def what_if(catalogue: PriceCatalogue, target_model: str, mix: Sequence[Any]) -> WhatIf:
    """The same token mix (rows with input/output/cached tokens and cost) priced at ``target_model``'s
    current base rates (per million tokens; cached reads at the cached rate when listed). Long-context
    tiers are left out: they depend on each call's size, which the mix no longer has."""
    actual = sum((row.cost_usd or Decimal(0) for row in mix), Decimal(0))
    match = catalogue.match(target_model)
    rates = None if match is None else match.entry.current().rates
    if rates is None or rates.input is None or rates.output is None:
        return WhatIf(target_model, actual, None)
    tokens_in = sum(row.input_tokens or 0 for row in mix)
    cached = sum(row.cached_input_tokens or 0 for row in mix)
    tokens_out = sum(row.output_tokens or 0 for row in mix)
    micro = (
        (tokens_in - cached) * rates.input
        + cached * (rates.cached_input if rates.cached_input is not None else rates.input)
        + tokens_out * rates.output
    )
    return WhatIf(target_model, actual, micro.scaleb(-6))
