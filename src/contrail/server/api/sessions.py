"""Sessions and users, derived from traces."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from contrail.server.api.params import MAX_PAGE, cursor_errors
from contrail.server.auth import Principal
from contrail.server.errors import ERROR_RESPONSES, ApiError
from contrail.server.state import principal, server_state
from contrail.store import sessions

router = APIRouter(prefix="/api/v1", tags=["sessions and users"], responses=ERROR_RESPONSES)

Caller = Annotated[Principal, Depends(principal)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/sessions", summary="List sessions, most recently active first")
def list_sessions(
    request: Request, caller: Caller, limit: Limit = 50, cursor: str | None = None, user_id: str | None = None
) -> dict[str, Any]:
    with cursor_errors():
        page = sessions.list_sessions(
            server_state(request).engine, caller.project_id, user_id=user_id, limit=limit, cursor=cursor
        )
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get("/sessions/{session_id}", summary="One session as its traces in time order")
def get_session(request: Request, caller: Caller, session_id: str) -> dict[str, Any]:
    found = sessions.get_session(server_state(request).engine, caller.project_id, session_id)
    if found is None:
        raise ApiError(404, "not_found", f"No session {session_id!r} in this project.")
    return found


@router.get("/users", summary="List users with usage, cost and last seen")
def list_users(
    request: Request, caller: Caller, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    with cursor_errors():
        page = sessions.list_users(
            server_state(request).engine, caller.project_id, limit=limit, cursor=cursor
        )
    return {"data": page.items, "next_cursor": page.next_cursor}
