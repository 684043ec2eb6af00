"""OpenTelemetry interop: OTel spans exported via contrail.otel.span_processor(); global provider kept."""

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

import contrail
import contrail.otel
from contrail.testing.sdk import capture


def test_span_processor_exports_genai_spans_without_touching_the_global_provider():
    global_before = trace.get_tracer_provider()
    provider = TracerProvider()
    provider.add_span_processor(contrail.otel.span_processor())
    tracer = provider.get_tracer("my-app")

    with capture() as traced:
        with (
            tracer.start_as_current_span("handle request") as parent,
            tracer.start_as_current_span(
                "chat gpt-4o",
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.model": "gpt-4o-2024-08-06",
                    "gen_ai.request.temperature": 0.5,
                    "gen_ai.usage.input_tokens": 12,
                    "gen_ai.usage.output_tokens": 7,
                    "http.route": "/chat",
                },
            ) as child,
        ):
            child.set_status(Status(StatusCode.ERROR, "upstream failed"))
        assert provider.force_flush()

    assert trace.get_tracer_provider() is global_before
    chat = traced.one(name="chat gpt-4o")
    root = traced.one(name="handle request")
    assert chat["parent_span_id"] == f"{parent.get_span_context().span_id:016x}" == root["span_id"]
    assert chat["type"] == "generation" and chat["provider"] == "openai"
    assert chat["model_requested"] == "gpt-4o" and chat["model_response"] == "gpt-4o-2024-08-06"
    assert chat["usage"] == {"input_tokens": 12, "output_tokens": 7}
    assert chat["model_parameters"] == {"temperature": 0.5}
    assert chat["status"] == "error" and chat["status_message"] == "upstream failed"
    assert chat["metadata"]["http.route"] == "/chat" and chat["metadata"]["otel.scope"] == "my-app"
    assert root["type"] == "span" and root["status"] == "unset"


def test_contrail_spans_inside_otel_spans_share_the_trace():
    provider = TracerProvider()
    provider.add_span_processor(contrail.otel.span_processor())
    otel_tracer = provider.get_tracer("my-app")

    @contrail.observe
    def retrieve(query):
        return ["doc"]

    with capture() as traced, otel_tracer.start_as_current_span("request"):
        retrieve("q")
    request, observed = traced.one(name="request"), traced.one(name="retrieve")
    assert observed["trace_id"] == request["trace_id"]
    assert observed["parent_span_id"] == request["span_id"]


def test_contrail_span_inside_otel_span_inside_contrail_span_nests_through_otel():
    provider = TracerProvider()
    provider.add_span_processor(contrail.otel.span_processor())
    otel_tracer = provider.get_tracer("http-client")

    @contrail.observe
    def inner():
        return 1

    @contrail.observe
    def outer():
        with otel_tracer.start_as_current_span("GET /search"):
            return inner()

    with capture() as traced:
        outer()
    http, inner_span, outer_span = (traced.one(name=n) for n in ("GET /search", "inner", "outer"))
    assert http["parent_span_id"] == outer_span["span_id"]
    assert inner_span["parent_span_id"] == http["span_id"]
    assert {http["trace_id"], inner_span["trace_id"]} == {outer_span["trace_id"]}
