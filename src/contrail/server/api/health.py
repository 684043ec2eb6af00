"""Liveness and the caller's identity."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from contrail._version import __version__
from contrail.server.auth import Principal
from contrail.server.state import principal, server_state

router = APIRouter(tags=["health"])


@router.get("/api/v1/health", summary="Liveness (no auth)")
@router.get("/api/public/health", include_in_schema=False)
async def health(request: Request) -> dict[str, Any]:
    writes = server_state(request).writes
    return {"status": "OK", "version": __version__, "pending_writes": writes.pending_spans}


@router.get("/api/v1/whoami", summary="The project the API key belongs to")
async def whoami(caller: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
    return {"project_id": caller.project_id, "public_key": caller.public_key}


@router.get(
    "/metrics",
    summary="Prometheus metrics: server health, ingest, and the calling project's LLM usage",
    response_class=Response,
)
async def metrics(request: Request, caller: Annotated[Principal, Depends(principal)]) -> Response:
    state = server_state(request)
    body = state.telemetry.render(caller.project_id, state.writes.pending_spans)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
