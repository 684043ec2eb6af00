"""Scores: list, and create through the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from contrail.schema.ids import uuid7
from contrail.schema.score import Score, ScoreDataType, ScoreSource
from contrail.schema.timeconv import now_us
from contrail.schema.wire import ScoreIn
from contrail.server.api.otlp import submit
from contrail.server.api.params import MAX_PAGE, cursor_errors
from contrail.server.auth import Principal
from contrail.server.errors import ERROR_RESPONSES, ApiError
from contrail.server.state import principal, server_state
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
    if body.trace_id is None and body.session_id is None:
        raise ApiError(422, "invalid_parameters", "A score needs a trace_id or a session_id.")
    score = score_from_wire(body, default_source=ScoreSource.API)
    await submit(request, WriteBatch(caller.project_id, scores=[score]))
    return {"id": score.id}


def score_from_wire(body: ScoreIn, *, default_source: ScoreSource) -> Score:
    """A Score from its wire form; raises ApiError 422 when the value does not fit the data type."""
    data_type = body.data_type or _infer_type(body.value)
    value: float | None = None
    string_value: str | None = None
    if data_type is ScoreDataType.CATEGORICAL:
        if not isinstance(body.value, str):
            raise ApiError(422, "invalid_parameters", "A CATEGORICAL score needs a string value.")
        string_value = body.value
    elif isinstance(body.value, bool) or data_type is ScoreDataType.BOOLEAN:
        if body.value not in (True, False, 0, 1):
            raise ApiError(422, "invalid_parameters", "A BOOLEAN score needs true/false or 1/0.")
        value = float(bool(body.value))
    elif isinstance(body.value, str):
        raise ApiError(422, "invalid_parameters", "A NUMERIC score needs a number.")
    else:
        value = float(body.value)
    return Score(
        id=body.id or uuid7(),
        trace_id=body.trace_id,
        observation_id=body.observation_id,
        session_id=body.session_id,
        name=body.name,
        timestamp_us=body.timestamp_us or now_us(),
        value=value,
        string_value=string_value,
        data_type=data_type,
        source=body.source if "source" in body.model_fields_set else default_source,
        comment=body.comment,
        metadata=body.metadata,
        environment=body.environment,
    )


def _infer_type(value: float | str | bool) -> ScoreDataType:
    if isinstance(value, bool):
        return ScoreDataType.BOOLEAN
    if isinstance(value, str):
        return ScoreDataType.CATEGORICAL
    return ScoreDataType.NUMERIC
