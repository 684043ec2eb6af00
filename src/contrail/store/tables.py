"""The relational schema (SQLAlchemy Core). Alembic migrations in ``store/migrations`` create it.

Conventions: times are integer microseconds since the epoch; money is integer nano-dollars
(``*_cost_nanos``); input/output documents are compressed JSON blobs (see ``store.types``);
small JSON (tags, metadata) is JSON text so both dialects can filter on it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# JSON on SQLite (text with json_* functions), JSONB on PostgreSQL (indexable containment).
JsonDoc = JSON().with_variant(JSONB(), "postgresql")
# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid; PostgreSQL needs 64 bits.
RowId = BigInteger().with_variant(Integer(), "sqlite")

projects = Table(
    "projects",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_us", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(36), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("public_key", String(100), nullable=False, unique=True),
    Column("secret_hash", String(128), nullable=False),
    Column("secret_hint", String(20), nullable=False),
    Column("note", String(200)),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger),
    Column("last_used_us", BigInteger),
    Index(None, "project_id"),
    Index(None, "secret_hash", unique=True),
)

observations = Table(
    "observations",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("project_id", String(36), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("parent_span_id", String(16)),
    Column("name", Text, nullable=False),
    Column("type", String(16), nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger),
    Column("duration_us", BigInteger),
    Column("status", String(8), nullable=False),
    Column("status_message", Text),
    Column("level", String(8), nullable=False),
    Column("is_error", Boolean, nullable=False),
    Column("model_requested", String(200)),
    Column("model_response", String(200)),
    Column("model", String(200)),
    Column("provider", String(100)),
    Column("model_parameters", JsonDoc),
    Column("input", LargeBinary),
    Column("output", LargeBinary),
    Column("input_tokens", BigInteger),
    Column("output_tokens", BigInteger),
    Column("cached_input_tokens", BigInteger),
    Column("reasoning_tokens", BigInteger),
    Column("total_tokens", BigInteger),
    Column("cache_write_input_tokens", BigInteger),  # migration 0008
    Column("audio_input_tokens", BigInteger),
    Column("audio_output_tokens", BigInteger),
    Column("input_cost_nanos", BigInteger),
    Column("output_cost_nanos", BigInteger),
    Column("total_cost_nanos", BigInteger),
    Column("ttft_us", BigInteger),
    Column("user_id", String(200)),
    Column("session_id", String(200)),
    Column("environment", String(100)),
    Column("release", String(100)),
    Column("version", String(100)),
    Column("tags", JsonDoc),
    Column("metadata", JsonDoc),
    Column("prompt_name", String(200)),
    Column("prompt_version", Integer),
    Column("ingested_us", BigInteger, nullable=False),
    UniqueConstraint("project_id", "trace_id", "span_id"),
    Index(None, "project_id", "start_us"),
    # Partial indexes (this one and the next two): most spans have no model, no error and no prompt,
    # and every index entry is a b-tree leaf written at ingest (see migration 0016).
    Index(
        "ix_observations_model",
        "project_id",
        "model",
        "start_us",
        sqlite_where=text("model IS NOT NULL"),
        postgresql_where=text("model IS NOT NULL"),
    ),
    # Matches the filter's `is_error IS 1` / `IS true` exactly: SQLite uses a partial index only for
    # a query whose WHERE repeats its condition.
    Index(
        "ix_observations_errors",
        "project_id",
        "start_us",
        sqlite_where=text("is_error IS 1"),
        postgresql_where=text("is_error IS true"),
    ),
    Index(
        "ix_observations_prompt",
        "project_id",
        "prompt_name",
        "prompt_version",
        "start_us",
        sqlite_where=text("prompt_name IS NOT NULL"),
        postgresql_where=text("prompt_name IS NOT NULL"),
    ),
)

traces = Table(
    "traces",
    metadata,
    Column("project_id", String(36), primary_key=True),
    Column("trace_id", String(32), primary_key=True),
    Column("name", Text),
    Column("name_rank", Integer, nullable=False, default=0),
    Column("root_span_id", String(16)),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger),
    Column("duration_us", BigInteger),
    Column("user_id", String(200)),
    Column("session_id", String(200)),
    Column("environment", String(100)),
    Column("release", String(100)),
    Column("version", String(100)),
    Column("tags", JsonDoc),
    Column("models", JsonDoc),
    Column("metadata", JsonDoc),
    Column("input_preview", Text),
    Column("output_preview", Text),
    Column("io_rank", Integer, nullable=False, default=0),
    Column("input_tokens", BigInteger, nullable=False, default=0),
    Column("output_tokens", BigInteger, nullable=False, default=0),
    Column("total_tokens", BigInteger, nullable=False, default=0),
    Column("total_cost_nanos", BigInteger, nullable=False, default=0),
    Column("error_count", Integer, nullable=False, default=0),
    Column("observation_count", Integer, nullable=False, default=0),
    Column("updated_us", BigInteger, nullable=False),
    # The trace list's keyset order, widened to cover the dashboard's trace-level panels (counts, cost,
    # latency, users over a time range) so they read the index, not 100k wide rows (2-2.5x at 1M spans).
    Index(
        "ix_traces_project_start_covering",
        "project_id",
        "start_us",
        "trace_id",
        "observation_count",
        "duration_us",
        "total_cost_nanos",
        "total_tokens",
        "error_count",
        "user_id",
        "session_id",
    ),
    Index(None, "project_id", "session_id", "start_us"),
    Index(None, "project_id", "user_id", "start_us"),
)

scores = Table(
    "scores",
    metadata,
    Column("project_id", String(36), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("trace_id", String(32)),
    Column("observation_id", String(16)),
    Column("session_id", String(200)),
    Column("name", String(200), nullable=False),
    Column("value", Float),
    Column("string_value", Text),
    Column("data_type", String(12), nullable=False),
    Column("source", String(12), nullable=False),
    Column("comment", Text),
    Column("metadata", JsonDoc),
    Column("environment", String(100)),
    Column("timestamp_us", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Index(None, "project_id", "trace_id"),
    Index(None, "project_id", "timestamp_us"),
)


def _activity_table(name: str, key: str) -> Table:
    """Per-session or per-user totals, kept current by the writer so list pages never group traces."""
    return Table(
        name,
        metadata,
        Column("project_id", String(36), primary_key=True),
        Column(key, String(200), primary_key=True),
        Column("trace_count", BigInteger, nullable=False),
        Column("first_seen_us", BigInteger, nullable=False),
        Column("last_seen_us", BigInteger, nullable=False),
        Column("total_tokens", BigInteger, nullable=False),
        Column("total_cost_nanos", BigInteger, nullable=False),
        Column("error_traces", BigInteger, nullable=False),
        Index(None, "project_id", "last_seen_us"),
    )


session_activity = _activity_table("session_activity", "session_id")
user_activity = _activity_table("user_activity", "user_id")
