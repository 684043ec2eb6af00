"""Untrusted OTLP input: every kind of bad body or span gets a clear error, never a crash."""

from __future__ import annotations

import json

import orjson
import pytest

from contrail.ingest.limits import IngestLimits
from contrail.ingest.otlp import (
    OtlpDecodeError,
    UnsupportedContentType,
    decode_export_request,
    map_export_request,
)
from contrail.ingest.truncation import TRUNCATED_KEY, truncation_suffix
from tests.ingest.conftest import NOW_US, SPAN_ID, TRACE_ID, make_request, map_one

PROTOBUF = "application/x-protobuf"


def _map(request, limits=None):
    decoded = decode_export_request(request.SerializeToString(), PROTOBUF)
    return map_export_request(decoded, limits or IngestLimits(), NOW_US)


def test_malformed_protobuf_is_a_decode_error():
    with pytest.raises(OtlpDecodeError, match="not a valid OTLP protobuf"):
        decode_export_request(b"\x0a\xff\xff\xff\xff\x0f garbage", PROTOBUF)


def test_invalid_utf8_in_protobuf_string_fails_the_request_with_a_clear_message():
    body = make_request({"name": "a-name-to-corrupt"}).SerializeToString()
    corrupt = body.replace(b"a-name-to-corrupt", b"a-name-\xff\xfe-corrupt")
    with pytest.raises(OtlpDecodeError, match="invalid UTF-8"):
        decode_export_request(corrupt, PROTOBUF)


def test_malformed_json_is_a_decode_error():
    with pytest.raises(OtlpDecodeError, match="not valid JSON"):
        decode_export_request(b'{"resourceSpans": [', "application/json")


def test_invalid_utf8_json_is_a_decode_error():
    with pytest.raises(OtlpDecodeError, match="UTF-8"):
        decode_export_request(b'{"resourceSpans": [{"x": "\xff"}]}', "application/json")


def test_json_of_the_wrong_shape_is_a_decode_error():
    with pytest.raises(OtlpDecodeError, match="JSON object"):
        decode_export_request(b"[1, 2]", "application/json")
    with pytest.raises(OtlpDecodeError, match="ExportTraceServiceRequest"):
        decode_export_request(b'{"resourceSpans": 5}', "application/json")


def test_deeply_nested_json_body_is_a_decode_error():
    value = {"stringValue": "leaf"}
    for _ in range(300):
        value = {"arrayValue": {"values": [value]}}
    body = {
        "resourceSpans": [
            {"scopeSpans": [{"spans": [{"name": "x", "attributes": [{"key": "k", "value": value}]}]}]}
        ]
    }
    with pytest.raises(OtlpDecodeError, match="nests more than"):
        decode_export_request(json.dumps(body).encode(), "application/json")


def test_wrong_content_type_is_unsupported():
    with pytest.raises(UnsupportedContentType, match="application/x-protobuf or application/json"):
        decode_export_request(b"{}", "text/plain")


def test_empty_request_maps_to_nothing():
    for content_type in (PROTOBUF, "application/json"):
        batch = map_export_request(decode_export_request(b"", content_type), IngestLimits(), NOW_US)
        assert (batch.observations, batch.rejected, batch.truncated_values) == ([], [], 0)


def test_otlp_json_with_hex_ids_names_and_string_int64():
    span = {
        "traceId": TRACE_ID.hex(),
        "spanId": SPAN_ID.hex(),
        "parentSpanId": "",
        "name": "json span",
        "kind": "SPAN_KIND_CLIENT",
        "startTimeUnixNano": str((NOW_US - 1000) * 1000),
        "endTimeUnixNano": str(NOW_US * 1000),
        "status": {"code": 2, "message": "boom"},
        "attributes": [
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
        ],
        "someFutureField": True,
    }
    body = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    batch = map_export_request(
        decode_export_request(body, "application/json; charset=utf-8"), IngestLimits(), NOW_US
    )
    (obs,) = batch.observations
    assert (obs.trace_id, obs.span_id) == (TRACE_ID.hex(), SPAN_ID.hex())
    assert obs.model_requested == "gpt-4o" and obs.usage.input_tokens == 12
    assert obs.metadata["span_kind"] == "client"
    assert obs.status_message == "boom" and obs.is_error


def test_json_invalid_hex_id_rejects_only_that_span():
    spans = [
        {
            "traceId": "zz" * 16,
            "spanId": SPAN_ID.hex(),
            "name": "bad",
            "startTimeUnixNano": str(NOW_US * 1000),
        },
        {
            "traceId": TRACE_ID.hex(),
            "spanId": SPAN_ID.hex(),
            "name": "good",
            "startTimeUnixNano": str(NOW_US * 1000),
        },
    ]
    body = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
    batch = map_export_request(decode_export_request(body, "application/json"), IngestLimits(), NOW_US)
    assert [obs.name for obs in batch.observations] == ["good"]
    assert "trace_id" in batch.rejected[0].reason


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"trace_id": b"\x01" * 8}, "trace_id must be 16 bytes"),
        ({"trace_id": bytes(16)}, "trace_id is all zero"),
        ({"span_id": b"\x01" * 4}, "span_id must be 8 bytes"),
        ({"span_id": bytes(8)}, "span_id is all zero"),
        ({"parent_span_id": b"\x01" * 3}, "parent_span_id must be empty or 8 bytes"),
        ({"start_ns": (NOW_US + 2 * 86_400_000_000) * 1000}, "too far in the future"),
        ({"start_ns": 1_000_000_000}, "too far in the past"),
        ({"start_ns": 0}, "missing"),
        ({"start_ns": NOW_US * 1000, "end_ns": NOW_US * 1000 - 1}, "end time is before start time"),
    ],
)
def test_bad_spans_are_rejected_individually(fields, reason):
    good = {"name": "good", "span_id": b"\x02" * 8}
    batch = _map(make_request({"name": "bad", **fields}, good))
    assert [obs.name for obs in batch.observations] == ["good"]
    (rejection,) = batch.rejected
    assert reason in rejection.reason
    assert (
        reason.split()[0] in batch.partial_success_message() or "rejected" in batch.partial_success_message()
    )


def test_all_zero_parent_means_root_and_missing_name_gets_placeholder():
    obs = map_one(make_request({"name": "", "parent_span_id": bytes(8)}))
    assert obs.parent_span_id is None
    assert obs.name == "(unnamed)"


def test_spans_beyond_the_request_limit_are_rejected():
    spans = [{"span_id": bytes([0, 0, 0, 0, 0, 0, 0, i + 1])} for i in range(3)]
    batch = _map(make_request(*spans), IngestLimits(max_spans_per_request=2))
    assert len(batch.observations) == 2
    assert batch.rejected[0].reason == "more than 2 spans in one request"


def test_ten_megabyte_attribute_is_truncated_with_marker():
    huge = "x" * (10 * 1024 * 1024)
    batch = _map(make_request({"attributes": {"input.value": huge, "blob": huge}}))
    (obs,) = batch.observations
    limit = IngestLimits().max_value_bytes
    assert obs.input == "x" * limit + truncation_suffix(10 * 1024 * 1024)
    assert obs.metadata["attributes"]["blob"].endswith("…[truncated by contrail: 10485760 bytes]")
    assert batch.truncated_values == 2


def test_truncation_cuts_on_a_character_boundary():
    obs = map_one(make_request({"attributes": {"note": "é" * 10}}), IngestLimits(max_value_bytes=7))
    assert obs.metadata["attributes"]["note"] == "ééé" + truncation_suffix(20)


def test_nul_bytes_are_replaced_everywhere():
    obs = map_one(
        make_request(
            {
                "name": "n\x00ame",
                "attributes": {
                    "k\x00": "v\x00",
                    "input.value": '{"a": "b\\u0000c"}',
                    "input.mime_type": "application/json",
                },
            }
        )
    )
    assert obs.name == "n\ufffdame"
    assert obs.metadata["attributes"] == {"k\ufffd": "v\ufffd"}
    assert obs.input == {"a": "b\ufffdc"}


def test_deeply_nested_json_value_is_bounded_with_marker():
    nested = "[" * 100 + "]" * 100
    obs_limits = IngestLimits(max_json_depth=5)
    batch = _map(
        make_request({"attributes": {"output.value": nested, "output.mime_type": "application/json"}}),
        obs_limits,
    )
    (obs,) = batch.observations
    value, depth = obs.output, 1
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert value == {TRUNCATED_KEY: True, "reason": "max_json_depth", "max_depth": 5}
    assert depth == 6
    assert batch.truncated_values == 1


def test_deeply_nested_attribute_values_are_bounded():
    value = "leaf"
    for _ in range(20):
        value = [value]
    batch = _map(make_request({"attributes": {"deep": value}}), IngestLimits(max_json_depth=4))
    (obs,) = batch.observations
    assert obs.metadata["attributes"]["deep"][0][0][0][0] == {
        TRUNCATED_KEY: True,
        "reason": "max_json_depth",
        "max_depth": 4,
    }


def test_json_beyond_the_parser_depth_stays_text():
    text = "[" * 2000 + "]" * 2000
    obs = map_one(make_request({"attributes": {"input.value": text}}))
    assert obs.input == text


def test_unusual_attribute_types_are_kept():
    obs = map_one(
        make_request(
            {"attributes": {"b": b"\x01\xff", "flag": False, "n": 0, "kv": {"a": [1, 2.5]}, "empty": ""}}
        )
    )
    assert obs.metadata["attributes"] == {
        "b": "01ff",
        "flag": False,
        "n": 0,
        "kv": {"a": [1, 2.5]},
        "empty": "",
    }


def test_malformed_convention_values_stay_in_metadata():
    obs = map_one(
        make_request({"attributes": {"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": "lots"}})
    )
    assert obs.usage.input_tokens is None
    assert obs.metadata["attributes"] == {"gen_ai.usage.input_tokens": "lots"}


def test_unicode_digit_indices_never_raise() -> None:
    """'²'.isdigit() is True but int('²') raises: such keys must stay plain attributes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    from contrail.ingest.limits import IngestLimits
    from contrail.ingest.otlp import map_export_request

    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x01" * 16, b"\x02" * 8, "llm"
    span.start_time_unix_nano = span.end_time_unix_nano = 1_760_000_000_000_000_000
    for key, value in (
        ("openinference.span.kind", "LLM"),
        ("llm.input_messages.².message.role", "user"),
        ("llm.token_count.prompt", "²"),
    ):
        span.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
    batch = map_export_request(request, IngestLimits(), 1_760_000_000_000_000)
    assert len(batch.observations) == 1
    assert batch.observations[0].usage.input_tokens is None


def test_infinite_or_nan_time_to_first_token_is_ignored() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    from contrail.ingest.limits import IngestLimits
    from contrail.ingest.otlp import map_export_request

    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add()
    for n, value in enumerate((float("inf"), float("nan"), 0.25), start=1):
        span = spans.spans.add()
        span.trace_id, span.span_id, span.name = b"\x01" * 16, bytes([n]) * 8, "chat"
        span.start_time_unix_nano = span.end_time_unix_nano = 1_760_000_000_000_000_000
        span.attributes.append(KeyValue(key="gen_ai.operation.name", value=AnyValue(string_value="chat")))
        span.attributes.append(
            KeyValue(key="gen_ai.response.time_to_first_chunk", value=AnyValue(double_value=value))
        )
    batch = map_export_request(request, IngestLimits(), 1_760_000_000_000_000)
    assert [o.ttft_us for o in batch.observations] == [None, None, 250_000]
