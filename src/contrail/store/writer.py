"""The batched writer: many ingest requests, one transaction.

``write_group`` upserts observations by (project, trace_id, span_id), keeps the ``traces`` rollup
row of every touched trace current, indexes text for full-text search and upserts scores, all in
one transaction. Callers acknowledge their requests only after it returns (acknowledged means
durable).

Rollups are incremental: a re-sent span first takes back what its earlier version added. On
PostgreSQL the touched trace rows are locked in trace-id order, so several server processes can
write the same traces without lost updates or deadlocks; SQLite has a single writer anyway.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Engine, String, bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite

from contrail.schema.observation import Observation
from contrail.schema.score import Score
from contrail.store import activity, metric_rollups, search, trace_rollups
from contrail.store.database import executemany, writing
from contrail.store.preview import preview_text, search_text
from contrail.store.rollup import TraceRollup
from contrail.store.tables import observations, scores, traces
from contrail.store.types import pack_json, unpack_json, usd_to_nanos

_CHUNK = 500
_Key = TypeVar("_Key")


@dataclasses.dataclass(slots=True)
class WriteBatch:
    """What one ingest request asks to store for one project.

    ``prepare()`` turns the observations and scores into database rows (plus the ``_``-prefixed
    trace fields the rollups need); the server calls it on the request's side, so the single writer,
    the pipeline's bottleneck, only runs SQL. A prepared batch no longer needs its observations:
    ``for_writer()`` is the lean copy sent to the writer process.
    """

    project_id: str
    observations: list[Observation] = dataclasses.field(default_factory=list)
    scores: list[Score] = dataclasses.field(default_factory=list)
    rows: list[dict[str, Any]] | None = None
    score_rows: list[dict[str, Any]] | None = None

    def prepare(self, now_us: int) -> WriteBatch:
        if self.rows is None:
            self.rows = [_observation_row(self.project_id, obs, now_us) for obs in self.observations]
        if self.score_rows is None:
            self.score_rows = [_score_row(self.project_id, score, now_us) for score in self.scores]
        return self

    def for_writer(self, now_us: int) -> WriteBatch:
        self.prepare(now_us)
        return WriteBatch(self.project_id, rows=self.rows, score_rows=self.score_rows)

    @property
    def size(self) -> int:
        """Spans and scores in the batch (at least 1: an empty request still takes a queue slot)."""
        spans = len(self.rows) if self.rows is not None else len(self.observations)
        scores = len(self.score_rows) if self.score_rows is not None else len(self.scores)
        return max(1, spans + scores)


def write_group(engine: Engine, batches: Sequence[WriteBatch], now_us: int) -> None:
    """Store every batch in one transaction; raises on database errors (nothing is then stored)."""
    by_key: dict[tuple[str, str, str], dict[str, Any]] = {}
    score_rows: list[dict[str, Any]] = []
    for batch in batches:
        batch.prepare(now_us)
        for row in batch.rows or ():
            by_key[(batch.project_id, row["trace_id"], row["span_id"])] = row  # later copies win
        score_rows.extend(batch.score_rows or ())
    with writing(engine).begin() as connection:
        if by_key:
            _write_observations(connection, by_key, now_us)
        if score_rows:
            _upsert(connection, scores, score_rows, ("project_id", "id"))


def _write_observations(
    connection: Connection, by_key: dict[tuple[str, str, str], dict[str, Any]], now_us: int
) -> None:
    trace_keys = sorted({(project, trace) for project, trace, _ in by_key})
    rollups = _lock_traces(connection, trace_keys, now_us)
    existing = _existing_observations(connection, by_key, rollups)
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    for key, row in by_key.items():
        old = existing.get(key)
        rollups[(key[0], key[1])].add(row, old)
        if old is None:
            new_rows.append(row)
        else:
            changed_rows.append(row | {"id": old["id"]})
    _insert_new(connection, new_rows)
    _update_changed(connection, changed_rows, existing.values())
    executemany(connection, _UPDATE_TRACE, [r.as_driver_row() for r in rollups.values()])
    activity.apply(connection, rollups.values())
    metric_rollups.apply(connection, [(row, existing.get(key)) for key, row in by_key.items()])
    trace_rollups.apply(connection, rollups.values())


_UPDATE_TRACE = (
    "UPDATE traces SET "
    + ", ".join(f'"{c}" = ?' for c in TraceRollup.COLUMNS)
    + " WHERE project_id = ? AND trace_id = ?"
)
# A trace's row exists before its rollup is merged, so concurrent writers (PostgreSQL) lock one row.
_TRACE_PLACEHOLDER = (
    "INSERT INTO traces (project_id, trace_id, start_us, updated_us, name_rank, io_rank, input_tokens, "
    "output_tokens, total_tokens, total_cost_nanos, error_count, observation_count) "
    "VALUES (?, ?, ?, ?, 0, 0, 0, 0, 0, 0, 0, 0) ON CONFLICT (project_id, trace_id) DO NOTHING"
)


def _lock_traces(
    connection: Connection, trace_keys: list[tuple[str, str]], now_us: int
) -> dict[tuple[str, str], TraceRollup]:
    executemany(connection, _TRACE_PLACEHOLDER, [(p, t, now_us, now_us) for p, t in trace_keys])
    rollups: dict[tuple[str, str], TraceRollup] = {}
    postgres = connection.dialect.name == "postgresql"
    for project_id, trace_ids in _by_project(trace_keys):
        for chunk in _chunks(trace_ids):
            if postgres:
                result = connection.execute(_PG_LOCK_TRACES, {"project_id": project_id, "trace_ids": chunk})
            else:
                # "project = ? AND trace IN (...)" uses the primary key; a row-value IN scans the table.
                result = connection.execute(
                    select(traces)
                    .where(traces.c.project_id == project_id, traces.c.trace_id.in_(chunk))
                    .order_by(traces.c.trace_id)
                )
            for row in result.mappings():
                rollups[(project_id, row["trace_id"])] = TraceRollup(dict(row), now_us)
    return rollups


# PostgreSQL: one primary-key lookup per trace, locked in the (sorted) order given. With "trace_id IN
# (...)" the plan depends on statistics: without them (a young table, autovacuum off or behind) the
# planner estimated no selectivity for the list and scanned every trace of the project through the
# user index, once per write: 12 s per 5,000-span group at 50k traces. A LATERAL subquery with LIMIT
# is planned per key, where the unique index wins as soon as the table has any size (connections plan
# each run afresh, see store.database: a generic plan made on an empty table would not know that).
_PG_LOCK_TRACES = (
    text(
        "SELECT t.* FROM unnest(:trace_ids) WITH ORDINALITY AS k(trace_id, n) CROSS JOIN LATERAL "
        "(SELECT * FROM traces WHERE traces.project_id = :project_id AND traces.trace_id = k.trace_id "
        "LIMIT 1 FOR UPDATE) AS t ORDER BY k.n"
    )
    .bindparams(bindparam("trace_ids", type_=postgresql.ARRAY(String)))
    .columns(*traces.c)
)


def _by_project(keys: Iterable[tuple[str, _Key]]) -> list[tuple[str, list[_Key]]]:
    grouped: dict[str, list[_Key]] = {}
    for project_id, name in keys:
        grouped.setdefault(project_id, []).append(name)
    return sorted(grouped.items())


def _existing_observations(
    connection: Connection,
    by_key: dict[tuple[str, str, str], Any],
    rollups: dict[tuple[str, str], TraceRollup],
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Stored versions of spans being re-sent; only traces that already had spans can hold any."""
    wanted = {k for k in by_key if rollups[(k[0], k[1])].previously_stored}
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    if connection.dialect.name == "postgresql":
        for project_id, spans in _by_project((p, (t, s)) for p, t, s in sorted(wanted)):
            for chunk in _chunks(spans):
                params = {
                    "project_id": project_id,
                    "trace_ids": [trace_id for trace_id, _ in chunk],
                    "span_ids": [span_id for _, span_id in chunk],
                }
                for row in connection.execute(_PG_OLD_SPANS, params).mappings():
                    found[(project_id, row["trace_id"], row["span_id"])] = dict(row)
        return found
    traces_of = _by_project({(project, trace) for project, trace, _ in wanted})
    for project_id, trace_ids in traces_of:
        for chunk in _chunks(trace_ids):
            _collect_existing(connection, project_id, chunk, wanted, found)
    return found


def _collect_existing(
    connection: Connection,
    project_id: str,
    trace_ids: Sequence[str],
    wanted: set[tuple[str, str, str]],
    found: dict[tuple[str, str, str], dict[str, Any]],
) -> None:
    # Find the re-sent spans by key first, then read only their rows: a long trace arriving in many
    # batches must not re-read all of its documents each time.
    keys = select(observations.c.id, observations.c.trace_id, observations.c.span_id).where(
        observations.c.project_id == project_id, observations.c.trace_id.in_(trace_ids)
    )
    ids = [row.id for row in connection.execute(keys) if (project_id, row.trace_id, row.span_id) in wanted]
    if not ids:
        return
    query = select(*(observations.c[name] for name in _OLD_COLUMNS)).where(observations.c.id.in_(ids))
    for row in connection.execute(query).mappings():
        found[(project_id, row["trace_id"], row["span_id"])] = dict(row)


_OLD_COLUMNS = (
    "id",
    "project_id",
    "trace_id",
    "span_id",
    "name",
    "input",
    "output",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "total_cost_nanos",
    "is_error",
    # what metric_rollups takes back for a re-sent span
    "type",
    "start_us",
    "duration_us",
    "ttft_us",
    "model",
    "provider",
    "environment",
    "release",
    "prompt_name",
    "prompt_version",
    "cached_input_tokens",
)
# PostgreSQL: each re-sent span by its full unique key, planned per key (see _PG_LOCK_TRACES).
_PG_OLD_SPANS = (
    text(
        "SELECT o.* FROM unnest(:trace_ids, :span_ids) AS k(trace_id, span_id) CROSS JOIN LATERAL "
        f"(SELECT {', '.join(_OLD_COLUMNS)} FROM observations WHERE observations.project_id = :project_id "
        "AND observations.trace_id = k.trace_id AND observations.span_id = k.span_id LIMIT 1) AS o"
    )
    .bindparams(
        bindparam("trace_ids", type_=postgresql.ARRAY(String)),
        bindparam("span_ids", type_=postgresql.ARRAY(String)),
    )
    .columns(*(observations.c[name] for name in _OLD_COLUMNS))
)


def _insert_new(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert through the driver's executemany: SQLAlchemy's per-row parameter processing would
    cost more than the insert itself on this hot path."""
    if not rows:
        return
    for row_id, row in zip(_allocate_ids(connection, len(rows)), rows, strict=True):
        row["id"] = row_id
    connection.exec_driver_sql(_insert_sql(connection.dialect.name), [_ROW_VALUES(r) for r in rows])
    search.index(connection, [(r["id"], r["project_id"], r["_search"]) for r in rows])


def _update_changed(
    connection: Connection, rows: list[dict[str, Any]], old: Iterable[dict[str, Any]]
) -> None:
    """Replace re-sent spans in place (same id), re-indexing their text."""
    if not rows:
        return
    search.unindex(
        connection,
        [
            (
                o["id"],
                o["project_id"],
                search_text(o["name"], unpack_json(o["input"]), unpack_json(o["output"])),
            )
            for o in old
        ],
    )
    marker = _marker(connection.dialect.name)
    assignments = ", ".join(f'"{c}" = {marker}' for c in _INSERT_COLUMNS[1:])
    connection.exec_driver_sql(
        f"UPDATE observations SET {assignments} WHERE id = {marker}",
        [(*_ROW_VALUES(r)[1:], r["id"]) for r in rows],
    )
    search.index(connection, [(r["id"], r["project_id"], r["_search"]) for r in rows])


_INSERT_COLUMNS = tuple(c.name for c in observations.c)  # "id" first: the update path relies on it
_ROW_VALUES = operator.itemgetter(*_INSERT_COLUMNS)


def _marker(dialect: str) -> str:
    return "?" if dialect == "sqlite" else "%s"


def _insert_sql(dialect: str) -> str:
    columns = ", ".join(f'"{c}"' for c in _INSERT_COLUMNS)
    markers = ", ".join([_marker(dialect)] * len(_INSERT_COLUMNS))
    return f"INSERT INTO observations ({columns}) VALUES ({markers})"


def _allocate_ids(connection: Connection, count: int) -> list[int]:
    if connection.dialect.name == "sqlite":
        # Safe without a sequence: BEGIN IMMEDIATE holds the database's only write lock.
        last = connection.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM observations").scalar_one()
        return list(range(last + 1, last + 1 + count))
    result = connection.exec_driver_sql(
        "SELECT nextval(pg_get_serial_sequence('observations', 'id')) FROM generate_series(1, %s)", (count,)
    )
    return [row[0] for row in result]


def _json_text(value: dict[str, Any] | list[Any] | None) -> str | None:
    if not value:
        return None
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _observation_row(project_id: str, obs: Observation, now_us: int) -> dict[str, Any]:
    usage = obs.usage
    return {
        "project_id": project_id,
        "trace_id": obs.trace_id,
        "span_id": obs.span_id,
        "parent_span_id": obs.parent_span_id,
        "name": obs.name,
        "type": obs.type.value,
        "start_us": obs.start_us,
        "end_us": obs.end_us,
        "duration_us": None if obs.end_us is None else obs.end_us - obs.start_us,
        "status": obs.status.value,
        "status_message": obs.status_message,
        "level": obs.level.value,
        "is_error": obs.is_error,
        "model_requested": obs.model_requested,
        "model_response": obs.model_response,
        "model": obs.model,
        "provider": obs.provider,
        "model_parameters": _json_text(obs.model_parameters),
        "input": pack_json(obs.input),
        "output": pack_json(obs.output),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "total_tokens": usage.resolved_total(),
        "cache_write_input_tokens": usage.cache_write_input_tokens,
        "audio_input_tokens": usage.audio_input_tokens,
        "audio_output_tokens": usage.audio_output_tokens,
        "input_cost_nanos": usd_to_nanos(obs.cost.input),
        "output_cost_nanos": usd_to_nanos(obs.cost.output),
        "total_cost_nanos": usd_to_nanos(obs.cost.total),
        "ttft_us": obs.ttft_us,
        "user_id": obs.user_id,
        "session_id": obs.session_id,
        "environment": obs.environment,
        "release": obs.release,
        "version": obs.version,
        "tags": _json_text(obs.tags),
        "metadata": _json_text(obs.metadata),
        "prompt_name": obs.prompt_name,
        "prompt_version": obs.prompt_version,
        "ingested_us": now_us,
        "_search": search_text(obs.name, obs.input, obs.output),
        **_trace_fields(obs),
    }


def _trace_fields(obs: Observation) -> dict[str, Any]:
    """What ``TraceRollup.add`` and the metric rollups read besides the columns (see WriteBatch)."""
    trace = obs.trace
    explicit_io = trace.input is not None or trace.output is not None
    if explicit_io:
        previews = (preview_text(trace.input), preview_text(trace.output))
    elif obs.parent_span_id is None:
        previews = (preview_text(obs.input), preview_text(obs.output))
    else:
        previews = (None, None)  # only a root span or explicit trace values describe the trace
    return {
        "_tags": obs.tags,
        "_trace_tags": trace.tags,
        "_trace_metadata": trace.metadata,
        "_trace_name": trace.name,
        "_explicit_io": explicit_io,
        "_input_preview": previews[0],
        "_output_preview": previews[1],
        "_refused": metric_rollups.counts_as_refusal(obs.type.value, obs.output),
    }


def _score_row(project_id: str, score: Score, now_us: int) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "id": score.id,
        "trace_id": score.trace_id,
        "observation_id": score.observation_id,
        "session_id": score.session_id,
        "name": score.name,
        "value": score.value,
        "string_value": score.string_value,
        "data_type": score.data_type.value,
        "source": score.source.value,
        "comment": score.comment,
        "metadata": score.metadata or None,
        "environment": score.environment,
        "timestamp_us": score.timestamp_us,
        "created_us": now_us,
    }


def _upsert(connection: Connection, table: Any, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(table)
    changes = {c: statement.excluded[c] for c in rows[0] if c not in keys and c != "created_us"}
    connection.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=changes), rows)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
