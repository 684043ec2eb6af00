"""Builders for real OTLP protobuf messages and the captured exporter fixtures."""

from __future__ import annotations

import pathlib
import time
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from contrail.ingest.limits import IngestLimits
from contrail.ingest.otlp import MappedBatch, decode_export_request, map_export_request
from contrail.schema.observation import Observation

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
TRACE_ID = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
SPAN_ID = bytes.fromhex("b7ad6b7169203331")
NOW_US = int(time.time() * 1_000_000)


def set_any(target: AnyValue, value: Any) -> None:
    """Fill an AnyValue from a Python value, as the OpenTelemetry SDK encodes attributes."""
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, bytes):
        target.bytes_value = value
    elif isinstance(value, list):
        target.array_value.SetInParent()
        for item in value:
            set_any(target.array_value.values.add(), item)
    elif isinstance(value, dict):
        target.kvlist_value.SetInParent()
        for key, item in value.items():
            set_any(target.kvlist_value.values.add(key=key).value, item)
    else:
        raise TypeError(type(value))


def make_request(*spans: dict[str, Any], resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    """One resource and scope holding ``spans``: dicts of Span fields plus ``attributes``/``events``."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (resource or {"service.name": "test"}).items():
        set_any(resource_spans.resource.attributes.add(key=key).value, value)
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    for fields in spans:
        span = scope_spans.spans.add()
        span.trace_id = fields.get("trace_id", TRACE_ID)
        span.span_id = fields.get("span_id", SPAN_ID)
        span.parent_span_id = fields.get("parent_span_id", b"")
        span.name = fields.get("name", "span")
        span.start_time_unix_nano = fields.get("start_ns", NOW_US * 1000 - 1_000_000)
        span.end_time_unix_nano = fields.get("end_ns", NOW_US * 1000)
        for key, value in fields.get("attributes", {}).items():
            set_any(span.attributes.add(key=key).value, value)
        for name, attributes in fields.get("events", []):
            event = span.events.add(name=name, time_unix_nano=span.start_time_unix_nano + 500_000)
            for key, value in attributes.items():
                set_any(event.attributes.add(key=key).value, value)
    return request


def map_one(request: ExportTraceServiceRequest, limits: IngestLimits | None = None) -> Observation:
    """Round-trip through the wire format, map, and return the single observation."""
    decoded = decode_export_request(request.SerializeToString(), "application/x-protobuf")
    batch = map_export_request(decoded, limits or IngestLimits(), NOW_US)
    assert batch.rejected == [], batch.rejected
    assert len(batch.observations) == 1
    return batch.observations[0]


def load_fixture(name: str) -> MappedBatch:
    body = (FIXTURES / f"{name}.bin").read_bytes()
    return map_export_request(decode_export_request(body, "application/x-protobuf"), IngestLimits(), NOW_US)


@pytest.fixture
def by_name() -> Any:
    def index(batch: MappedBatch) -> dict[str, Observation]:
        return {obs.name: obs for obs in batch.observations}

    return index
