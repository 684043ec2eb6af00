"""The native batch (POST /api/v1/ingest, format in :mod:`contrail.schema.wire`) as observations and scores.

Contract: :func:`map_native_batch` raises :class:`NativeBatchError` only when the payload is not
``{"batch": [...]}`` (HTTP 400). Otherwise every event is validated on its own (pydantic, then the
same id, time and size rules as OTLP, see :mod:`contrail.ingest.otlp` and
:mod:`contrail.ingest.truncation`) and gets one result: status 201 when accepted, 400 with a
message when not. One bad event never affects the others. Idempotency (by trace/span id and by
score id) is the store's job. Scores follow :mod:`contrail.ingest.scores`.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from contrail.ingest.limits import IngestLimits
from contrail.ingest.scores import ScoreError, ScoreFields, build_score
from contrail.ingest.truncation import Truncator
from contrail.schema.ids import is_valid_span_id, is_valid_trace_id
from contrail.schema.observation import Cost, Observation, TraceAttributes, Usage
from contrail.schema.score import Score
from contrail.schema.wire import (
    IngestItemResult,
    IngestResponse,
    ObservationEvent,
    ObservationIn,
    ScoreEvent,
    ScoreIn,
)

__all__ = ["NativeBatch", "NativeBatchError", "map_native_batch", "map_score", "validation_message"]

ACCEPTED = 201
INVALID = 400
_EVENT: TypeAdapter[ObservationEvent | ScoreEvent] = TypeAdapter(
    Annotated[ObservationEvent | ScoreEvent, Field(discriminator="type")]
)
_ZERO_SPAN = "0" * 16


class NativeBatchError(ValueError):
    """The payload is not a native batch at all; ``str(error)`` is a client-facing message."""


@dataclasses.dataclass(slots=True)
class NativeBatch:
    """Accepted observations and scores, and one result per event in request order."""

    observations: list[Observation]
    scores: list[Score]
    results: list[IngestItemResult]
    truncated_values: int

    def response(self) -> IngestResponse:
        """The 207 body: results split into successes and errors."""
        return IngestResponse(
            successes=[r for r in self.results if r.status < 400],
            errors=[r for r in self.results if r.status >= 400],
        )


class _EventError(ValueError):
    pass


def map_native_batch(payload: object, limits: IngestLimits, now_us: int) -> NativeBatch:
    """Validate and map each event of ``payload`` (already JSON-decoded)."""
    events = _batch_events(payload)
    truncator = Truncator(limits)
    batch = NativeBatch([], [], [], 0)
    for index, raw in enumerate(events):
        event_id = _event_id(raw, index)
        try:
            event = _EVENT.validate_python(raw)
            if isinstance(event, ObservationEvent):
                batch.observations.append(_observation(event.body, limits, truncator, now_us))
            else:
                batch.scores.append(_score(event.body, limits, truncator, now_us))
        except ValidationError as exc:
            batch.results.append(
                IngestItemResult(id=event_id, status=INVALID, message=validation_message(exc))
            )
            continue
        except (_EventError, ScoreError) as exc:
            batch.results.append(IngestItemResult(id=event_id, status=INVALID, message=str(exc)))
            continue
        batch.results.append(IngestItemResult(id=event_id, status=ACCEPTED))
    batch.truncated_values = truncator.count
    return batch


def _batch_events(payload: object) -> list[Any]:
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        raise NativeBatchError('Body must be a JSON object {"batch": [event, ...]}')
    events: list[Any] = payload["batch"]
    return events


def _event_id(raw: Any, index: int) -> str:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value[:200] if isinstance(value, str) and value else f"batch[{index}]"


def validation_message(error: ValidationError, limit: int = 3) -> str:
    """A compact, client-facing summary of a pydantic error: ``"body.name: Field required; ..."``."""
    parts = []
    for item in error.errors()[:limit]:
        location = ".".join(str(part) for part in item["loc"]) or "event"
        parts.append(f"{location}: {item['msg']}")
    more = error.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _observation(body: ObservationIn, limits: IngestLimits, truncator: Truncator, now_us: int) -> Observation:
    trace_id, span_id = body.trace_id.lower(), body.span_id.lower()
    parent = body.parent_span_id.lower() if body.parent_span_id else None
    _check_ids(trace_id, span_id, parent)
    _check_times(body.start_us, body.end_us, limits, now_us)
    text, value = truncator.text, truncator.value
    return Observation(
        trace_id=trace_id,
        span_id=span_id,
        name=text(body.name),
        start_us=body.start_us,
        parent_span_id=None if parent in (None, _ZERO_SPAN) else parent,
        type=body.type,
        end_us=body.end_us,
        status=body.status,
        status_message=_opt(text, body.status_message),
        level=body.level,
        model_requested=_opt(text, body.model_requested),
        model_response=_opt(text, body.model_response),
        provider=_opt(text, body.provider),
        model_parameters=_dict(value, body.model_parameters) if body.model_parameters is not None else None,
        input=value(body.input),
        output=value(body.output),
        usage=Usage(**body.usage.model_dump()),
        cost=Cost(total=_cost(body.cost_usd)),
        ttft_us=body.ttft_us,
        user_id=_opt(text, body.user_id),
        session_id=_opt(text, body.session_id),
        environment=_opt(text, body.environment),
        release=_opt(text, body.release),
        version=_opt(text, body.version),
        tags=[text(tag) for tag in body.tags],
        metadata=_dict(value, body.metadata),
        prompt_name=_opt(text, body.prompt_name),
        prompt_version=body.prompt_version,
        trace=_trace(body, truncator),
    )


def _check_ids(trace_id: str, span_id: str, parent: str | None) -> None:
    if not is_valid_trace_id(trace_id):
        raise _EventError("trace_id must be 32 hex characters, not all zero")
    if not is_valid_span_id(span_id):
        raise _EventError("span_id must be 16 hex characters, not all zero")
    if parent is not None and parent != _ZERO_SPAN and not is_valid_span_id(parent):
        raise _EventError("parent_span_id must be 16 hex characters or null")


def _check_times(start_us: int, end_us: int | None, limits: IngestLimits, now_us: int) -> None:
    if start_us > now_us + limits.max_future_skew_us:
        raise _EventError("start_us is too far in the future (check the client clock)")
    if start_us < limits.min_start_us:
        raise _EventError("start_us is too far in the past (expected microseconds since the epoch)")
    if end_us is not None and end_us < start_us:
        raise _EventError("end_us is before start_us")


def _trace(body: ObservationIn, truncator: Truncator) -> TraceAttributes:
    if body.trace is None:
        return TraceAttributes()
    trace = body.trace
    return TraceAttributes(
        name=_opt(truncator.text, trace.name),
        input=truncator.value(trace.input),
        output=truncator.value(trace.output),
        tags=[truncator.text(tag) for tag in trace.tags],
        metadata=_dict(truncator.value, trace.metadata),
    )


def map_score(body: ScoreIn, limits: IngestLimits, now_us: int) -> Score:
    """One score from its wire form (POST /api/v1/scores); raises ScoreError with a client message."""
    return _score(body, limits, Truncator(limits), now_us)


def _score(body: ScoreIn, limits: IngestLimits, truncator: Truncator, now_us: int) -> Score:
    fields = ScoreFields(
        name=body.name,
        value=body.value,
        id=body.id,
        trace_id=body.trace_id,
        observation_id=body.observation_id,
        session_id=body.session_id,
        data_type=body.data_type.value if body.data_type is not None else None,
        source=body.source,
        comment=body.comment,
        metadata=body.metadata,
        timestamp_us=body.timestamp_us,
        environment=body.environment,
    )
    return build_score(fields, limits, truncator, now_us)


def _cost(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise _EventError(f"cost_usd must be a decimal string, got {text[:40]!r}") from None
    if not amount.is_finite() or amount < 0:
        raise _EventError("cost_usd must be a finite, non-negative decimal")
    return amount


def _opt(text: Any, value: str | None) -> str | None:
    return text(value) if value is not None else None


def _dict(value: Any, data: dict[str, Any]) -> dict[str, Any]:
    bounded = value(data)
    return bounded if isinstance(bounded, dict) else {"value": bounded}
