"""OpenTelemetry GenAI semantic conventions (``gen_ai.*``), current and earlier message forms.

Maps ``gen_ai.operation.name`` to the observation type (chat/text_completion/generate_content →
generation, embeddings → embedding, execute_tool → tool, invoke_agent/create_agent → agent,
retrieval → retriever, invoke_workflow → chain; a span with ``gen_ai.request.model`` and no
operation is a generation), models, provider (``gen_ai.provider.name``, else ``gen_ai.system``),
usage, ``gen_ai.request.*`` parameters (→ ``model_parameters`` by short name),
``gen_ai.conversation.id`` (→ session), ``gen_ai.response.time_to_first_chunk`` (seconds → ttft).

Input/output, in order of preference: the JSON attributes ``gen_ai.system_instructions`` +
``gen_ai.input.messages`` / ``gen_ai.output.messages``; the message events
(``gen_ai.{system,user,assistant,tool}.message``, ``gen_ai.choice``); the oldest events
``gen_ai.content.prompt``/``gen_ai.content.completion``; tool call arguments/result and retrieval
query/documents. A span event named like a first token (see ``FIRST_TOKEN_EVENTS``) sets ttft.
"""

from __future__ import annotations

from typing import Any

from contrail.ingest.conventions import messages
from contrail.ingest.conventions.span import SpanEvent, SpanInput
from contrail.ingest.conventions.values import pop_float, pop_int, pop_str
from contrail.schema.observation import Observation, ObservationType

OPERATION_TYPES = {
    "chat": ObservationType.GENERATION,
    "text_completion": ObservationType.GENERATION,
    "generate_content": ObservationType.GENERATION,
    "embeddings": ObservationType.EMBEDDING,
    "execute_tool": ObservationType.TOOL,
    "invoke_agent": ObservationType.AGENT,
    "create_agent": ObservationType.AGENT,
    "retrieval": ObservationType.RETRIEVER,
    "invoke_workflow": ObservationType.CHAIN,
}
_PARAMETERS = tuple(
    ("gen_ai.request." + name, name)
    for name in (
        "temperature",
        "max_tokens",
        "top_p",
        "top_k",
        "frequency_penalty",
        "presence_penalty",
        "stop_sequences",
        "seed",
        "choice.count",
        "encoding_formats",
        "stream",
    )
)
# (key, fallback key, Usage field): the fallback is read only when the key gives no count.
_USAGE = (
    ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "input_tokens"),
    ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "output_tokens"),
    ("gen_ai.usage.cache_read.input_tokens", None, "cached_input_tokens"),
    ("gen_ai.usage.cache_creation.input_tokens", None, "cache_write_input_tokens"),
    ("gen_ai.usage.reasoning.output_tokens", None, "reasoning_tokens"),
)
_INPUT_EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
FIRST_TOKEN_EVENTS = frozenset({"gen_ai.content.first_token", "gen_ai.first_token", "first_token"})
_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_TOOL_AND_RETRIEVAL = (
    ("gen_ai.tool.call.arguments", "gen_ai.tool.call.result"),
    ("gen_ai.retrieval.query.text", "gen_ai.retrieval.documents"),
)

# A first token after a day is not a measurement (and inf must never reach int()).
_MAX_TTFT_S = 86_400.0


def applies(span: SpanInput) -> bool:
    """True for spans carrying any ``gen_ai.*`` attribute the module maps, or GenAI events."""
    attrs = span.attributes
    if (
        "gen_ai.operation.name" in attrs
        or "gen_ai.request.model" in attrs
        or "gen_ai.system" in attrs
        or "gen_ai.provider.name" in attrs
        or "gen_ai.input.messages" in attrs
        or "gen_ai.usage.input_tokens" in attrs
    ):
        return True
    return any(event.name.startswith("gen_ai.") for event in span.events)


def apply(span: SpanInput, obs: Observation) -> None:
    """Map the GenAI attributes and events of ``span`` into ``obs`` (consuming them)."""
    attrs = span.attributes
    operation = attrs.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation in OPERATION_TYPES:
        obs.type = OPERATION_TYPES[attrs.pop("gen_ai.operation.name")]
    elif operation is None and "gen_ai.request.model" in attrs:
        obs.type = ObservationType.GENERATION
    # The membership tests skip a call per absent attribute: most spans carry few of these.
    if "gen_ai.request.model" in attrs:
        obs.model_requested = pop_str(attrs, "gen_ai.request.model") or obs.model_requested
    if "gen_ai.response.model" in attrs:
        obs.model_response = pop_str(attrs, "gen_ai.response.model") or obs.model_response
    provider = pop_str(attrs, "gen_ai.provider.name") if "gen_ai.provider.name" in attrs else None
    system = pop_str(attrs, "gen_ai.system") if "gen_ai.system" in attrs else None
    obs.provider = provider or system or obs.provider
    _usage(attrs, obs)
    _parameters(attrs, obs)
    if "gen_ai.conversation.id" in attrs:
        obs.session_id = pop_str(attrs, "gen_ai.conversation.id") or obs.session_id
    if "gen_ai.response.time_to_first_chunk" in attrs:
        ttft_s = pop_float(attrs, "gen_ai.response.time_to_first_chunk")
        if ttft_s is not None and 0 <= ttft_s < _MAX_TTFT_S:  # also refuses inf and NaN
            obs.ttft_us = int(ttft_s * 1_000_000)
    _io_attributes(span, obs)
    if span.events:
        _events(span, obs)


def _usage(attrs: dict[str, Any], obs: Observation) -> None:
    usage = obs.usage
    for key, fallback, field in _USAGE:
        count = pop_int(attrs, key) if key in attrs else None
        if count is None and fallback is not None and fallback in attrs:
            count = pop_int(attrs, fallback)
        if count is not None:
            setattr(usage, field, count)


def _parameters(attrs: dict[str, Any], obs: Observation) -> None:
    params: dict[str, Any] | None = None
    for key, name in _PARAMETERS:
        if key in attrs:
            if params is None:
                params = obs.model_parameters if obs.model_parameters is not None else {}
            params[name] = attrs.pop(key)
    if params is not None:
        obs.model_parameters = params


def _io_attributes(span: SpanInput, obs: Observation) -> None:
    attrs = span.attributes
    json_text = span.truncator.json_text
    system = attrs.pop("gen_ai.system_instructions", None)
    raw_input = attrs.pop("gen_ai.input.messages", None)
    if raw_input is not None or system is not None:
        parsed = json_text(raw_input) if isinstance(raw_input, str) else raw_input
        normal = messages.from_genai(parsed, "user") if parsed is not None else []
        value: Any = normal if normal is not None else parsed
        if system is not None and isinstance(value, list):
            instruction = messages.system_instructions(
                json_text(system) if isinstance(system, str) else system
            )
            if instruction is not None:
                value = [instruction, *value]
        obs.input = value
    raw_output = attrs.pop("gen_ai.output.messages", None)
    if raw_output is not None:
        parsed = json_text(raw_output) if isinstance(raw_output, str) else raw_output
        normal = messages.from_genai(parsed, "assistant")
        obs.output = normal if normal is not None else parsed
    _tool_and_retrieval(span, obs)


def _tool_and_retrieval(span: SpanInput, obs: Observation) -> None:
    attrs = span.attributes
    json_text = span.truncator.json_text
    for input_key, output_key in _TOOL_AND_RETRIEVAL:
        if input_key in attrs and obs.input is None:
            value = attrs.pop(input_key)
            obs.input = json_text(value) if isinstance(value, str) else value
        if output_key in attrs and obs.output is None:
            value = attrs.pop(output_key)
            obs.output = json_text(value) if isinstance(value, str) else value


def _events(span: SpanInput, obs: Observation) -> None:
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    kept: list[SpanEvent] = []
    for event in span.events:
        name = event.name
        role = _INPUT_EVENT_ROLES.get(name)
        if role is not None:
            inputs.append(_event_message(span, event, role))
        elif name == "gen_ai.choice":
            outputs.append(_choice_message(span, event))
        elif name == "gen_ai.content.prompt" and obs.input is None:
            obs.input = _event_payload(span, event, "gen_ai.prompt")
        elif name == "gen_ai.content.completion" and obs.output is None:
            obs.output = _event_payload(span, event, "gen_ai.completion")
        elif name == _DETAILS_EVENT:
            _details_event(span, event, obs)
        elif name in FIRST_TOKEN_EVENTS and obs.ttft_us is None:
            obs.ttft_us = max(0, event.time_us - span.start_us)
        else:
            kept.append(event)
    if inputs and obs.input is None:
        obs.input = inputs
    if outputs and obs.output is None:
        obs.output = outputs
    span.events = kept


def _event_message(span: SpanInput, event: SpanEvent, role: str) -> dict[str, Any]:
    attrs = dict(event.attributes)
    content = _event_body(span, attrs)
    if isinstance(content, dict) and ("content" in content or "role" in content):
        message = dict(content)
        message.setdefault("role", role)
    else:
        message = {"role": attrs.pop("role", role), "content": content}
    call_id = attrs.pop("id", None)
    if role == "tool" and call_id is not None:
        message["tool_call_id"] = call_id
    calls = attrs.pop("tool_calls", None)
    if calls is not None:
        message["tool_calls"] = span.truncator.json_text(calls) if isinstance(calls, str) else calls
    attrs.pop("gen_ai.system", None)
    message.update(attrs)
    return message


def _choice_message(span: SpanInput, event: SpanEvent) -> dict[str, Any]:
    attrs = dict(event.attributes)
    body = _event_body(span, attrs)
    raw = attrs.pop("message", None)
    inner = span.truncator.json_text(raw) if isinstance(raw, str) else raw
    if isinstance(inner, dict):
        message = dict(inner)
    elif isinstance(body, dict):
        message = dict(body.get("message", body)) if isinstance(body.get("message", body), dict) else {}
    else:
        message = {"content": body if body is not None else inner}
    message.setdefault("role", "assistant")
    for key in ("finish_reason", "index"):
        if key in attrs:
            message[key] = attrs.pop(key)
    if isinstance(body, dict) and "finish_reason" in body:
        message.setdefault("finish_reason", body["finish_reason"])
    attrs.pop("gen_ai.system", None)
    message.update(attrs)
    return message


def _event_body(span: SpanInput, attrs: dict[str, Any]) -> Any:
    for key in ("gen_ai.event.content", "content"):
        if key in attrs:
            value = attrs.pop(key)
            return span.truncator.json_text(value) if isinstance(value, str) else value
    return None


def _event_payload(span: SpanInput, event: SpanEvent, key: str) -> Any:
    value = event.attributes.get(key)
    if isinstance(value, str):
        return span.truncator.json_text(value)
    return value if value is not None else event.attributes


def _details_event(span: SpanInput, event: SpanEvent, obs: Observation) -> None:
    details = SpanInput(
        attributes=dict(event.attributes),
        events=[],
        resource=span.resource,
        scope_name=span.scope_name,
        start_us=span.start_us,
        truncator=span.truncator,
    )
    _io_attributes(details, obs)
    if details.attributes:
        obs.metadata.setdefault("gen_ai_details", {}).update(details.attributes)
