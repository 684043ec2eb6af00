"""OTLP/HTTP ingestion through the real OpenTelemetry SDK exporter, read back through the API."""

from __future__ import annotations

import asyncio
import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.conftest import LiveContrail, start_contrail


def _provider(contrail: LiveContrail, path: str = "/v1/traces") -> TracerProvider:
    exporter = OTLPSpanExporter(
        endpoint=contrail.url + path,
        headers={"Authorization": f"Bearer {contrail.secret_key}"},
        compression=Compression.Gzip,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "shop", "service.version": "1.2.3"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_genai_spans_from_the_otel_sdk_arrive_as_a_trace_tree(contrail: LiveContrail) -> None:
    provider = _provider(contrail)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("answer-question") as root:
        root.set_attribute("user.id", "user-7")
        root.set_attribute("session.id", "sess-1")
        with tracer.start_as_current_span("chat gpt-4o-mini") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            llm.set_attribute("gen_ai.response.model", "gpt-4o-mini-2024-07-18")
            llm.set_attribute("gen_ai.usage.input_tokens", 12)
            llm.set_attribute("gen_ai.usage.output_tokens", 30)
            llm.set_attribute("custom.flag", "kept")
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()

    with contrail.client() as client:
        trace = client.get(f"/api/v1/traces/{trace_id}").json()
        listed = client.get("/api/v1/traces", params={"user_id": "user-7"}).json()["data"]
        by_requested = client.get("/api/v1/traces", params={"model": "gpt-4o-mini"}).json()["data"]
        by_answering = client.get("/api/v1/observations", params={"model": "gpt-4o-mini-2024-07-18"}).json()[
            "data"
        ]
        obs_by_requested = client.get("/api/v1/observations", params={"model": "gpt-4o-mini"}).json()["data"]

    assert trace["name"] == "answer-question"
    assert trace["session_id"] == "sess-1"
    assert trace["total_tokens"] == 42
    assert trace["total_cost_usd"] == "0.0000198"  # priced at ingest: 12 x $0.15/M + 30 x $0.60/M
    assert trace["observation_count"] == 2
    root_obs, llm_obs = sorted(trace["observations"], key=lambda o: o["parent_span_id"] is not None)
    assert llm_obs["parent_span_id"] == root_obs["span_id"]
    assert llm_obs["type"] == "generation"
    assert llm_obs["model_requested"] == "gpt-4o-mini"
    assert llm_obs["model_response"] == "gpt-4o-mini-2024-07-18"
    assert llm_obs["usage"]["input_tokens"] == 12
    assert llm_obs["metadata"]["attributes"]["custom.flag"] == "kept"
    assert llm_obs["cost_usd"]["total"] == "0.0000198"
    assert llm_obs["metadata"]["contrail_cost"]["status"] == "priced"
    assert [t["trace_id"] for t in listed] == [trace_id]
    assert [t["trace_id"] for t in by_requested] == [trace_id]
    assert [o["span_id"] for o in by_answering] == [llm_obs["span_id"]]
    assert obs_by_requested == []  # observations filter on the answering model (an indexed column)


def test_langfuse_path_and_error_status(contrail: LiveContrail) -> None:
    provider = _provider(contrail, "/api/public/otel/v1/traces")
    with provider.get_tracer("test").start_as_current_span("failing") as span:
        span.set_status(Status(StatusCode.ERROR, "boom"))
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    with contrail.client() as client:
        errored = client.get("/api/v1/traces", params={"error": "true"}).json()["data"]
        trace = client.get(f"/api/v1/traces/{trace_id}").json()
    assert [t["trace_id"] for t in errored] == [trace_id]
    assert trace["observations"][0]["status_message"] == "boom"


def _json_span(trace_id: str, span_id: str, start: int = 1_760_000_000_000_000_000) -> dict[str, object]:
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": "s",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 1000),
    }


def _json_request(*spans: dict[str, object]) -> bytes:
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}).encode()


def test_otlp_json_partial_success_rejects_only_bad_spans(sqlite_contrail: LiveContrail) -> None:
    good = _json_span("1" * 32, "2" * 16)
    zero = _json_span("0" * 32, "3" * 16)
    short = _json_span("1" * 30, "4" * 16)
    with sqlite_contrail.client() as client:
        response = client.post(
            "/v1/traces",
            content=_json_request(good, zero, short),
            headers={"Content-Type": "application/json"},
        )
        stored = client.get(f"/api/v1/traces/{'1' * 32}")
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "2"
    assert stored.status_code == 200
    assert stored.json()["observation_count"] == 1


def test_bad_bodies_get_clear_errors_and_the_server_keeps_serving(sqlite_contrail: LiveContrail) -> None:
    valid = _json_request(_json_span("5" * 32, "6" * 16))
    cases = [
        (b"\x0a\xff\xff\xff", {"Content-Type": "application/x-protobuf"}, 400),
        (b"{not json", {"Content-Type": "application/json"}, 400),
        (valid, {"Content-Type": "text/plain"}, 415),
        (gzip.compress(valid)[:-10], {"Content-Type": "application/json", "Content-Encoding": "gzip"}, 400),
        (
            gzip.compress(b" " * 70_000_000),
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            413,
        ),
    ]
    with sqlite_contrail.client() as client:
        for body, headers, status in cases:
            response = client.post("/v1/traces", content=body, headers=headers)
            assert response.status_code == status, (headers, response.text)
        ok = client.post("/v1/traces", content=valid, headers={"Content-Type": "application/json"})
    assert ok.status_code == 200


def test_unknown_and_missing_keys_are_refused(sqlite_contrail: LiveContrail) -> None:
    body = _json_request(_json_span("7" * 32, "8" * 16))
    with httpx.Client(base_url=sqlite_contrail.url) as client:
        missing = client.post("/v1/traces", content=body, headers={"Content-Type": "application/json"})
        wrong = client.post(
            "/v1/traces",
            content=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-x"},
        )
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"


def test_openinference_spans_from_the_otel_sdk(contrail: LiveContrail) -> None:
    provider = _provider(contrail)
    tracer = provider.get_tracer("openinference.instrumentation.openai")
    with tracer.start_as_current_span("ChatCompletion") as span:
        span.set_attribute("openinference.span.kind", "LLM")
        span.set_attribute("llm.model_name", "gpt-4o-2024-08-06")
        span.set_attribute("llm.provider", "openai")
        span.set_attribute("llm.input_messages.0.message.role", "system")
        span.set_attribute("llm.input_messages.0.message.content", "Be brief.")
        span.set_attribute("llm.input_messages.1.message.role", "user")
        span.set_attribute("llm.input_messages.1.message.content", "Capital of France?")
        span.set_attribute("llm.output_messages.0.message.role", "assistant")
        span.set_attribute("llm.output_messages.0.message.content", "Paris.")
        span.set_attribute("llm.token_count.prompt", 1000)
        span.set_attribute("llm.token_count.completion", 100)
        span.set_attribute("llm.invocation_parameters", '{"temperature": 0.2}')
        span.set_attribute("session.id", "oi-session")
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    with contrail.client() as client:
        trace = client.get(f"/api/v1/traces/{trace_id}").json()
        found = client.get("/api/v1/observations", params={"q": "Paris", "type": "generation"}).json()["data"]
    obs = trace["observations"][0]
    assert obs["type"] == "generation"
    assert obs["model"] == "gpt-4o-2024-08-06"
    assert [m["role"] for m in obs["input"]] == ["system", "user"]
    assert obs["input"][1]["content"] == "Capital of France?"
    assert obs["output"] == [{"role": "assistant", "content": "Paris."}]
    assert obs["model_parameters"] == {"temperature": 0.2}
    assert trace["session_id"] == "oi-session"
    assert trace["total_cost_usd"] == "0.0035"  # 1000 x $2.50/M + 100 x $10/M
    assert [o["trace_id"] for o in found] == [trace_id]


def test_ingest_requests_beyond_the_concurrency_limit_wait_their_turn(tmp_path: Path) -> None:
    """With CONTRAIL_INGEST_CONCURRENCY=2 at most two requests hold decoded data while 12 clients send
    at once; the others wait unread, and every span is stored."""
    server, live = start_contrail(f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "home", ingest_concurrency=2)
    writes = live.app.state.contrail.writes  # type: ignore[attr-defined]
    submit = writes.submit
    holding = {"now": 0, "most": 0}

    async def slow_submit(batch: Any) -> None:
        holding["now"] += 1
        holding["most"] = max(holding["most"], holding["now"])
        try:
            await asyncio.sleep(0.05)  # long enough for the other requests to arrive meanwhile
            await submit(batch)
        finally:
            holding["now"] -= 1

    writes.submit = slow_submit
    bodies = [_json_request(_json_span(f"{n + 1:032x}", f"{n + 1:016x}")) for n in range(12)]
    try:
        with live.client() as client, ThreadPoolExecutor(12) as pool:
            statuses = list(
                pool.map(
                    lambda body: (
                        client.post(
                            "/v1/traces", content=body, headers={"Content-Type": "application/json"}
                        ).status_code
                    ),
                    bodies,
                )
            )
            stored = client.get("/api/v1/traces", params={"limit": 50}).json()["data"]
    finally:
        server.stop()
    assert statuses == [200] * 12
    assert holding["most"] == 2
    assert len(stored) == 12
