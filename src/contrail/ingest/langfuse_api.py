"""Scores sent by Langfuse SDKs to the Langfuse public API shapes.

* ``POST /api/public/scores`` (current SDKs): a JSON array of score objects, or one object, with
  fields ``id, traceId, observationId, sessionId, name, value, stringValue, dataType, comment,
  metadata, environment, source, timestamp`` (others ignored). :func:`map_langfuse_scores`.
  Answer 202 ``{"message": "Accepted"}`` when all were accepted, else 207
  ``{"accepted", "rejected", "errors": [{"message"}]}`` (:meth:`LangfuseScores.response`).
* ``POST /api/public/ingestion`` (older SDKs): ``{"batch": [{"id", "type", "timestamp", "body"}]}``.
  ``score-create`` events become scores; other event types (trace-create, span-create,
  generation-create, ...) are answered per event with 400 and a message pointing to the OTLP
  endpoint, which Langfuse SDKs v3+ use. Answer 207 ``{"successes": [{"id", "status"}],
  "errors": [{"id", "status", "message"}]}`` (:meth:`LangfuseIngestion.response`).

Typing rules are :mod:`contrail.ingest.scores`'; ``dataType`` TEXT and CORRECTION (Langfuse-only
types carrying free text) are stored as CATEGORICAL with ``metadata["langfuse_data_type"]``.
Raises :class:`LangfusePayloadError` only when the payload has the wrong overall shape (HTTP 400).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contrail.ingest.limits import IngestLimits
from contrail.ingest.native import validation_message
from contrail.ingest.scores import ScoreError, ScoreFields, build_score
from contrail.ingest.truncation import Truncator
from contrail.schema.score import Score, ScoreSource
from contrail.schema.timeconv import now_us as clock_now_us
from contrail.schema.timeconv import rfc3339_to_us

__all__ = [
    "LangfuseIngestion",
    "LangfusePayloadError",
    "LangfuseScores",
    "map_langfuse_ingestion",
    "map_langfuse_scores",
]

_TEXT_TYPES = frozenset({"TEXT", "CORRECTION"})
_SOURCES = {"API": ScoreSource.API, "ANNOTATION": ScoreSource.ANNOTATION, "EVAL": ScoreSource.EVAL}


class LangfusePayloadError(ValueError):
    """The payload does not have the endpoint's overall shape; the message says what was expected."""


class _LangfuseScore(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str | None = None
    trace_id: str | None = Field(default=None, alias="traceId")
    observation_id: str | None = Field(default=None, alias="observationId")
    session_id: str | None = Field(default=None, alias="sessionId")
    name: str
    value: float | str | bool | None = None
    string_value: str | None = Field(default=None, alias="stringValue")
    data_type: str | None = Field(default=None, alias="dataType")
    comment: str | None = None
    metadata: Any = None
    environment: str | None = None
    source: str | None = None
    timestamp: str | None = None


@dataclasses.dataclass(slots=True)
class LangfuseScores:
    """Accepted scores and one message per rejected item (``"scores[i]: reason"``)."""

    scores: list[Score]
    errors: list[str]

    def response(self) -> tuple[int, dict[str, Any]]:
        """HTTP status and body the Langfuse SDK expects (once the scores are committed)."""
        if not self.errors:
            return 202, {"message": "Accepted"}
        body = {
            "accepted": len(self.scores),
            "rejected": len(self.errors),
            "errors": [{"message": message} for message in self.errors],
        }
        return 207, body


@dataclasses.dataclass(slots=True)
class LangfuseIngestion:
    """Accepted scores and per-event results for ``/api/public/ingestion``."""

    scores: list[Score]
    successes: list[dict[str, Any]]
    errors: list[dict[str, Any]]

    def response(self) -> tuple[int, dict[str, Any]]:
        return 207, {"successes": self.successes, "errors": self.errors}


def map_langfuse_scores(
    payload: object, limits: IngestLimits | None = None, now_us: int | None = None
) -> LangfuseScores:
    """Map the body of ``POST /api/public/scores`` (already JSON-decoded)."""
    items = payload if isinstance(payload, list) else [payload] if isinstance(payload, dict) else None
    if items is None:
        raise LangfusePayloadError("Body must be a score object or a JSON array of score objects")
    limits = limits or IngestLimits()
    now = clock_now_us() if now_us is None else now_us
    truncator = Truncator(limits)
    result = LangfuseScores([], [])
    for index, item in enumerate(items):
        try:
            result.scores.append(_score(item, limits, truncator, now))
        except (ScoreError, _ItemError) as exc:
            result.errors.append(f"scores[{index}]: {exc}")
    return result


def map_langfuse_ingestion(
    payload: object, limits: IngestLimits | None = None, now_us: int | None = None
) -> LangfuseIngestion:
    """Map the body of ``POST /api/public/ingestion`` (already JSON-decoded)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        raise LangfusePayloadError('Body must be a JSON object {"batch": [event, ...]}')
    limits = limits or IngestLimits()
    now = clock_now_us() if now_us is None else now_us
    truncator = Truncator(limits)
    result = LangfuseIngestion([], [], [])
    for index, event in enumerate(payload["batch"]):
        event_id = _event_id(event, index)
        try:
            result.scores.append(_ingestion_event(event, limits, truncator, now))
        except (ScoreError, _ItemError) as exc:
            result.errors.append({"id": event_id, "status": 400, "message": str(exc), "error": str(exc)})
            continue
        result.successes.append({"id": event_id, "status": 201})
    return result


class _ItemError(ValueError):
    pass


def _ingestion_event(event: Any, limits: IngestLimits, truncator: Truncator, now_us: int) -> Score:
    if not isinstance(event, dict):
        raise _ItemError("event must be an object with id, type and body")
    kind = event.get("type")
    if kind != "score-create":
        raise _ItemError(
            f"event type {kind!r} is not supported by Contrail's /api/public/ingestion; "
            "send traces with a Langfuse SDK v3+ (OTLP, /api/public/otel/v1/traces) or OpenTelemetry"
        )
    body = event.get("body")
    if isinstance(body, dict) and "timestamp" not in body and isinstance(event.get("timestamp"), str):
        body = {**body, "timestamp": event["timestamp"]}
    return _score(body, limits, truncator, now_us)


def _event_id(event: Any, index: int) -> str:
    value = event.get("id") if isinstance(event, dict) else None
    return value[:200] if isinstance(value, str) and value else f"batch[{index}]"


def _score(item: Any, limits: IngestLimits, truncator: Truncator, now_us: int) -> Score:
    try:
        parsed = _LangfuseScore.model_validate(item)
    except ValidationError as exc:
        raise _ItemError(validation_message(exc)) from None
    data_type = parsed.data_type.upper() if parsed.data_type else None
    metadata = parsed.metadata
    if data_type in _TEXT_TYPES:
        metadata = {**(metadata if isinstance(metadata, dict) else {"value": metadata} if metadata else {})}
        metadata["langfuse_data_type"] = data_type
        data_type = "CATEGORICAL"
    source = _SOURCES.get((parsed.source or "API").upper())
    if source is None:
        raise _ItemError(f"source must be API, ANNOTATION or EVAL, got {parsed.source!r}")
    fields = ScoreFields(
        name=parsed.name,
        value=parsed.value,
        id=parsed.id,
        trace_id=parsed.trace_id,
        observation_id=parsed.observation_id,
        session_id=parsed.session_id,
        string_value=parsed.string_value,
        data_type=data_type,
        source=source,
        comment=parsed.comment,
        metadata=metadata,
        timestamp_us=_timestamp(parsed.timestamp),
        environment=parsed.environment,
    )
    return build_score(fields, limits, truncator, now_us)


def _timestamp(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return rfc3339_to_us(text)
    except ValueError:
        raise _ItemError(f"timestamp must be ISO 8601, got {text[:40]!r}") from None
