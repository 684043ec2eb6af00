"""The observation: one span of an LLM application (a call, a retrieval, a tool, an agent step)."""

from __future__ import annotations

import dataclasses
import enum
from decimal import Decimal
from typing import Any


class ObservationType(str, enum.Enum):
    SPAN = "span"
    GENERATION = "generation"
    EVENT = "event"
    TOOL = "tool"
    RETRIEVER = "retriever"
    EMBEDDING = "embedding"
    AGENT = "agent"
    CHAIN = "chain"
    GUARDRAIL = "guardrail"


class Level(str, enum.Enum):
    DEBUG = "debug"
    DEFAULT = "default"
    WARNING = "warning"
    ERROR = "error"


class Status(str, enum.Enum):
    UNSET = "unset"
    OK = "ok"
    ERROR = "error"


@dataclasses.dataclass(slots=True)
class Usage:
    """Token counts of one model call; ``None`` means unknown, not zero."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None
    # Parts of input/output priced at their own rates where the catalogue lists one (cache writes,
    # audio); like cached and reasoning tokens they are included in input/output, not added to them.
    cache_write_input_tokens: int | None = None
    audio_input_tokens: int | None = None
    audio_output_tokens: int | None = None

    def resolved_total(self) -> int | None:
        if self.total_tokens is not None:
            return self.total_tokens
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


@dataclasses.dataclass(slots=True)
class Cost:
    """Cost in USD; filled at ingest by the analytics package or supplied by the client."""

    input: Decimal | None = None
    output: Decimal | None = None
    total: Decimal | None = None


@dataclasses.dataclass(slots=True)
class TraceAttributes:
    """Trace-level values an observation may carry (``langfuse.trace.*``, SDK ``update_current_trace``)."""

    name: str | None = None
    input: Any = None
    output: Any = None
    tags: list[str] = dataclasses.field(default_factory=list)
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    def is_empty(self) -> bool:
        return (
            self.name is None
            and self.input is None
            and self.output is None
            and not self.tags
            and not self.metadata
        )


@dataclasses.dataclass(slots=True)
class Observation:
    """One span in the shape Contrail stores; every ingestion path produces these.

    Times are integer microseconds since the epoch (UTC). ``input``/``output``/``metadata`` hold
    JSON-compatible values and are untrusted content.
    """

    trace_id: str
    span_id: str
    name: str
    start_us: int
    parent_span_id: str | None = None
    type: ObservationType = ObservationType.SPAN
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
    usage: Usage = dataclasses.field(default_factory=Usage)
    cost: Cost = dataclasses.field(default_factory=Cost)
    ttft_us: int | None = None
    user_id: str | None = None
    session_id: str | None = None
    environment: str | None = None
    release: str | None = None
    version: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    prompt_name: str | None = None
    prompt_version: int | None = None
    trace: TraceAttributes = dataclasses.field(default_factory=TraceAttributes)

    @property
    def model(self) -> str | None:
        """The model that answered if known, else the one requested."""
        return self.model_response or self.model_requested

    @property
    def is_error(self) -> bool:
        return self.status is Status.ERROR or self.level is Level.ERROR
