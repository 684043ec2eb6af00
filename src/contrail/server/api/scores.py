"""Scores: list, and create through the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from contrail.ingest.native import map_score
from contrail.ingest.scores import ScoreError
from contrail.schema.score import ScoreSource
from contrail.schema.timeconv import now_us
from contrail.schema.wire import ScoreIn
from contrail.server.api.params import MAX_PAGE, cursor_errors
from contrail.server.auth import Principal
from contrail.server.errors import ERROR_RESPONSES, ApiError
from contrail.server.state import principal, server_state, submit
from contrail.store import queries
from contrail.store.writer import WriteBatch

router = APIRouter(prefix="/api/v1", tags=["scores"], responses=ERROR_RESPONSES)

Caller = Annotated[Principal, Depends(principal)]


@router.get("/scores", summary="List scores, newest first")
def list_scores(
    request: Request,
    caller: Caller,
    trace_id: str | None = None,
    name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    with cursor_errors():
        page = queries.list_scores(
            server_state(request).engine,
            caller.project_id,
            trace_id=trace_id,
            name=name,
            limit=limit,
            cursor=cursor,
        )
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.post("/scores", status_code=201, summary="Create or replace a score (idempotent by id)")
async def create_score(request: Request, caller: Caller, body: ScoreIn) -> dict[str, Any]:
    if "source" not in body.model_fields_set:
        body.source = ScoreSource.API
    try:
        score = map_score(body, server_state(request).limits, now_us())
    except ScoreError as exc:
        raise ApiError(422, "invalid_score", str(exc)) from exc
    await submit(request, WriteBatch(caller.project_id, scores=[score]), "api")
    return {"id": score.id}
