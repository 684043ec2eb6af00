"""Update the span or trace the caller is running in (no-ops outside any trace)."""

from __future__ import annotations

from typing import Any

from contrail.sdk import guard
from contrail.sdk.context import current
from contrail.sdk.span import _UNSET


def update_current_span(**fields: Any) -> None:
    """Set fields of the current span: name, input, output, metadata, level, status_message,
    version, model, model_parameters, usage, cost_usd, prompt_name, prompt_version, tags.

    Unknown field names are reported (raised under CONTRAIL_STRICT=1) and ignored.
    """
    span = current.get()
    if span is None or not span.sampled:
        return
    try:
        span.update(**fields)
    except Exception as exc:
        guard.report("update_current_span", exc)


def update_current_trace(
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    name: str | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    input: Any = _UNSET,
    output: Any = _UNSET,
) -> None:
    """Set trace-level values from anywhere inside the trace.

    ``user_id`` / ``session_id`` are also inherited by spans started afterwards in this trace.
    """
    span = current.get()
    if span is None or not span.sampled:
        return
    try:
        if user_id is not None:
            span.user_id = str(user_id)
        if session_id is not None:
            span.session_id = str(session_id)
        values: dict[str, Any] = {"name": name, "tags": tags, "metadata": metadata}
        values.update(input=input, output=output)
        span.set_trace(**{k: v for k, v in values.items() if v is not None and v is not _UNSET})
    except Exception as exc:
        guard.report("update_current_trace", exc)
