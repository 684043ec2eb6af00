"""Aggregate metrics over observations: counts, errors, tokens, exact cost and latency percentiles.

Every query is scoped to one project and takes the same ``Filter`` as the list APIs, so any filter
of ``GET /api/v1/observations`` narrows metrics too.

Percentiles use the nearest-rank method, computed inside SQL with window functions on both dialects:
values of a group are ranked by ``ROW_NUMBER() OVER (PARTITION BY group, bucket ORDER BY value)``
and the pth percentile is the value at rank ``ceil(p * n / 100)`` (integer arithmetic), where ``n``
counts the non-null values. Only the four ranked rows per group leave the database, and SQLite and
PostgreSQL return exactly the same stored value, never an interpolation.

Queries the metric rollups can answer (hour-aligned range, filters and groups on rollup dimensions,
buckets of whole hours) are answered from them (``analytics.rollups``): counts, tokens and cost are
still exact, percentiles come from log-spaced histograms (within 12.2%) and refusals are counted.
Others, or ``precision="exact"``, run on the observations (refusals are then not counted: they live
in the stored outputs).
"""

from __future__ import annotations

import dataclasses
import functools
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Float,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB

from contrail.analytics import rollups
from contrail.store.filters import METADATA_KEY, Filter, observation_conditions
from contrail.store.rollup_tables import DAY_US, HOUR_US
from contrail.store.tables import observations
from contrail.store.types import nanos_to_usd

Bucket = Literal["minute", "hour", "day"]
BUCKET_US: dict[str, int] = {"minute": 60_000_000, "hour": 3_600_000_000, "day": 86_400_000_000}
MAX_BUCKETS = 1_000
PERCENTILES = (50, 90, 95, 99)
GROUPS = (
    "model",
    "provider",
    "user_id",
    "session_id",
    "prompt",
    "environment",
    "release",
    "name",
    "type",
    "tag",
)
TOP_METRICS = ("cost", "tokens", "count", "errors", "latency")
MAX_TOP = 100
MAX_RANGE_US = 3660 * 86_400_000_000  # ten years: beyond that a range is a typo, not a question
PRECISIONS = ("auto", "exact")
SCORE_BINS = 10
# Groups and filters the rollups hold (prompt is prompt_name + prompt_version).
_ROLLUP_GROUPS = {"model", "provider", "prompt", "environment", "release", "name", "type"}
_ROLLUP_FILTERS = {"name", "environment", "release", "model", "type"}
_NOT_IN_ROLLUPS = (
    "user_id",
    "session_id",
    "min_latency_us",
    "max_latency_us",
    "min_cost_usd",
    "max_cost_usd",
    "search",
    "level",
    "trace_id",
)

_c = observations.c


class MetricsError(ValueError):
    """A request the metrics cannot answer as asked; the message says what to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclasses.dataclass(slots=True)
class MetricRow:
    """One group (and time bucket, when bucketed). ``cost_usd`` is None when nothing was priced."""

    group: str | None
    bucket_start_us: int | None
    count: int
    error_count: int
    error_rate: float
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    total_tokens: int | None
    cost_usd: Decimal | None
    latency_ms: dict[str, float | None]
    ttft_ms: dict[str, float | None]
    refusal_count: int | None = None
    source: str = "exact"


@dataclasses.dataclass(slots=True)
class TopRow:
    group: str
    value: Decimal | float | int | None
    count: int


def observation_metrics(
    engine: Engine,
    project_id: str,
    flt: Filter,
    group_by: str | None = None,
    bucket: str | None = None,
    precision: str = "auto",
) -> list[MetricRow]:
    """Aggregates per group and time bucket, ordered by group then bucket.

    ``group_by``: one of ``GROUPS`` or ``metadata:<key>``; ``prompt`` groups by name and version,
    shown as ``name@version``. ``bucket``: ``minute``/``hour``/``day`` (UTC), ``auto`` (the coarsest
    grain keeping the range under ~200 buckets) or None for no time split. A range with more than
    ``MAX_BUCKETS`` buckets, a reversed range or one over ten years, or an unknown group raises
    MetricsError. ``precision``: ``auto`` answers from the rollups when they can, ``exact`` never.
    """
    check_range(flt)
    _check_precision(precision)
    dialect = engine.dialect.name
    group_exprs = _group_exprs(group_by, dialect)
    width = _bucket_width(engine, project_id, flt, bucket)
    if precision == "auto" and _rollups_answer(flt, group_by, width):
        with engine.connect() as connection:
            return _rollup_metrics(connection, project_id, flt, group_by, width)
    keys = [*group_exprs, *([_bucket_expr(width)] if width else [])]
    labelled = [k.label(f"k{i}") for i, k in enumerate(keys)]
    where = observation_conditions(observations, flt, project_id, engine)
    source = _source(group_by, dialect)
    with engine.connect() as connection:
        totals = connection.execute(
            select(*labelled, *_aggregates())
            .select_from(source)
            .where(*where)
            .group_by(*keys)
            .order_by(*keys)
        ).all()
        latency = _percentiles(connection, keys, where, _c.duration_us, source)
        ttft = _percentiles(connection, keys, where, _c.ttft_us, source)
    n_group = len(group_exprs)
    rows = []
    for row in totals:
        key = tuple(row[: len(keys)])
        if not row.obs_count:
            continue  # an ungrouped aggregate over no rows
        rows.append(_metric_row(row, key, n_group, bool(width), latency.get(key, {}), ttft.get(key, {})))
    return rows


def top(
    engine: Engine, project_id: str, flt: Filter, by: str = "user_id", metric: str = "cost", n: int = 10
) -> list[TopRow]:
    """The ``n`` groups of ``by`` with the highest ``metric`` (one of ``TOP_METRICS``).

    ``cost`` is the exact USD sum, ``tokens`` the total-token sum, ``latency`` the mean in ms;
    observations without a value for ``by`` are left out. Ties order by group name.
    """
    check_range(flt)
    if metric not in TOP_METRICS:
        raise MetricsError("metric", f"{metric!r} is not one of {', '.join(TOP_METRICS)}")
    if not 1 <= n <= MAX_TOP:
        raise MetricsError("n", f"must be between 1 and {MAX_TOP}")
    dialect = engine.dialect.name
    group_exprs = _group_exprs(by, dialect)
    if _rollups_answer(flt, by, None):
        with engine.connect() as connection:
            return _rollup_top(connection, project_id, flt, by, metric, n)
    ranking = _top_expr(metric)
    query = (
        select(
            *[g.label(f"k{i}") for i, g in enumerate(group_exprs)],
            ranking.label("value"),
            func.count().label("obs_count"),
        )
        .select_from(_source(by, dialect))
        .where(*observation_conditions(observations, flt, project_id, engine))
        .where(*(g.is_not(None) for g in group_exprs[:1]))
        .group_by(*group_exprs)
        .having(ranking.is_not(None))
        .order_by(ranking.desc(), *group_exprs)
        .limit(n)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        TopRow(_group_label(tuple(r[: len(group_exprs)])) or "", _top_value(metric, r.value), r.obs_count)
        for r in rows
    ]


def _rollup_top(connection: Any, project_id: str, flt: Filter, by: str, metric: str, n: int) -> list[TopRow]:
    dims = _rollup_dims(by)
    sums = rollups.bucket_sums(
        connection, project_id, flt.start_from_us, flt.start_to_us, _rollup_where(flt), dims, None
    )
    i = rollups.INDEX
    ranked: list[TopRow] = []
    for key, v in sums.items():
        label = _group_label(key)
        value = _rollup_top_value(metric, v)
        if label is not None and value is not None and v[i["span_count"]] > 0:
            ranked.append(TopRow(label, value, v[i["span_count"]]))
    ranked.sort(key=lambda row: row.group)
    ranked.sort(key=lambda row: row.value or 0, reverse=True)
    return ranked[:n]


def _rollup_top_value(metric: str, v: list[int]) -> Decimal | float | int | None:
    i = rollups.INDEX
    if metric == "cost":
        return nanos_to_usd(v[i["cost_nanos"]]) if v[i["priced_count"]] else None
    if metric == "latency":
        count = v[i["latency_count"]]
        return round(v[i["latency_sum_us"]] / count / 1000, 6) if count else None
    column = {"tokens": "total_tokens", "count": "span_count"}.get(metric)
    return v[rollups.ERRORS] if column is None else v[i[column]]


def check_range(flt: Filter) -> None:
    """MetricsError for a reversed range or one over ten years."""
    if flt.start_from_us is not None and flt.start_to_us is not None:
        if flt.start_from_us >= flt.start_to_us:
            raise MetricsError("from_time", "must be before to_time")
        if flt.start_to_us - flt.start_from_us > MAX_RANGE_US:
            raise MetricsError("to_time", "the range may span at most ten years; narrow from_time/to_time")


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise MetricsError("precision", f"{precision!r} is not one of {', '.join(PRECISIONS)}")


def _rollups_answer(flt: Filter, group_by: str | None, width: int | None) -> bool:
    """Whether the rollups hold exactly what was asked: whole hours, rollup filters and groups."""
    if group_by is not None and group_by not in _ROLLUP_GROUPS:
        return False
    if width is not None and width % HOUR_US:
        return False
    if any(t is not None and t % HOUR_US for t in (flt.start_from_us, flt.start_to_us)):
        return False
    if flt.tags or flt.metadata:
        return False
    return all(getattr(flt, name) is None for name in _NOT_IN_ROLLUPS)


def _rollup_where(flt: Filter) -> dict[str, Any]:
    where: dict[str, Any] = {name: getattr(flt, name) for name in _ROLLUP_FILTERS if getattr(flt, name)}
    if flt.has_error is not None:
        where["is_error"] = flt.has_error
    return where


def _rollup_dims(group_by: str | None) -> tuple[str, ...]:
    if group_by is None:
        return ()
    return ("prompt_name", "prompt_version") if group_by == "prompt" else (group_by,)


def _rollup_metrics(
    connection: Any, project_id: str, flt: Filter, group_by: str | None, width: int | None
) -> list[MetricRow]:
    dims = _rollup_dims(group_by)
    sums = rollups.bucket_sums(
        connection,
        project_id,
        flt.start_from_us,
        flt.start_to_us,
        _rollup_where(flt),
        dims,
        width,
        finest=width or DAY_US,
    )
    out = []
    for key in sorted(sums, key=_key_order):
        values = sums[key]
        if values[rollups.INDEX["span_count"]] > 0:
            out.append(_rollup_row(key, values, len(dims), bool(width)))
    return out


def _rollup_row(key: tuple[Any, ...], v: list[int], n_group: int, bucketed: bool) -> MetricRow:
    i = rollups.INDEX
    count, errors = v[i["span_count"]], v[rollups.ERRORS]
    return MetricRow(
        group=_group_label(key[:n_group]),
        bucket_start_us=int(key[n_group]) if bucketed else None,
        count=count,
        error_count=errors,
        error_rate=errors / count,
        input_tokens=v[i["input_tokens"]],
        output_tokens=v[i["output_tokens"]],
        cached_input_tokens=v[i["cached_input_tokens"]],
        total_tokens=v[i["total_tokens"]],
        cost_usd=nanos_to_usd(v[i["cost_nanos"]]) if v[i["priced_count"]] else None,
        latency_ms=rollups.percentiles(v, rollups.LATENCY0, PERCENTILES),
        ttft_ms=rollups.percentiles(v, rollups.TTFT0, PERCENTILES),
        refusal_count=v[i["refusal_count"]],
        source="rollups",
    )


def _key_order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    # Groups ascending with None first (as the exact path's ORDER BY on SQLite), then bucket.
    return tuple((value is not None, value if value is not None else "") for value in key)


@functools.cache
def _tag_values(dialect: str) -> Any:
    """One row per tag of each observation (a join on it counts a span under each of its tags). One
    object per dialect, so the grouped column and the join name the same FROM item."""
    if dialect == "postgresql":
        return func.jsonb_array_elements_text(type_coerce(_c.tags, JSONB)).table_valued("value").alias("tag")
    return func.json_each(_c.tags).table_valued("value").alias("tag")


def _source(group_by: str | None, dialect: str) -> Any:
    """The FROM of a metrics query: observations, joined to their tags when grouping by tag."""
    if group_by != "tag":
        return observations
    # Both dialects let a function in FROM read the columns of the table joined before it.
    return observations.join(_tag_values(dialect), literal_column("1") == literal_column("1"))


def _group_exprs(group_by: str | None, dialect: str) -> list[ColumnElement[Any]]:
    if group_by is None:
        return []
    if group_by == "prompt":
        return [_c.prompt_name, _c.prompt_version]
    if group_by == "tag":
        return [_tag_values(dialect).c.value]
    if group_by in GROUPS:
        return [_c[group_by]]
    key = group_by.removeprefix("metadata:")
    if group_by.startswith("metadata:") and METADATA_KEY.match(key):
        return [_metadata_value(key, dialect)]
    raise MetricsError(
        "group_by",
        f"{group_by!r} is not one of {', '.join(GROUPS)} or metadata:<key> (letters, digits, _ . : - space)",
    )


def _metadata_value(key: str, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        value: ColumnElement[Any] = type_coerce(_c.metadata, JSONB)[key].astext
        return value
    path = '$."' + key + '"'  # the key matched METADATA_KEY, so it cannot close the quote
    return cast(func.json_extract(_c.metadata, bindparam(None, path)), Text)


def _bucket_width(engine: Engine, project_id: str, flt: Filter, bucket: str | None) -> int | None:
    if bucket is None:
        return None
    if bucket != "auto" and bucket not in BUCKET_US:
        raise MetricsError("bucket", f"{bucket!r} is not one of auto, minute, hour, day")
    start, end = _range(engine, project_id, flt)
    if start is None or end is None:
        return BUCKET_US["day"] if bucket == "auto" else BUCKET_US[bucket]
    span = end - start
    if bucket == "auto":
        return next((w for w in BUCKET_US.values() if span <= w * 200), BUCKET_US["day"])
    width = BUCKET_US[bucket]
    if span // width + 1 > MAX_BUCKETS:
        raise MetricsError(
            "bucket",
            f"{bucket} buckets over this range exceed {MAX_BUCKETS}; use a coarser bucket or auto",
        )
    return width


def _range(engine: Engine, project_id: str, flt: Filter) -> tuple[int | None, int | None]:
    """The requested range, with open ends closed by the data (only the ends' index is read)."""
    start, end = flt.start_from_us, flt.start_to_us
    if start is None or end is None:
        with engine.connect() as connection:
            low, high = connection.execute(
                select(func.min(_c.start_us), func.max(_c.start_us)).where(_c.project_id == project_id)
            ).one()
        start = low if start is None else start
        end = high + 1 if end is None and high is not None else end
    return start, end


def _bucket_expr(width: int) -> ColumnElement[Any]:
    # Integer division on both dialects; start times are positive so it floors. The width is one of
    # BUCKET_US, inlined so the GROUP BY expression is textually identical to the selected one.
    size = literal_column(str(int(width)), BigInteger)
    return (_c.start_us // size) * size


def _aggregates() -> list[ColumnElement[Any]]:
    return [
        func.count().label("obs_count"),
        func.sum(case((_c.is_error, 1), else_=0)).label("error_count"),
        func.sum(_c.input_tokens).label("input_tokens"),
        func.sum(_c.output_tokens).label("output_tokens"),
        func.sum(_c.cached_input_tokens).label("cached_input_tokens"),
        func.sum(_c.total_tokens).label("total_tokens"),
        func.sum(_c.total_cost_nanos).label("cost_nanos"),
    ]


def _percentiles(
    connection: Any,
    keys: list[ColumnElement[Any]],
    where: list[ColumnElement[bool]],
    value: Any,
    source: Any = observations,
) -> dict[tuple[Any, ...], dict[str, float | None]]:
    """Nearest-rank p50/p90/p95/p99 of ``value`` (µs) per key, in ms."""
    ranked = (
        select(
            *[k.label(f"k{i}") for i, k in enumerate(keys)],
            value.label("v"),
            func.row_number().over(partition_by=keys, order_by=value).label("rn"),
            func.count().over(partition_by=keys).label("n"),
        )
        .select_from(source)
        .where(*where, value.is_not(None))
        .subquery()
    )
    wanted = [(p * ranked.c.n + 99) // 100 for p in PERCENTILES]
    rows = connection.execute(
        select(*[ranked.c[f"k{i}"] for i in range(len(keys))], ranked.c.v, ranked.c.rn, ranked.c.n).where(
            or_(*[ranked.c.rn == w for w in wanted])
        )
    ).all()
    result: dict[tuple[Any, ...], dict[str, float | None]] = {}
    for row in rows:
        key, v, rn, n = tuple(row[: len(keys)]), row[-3], row[-2], row[-1]
        slot = result.setdefault(key, {})
        for p in PERCENTILES:
            if rn == (p * n + 99) // 100:
                slot[f"p{p}"] = v / 1000
    return result


def _metric_row(
    row: Any,
    key: tuple[Any, ...],
    n_group: int,
    bucketed: bool,
    latency: dict[str, float | None],
    ttft: dict[str, float | None],
) -> MetricRow:
    count, errors = int(row.obs_count), int(row.error_count or 0)
    empty: dict[str, float | None] = {f"p{p}": None for p in PERCENTILES}
    return MetricRow(
        group=_group_label(key[:n_group]),
        bucket_start_us=int(key[n_group]) if bucketed else None,
        count=count,
        error_count=errors,
        error_rate=errors / count,
        input_tokens=_int(row.input_tokens),
        output_tokens=_int(row.output_tokens),
        cached_input_tokens=_int(row.cached_input_tokens),
        total_tokens=_int(row.total_tokens),
        cost_usd=nanos_to_usd(_int(row.cost_nanos)),
        latency_ms=empty | latency,
        ttft_ms=empty | ttft,
    )


def _group_label(values: tuple[Any, ...]) -> str | None:
    if not values or values[0] is None:
        return None
    if len(values) == 2:  # prompt name and version
        return str(values[0]) if values[1] is None else f"{values[0]}@{values[1]}"
    return str(values[0])


def _top_expr(metric: str) -> ColumnElement[Any]:
    if metric == "cost":
        return func.sum(_c.total_cost_nanos)
    if metric == "tokens":
        return func.sum(_c.total_tokens)
    if metric == "count":
        return func.count()
    if metric == "errors":
        return func.sum(case((_c.is_error, 1), else_=0))
    # Mean latency; the float cast keeps both dialects on the same arithmetic.
    return func.avg(cast(_c.duration_us, Float))


def _top_value(metric: str, value: Any) -> Decimal | float | int | None:
    if value is None:
        return None
    if metric == "cost":
        return nanos_to_usd(int(value))
    if metric == "latency":
        return round(float(value) / 1000, 6)  # the two dialects' float sums may differ in the last bits
    return int(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
