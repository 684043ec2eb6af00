"""``score()``: attach a numeric, boolean or categorical judgement to a trace or an observation."""

from __future__ import annotations

import math
import os
from typing import Any

from contrail.sdk import guard, snapshot
from contrail.sdk import tracer as _tracer
from contrail.sdk.context import current


class ScoreRecord:
    """A queued score; ``to_wire`` gives the ``body`` of a ``score`` ingest event."""

    kind = "score"

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def to_wire(self) -> dict[str, Any]:
        return dict(self.body)


def score(
    name: str,
    value: float | bool | str,
    *,
    trace_id: str | None = None,
    observation_id: str | None = None,
    session_id: str | None = None,
    comment: str | None = None,
    metadata: dict[str, Any] | None = None,
    data_type: str | None = None,
) -> str | None:
    """Record a score and return its id (None when tracing is off or nothing can be scored).

    Without ``trace_id`` / ``observation_id`` / ``session_id`` the score attaches to the current trace.
    ``data_type`` defaults from the value: bool -> BOOLEAN, str -> CATEGORICAL, number -> NUMERIC.
    """
    try:
        return _score(name, value, trace_id, observation_id, session_id, comment, metadata, data_type)
    except Exception as exc:
        guard.report("score", exc)
        return None


def _score(
    name: str,
    value: float | bool | str,
    trace_id: str | None,
    observation_id: str | None,
    session_id: str | None,
    comment: str | None,
    metadata: dict[str, Any] | None,
    data_type: str | None,
) -> str | None:
    tracer = _tracer.current_tracer()
    if not tracer.enabled:
        return None
    span = current.get()
    if trace_id is None and observation_id is None and session_id is None and span is not None:
        if not span.sampled:
            return None
        trace_id = span.trace_id
    if trace_id is None and session_id is None:
        guard.warn("score", f"score({name!r}) outside any trace and without trace_id/session_id: ignored")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        guard.warn("score", f"score({name!r}) value {value!r} is not finite: ignored")
        return None
    score_id = os.urandom(16).hex()
    body: dict[str, Any] = {
        "id": score_id,
        "name": name,
        "value": value,
        "data_type": data_type or _data_type(value),
        "source": "SDK",
        "timestamp_us": tracer.now_ns() // 1000,
    }
    optional = {"trace_id": trace_id, "observation_id": observation_id, "session_id": session_id}
    body.update({key: item for key, item in optional.items() if item is not None})
    if comment is not None:
        body["comment"] = comment
    if metadata:
        body["metadata"] = snapshot.snapshot(dict(metadata))
    tracer.submit(ScoreRecord(body))
    return score_id


def _data_type(value: float | bool | str) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, str):
        return "CATEGORICAL"
    return "NUMERIC"
