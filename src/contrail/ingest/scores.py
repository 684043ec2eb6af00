"""Building a :class:`Score` from any ingestion shape, with one set of typing rules.

Value typing: NUMERIC takes a finite number (not a boolean); CATEGORICAL takes a string (stored in
``string_value``); BOOLEAN takes ``true``/``false`` or the numbers 0/1 (stored as ``value`` 1.0/0.0
and ``string_value`` "True"/"False", as Langfuse does). Without a data type it is inferred from
the value (bool → BOOLEAN, number → NUMERIC, string → CATEGORICAL). Anything else is a
:class:`ScoreError` whose message names the problem. A score needs a trace id or a session id; an
observation id needs a trace id. Missing ids are generated (UUIDv7), missing timestamps are
``now_us``; timestamps more than ``max_future_skew_us`` ahead or before ``min_start_us`` are errors.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from contrail.ingest.limits import IngestLimits
from contrail.ingest.truncation import Truncator
from contrail.schema.ids import uuid7
from contrail.schema.score import Score, ScoreDataType, ScoreSource


class ScoreError(ValueError):
    """The score is invalid; ``str(error)`` is a client-facing message."""


@dataclasses.dataclass(slots=True)
class ScoreFields:
    """A score as received, before typing rules; strings are untrusted and not yet bounded."""

    name: str
    value: Any
    id: str | None = None
    trace_id: str | None = None
    observation_id: str | None = None
    session_id: str | None = None
    string_value: str | None = None
    data_type: str | None = None
    source: ScoreSource = ScoreSource.API
    comment: str | None = None
    metadata: Any = None
    timestamp_us: int | None = None
    environment: str | None = None


def build_score(fields: ScoreFields, limits: IngestLimits, truncator: Truncator, now_us: int) -> Score:
    """Apply the typing, linkage and time rules; raises :class:`ScoreError`."""
    if not fields.name:
        raise ScoreError("name must be a non-empty string")
    if not fields.trace_id and not fields.session_id:
        raise ScoreError("a score needs traceId/trace_id or sessionId/session_id")
    if fields.observation_id and not fields.trace_id:
        raise ScoreError("observationId needs traceId too")
    timestamp_us = now_us if fields.timestamp_us is None else fields.timestamp_us
    if timestamp_us > now_us + limits.max_future_skew_us:
        raise ScoreError("timestamp is too far in the future (check the client clock)")
    if timestamp_us < limits.min_start_us:
        raise ScoreError("timestamp is too far in the past")
    data_type, value, string_value = _typed_value(fields)
    text = truncator.text
    return Score(
        id=text(fields.id) if fields.id else uuid7(),
        trace_id=text(fields.trace_id) if fields.trace_id else None,
        name=text(fields.name),
        timestamp_us=timestamp_us,
        value=value,
        string_value=text(string_value) if string_value is not None else None,
        data_type=data_type,
        observation_id=text(fields.observation_id) if fields.observation_id else None,
        session_id=text(fields.session_id) if fields.session_id else None,
        source=fields.source,
        comment=text(fields.comment) if fields.comment is not None else None,
        metadata=_metadata(fields.metadata, truncator),
        environment=text(fields.environment) if fields.environment else None,
    )


def _typed_value(fields: ScoreFields) -> tuple[ScoreDataType, float | None, str | None]:
    value = fields.value
    kind = fields.data_type.upper() if isinstance(fields.data_type, str) else None
    if kind is None:
        kind = _inferred(value, fields.string_value)
    if kind == "NUMERIC":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScoreError(f"NUMERIC scores need a numeric value, got {_describe(value)}")
        if not math.isfinite(value):
            raise ScoreError("NUMERIC score value must be finite (not NaN or infinity)")
        return ScoreDataType.NUMERIC, float(value), None
    if kind == "CATEGORICAL":
        text = value if isinstance(value, str) else fields.string_value
        if not isinstance(text, str):
            raise ScoreError(f"CATEGORICAL scores need a string value, got {_describe(value)}")
        return ScoreDataType.CATEGORICAL, None, text
    if kind == "BOOLEAN":
        if isinstance(value, bool):
            flag = value
        elif isinstance(value, (int, float)) and value in (0, 1):
            flag = bool(value)
        else:
            raise ScoreError(f"BOOLEAN scores need true/false or 0/1, got {_describe(value)}")
        return ScoreDataType.BOOLEAN, 1.0 if flag else 0.0, "True" if flag else "False"
    raise ScoreError(f"dataType must be NUMERIC, CATEGORICAL or BOOLEAN, got {fields.data_type!r}")


def _inferred(value: Any, string_value: str | None) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, (int, float)):
        return "NUMERIC"
    if isinstance(value, str) or string_value is not None:
        return "CATEGORICAL"
    raise ScoreError(f"value must be a number, string or boolean, got {_describe(value)}")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}"


def _metadata(value: Any, truncator: Truncator) -> dict[str, Any]:
    if value is None:
        return {}
    bounded = truncator.value(value)
    return bounded if isinstance(bounded, dict) else {"value": bounded}
