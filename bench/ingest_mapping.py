"""Micro-benchmark: OTLP decode + convention mapping, in µs per span.

Batches of 100 spans with realistic GenAI attributes (~1 KB of input/output per span) in four
flavours (GenAI semconv, OpenInference, Traceloop, Langfuse). Baseline measured in the same run:
decode alone and a bare loop reading every attribute of every span (the floor of any mapper
written in Python over upb messages). Prints a table, then one JSON line.

    .venv/bin/python bench/ingest_mapping.py [--batches 10] [--reps 15]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from contrail.ingest.limits import IngestLimits
from contrail.ingest.otlp import decode_export_request, map_export_request

SPANS = 100
TEXT = "The quick brown fox jumps over the lazy dog. " * 11  # ~500 bytes each side


def _messages(role: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": TEXT}]}])


def _attributes(flavour: str, i: int) -> dict[str, Any]:
    common: dict[str, Any] = {"user.id": f"user-{i % 7}", "session.id": f"s-{i % 13}"}
    if flavour == "genai":
        return {
            **common,
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.max_tokens": 256,
            "gen_ai.usage.input_tokens": 120,
            "gen_ai.usage.output_tokens": 40,
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.response.id": f"chatcmpl-{i}",
            "gen_ai.input.messages": _messages("user"),
            "gen_ai.output.messages": _messages("assistant"),
        }
    if flavour == "openinference":
        return {
            **common,
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini",
            "llm.provider": "openai",
            "llm.invocation_parameters": '{"temperature": 0.2}',
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "You are helpful.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.content": TEXT,
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": TEXT,
            "llm.token_count.prompt": 120,
            "llm.token_count.completion": 40,
            "llm.token_count.total": 160,
        }
    if flavour == "traceloop":
        return {
            **common,
            "llm.request.type": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": TEXT,
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": TEXT,
            "gen_ai.completion.0.finish_reason": "stop",
            "gen_ai.usage.prompt_tokens": 120,
            "gen_ai.usage.completion_tokens": 40,
            "llm.usage.total_tokens": 160,
        }
    return {
        **common,
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": "gpt-4o-mini",
        "langfuse.observation.input": json.dumps([{"role": "user", "content": TEXT}]),
        "langfuse.observation.output": json.dumps({"role": "assistant", "content": TEXT}),
        "langfuse.observation.usage_details": '{"input": 120, "output": 40, "total": 160}',
        "langfuse.observation.model.parameters": '{"temperature": 0.2}',
        "langfuse.observation.metadata.team": '"search"',
        "langfuse.trace.name": "qa",
        "langfuse.environment": "production",
    }


def _batch(flavour: str) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = "bench"
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "bench"
    start_ns = time.time_ns() - 10**9
    trace_id = os.urandom(16)
    for i in range(SPANS):
        span = scope_spans.spans.add()
        span.trace_id = trace_id
        span.span_id = os.urandom(8)
        span.name = f"chat {i}"
        span.start_time_unix_nano = start_ns + i
        span.end_time_unix_nano = start_ns + i + 10**6
        for key, value in _attributes(flavour, i).items():
            target = span.attributes.add(key=key).value
            if isinstance(value, bool):
                target.bool_value = value
            elif isinstance(value, int):
                target.int_value = value
            elif isinstance(value, float):
                target.double_value = value
            elif isinstance(value, list):
                for item in value:
                    target.array_value.values.add().string_value = item
            else:
                target.string_value = value
    return request.SerializeToString()


def _timed(batches: int, body: bytes, work: Callable[[bytes], object], reps: int) -> float:
    # CPU time of this process, best of several repetitions: the machine is shared and noisy.
    work(body)
    best = float("inf")
    for _ in range(reps):
        started = time.process_time()
        for _ in range(batches):
            work(body)
        best = min(best, (time.process_time() - started) / (batches * SPANS) * 1e6)
    return best


def _read_all(body: bytes) -> object:
    request = ExportTraceServiceRequest.FromString(body)
    count = 0
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                for kv in span.attributes:
                    if kv.key and kv.value.string_value:
                        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10, help="batches per repetition")
    parser.add_argument("--reps", type=int, default=15, help="repetitions (the best is kept)")
    args = parser.parse_args()
    limits = IngestLimits()
    now_us = time.time_ns() // 1000

    def decode(body: bytes) -> object:
        return decode_export_request(body, "application/x-protobuf")

    def decode_and_map(body: bytes) -> object:
        return map_export_request(decode(body), limits, now_us)

    rows = []
    for flavour in ("genai", "openinference", "traceloop", "langfuse"):
        body = _batch(flavour)
        rows.append(
            {
                "flavour": flavour,
                "bytes_per_span": len(body) // SPANS,
                "decode_us": round(_timed(args.batches, body, decode, args.reps), 2),
                "read_attributes_us": round(_timed(args.batches, body, _read_all, args.reps), 2),
                "decode_map_us": round(_timed(args.batches, body, decode_and_map, args.reps), 2),
            }
        )
    header = f"{'flavour':<14}{'bytes/span':>11}{'decode':>9}{'read attrs':>12}{'decode+map':>12}  (µs/span)"
    print(header)
    for row in rows:
        print(
            f"{row['flavour']:<14}{row['bytes_per_span']:>11}{row['decode_us']:>9}"
            f"{row['read_attributes_us']:>12}{row['decode_map_us']:>12}"
        )
    print(json.dumps({"benchmark": "ingest_mapping", "spans_per_batch": SPANS, "results": rows}))


if __name__ == "__main__":
    main()
