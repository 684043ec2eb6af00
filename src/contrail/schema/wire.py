"""The native ingestion wire format (POST /api/v1/ingest), shared by the SDK and the server.

A request body is ``{"batch": [event, ...]}``. Each event is
``{"id": <event id>, "type": "observation" | "score", "body": {...}}``. Observations are
idempotent by (project, trace_id, span_id), scores by their ``id``. The server answers 207 with
``{"successes": [{"id", "status"}], "errors": [{"id", "status", "message"}]}``: one bad event never
rejects the others.

Times are integer microseconds since the epoch (UTC) to keep the SDK's hot path free of formatting.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contrail.schema.observation import Level, ObservationType, Status
from contrail.schema.score import ScoreDataType, ScoreSource


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=False)


class UsageIn(_Wire):
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    cached_input_tokens: int | None = Field(default=None, ge=0)
    reasoning_tokens: int | None = Field(default=None, ge=0)
    total_tokens: int | None = Field(default=None, ge=0)
    cache_write_input_tokens: int | None = Field(default=None, ge=0)
    audio_input_tokens: int | None = Field(default=None, ge=0)
    audio_output_tokens: int | None = Field(default=None, ge=0)


class TraceIn(_Wire):
    """Trace-level values set from inside any observation (e.g. ``update_current_trace``)."""

    name: str | None = None
    input: Any = None
    output: Any = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ObservationIn(_Wire):
    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str = Field(min_length=1)
    type: ObservationType = ObservationType.SPAN
    start_us: int
    end_us: int | None = None
    status: Status = Status.UNSET
    status_message: str | None = None
    level: Level = Level.DEFAULT
    model_requested: str | None = None
    model_response: str | None = None
    provider: str | None = None
    model_parameters: dict[str, Any] | None = None
    input: Any = None
    output: Any = None
    usage: UsageIn = Field(default_factory=UsageIn)
    cost_usd: str | None = Field(default=None, description="Client-computed total cost, decimal string")
    ttft_us: int | None = Field(default=None, ge=0)
    user_id: str | None = None
    session_id: str | None = None
    environment: str | None = None
    release: str | None = None
    version: str | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    prompt_name: str | None = None
    prompt_version: int | None = None
    trace: TraceIn | None = None


class ScoreIn(_Wire):
    id: str | None = None
    trace_id: str | None = None
    observation_id: str | None = None
    session_id: str | None = None
    name: str = Field(min_length=1)
    value: float | str | bool
    data_type: ScoreDataType | None = None
    source: ScoreSource = ScoreSource.SDK
    comment: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    timestamp_us: int | None = None
    environment: str | None = None


class ObservationEvent(_Wire):
    id: str
    type: Literal["observation"]
    body: ObservationIn


class ScoreEvent(_Wire):
    id: str
    type: Literal["score"]
    body: ScoreIn


class IngestItemResult(_Wire):
    id: str
    status: int
    message: str | None = None


class IngestResponse(_Wire):
    successes: list[IngestItemResult]
    errors: list[IngestItemResult]
