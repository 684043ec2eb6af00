"""Keeping ``metric_rollups`` current: delta upserts at ingest, and rebuilding a time range.

The writer calls ``apply`` in its transaction with every observation it stores and the stored
earlier version of re-sent spans: the earlier version's contribution is taken back and the new one
added, so a span sent twice (or updated when it ends) counts once. Deltas are summed per rollup row
in Python, so a batch of hundreds of spans becomes a few upserted rows per grain; rows are upserted
in key order, one lock order for every writer on PostgreSQL.

``rebuild`` recomputes a range from the observations themselves (backfill, and price recalculation
after observation costs changed).
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select

from contrail.store.database import executemany
from contrail.store.rollup_tables import (
    DAY_US,
    DIMENSIONS,
    GRAINS,
    HISTOGRAM_BINS,
    KEY,
    SUMMED,
    metric_rollups,
)
from contrail.store.tables import observations
from contrail.store.types import unpack_json

# A change: the new observation row (as the writer prepares it, with ``_refused``) and the stored
# earlier row, if any.
Change = tuple[Mapping[str, Any], Mapping[str, Any] | None]

# (project, grain, bucket, dims_key) -> (dimension values, summed counters in SUMMED order)
Deltas = dict[tuple[Any, ...], tuple[tuple[Any, ...], list[int]]]

_REFUSAL_REASONS = frozenset({"content_filter", "refusal"})
_COLUMNS = (*KEY, *DIMENSIONS, *SUMMED)
_UPSERT = (
    f"INSERT INTO metric_rollups ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = metric_rollups.{c} + excluded.{c}" for c in SUMMED)
)
_INDEX = {name: i for i, name in enumerate(SUMMED)}
_FINEST, *_COARSER = GRAINS
_DIMENSION_VALUES = operator.itemgetter(*DIMENSIONS)
_REBUILD_COLUMNS = (
    "id",
    "start_us",
    "duration_us",
    "ttft_us",
    "output",
    *DIMENSIONS,
    *(
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "total_tokens",
        "total_cost_nanos",
    ),
)
_REBUILD_CHUNK = 5_000


def histogram_bin(value_us: int) -> int:
    """The histogram bin of a latency or TTFT in microseconds (see store.rollup_tables)."""
    if value_us < 1000:
        return 0
    return min(int(math.log2(value_us / 1000) * 3) + 1, HISTOGRAM_BINS - 1)


def bin_bounds_ms(index: int) -> tuple[float, float]:
    """Lower and upper bound of a histogram bin in ms; the last bin's upper bound is its lower one."""
    if index == 0:
        return 0.0, 1.0
    low = 2 ** ((index - 1) / 3)
    return low, low if index == HISTOGRAM_BINS - 1 else 2 ** (index / 3)


def is_refusal(output: Any) -> bool:
    """True when an output message says the model refused (finish_reason content_filter/refusal,
    or a non-empty ``refusal`` field as OpenAI structured outputs report it)."""
    messages = output if isinstance(output, list) else [output]
    for message in messages:
        if isinstance(message, dict) and (
            message.get("finish_reason") in _REFUSAL_REASONS
            or message.get("stop_reason") == "refusal"
            or message.get("refusal")
        ):
            return True
    return False


def apply(connection: Connection, changes: Iterable[Change]) -> None:
    """Fold stored observations into the rollups: ``(row, old_row)`` per observation."""
    deltas: Deltas = {}
    for row, old in changes:
        if old is not None:
            _fold(deltas, old, _stored_refusal(old), -1)
        _fold(deltas, row, row["_refused"], +1)
    _upsert(connection, deltas)


def apply_cost_changes(
    connection: Connection, changes: Iterable[tuple[Mapping[str, Any], int | None]]
) -> None:
    """Move the rollups' cost from stored rows to their new ``total_cost_nanos`` (price recalculation).

    Each row needs ``project_id`` and the columns ``_fold`` reads; only the cost differs between the
    taken-back and the added contribution, so refusals (read from outputs) are left out of both.
    """
    deltas: Deltas = {}
    for row, new_total in changes:
        _fold(deltas, row, False, -1)
        _fold(deltas, {**row, "total_cost_nanos": new_total}, False, +1)
    _upsert(connection, deltas)


def rebuild(connection: Connection, project_id: str, start_us: int | None, end_us: int | None) -> None:
    """Recompute the rollups of observations starting in [start_us, end_us) (open ends: all).

    The range is widened to whole UTC days, as day rows hold a whole day. Run it in the writing
    transaction that changed the observations (e.g. after recalculating their cost).
    """
    low = None if start_us is None else start_us // DAY_US * DAY_US
    high = None if end_us is None else -(-end_us // DAY_US) * DAY_US
    removal = delete(metric_rollups).where(metric_rollups.c.project_id == project_id)
    source = [observations.c.project_id == project_id]
    if low is not None:
        removal = removal.where(metric_rollups.c.bucket_us >= low)
        source.append(observations.c.start_us >= low)
    if high is not None:
        removal = removal.where(metric_rollups.c.bucket_us < high)
        source.append(observations.c.start_us < high)
    connection.execute(removal)
    query = select(*(observations.c[name] for name in _REBUILD_COLUMNS)).where(*source)
    deltas: Deltas = {}
    after = 0
    while True:  # keyset pages on id: bounded memory whatever the range holds
        page = connection.execute(
            query.where(observations.c.id > after).order_by(observations.c.id).limit(_REBUILD_CHUNK)
        ).mappings()
        rows = [dict(r, project_id=project_id) for r in page]
        if not rows:
            break
        for row in rows:
            _fold(deltas, row, _stored_refusal(row), +1)
        after = rows[-1]["id"]
    _upsert(connection, deltas)


def rebuild_all(connection: Connection) -> None:
    """Recompute every project's rollups (the migration's backfill)."""
    projects = connection.execute(select(observations.c.project_id).distinct()).scalars().all()
    for project_id in projects:
        rebuild(connection, project_id, None, None)


def dims_key(dims: tuple[Any, ...]) -> str:
    return hashlib.blake2b(orjson.dumps(dims), digest_size=16).hexdigest()


_dims_keys: dict[tuple[Any, ...], str] = {}


def _cached_dims_key(dims: tuple[Any, ...]) -> str:
    # The writer folds every span; a batch has few distinct dimension tuples, and hashing each span's
    # tuple again cost more than the rest of the fold. Bounded: cleared when it grows large.
    key = _dims_keys.get(dims)
    if key is None:
        if len(_dims_keys) >= 4096:
            _dims_keys.clear()
        key = _dims_keys[dims] = dims_key(dims)
    return key


def counts_as_refusal(kind: str, output: Any) -> bool:
    """Whether a span adds to ``refusal_count``: a generation whose output is a refusal. The writer
    (new rows), the take-back of a re-sent span and a rebuild must all apply this one rule."""
    return kind == "generation" and output is not None and is_refusal(output)


def _stored_refusal(row: Mapping[str, Any]) -> bool:
    kind = row["type"]
    output = unpack_json(row["output"]) if kind == "generation" else None  # decode only what can count
    return counts_as_refusal(kind, output)


def _fold(deltas: Deltas, row: Mapping[str, Any], refused: bool, sign: int) -> None:
    dims = _DIMENSION_VALUES(row)
    dims = (*dims[:-1], bool(dims[-1]))
    key = _cached_dims_key(dims)
    duration, ttft, cost = row["duration_us"], row["ttft_us"], row["total_cost_nanos"]
    tokens = (
        row["input_tokens"] or 0,
        row["output_tokens"] or 0,
        row["cached_input_tokens"] or 0,
        row["total_tokens"] or 0,
    )
    timed = duration is not None and duration >= 0
    latency_slot = _LAT0 + histogram_bin(duration) if timed else 0
    first_token = ttft is not None and ttft >= 0
    ttft_slot = _TTFT0 + histogram_bin(ttft) if first_token else 0
    # The finest grain only: _upsert sums the coarser rows from these (a few per group, not per span).
    bucket_key = (row["project_id"], _FINEST, row["start_us"] // _FINEST * _FINEST, key)
    entry = deltas.get(bucket_key)
    if entry is None:
        entry = deltas[bucket_key] = (dims, [0] * len(SUMMED))
    slot = entry[1]
    slot[0] += sign
    if refused:
        slot[1] += sign
    slot[2] += sign * tokens[0]
    slot[3] += sign * tokens[1]
    slot[4] += sign * tokens[2]
    slot[5] += sign * tokens[3]
    if cost is not None:
        slot[6] += sign * cost
        slot[7] += sign
    if timed:
        slot[8] += sign
        slot[9] += sign * duration
        slot[latency_slot] += sign
    if first_token:
        slot[10] += sign
        slot[11] += sign * ttft
        slot[ttft_slot] += sign


def _with_coarser_grains(deltas: Deltas) -> Deltas:
    """The finest-grain deltas plus the coarser grains' rows, each the sum of the rows it covers
    (every grain is a whole number of the finest, counted from the epoch)."""
    result = dict(deltas)
    for (project_id, _grain, bucket, key), (dims, slot) in deltas.items():
        for grain in _COARSER:
            coarse = (project_id, grain, bucket // grain * grain, key)
            entry = result.get(coarse)
            if entry is None:
                result[coarse] = (dims, list(slot))
            else:
                entry[1][:] = map(operator.add, entry[1], slot)
    return result


_LAT0 = _INDEX["lat_00"]
_TTFT0 = _INDEX["ttft_00"]


def _upsert(connection: Connection, finest: Deltas) -> None:
    deltas = _with_coarser_grains(finest)
    rows = []
    for key in sorted(deltas):
        dims, slot = deltas[key]
        if any(slot):
            rows.append((*key, *dims, *slot))
    executemany(connection, _UPSERT, rows)
