"""Traces and observations: list with filters and keyset pages, one trace with its tree."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from contrail.server.api.params import MAX_PAGE, cursor_errors, filter_params
from contrail.server.auth import Principal
from contrail.server.errors import ERROR_RESPONSES, ApiError
from contrail.server.state import principal, server_state
from contrail.store import queries
from contrail.store.filters import Filter

router = APIRouter(prefix="/api/v1", tags=["traces"], responses=ERROR_RESPONSES)

Caller = Annotated[Principal, Depends(principal)]
Filters = Annotated[Filter, Depends(filter_params)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/traces", summary="List traces")
def list_traces(
    request: Request,
    caller: Caller,
    flt: Filters,
    limit: Limit = 50,
    cursor: str | None = None,
    sort: Literal["start_time", "latency", "cost", "tokens"] = "start_time",
    order: Literal["desc", "asc"] = "desc",
) -> dict[str, Any]:
    engine = server_state(request).engine
    with cursor_errors():
        page = queries.list_traces(
            engine, caller.project_id, flt, limit=limit, cursor=cursor, sort=sort, descending=order == "desc"
        )
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get("/traces/{trace_id}", summary="One trace with its observations and scores")
def get_trace(request: Request, caller: Caller, trace_id: str) -> dict[str, Any]:
    detail = queries.get_trace(server_state(request).engine, caller.project_id, trace_id.lower())
    if detail is None:
        raise ApiError(404, "not_found", f"No trace {trace_id!r} in this project.")
    return detail


@router.get("/observations", summary="List observations")
def list_observations(
    request: Request,
    caller: Caller,
    flt: Filters,
    limit: Limit = 50,
    cursor: str | None = None,
    type: str | None = None,
    level: str | None = None,
    trace_id: str | None = None,
) -> dict[str, Any]:
    flt.type, flt.level, flt.trace_id = type, level, trace_id
    with cursor_errors():
        page = queries.list_observations(
            server_state(request).engine, caller.project_id, flt, limit=limit, cursor=cursor
        )
    return {"data": page.items, "next_cursor": page.next_cursor}
