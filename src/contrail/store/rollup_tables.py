"""Metric rollups (migration 0010) and trace rollups (migration 0014) for the dashboard.

On the shared metadata of store.tables; store/migrations/env.py imports this module.

``metric_rollups`` holds one row per project, grain (hour or day, UTC), bucket start and combination
of low-cardinality dimensions (``DIMENSIONS``), identified by ``dims_key``, a hash of the dimension
values (a unique index over nullable columns would not make NULLs equal). Counters are sums, so the
writer keeps rows current with delta upserts and a query adds rows up. Latency and time to first
token also keep a fixed log-spaced histogram (``HISTOGRAM_BINS`` columns each) so percentiles come
from the rollups: bin 0 holds values under 1 ms, bin ``i`` (1..62) holds
[2^((i-1)/3), 2^(i/3)) ms and bin 63 everything from 2^(62/3) ms (~28 min) up.

``trace_rollups`` holds, per project, grain and bucket (by the trace's start), the traces of each
environment: their count, error count, cost and a duration histogram of the same bins. ``segment`` is
``""`` for all traces or ``metadata:<key>`` for the traces whose metadata holds ``value`` under
``<key>``. Key columns are never NULL (a PostgreSQL primary key cannot hold NULLs), so a trace
without an environment counts under ``""``, as does the whole-project ``value``; readers send a filter
on an empty environment to the exact path. SQLite keeps it ``WITHOUT ROWID``: one b-tree to upsert.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Integer, String, Table, Text

from contrail.store.tables import metadata

HOUR_US = 3_600_000_000
DAY_US = 86_400_000_000
GRAINS = (HOUR_US, DAY_US)
HISTOGRAM_BINS = 64

# Each is a column of observations and of metric_rollups, in the order hashed into dims_key.
DIMENSIONS = (
    "model",
    "provider",
    "name",
    "type",
    "environment",
    "release",
    "prompt_name",
    "prompt_version",
    "is_error",
)
COUNTERS = (
    "span_count",
    "refusal_count",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "total_tokens",
    "cost_nanos",
    "priced_count",
    "latency_count",
    "latency_sum_us",
    "ttft_count",
    "ttft_sum_us",
)
LATENCY_BINS = tuple(f"lat_{i:02d}" for i in range(HISTOGRAM_BINS))
TTFT_BINS = tuple(f"ttft_{i:02d}" for i in range(HISTOGRAM_BINS))
SUMMED = COUNTERS + LATENCY_BINS + TTFT_BINS
KEY = ("project_id", "grain_us", "bucket_us", "dims_key")


def _dimension_columns() -> list[Column[Any]]:
    return [
        Column("model", String(200)),
        Column("provider", String(100)),
        Column("name", Text),
        Column("type", String(16)),
        Column("environment", String(100)),
        Column("release", String(100)),
        Column("prompt_name", String(200)),
        Column("prompt_version", Integer),
        Column("is_error", Boolean, nullable=False),
    ]


metric_rollups = Table(
    "metric_rollups",
    metadata,
    Column("project_id", String(36), primary_key=True),
    Column("grain_us", BigInteger, primary_key=True),
    Column("bucket_us", BigInteger, primary_key=True),
    Column("dims_key", String(32), primary_key=True),
    *_dimension_columns(),
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in SUMMED),
)


TRACE_KEY = ("project_id", "segment", "grain_us", "bucket_us", "value", "environment")
TRACE_COUNTERS = ("trace_count", "error_traces", "cost_nanos", "duration_count", "duration_sum_us")
TRACE_SUMMED = TRACE_COUNTERS + LATENCY_BINS
SEGMENT_CHARS = 110  # "metadata:" and a key of at most 100 characters (store.filters.METADATA_KEY)
VALUE_CHARS = 200

trace_rollups = Table(
    "trace_rollups",
    metadata,
    Column("project_id", String(36), primary_key=True),
    Column("segment", String(SEGMENT_CHARS), primary_key=True),
    Column("grain_us", BigInteger, primary_key=True),
    Column("bucket_us", BigInteger, primary_key=True),
    Column("value", String(VALUE_CHARS), primary_key=True),
    Column("environment", String(100), primary_key=True),
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in TRACE_SUMMED),
    sqlite_with_rowid=False,
)
