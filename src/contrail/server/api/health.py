"""Liveness and the caller's identity."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

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
