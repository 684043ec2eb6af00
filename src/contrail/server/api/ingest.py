"""Native (Contrail SDK) and Langfuse-compatible JSON ingestion.

All of these answer per item: one bad event never rejects the others, and a 2xx means every
accepted item is committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request

from contrail.analytics.cost import price_observations
from contrail.ingest.langfuse_api import (
    LangfuseIngestion,
    LangfusePayloadError,
    LangfuseScores,
    map_langfuse_ingestion,
    map_langfuse_scores,
)
from contrail.ingest.limits import IngestLimits
from contrail.ingest.native import NativeBatch, NativeBatchError, map_native_batch
from contrail.schema.timeconv import now_us
from contrail.server.body import read_body
from contrail.server.errors import ERROR_RESPONSES, ApiError
from contrail.server.responses import JsonResponse
from contrail.server.state import ServerState, count_rejected, principal, project_prices, server_state, submit
from contrail.store.writer import WriteBatch

router = APIRouter(tags=["ingestion"], responses=ERROR_RESPONSES)


async def read_json(request: Request) -> Any:
    """The JSON body within the size limits; 400 when it is not JSON, 415 for another media type."""
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type not in ("application/json", ""):
        raise ApiError(415, "unsupported_media_type", f"Send application/json, not {media_type!r}.")
    settings = server_state(request).settings
    body = await read_body(
        request, max_bytes=settings.max_request_bytes, max_decompressed_bytes=settings.max_decompressed_bytes
    )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {exc}") from exc


@router.post(
    "/api/v1/ingest",
    status_code=207,
    summary="Native batch of observations and scores (the Contrail SDK's format)",
    response_class=JsonResponse,
)
async def ingest_native(request: Request) -> JsonResponse:
    caller = await principal(request)
    state = server_state(request)
    async with state.ingest_slots:
        mapped = await _read_native(request, state)
        if len(mapped.results) > state.limits.max_spans_per_request:
            raise ApiError(
                413, "payload_too_large", f"At most {state.limits.max_spans_per_request} events per request."
            )
        if mapped.observations:
            price_observations(mapped.observations, await project_prices(request, caller.project_id))
        if mapped.observations or mapped.scores:
            await submit(request, WriteBatch(caller.project_id, mapped.observations, mapped.scores), "native")
    count_rejected(request, "native", sum(1 for r in mapped.results if r.status >= 400))
    return JsonResponse(mapped.response().model_dump(), status_code=207)


async def _read_native(request: Request, state: ServerState) -> NativeBatch:
    """The request's events, mapped; the parsed JSON is freed on return, before the request waits for
    its commit."""
    payload = await read_json(request)
    try:
        return map_native_batch(payload, state.limits, now_us())
    except NativeBatchError as exc:
        raise ApiError(400, "invalid_batch", str(exc)) from exc


@router.post("/api/public/scores", summary="Scores from the Langfuse SDK (a JSON array or one object)")
async def langfuse_scores(request: Request) -> JsonResponse:
    return await _langfuse_scores(request, map_langfuse_scores)


@router.post("/api/public/ingestion", summary="Langfuse legacy batch ingestion (score-create events)")
async def langfuse_ingestion(request: Request) -> JsonResponse:
    return await _langfuse_scores(request, map_langfuse_ingestion)


async def _langfuse_scores(
    request: Request, mapper: Callable[[object, IngestLimits, int], LangfuseScores | LangfuseIngestion]
) -> JsonResponse:
    caller = await principal(request)
    payload = await read_json(request)
    state = server_state(request)
    try:
        mapped = mapper(payload, state.limits, now_us())
    except LangfusePayloadError as exc:
        raise ApiError(400, "invalid_batch", str(exc)) from exc
    if mapped.scores:
        await submit(request, WriteBatch(caller.project_id, scores=mapped.scores), "langfuse")
    status, body = mapped.response()
    return JsonResponse(body, status_code=status)
