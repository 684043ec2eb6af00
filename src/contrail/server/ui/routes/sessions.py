"""Sessions (list and replay) and users (list and one user's sessions)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from contrail.server.state import server_state
from contrail.server.ui import replay
from contrail.server.ui.session import SignedIn, UiError, signed_in
from contrail.server.ui.templating import render
from contrail.store import queries, sessions
from contrail.store.filters import Filter
from contrail.store.pagination import CursorError

router = APIRouter()
Who = Annotated[SignedIn, Depends(signed_in)]
PAGE_SIZE = 50


@router.get("/sessions")
def sessions_page(request: Request, who: Who, cursor: str | None = None) -> Response:
    engine = server_state(request).engine
    try:
        page = sessions.list_sessions(engine, who.project_id, limit=PAGE_SIZE, cursor=cursor)
    except CursorError as exc:
        raise UiError(422, str(exc)) from exc
    return render(request, "sessions.html", who, page=page)


@router.get("/sessions/{session_id:path}")
def session_replay(request: Request, who: Who, session_id: str) -> Response:
    engine = server_state(request).engine
    found = sessions.get_session(engine, who.project_id, session_id)
    if found is None:
        raise UiError(404, "No such session in this project.")
    traces = found["traces"]
    roots = {t["trace_id"]: t["root_span_id"] for t in traces if t["root_span_id"]}
    documents = queries.root_documents(engine, who.project_id, roots)
    return render(
        request,
        "session.html",
        who,
        session=found,
        turns=replay.turns(traces, documents),
        total_cost=sum((t["total_cost_usd"] or 0 for t in traces), start=0),
        total_tokens=sum(t["total_tokens"] or 0 for t in traces),
    )


@router.get("/users")
def users_page(request: Request, who: Who, cursor: str | None = None) -> Response:
    engine = server_state(request).engine
    try:
        page = sessions.list_users(engine, who.project_id, limit=PAGE_SIZE, cursor=cursor)
    except CursorError as exc:
        raise UiError(422, str(exc)) from exc
    return render(request, "users.html", who, page=page)


@router.get("/users/{user_id:path}")
def user_page(request: Request, who: Who, user_id: str) -> Response:
    engine = server_state(request).engine
    their_sessions = sessions.list_sessions(engine, who.project_id, user_id=user_id, limit=PAGE_SIZE)
    recent = queries.list_traces(engine, who.project_id, Filter(user_id=user_id), limit=20)
    if not their_sessions.items and not recent.items:
        raise UiError(404, "No such user in this project.")
    return render(
        request,
        "user.html",
        who,
        user_id=user_id,
        sessions=their_sessions,
        recent=recent,
    )
