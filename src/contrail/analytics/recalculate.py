"""Re-price stored observations after a price change, keeping every cost rollup consistent.

Observations of a time range (by start time) are re-priced with the project's current catalogue in
chunks of ``CHUNK`` rows, one short write transaction per chunk, so a large range never holds the write
lock for long and ingest keeps flowing between chunks. Each chunk locks its traces' rollup rows in
trace-id order first (PostgreSQL; SQLite has one writer), the order the ingest writer uses, then
re-reads the observations, so a span re-sent meanwhile is never priced from a stale row. The cost
change of each observation is added to its trace's ``total_cost_nanos`` and to the session and user
activity rows and the trace rollup rows the trace counts for.

Client-reported costs are kept (only the computed figure next to them is refreshed); usage estimated
from text stays marked ``estimated``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, update

from contrail.analytics.catalogue import PriceCatalogue
from contrail.analytics.cost import COST_METADATA_KEY, price_observation
from contrail.analytics.price_file import normalize_name
from contrail.schema.observation import Cost, Observation, ObservationType, Usage
from contrail.schema.timeconv import now_us, us_to_rfc3339
from contrail.store import metric_rollups, trace_rollups
from contrail.store.database import writing
from contrail.store.tables import observations, session_activity, traces, user_activity
from contrail.store.types import nanos_to_usd, usd_to_nanos

CHUNK = 500
MAX_RANGE_US = 366 * 86_400 * 1_000_000
MAX_MODELS = 100
_PRICED_TYPES = (ObservationType.GENERATION.value, ObservationType.EMBEDDING.value)
_COLUMNS = (
    "id",
    "trace_id",
    "span_id",
    "type",
    "start_us",
    "model_requested",
    "model_response",
    "provider",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cache_write_input_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "input_cost_nanos",
    "output_cost_nanos",
    "total_cost_nanos",
    "metadata",
    # The rest of what the metric rollups fold: their cost moves with the observations'.
    "model",
    "name",
    "environment",
    "release",
    "prompt_name",
    "prompt_version",
    "is_error",
    "duration_us",
    "ttft_us",
)
_USAGE_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cache_write_input_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
)


class RecalculateError(ValueError):
    """The requested range or models cannot be recalculated; the message says why."""


@dataclasses.dataclass(slots=True)
class RecalculateResult:
    """Counts of one run: ``scanned`` generation/embedding observations in the range, ``matched`` by
    the model filter, ``changed`` whose cost or marker changed, ``unpriced`` left without a price."""

    scanned: int = 0
    matched: int = 0
    changed: int = 0
    unpriced: int = 0
    traces_updated: int = 0
    chunks: int = 0
    cost_delta_nanos: int = 0

    def as_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = dataclasses.asdict(self)
        values["cost_delta_usd"] = str(nanos_to_usd(values.pop("cost_delta_nanos")) or Decimal(0))
        return values


def check_range(start_us: int, end_us: int, models: Sequence[str] | None) -> None:
    """Raise RecalculateError for a reversed, empty or too long range, or too many models."""
    if end_us <= start_us:
        raise RecalculateError("end must be after start.")
    if end_us - start_us > MAX_RANGE_US:
        raise RecalculateError(
            f"The range is longer than {MAX_RANGE_US // 86_400_000_000} days; recalculate it in parts."
        )
    if models is not None and not 0 < len(models) <= MAX_MODELS:
        raise RecalculateError(f"models must list 1 to {MAX_MODELS} model names.")
    if models is not None and any(not isinstance(m, str) or not m.strip() or len(m) > 200 for m in models):
        raise RecalculateError("Each model must be a non-empty name of at most 200 characters.")


def recalculate(
    engine: Engine,
    project_id: str,
    catalogue: PriceCatalogue,
    start_us: int,
    end_us: int,
    models: Sequence[str] | None = None,
    *,
    chunk: int = CHUNK,
) -> RecalculateResult:
    """Re-price the project's generations and embeddings starting in [start_us, end_us).

    ``models`` (optional) keeps observations whose requested or answering model, or the catalogue
    entry it matches, has one of these names. Raises RecalculateError for bad arguments.
    """
    check_range(start_us, end_us, models)
    wanted = {normalize_name(m) for m in models} if models else None
    result = RecalculateResult()
    after: tuple[int, int] | None = None
    while True:
        after = _chunk(engine, project_id, catalogue, (start_us, end_us), after, wanted, chunk, result)
        if after is None:
            return result


def _chunk(
    engine: Engine,
    project_id: str,
    catalogue: PriceCatalogue,
    window: tuple[int, int],
    after: tuple[int, int] | None,
    wanted: set[str] | None,
    size: int,
    result: RecalculateResult,
) -> tuple[int, int] | None:
    """One transaction: the next ``size`` observations after ``after`` (start_us, id); returns the new
    position, or None when the range is done."""
    with writing(engine).begin() as connection:
        keys = _page(connection, project_id, window, after, size)
        if not keys:
            return None
        result.chunks += 1
        trace_ids = sorted({row.trace_id for row in keys})
        owners = _lock_traces(connection, project_id, trace_ids)
        rows = _rows(connection, [row.id for row in keys])
        result.scanned += len(rows)
        changes = [c for c in (_reprice(row, catalogue, wanted, result) for row in rows) if c is not None]
        if changes:
            _store(connection, project_id, changes, owners, result)
    last = keys[-1]
    return (last.start_us, last.id) if len(keys) == size else None


def _page(
    connection: Connection,
    project_id: str,
    window: tuple[int, int],
    after: tuple[int, int] | None,
    size: int,
) -> Sequence[Any]:
    o = observations.c
    conditions = [o.project_id == project_id, o.start_us < window[1], o.type.in_(_PRICED_TYPES)]
    if after is None:
        conditions.append(o.start_us >= window[0])
    else:
        # Keyset on (start_us, id) through the (project_id, start_us) index.
        conditions.append(o.start_us >= after[0])
        conditions.append(or_(o.start_us > after[0], o.id > after[1]))
    query = select(o.id, o.trace_id, o.start_us).where(*conditions).order_by(o.start_us, o.id).limit(size)
    return connection.execute(query).all()


# The activity rows a trace's cost moves in, and what its trace rollup rows are keyed on.
_TRACE_COLUMNS = ("trace_id", "session_id", "user_id", "start_us", "environment", "metadata")


def _lock_traces(connection: Connection, project_id: str, trace_ids: list[str]) -> dict[str, Any]:
    query = (
        select(*(traces.c[name] for name in _TRACE_COLUMNS))
        .where(traces.c.project_id == project_id, traces.c.trace_id.in_(trace_ids))
        .order_by(traces.c.trace_id)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.trace_id: row for row in connection.execute(query)}


def _rows(connection: Connection, ids: list[int]) -> list[dict[str, Any]]:
    query = select(*(observations.c[name] for name in _COLUMNS)).where(observations.c.id.in_(ids))
    return [dict(row) for row in connection.execute(query).mappings()]


@dataclasses.dataclass(slots=True)
class _Change:
    id: int
    trace_id: str
    input_nanos: int | None
    output_nanos: int | None
    total_nanos: int | None
    metadata: dict[str, Any]
    delta: int
    row: dict[str, Any]


def _reprice(
    row: dict[str, Any], catalogue: PriceCatalogue, wanted: set[str] | None, result: RecalculateResult
) -> _Change | None:
    metadata = row["metadata"] if isinstance(row["metadata"], dict) else {}
    old_marker = metadata.get(COST_METADATA_KEY)
    old_marker = old_marker if isinstance(old_marker, dict) else {}
    obs = _observation(row, metadata, old_marker)
    if wanted is not None and not _selected(obs, catalogue, wanted):
        return None
    result.matched += 1
    price_observation(obs, catalogue)
    marker = obs.metadata[COST_METADATA_KEY]
    if old_marker.get("status") == "estimated" and marker.get("status") == "priced":
        marker.update(status="estimated", usage_estimate=old_marker.get("usage_estimate"))
    if marker.get("status") == "unpriced":
        result.unpriced += 1
    client_cost = "client_total" in old_marker
    new = (
        (row["input_cost_nanos"], row["output_cost_nanos"], row["total_cost_nanos"])
        if client_cost
        else (usd_to_nanos(obs.cost.input), usd_to_nanos(obs.cost.output), usd_to_nanos(obs.cost.total))
    )
    old_comparable = {k: v for k, v in old_marker.items() if k != "recalculated"}
    if new == (row["input_cost_nanos"], row["output_cost_nanos"], row["total_cost_nanos"]) and (
        marker == old_comparable
    ):
        return None
    marker["recalculated"] = us_to_rfc3339(now_us())
    delta = (new[2] or 0) - (row["total_cost_nanos"] or 0)
    return _Change(row["id"], row["trace_id"], new[0], new[1], new[2], obs.metadata, delta, row)


def _observation(row: dict[str, Any], metadata: dict[str, Any], old_marker: dict[str, Any]) -> Observation:
    client_total = old_marker.get("client_total")
    cost = Cost(total=Decimal(str(client_total))) if client_total is not None else Cost()
    return Observation(
        trace_id=row["trace_id"],
        span_id=row["span_id"],
        name="",
        start_us=row["start_us"],
        type=ObservationType(row["type"]),
        model_requested=row["model_requested"],
        model_response=row["model_response"],
        provider=row["provider"],
        usage=Usage(**{name: row[name] for name in _USAGE_COLUMNS}),
        cost=cost,
        metadata=dict(metadata),
    )


def _selected(obs: Observation, catalogue: PriceCatalogue, wanted: set[str]) -> bool:
    names = [n for n in (obs.model_requested, obs.model_response) if n]
    if any(normalize_name(name) in wanted for name in names):
        return True
    model = obs.model
    found = catalogue.match(model, obs.provider) if model else None
    return found is not None and (found.entry.model in wanted or found.entry.key in wanted)


def _store(
    connection: Connection,
    project_id: str,
    changes: list[_Change],
    owners: dict[str, Any],
    result: RecalculateResult,
) -> None:
    o = observations.c
    connection.execute(
        update(observations)
        .where(o.id == bindparam("_id"))
        .values(
            input_cost_nanos=bindparam("_input"),
            output_cost_nanos=bindparam("_output"),
            total_cost_nanos=bindparam("_total"),
            metadata=bindparam("_metadata", type_=observations.c["metadata"].type),
        ),
        [
            {
                "_id": c.id,
                "_input": c.input_nanos,
                "_output": c.output_nanos,
                "_total": c.total_nanos,
                "_metadata": c.metadata,
            }
            for c in changes
        ],
    )
    result.changed += len(changes)
    metric_rollups.apply_cost_changes(
        connection, [({**c.row, "project_id": project_id}, c.total_nanos) for c in changes if c.delta]
    )
    deltas: dict[str, int] = {}
    for change in changes:
        deltas[change.trace_id] = deltas.get(change.trace_id, 0) + change.delta
        result.cost_delta_nanos += change.delta
    moved = {trace: delta for trace, delta in deltas.items() if delta}
    result.traces_updated += len(moved)
    _add_cost(connection, traces, "trace_id", project_id, moved.items())
    trace_rollups.apply_cost_changes(
        connection,
        project_id,
        [(owners[trace]._mapping, delta) for trace, delta in sorted(moved.items()) if trace in owners],
    )
    for table, key in ((session_activity, "session_id"), (user_activity, "user_id")):
        per_owner: dict[str, int] = {}
        for trace_id, delta in moved.items():
            owner = owners.get(trace_id)
            name = getattr(owner, key) if owner is not None else None
            if name is not None:
                per_owner[name] = per_owner.get(name, 0) + delta
        _add_cost(connection, table, key, project_id, sorted(per_owner.items()))


def _add_cost(
    connection: Connection, table: Any, key: str, project_id: str, deltas: Iterable[tuple[str, int]]
) -> None:
    params = [{"_key": name, "_delta": delta} for name, delta in deltas]
    if not params:
        return
    connection.execute(
        update(table)
        .where(and_(table.c.project_id == project_id, table.c[key] == bindparam("_key")))
        .values(total_cost_nanos=table.c.total_cost_nanos + bindparam("_delta")),
        params,
    )
