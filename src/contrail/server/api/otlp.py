"""OTLP/HTTP trace ingestion (POST /v1/traces and the Langfuse-compatible path).

Answers follow the OTLP/HTTP specification rather than our JSON envelope: 200 with an
ExportTraceServiceResponse (``partial_success`` counts rejected spans), and for errors a
``google.rpc.Status`` in the request's encoding. JSON error bodies also carry our envelope.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.responses import Response

from contrail.analytics.cost import price_observations
from contrail.ingest.otlp import (
    MappedBatch,
    OtlpDecodeError,
    UnsupportedContentType,
    decode_export_request,
    map_export_request,
)
from contrail.schema.timeconv import now_us
from contrail.server.body import read_body
from contrail.server.errors import ApiError
from contrail.server.responses import JsonResponse
from contrail.server.state import ServerState, count_rejected, project_prices, server_state, submit
from contrail.store.writer import WriteBatch

router = APIRouter(tags=["ingestion"])

_PROTOBUF = "application/x-protobuf"
# google.rpc.Code values for the HTTP statuses we answer with.
_RPC_CODES = {400: 3, 401: 16, 403: 7, 413: 8, 415: 3, 429: 8, 503: 14, 500: 13}


@router.post("/v1/traces", summary="OTLP/HTTP traces (protobuf or JSON)", response_class=Response)
@router.post("/api/public/otel/v1/traces", summary="OTLP/HTTP traces (Langfuse-compatible path)")
async def export_traces(request: Request) -> Response:
    as_json = request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"
    try:
        return await _export(request, as_json)
    except ApiError as exc:
        return _status_response(exc, as_json)


async def _export(request: Request, as_json: bool) -> Response:
    state = server_state(request)
    caller = await state.keys.authenticate(request)
    async with state.ingest_slots:
        mapped = await _read_and_map(request, state)
        if mapped.observations:
            price_observations(mapped.observations, await project_prices(request, caller.project_id))
            await submit(request, WriteBatch(caller.project_id, mapped.observations), "otlp")
    count_rejected(request, "otlp", len(mapped.rejected))
    response = ExportTraceServiceResponse()
    if mapped.rejected:
        response.partial_success.rejected_spans = len(mapped.rejected)
        response.partial_success.error_message = mapped.partial_success_message()
    elif mapped.truncated_values:
        # OTLP allows a message with zero rejections as a warning.
        limit = state.limits.max_value_bytes
        response.partial_success.error_message = (
            f"{mapped.truncated_values} value(s) exceeded {limit} bytes and were truncated"
        )
    if as_json:
        partial = response.partial_success
        payload = {}
        if partial.rejected_spans or partial.error_message:
            payload["partialSuccess"] = {
                "rejectedSpans": str(partial.rejected_spans),
                "errorMessage": partial.error_message,
            }
        return JsonResponse(payload)
    return Response(response.SerializeToString(), media_type=_PROTOBUF)


async def _read_and_map(request: Request, state: ServerState) -> MappedBatch:
    """The request's spans, mapped; the body and the decoded message are freed on return, before the
    request waits for its commit."""
    settings = state.settings
    body = await read_body(
        request, max_bytes=settings.max_request_bytes, max_decompressed_bytes=settings.max_decompressed_bytes
    )
    try:
        export = decode_export_request(body, request.headers.get("content-type", ""))
    except UnsupportedContentType as exc:
        raise ApiError(415, "unsupported_media_type", str(exc)) from exc
    except OtlpDecodeError as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return map_export_request(export, state.limits, now_us())


def _status_response(exc: ApiError, as_json: bool) -> Response:
    code = _RPC_CODES.get(exc.status, 2)
    if as_json:
        body = {
            "code": code,
            "message": exc.message,
            "error": {"code": exc.code, "message": exc.message, "details": exc.details},
        }
        return JsonResponse(body, status_code=exc.status, headers=exc.headers)
    return Response(
        _encode_status(code, exc.message), status_code=exc.status, media_type=_PROTOBUF, headers=exc.headers
    )


def _encode_status(code: int, message: str) -> bytes:
    """A google.rpc.Status protobuf: field 1 code (varint), field 2 message (string)."""
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)
