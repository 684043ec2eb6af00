"""OpenTelemetry interop: send spans of an existing OTel setup to Contrail.

    from opentelemetry.sdk.trace import TracerProvider
    import contrail.otel

    provider = TracerProvider()                      # or the one your app already has
    provider.add_span_processor(contrail.otel.span_processor())

The processor is added to *your* provider; Contrail never replaces or mutates the global
TracerProvider. The other direction needs nothing: a Contrail span started while an OTel span is
active joins that OTel trace (its parent is the active OTel span).

OpenTelemetry GenAI attributes (``gen_ai.*``) become model, provider, usage and parameters; every
other attribute lands in ``metadata``. Spans are exported through the SDK's background exporter,
so ``contrail.flush()`` flushes them too.
"""

from __future__ import annotations

from typing import Any

from contrail.sdk import guard, snapshot
from contrail.sdk import tracer as _tracer
from contrail.sdk.context import current

_HINT = "contrail.otel needs OpenTelemetry: pip install opentelemetry-sdk"

_TYPES = {
    "chat": "generation",
    "text_completion": "generation",
    "generate_content": "generation",
    "embeddings": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
}
_PARAMETERS = {
    "gen_ai.request.temperature": "temperature",
    "gen_ai.request.top_p": "top_p",
    "gen_ai.request.top_k": "top_k",
    "gen_ai.request.max_tokens": "max_tokens",
    "gen_ai.request.frequency_penalty": "frequency_penalty",
    "gen_ai.request.presence_penalty": "presence_penalty",
    "gen_ai.request.seed": "seed",
}
_USAGE = {
    "gen_ai.usage.input_tokens": "input_tokens",
    "gen_ai.usage.prompt_tokens": "input_tokens",
    "gen_ai.usage.output_tokens": "output_tokens",
    "gen_ai.usage.completion_tokens": "output_tokens",
}
_FIELDS = {
    "gen_ai.request.model": "model_requested",
    "gen_ai.response.model": "model_response",
    "gen_ai.system": "provider",
    "gen_ai.provider.name": "provider",
    "user.id": "user_id",
    "session.id": "session_id",
}


def span_processor() -> Any:
    """A ``SpanProcessor`` that exports every ended OTel span to Contrail.

    Raises ImportError naming the package to install when opentelemetry-sdk is missing.
    """
    try:
        from opentelemetry.sdk.trace import SpanProcessor
    except ImportError as err:
        raise ImportError(_HINT) from err

    class ContrailSpanProcessor(SpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            try:
                _adopt(span)
            except Exception as exc:
                guard.report("otel", exc)

        def on_end(self, span: Any) -> None:
            try:
                _tracer.current_tracer().submit(OtelRecord(span, _ADOPTERS.get(span.context.span_id)))
                if span.parent is None:
                    _release(span)
            except Exception as exc:
                guard.report("otel", exc)

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            exporter = _tracer.current_tracer().exporter
            return True if exporter is None else exporter.flush(timeout_millis / 1000)

    return ContrailSpanProcessor()


_MAX_ADOPTED = 10_000
# OTel root span id -> the Contrail span it was started in: (Contrail trace id, Contrail span id)
_ADOPTERS: dict[int, tuple[int, int]] = {}


def _adopt(span: Any) -> None:
    """An OTel root span started inside a Contrail span joins the Contrail trace, under that span."""
    if span.parent is not None:
        return
    outer = current.get()
    if outer is None or not outer.sampled or len(_ADOPTERS) >= _MAX_ADOPTED:
        return
    _ADOPTERS[span.context.span_id] = (outer.tid, outer.sid)
    _tracer.OTEL_ADOPTED[span.context.trace_id] = outer.tid


def _release(span: Any) -> None:
    _ADOPTERS.pop(span.context.span_id, None)
    _tracer.OTEL_ADOPTED.pop(span.context.trace_id, None)


class OtelRecord:
    """An ended OTel ``ReadableSpan``, converted to the ingest wire format on the export thread.

    ``adopter`` is the Contrail (trace id, span id) an OTel root span was started in, if any.
    """

    kind = "observation"

    def __init__(self, span: Any, adopter: tuple[int, int] | None = None) -> None:
        self.span = span
        self.trace_id = _tracer.OTEL_ADOPTED.get(span.context.trace_id, span.context.trace_id)
        self.adopter = adopter

    def to_wire(self) -> dict[str, Any]:
        span = self.span
        ctx = span.get_span_context()
        attributes = dict(span.attributes or {})
        body: dict[str, Any] = {
            "trace_id": f"{self.trace_id:032x}",
            "span_id": f"{ctx.span_id:016x}",
            "name": span.name,
            "type": _TYPES.get(str(attributes.get("gen_ai.operation.name")), "span"),
            "start_us": (span.start_time or 0) // 1000,
            "end_us": (span.end_time or span.start_time or 0) // 1000,
            "status": span.status.status_code.name.lower(),
        }
        if span.parent is not None:
            body["parent_span_id"] = f"{span.parent.span_id:016x}"
        elif self.adopter is not None:
            body["parent_span_id"] = f"{self.adopter[1]:016x}"
        if span.status.description:
            body["status_message"] = span.status.description
        if body["status"] == "error":
            body["level"] = "error"
        _map_attributes(body, attributes)
        scope = getattr(span, "instrumentation_scope", None)
        body.setdefault("metadata", {})["otel.kind"] = span.kind.name.lower()
        if scope is not None:
            body["metadata"]["otel.scope"] = scope.name
        return body


def _map_attributes(body: dict[str, Any], attributes: dict[str, Any]) -> None:
    usage, params, metadata = {}, {}, {}
    for key, value in attributes.items():
        if key in _USAGE and isinstance(value, int):
            usage[_USAGE[key]] = value
        elif key in _PARAMETERS:
            params[_PARAMETERS[key]] = value
        elif key in _FIELDS:
            body[_FIELDS[key]] = str(value)
        elif key != "gen_ai.operation.name":
            metadata[key] = list(value) if isinstance(value, tuple) else value
    if usage:
        body["usage"] = usage
    if params:
        body["model_parameters"] = params
    if metadata:
        body["metadata"] = snapshot.snapshot(metadata)
