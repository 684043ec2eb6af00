"""OpenInference semantic conventions (Arize Phoenix instrumentors).

Maps ``openinference.span.kind`` (LLM → generation, CHAIN → chain, RETRIEVER and RERANKER →
retriever, EMBEDDING → embedding, TOOL → tool, AGENT → agent, GUARDRAIL → guardrail; EVALUATOR and
unknown kinds leave the type alone and the attribute in metadata), ``llm.model_name`` /
``embedding.model_name`` (→ requested model), ``llm.provider`` (else ``llm.system``),
``llm.token_count.*`` including ``prompt_details.cache_read`` and ``completion_details.reasoning``,
``llm.invocation_parameters`` (JSON → model parameters), ``tag.tags``, ``metadata`` (JSON, merged
into the observation metadata), ``llm.prompt_template.*`` (→ ``metadata["prompt_template"]``).

Input/output: ``llm.input_messages.N.*`` / ``llm.output_messages.N.*`` normalised to chat messages
when present, else ``input.value`` / ``output.value`` (parsed when the mime type is
``application/json``, or when it is absent and the text is a JSON object/array). A retriever's
``retrieval.documents.N.document.*`` become its output when no ``output.value`` is given. When the
messages are used, ``input.value``/``output.value`` stay in ``metadata["attributes"]``.
"""

from __future__ import annotations

from typing import Any

from contrail.ingest.conventions import messages
from contrail.ingest.conventions.nested import indexed_records, pop_prefixed, unflatten
from contrail.ingest.conventions.span import SpanInput
from contrail.ingest.conventions.values import pop_int, pop_str, pop_str_list
from contrail.schema.observation import Observation, ObservationType

SPAN_KINDS = {
    "LLM": ObservationType.GENERATION,
    "CHAIN": ObservationType.CHAIN,
    "RETRIEVER": ObservationType.RETRIEVER,
    "RERANKER": ObservationType.RETRIEVER,
    "EMBEDDING": ObservationType.EMBEDDING,
    "TOOL": ObservationType.TOOL,
    "AGENT": ObservationType.AGENT,
    "GUARDRAIL": ObservationType.GUARDRAIL,
}
_INPUT_MESSAGES = "llm.input_messages."
_OUTPUT_MESSAGES = "llm.output_messages."
_DOCUMENTS = "retrieval.documents."
_TEMPLATE = "llm.prompt_template."
_PREFIXES = (_INPUT_MESSAGES, _OUTPUT_MESSAGES, _DOCUMENTS, _TEMPLATE)
_TOKEN_COUNTS = (
    ("llm.token_count.prompt", "input_tokens"),
    ("llm.token_count.completion", "output_tokens"),
    ("llm.token_count.total", "total_tokens"),
    ("llm.token_count.prompt_details.cache_read", "cached_input_tokens"),
    ("llm.token_count.completion_details.reasoning", "reasoning_tokens"),
    ("llm.token_count.prompt_details.cache_write", "cache_write_input_tokens"),
    ("llm.token_count.prompt_details.audio", "audio_input_tokens"),
    ("llm.token_count.completion_details.audio", "audio_output_tokens"),
)


def applies(span: SpanInput) -> bool:
    attrs = span.attributes
    return (
        "openinference.span.kind" in attrs
        or "input.value" in attrs
        or "output.value" in attrs
        or "llm.model_name" in attrs
    )


def apply(span: SpanInput, obs: Observation) -> None:
    """Map the OpenInference attributes of ``span`` into ``obs`` (consuming them)."""
    attrs = span.attributes
    kind = attrs.get("openinference.span.kind")
    if isinstance(kind, str) and kind.upper() in SPAN_KINDS:
        obs.type = SPAN_KINDS[kind.upper()]
        del attrs["openinference.span.kind"]
    model = pop_str(attrs, "llm.model_name") or pop_str(attrs, "embedding.model_name")
    obs.model_requested = model or obs.model_requested
    provider = pop_str(attrs, "llm.provider")
    system = pop_str(attrs, "llm.system")
    obs.provider = provider or system or obs.provider
    _usage(attrs, obs)
    _parameters(span, obs)
    tags = pop_str_list(attrs, "tag.tags")
    if tags:
        obs.tags = [*obs.tags, *tags]
    _metadata(span, obs)
    _io(span, obs)


def _usage(attrs: dict[str, Any], obs: Observation) -> None:
    for key, field in _TOKEN_COUNTS:
        if key in attrs:
            count = pop_int(attrs, key)
            if count is not None:
                setattr(obs.usage, field, count)


def _parameters(span: SpanInput, obs: Observation) -> None:
    raw = span.attributes.get("llm.invocation_parameters")
    if not isinstance(raw, str):
        return
    parsed = span.truncator.json_text(raw)
    if isinstance(parsed, dict):
        del span.attributes["llm.invocation_parameters"]
        obs.model_parameters = {**(obs.model_parameters or {}), **parsed}


def _metadata(span: SpanInput, obs: Observation) -> None:
    raw = span.attributes.get("metadata")
    if raw is None:
        return
    parsed = span.truncator.json_text(raw) if isinstance(raw, str) else raw
    if isinstance(parsed, dict):
        del span.attributes["metadata"]
        obs.metadata.update(parsed)


def _io(span: SpanInput, obs: Observation) -> None:
    attrs = span.attributes
    groups = pop_prefixed(attrs, _PREFIXES) if _has_prefixed(attrs) else {}
    input_messages = _messages(groups.get(_INPUT_MESSAGES))
    output_messages = _messages(groups.get(_OUTPUT_MESSAGES))
    if input_messages:
        obs.input = input_messages
    else:
        _value(span, obs, "input")
    if output_messages:
        obs.output = output_messages
    else:
        _value(span, obs, "output")
    documents = groups.get(_DOCUMENTS)
    if documents:
        docs = unflatten(documents)
        if obs.output is None:
            obs.output = [doc.get("document", doc) if isinstance(doc, dict) else doc for doc in docs]
        else:
            obs.metadata["retrieval_documents"] = docs
    template = groups.get(_TEMPLATE)
    if template:
        obs.metadata["prompt_template"] = _template(span, template)


def _messages(flat: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if not flat:
        return None
    records = indexed_records(flat, ".message.")
    if records is not None:
        return messages.from_openinference_records(records)
    return messages.from_openinference(unflatten(flat))


def _has_prefixed(attrs: dict[str, Any]) -> bool:
    return (
        "llm.input_messages.0.message.role" in attrs
        or "llm.output_messages.0.message.role" in attrs
        or any(key.startswith(_PREFIXES) for key in attrs)
    )


def _value(span: SpanInput, obs: Observation, side: str) -> None:
    attrs = span.attributes
    value = attrs.pop(f"{side}.value", None)
    if value is None:
        return
    mime = attrs.pop(f"{side}.mime_type", None)
    if isinstance(value, str) and mime != "text/plain":
        value = span.truncator.json_text(value)
    setattr(obs, side, value)


def _template(span: SpanInput, flat: dict[str, Any]) -> dict[str, Any]:
    template = unflatten(flat)
    if not isinstance(template, dict):
        return {"value": template}
    variables = template.get("variables")
    if isinstance(variables, str):
        template["variables"] = span.truncator.json_text(variables)
    return template
