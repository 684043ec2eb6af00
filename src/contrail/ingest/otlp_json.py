"""OTLP/JSON request bodies as ``ExportTraceServiceRequest`` messages.

OTLP/JSON is the protobuf JSON mapping with one exception this module handles: trace and span ids
are hex strings, not base64. Everything else (lowerCamelCase or original field names, enums as
names or integers, 64-bit integers as strings, unknown fields ignored) is the standard mapping.
Ids that are not valid hex are tried as base64 (some clients send that) and otherwise become empty
bytes, so the span is rejected individually rather than failing the whole request.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_MAX_MESSAGE_DEPTH = 100
_SPAN_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_LINK_ID_FIELDS = ("traceId", "spanId", "trace_id", "span_id")


class OtlpJsonError(ValueError):
    """The body is not a valid OTLP/JSON trace export request; the message says why."""


def parse_otlp_json(body: bytes) -> ExportTraceServiceRequest:
    """Parse an OTLP/JSON body. Raises :class:`OtlpJsonError` with a short, specific message."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise OtlpJsonError(_json_error_message(str(exc))) from None
    if not isinstance(document, dict):
        raise OtlpJsonError(
            f"OTLP/JSON body must be a JSON object with 'resourceSpans', got {type(document).__name__}"
        )
    _hex_ids_to_base64(document)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(
            document, request, ignore_unknown_fields=True, max_recursion_depth=_MAX_MESSAGE_DEPTH
        )
    except json_format.ParseError as exc:
        raise OtlpJsonError(_parse_error_message(str(exc))) from None
    except RecursionError:
        raise OtlpJsonError(_depth_message()) from None
    return request


def _json_error_message(detail: str) -> str:
    if "UTF-8" in detail:
        return f"Body is not valid UTF-8 JSON ({detail})"
    if "depth" in detail or "recursion" in detail:
        return _depth_message()
    return f"Body is not valid JSON: {detail}"


def _parse_error_message(detail: str) -> str:
    if "too deep" in detail:
        return _depth_message()
    # ParseError nests "Failed to parse X field: " once per level; keep the innermost reason.
    innermost = detail.rsplit("field: ", 1)[-1]
    return f"Body is not a valid OTLP/JSON ExportTraceServiceRequest: {innermost[:500]}"


def _depth_message() -> str:
    return f"OTLP/JSON body nests more than {_MAX_MESSAGE_DEPTH} levels deep; flatten the attribute values"


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    for resource_spans in _dicts(document.get("resourceSpans", document.get("resource_spans"))):
        scopes = resource_spans.get("scopeSpans", resource_spans.get("scope_spans"))
        for scope_spans in _dicts(scopes):
            for span in _dicts(scope_spans.get("spans")):
                _convert_ids(span, _SPAN_ID_FIELDS)
                for link in _dicts(span.get("links")):
                    _convert_ids(link, _LINK_ID_FIELDS)


def _dicts(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _convert_ids(holder: dict[str, Any], fields: tuple[str, ...]) -> None:
    for field in fields:
        value = holder.get(field)
        if isinstance(value, str):
            holder[field] = base64.b64encode(_id_bytes(value)).decode("ascii")


def _id_bytes(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        pass
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""
    return decoded if len(decoded) in (8, 16) else b""
