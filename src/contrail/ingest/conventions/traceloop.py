"""Traceloop / OpenLLMetry attributes.

Maps ``traceloop.span.kind`` (workflow → chain, task → span, agent → agent, tool → tool),
``llm.request.type`` (chat/completion → generation, embedding → embedding, rerank → retriever),
``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*`` (→ chat messages, tool calls kept),
``gen_ai.usage.prompt_tokens``/``completion_tokens``/``cache_read_input_tokens``/
``reasoning_tokens`` and ``llm.usage.total_tokens``, ``traceloop.entity.input``/``output`` (JSON
parsed) and ``traceloop.association.properties.*`` (→ observation metadata; ``user_id`` and
``session_id`` properties also set user and session). ``gen_ai.request.model`` and friends are the
GenAI convention's.
"""

from __future__ import annotations

from typing import Any

from contrail.ingest.conventions import messages
from contrail.ingest.conventions.nested import indexed_records, pop_prefixed, unflatten
from contrail.ingest.conventions.span import SpanInput
from contrail.ingest.conventions.values import pop_int
from contrail.schema.observation import Observation, ObservationType

SPAN_KINDS = {
    "workflow": ObservationType.CHAIN,
    "task": ObservationType.SPAN,
    "agent": ObservationType.AGENT,
    "tool": ObservationType.TOOL,
}
REQUEST_TYPES = {
    "chat": ObservationType.GENERATION,
    "completion": ObservationType.GENERATION,
    "embedding": ObservationType.EMBEDDING,
    "rerank": ObservationType.RETRIEVER,
}
_PROMPT = "gen_ai.prompt."
_COMPLETION = "gen_ai.completion."
_ASSOCIATION = "traceloop.association.properties."
_PREFIXES = (_PROMPT, _COMPLETION, _ASSOCIATION)
_USAGE = (
    ("gen_ai.usage.prompt_tokens", "input_tokens"),
    ("gen_ai.usage.completion_tokens", "output_tokens"),
    ("llm.usage.total_tokens", "total_tokens"),
    ("gen_ai.usage.cache_read_input_tokens", "cached_input_tokens"),
    ("gen_ai.usage.cache_creation_input_tokens", "cache_write_input_tokens"),
    ("gen_ai.usage.reasoning_tokens", "reasoning_tokens"),
    ("llm.usage.reasoning_tokens", "reasoning_tokens"),
)


def applies(span: SpanInput) -> bool:
    attrs = span.attributes
    return (
        "traceloop.span.kind" in attrs
        or "llm.request.type" in attrs
        or "gen_ai.prompt.0.role" in attrs
        or "gen_ai.prompt.0.content" in attrs
        or "gen_ai.completion.0.content" in attrs
        or "traceloop.entity.name" in attrs
        or "llm.usage.total_tokens" in attrs
    )


def apply(span: SpanInput, obs: Observation) -> None:
    """Map the Traceloop attributes of ``span`` into ``obs`` (consuming them)."""
    attrs = span.attributes
    kind = attrs.get("traceloop.span.kind")
    if isinstance(kind, str) and kind in SPAN_KINDS:
        obs.type = SPAN_KINDS[attrs.pop("traceloop.span.kind")]
    request_type = attrs.get("llm.request.type")
    if isinstance(request_type, str) and request_type in REQUEST_TYPES:
        obs.type = REQUEST_TYPES[attrs.pop("llm.request.type")]
    for key, field in _USAGE:
        if key in attrs:
            count = pop_int(attrs, key)
            if count is not None:
                setattr(obs.usage, field, count)
    groups = pop_prefixed(attrs, _PREFIXES)
    prompt = _messages(groups.get(_PROMPT))
    completion = _messages(groups.get(_COMPLETION))
    if prompt:
        obs.input = _parse_contents(span, prompt)
    elif "traceloop.entity.input" in attrs:
        obs.input = _entity_value(span, attrs.pop("traceloop.entity.input"))
    if completion:
        obs.output = _parse_contents(span, completion)
    elif "traceloop.entity.output" in attrs:
        obs.output = _entity_value(span, attrs.pop("traceloop.entity.output"))
    association = groups.get(_ASSOCIATION)
    if association:
        _association(association, obs)


def _messages(flat: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if not flat:
        return None
    records = indexed_records(flat, ".")
    return messages.from_indexed(records if records is not None else unflatten(flat))


def _parse_contents(span: SpanInput, chat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # OpenLLMetry serialises multi-part content (text + images) as a JSON array string.
    for message in chat:
        content = message.get("content")
        if isinstance(content, str) and content[:1] == "[":
            message["content"] = span.truncator.json_text(content)
    return chat


def _entity_value(span: SpanInput, value: Any) -> Any:
    # Traceloop JSON-encodes entity inputs and outputs, strings included.
    return span.truncator.loads(value) if isinstance(value, str) else value


def _association(properties: dict[str, Any], obs: Observation) -> None:
    user_id = properties.get("user_id")
    session_id = properties.get("session_id")
    if isinstance(user_id, str) and user_id:
        obs.user_id = user_id
    if isinstance(session_id, str) and session_id:
        obs.session_id = session_id
    obs.metadata.update(properties)
