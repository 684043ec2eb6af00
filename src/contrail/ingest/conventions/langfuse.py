"""Langfuse SDK (v3 and later) OpenTelemetry attributes, as ``langfuse._client.attributes`` writes them.

Observation: ``langfuse.observation.type`` (span, generation, event, agent, tool, chain, retriever,
embedding, guardrail; ``evaluator`` and unknown types stay in metadata), ``.input``/``.output``
(JSON text when the SDK serialised a non-string), ``.metadata`` and ``.metadata.<key>`` (each value
JSON-encoded by v5 SDKs, raw text from older ones; merged into the observation metadata),
``.level``, ``.status_message``, ``.model.name``, ``.model.parameters``, ``.usage_details``
(Langfuse keys or raw OpenAI usage; unmapped keys kept in ``metadata["usage_details"]``),
``.cost_details`` (Decimal USD), ``.completion_start_time`` (→ ttft), ``.prompt.name``/``.version``.

Trace: ``langfuse.trace.name``/``.input``/``.output``/``.tags``/``.public``/``.metadata[.<key>]``
into ``obs.trace`` (``public`` as ``trace.metadata["public"]``); ``user.id``/``session.id`` are
shared attributes. General: ``langfuse.environment``, ``langfuse.release``, ``langfuse.version``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from contrail.ingest.conventions.nested import pop_prefixed
from contrail.ingest.conventions.span import SpanInput
from contrail.ingest.conventions.values import as_int, pop_str, pop_str_list
from contrail.schema.observation import Cost, Level, Observation, ObservationType, Usage
from contrail.schema.timeconv import rfc3339_to_us

OBSERVATION_TYPES = {
    "span": ObservationType.SPAN,
    "generation": ObservationType.GENERATION,
    "event": ObservationType.EVENT,
    "agent": ObservationType.AGENT,
    "tool": ObservationType.TOOL,
    "chain": ObservationType.CHAIN,
    "retriever": ObservationType.RETRIEVER,
    "embedding": ObservationType.EMBEDDING,
    "guardrail": ObservationType.GUARDRAIL,
}
LEVELS = {
    "DEBUG": Level.DEBUG,
    "DEFAULT": Level.DEFAULT,
    "WARNING": Level.WARNING,
    "ERROR": Level.ERROR,
}
_OBS_METADATA = "langfuse.observation.metadata."
_TRACE_METADATA = "langfuse.trace.metadata."
_USAGE_KEYS: dict[str, str] = {
    "input": "input_tokens",
    "input_tokens": "input_tokens",
    "prompt_tokens": "input_tokens",
    "output": "output_tokens",
    "output_tokens": "output_tokens",
    "completion_tokens": "output_tokens",
    "total": "total_tokens",
    "total_tokens": "total_tokens",
    "cache_read_input_tokens": "cached_input_tokens",
    "input_cached_tokens": "cached_input_tokens",
    "input_cache_read": "cached_input_tokens",
    "output_reasoning_tokens": "reasoning_tokens",
    "output_reasoning": "reasoning_tokens",
    "reasoning_tokens": "reasoning_tokens",
    "cache_creation_input_tokens": "cache_write_input_tokens",
    "input_cache_creation": "cache_write_input_tokens",
    "input_cache_write": "cache_write_input_tokens",
    "input_audio": "audio_input_tokens",
    "output_audio": "audio_output_tokens",
}
_INPUT_DETAILS = {"cached_tokens": "cached_input_tokens", "audio_tokens": "audio_input_tokens"}
_OUTPUT_DETAILS = {"reasoning_tokens": "reasoning_tokens", "audio_tokens": "audio_output_tokens"}
_USAGE_DETAILS = {
    "prompt_tokens_details": _INPUT_DETAILS,
    "input_tokens_details": _INPUT_DETAILS,
    "completion_tokens_details": _OUTPUT_DETAILS,
    "output_tokens_details": _OUTPUT_DETAILS,
}


_MARKERS = frozenset(
    {
        "langfuse.observation.type",
        "langfuse.environment",
        "langfuse.trace.name",
        "langfuse.trace.tags",
        "langfuse.release",
        "langfuse.version",
        "langfuse.observation.prompt.name",
    }
)


def applies(span: SpanInput) -> bool:
    """Spans of the ``langfuse-sdk`` tracer, or carrying a marker attribute (probes, no scan).

    Other spans that only carry propagated ``langfuse.trace.metadata.*`` keep them in
    ``metadata["attributes"]``.
    """
    if span.scope_name == "langfuse-sdk":
        return True
    return not _MARKERS.isdisjoint(span.attributes)


def apply(span: SpanInput, obs: Observation) -> None:
    """Map the Langfuse attributes of ``span`` into ``obs`` (consuming them)."""
    attrs = span.attributes
    kind = attrs.get("langfuse.observation.type")
    if isinstance(kind, str) and kind in OBSERVATION_TYPES:
        obs.type = OBSERVATION_TYPES[attrs.pop("langfuse.observation.type")]
    _observation_values(span, obs)
    _generation_values(span, obs)
    _metadata(span, obs)
    _trace_values(span, obs)
    # Membership tests first: a call per absent attribute adds up over every span.
    if "langfuse.environment" in attrs:
        obs.environment = pop_str(attrs, "langfuse.environment") or obs.environment
    if "langfuse.release" in attrs:
        obs.release = pop_str(attrs, "langfuse.release") or obs.release
    if "langfuse.version" in attrs:
        obs.version = pop_str(attrs, "langfuse.version") or obs.version


def _observation_values(span: SpanInput, obs: Observation) -> None:
    attrs = span.attributes
    json_text = span.truncator.json_text
    if "langfuse.observation.input" in attrs:
        obs.input = _decoded(span, attrs.pop("langfuse.observation.input"))
    if "langfuse.observation.output" in attrs:
        obs.output = _decoded(span, attrs.pop("langfuse.observation.output"))
    level = attrs.get("langfuse.observation.level")
    if isinstance(level, str) and level.upper() in LEVELS:
        obs.level = LEVELS[level.upper()]
        del attrs["langfuse.observation.level"]
    if "langfuse.observation.status_message" in attrs:
        obs.status_message = pop_str(attrs, "langfuse.observation.status_message") or obs.status_message
    obs.model_requested = pop_str(attrs, "langfuse.observation.model.name") or obs.model_requested
    params = attrs.get("langfuse.observation.model.parameters")
    parsed = json_text(params) if isinstance(params, str) else params
    if isinstance(parsed, dict):
        del attrs["langfuse.observation.model.parameters"]
        obs.model_parameters = {**(obs.model_parameters or {}), **parsed}
    if "langfuse.observation.prompt.name" in attrs:
        obs.prompt_name = pop_str(attrs, "langfuse.observation.prompt.name") or obs.prompt_name
    if "langfuse.observation.prompt.version" in attrs:
        version = as_int(attrs["langfuse.observation.prompt.version"])
        if version is not None:
            del attrs["langfuse.observation.prompt.version"]
            obs.prompt_version = version


def _generation_values(span: SpanInput, obs: Observation) -> None:
    attrs = span.attributes
    usage = _json_dict(span, "langfuse.observation.usage_details")
    if usage is not None:
        leftover = _apply_usage(usage, obs.usage)
        if leftover:
            obs.metadata["usage_details"] = leftover
    cost = (
        _json_dict(span, "langfuse.observation.cost_details")
        if "langfuse.observation.cost_details" in attrs
        else None
    )
    if cost is not None:
        leftover = _apply_cost(cost, obs.cost)
        if leftover:
            obs.metadata["cost_details"] = leftover
    started = attrs.get("langfuse.observation.completion_start_time")
    if isinstance(started, str):
        completion_start_us = _timestamp_us(started)
        if completion_start_us is not None:
            del attrs["langfuse.observation.completion_start_time"]
            obs.ttft_us = max(0, completion_start_us - span.start_us)


def _apply_usage(details: dict[str, Any], usage: Usage) -> dict[str, Any]:
    leftover: dict[str, Any] = {}
    for key, value in details.items():
        field = _USAGE_KEYS.get(key)
        count = as_int(value)
        if field is not None and count is not None:
            setattr(usage, field, count)
        elif key in _USAGE_DETAILS and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                sub_field = _USAGE_DETAILS[key].get(sub_key)
                sub_count = as_int(sub_value)
                if sub_field is not None and sub_count is not None:
                    setattr(usage, sub_field, sub_count)
                else:
                    leftover.setdefault(key, {})[sub_key] = sub_value
        else:
            leftover[key] = value
    return leftover


def _apply_cost(details: dict[str, Any], cost: Cost) -> dict[str, Any]:
    leftover: dict[str, Any] = {}
    for key, value in details.items():
        amount = _decimal(value)
        if key in ("input", "output", "total") and amount is not None:
            setattr(cost, key, amount)
        else:
            leftover[key] = value
    return leftover


def _metadata(span: SpanInput, obs: Observation) -> None:
    attrs = span.attributes
    groups = pop_prefixed(attrs, (_OBS_METADATA, _TRACE_METADATA))
    whole = attrs.pop("langfuse.observation.metadata", None)
    if whole is not None:
        decoded = _decoded_metadata(span, whole)
        if isinstance(decoded, dict):
            obs.metadata.update(decoded)
        else:
            obs.metadata["metadata"] = decoded
    for key, value in groups.get(_OBS_METADATA, {}).items():
        obs.metadata[key] = _decoded_metadata(span, value)
    whole_trace = attrs.pop("langfuse.trace.metadata", None)
    if whole_trace is not None:
        decoded = _decoded_metadata(span, whole_trace)
        if isinstance(decoded, dict):
            obs.trace.metadata.update(decoded)
        else:
            obs.trace.metadata["metadata"] = decoded
    for key, value in groups.get(_TRACE_METADATA, {}).items():
        obs.trace.metadata[key] = _decoded_metadata(span, value)


def _trace_values(span: SpanInput, obs: Observation) -> None:
    attrs = span.attributes
    trace = obs.trace
    trace.name = pop_str(attrs, "langfuse.trace.name") or trace.name
    if "langfuse.trace.input" in attrs:
        trace.input = _decoded(span, attrs.pop("langfuse.trace.input"))
    if "langfuse.trace.output" in attrs:
        trace.output = _decoded(span, attrs.pop("langfuse.trace.output"))
    tags = pop_str_list(attrs, "langfuse.trace.tags") if "langfuse.trace.tags" in attrs else None
    if tags:
        trace.tags = [*trace.tags, *tags]
    public = attrs.get("langfuse.trace.public")
    if isinstance(public, bool):
        del attrs["langfuse.trace.public"]
        trace.metadata["public"] = public


def _decoded(span: SpanInput, value: Any) -> Any:
    return span.truncator.json_text(value) if isinstance(value, str) else value


def _decoded_metadata(span: SpanInput, value: Any) -> Any:
    # v5 SDKs JSON-encode every metadata value (strings too); older ones send raw text.
    return span.truncator.loads(value) if isinstance(value, str) else value


def _json_dict(span: SpanInput, key: str) -> dict[str, Any] | None:
    raw = span.attributes.get(key)
    parsed = span.truncator.json_text(raw) if isinstance(raw, str) else raw
    if not isinstance(parsed, dict):
        return None
    del span.attributes[key]
    return parsed


def _timestamp_us(text: str) -> int | None:
    try:
        value = orjson.loads(text) if text[:1] == '"' else text
        return rfc3339_to_us(value) if isinstance(value, str) else None
    except (orjson.JSONDecodeError, ValueError):
        return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None
