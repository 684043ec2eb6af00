"""Traces: the filterable list (with live tail) and one trace's tree, waterfall and observation panel."""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Engine
from starlette.responses import RedirectResponse, Response

from contrail.server.responses import JsonResponse
from contrail.server.state import server_state
from contrail.server.ui import content, waterfall
from contrail.server.ui.list_query import RANGES, SORTS, ListQuery
from contrail.server.ui.session import SignedIn, UiError, signed_in
from contrail.server.ui.templating import is_htmx, render
from contrail.store import queries
from contrail.store.pagination import Page

router = APIRouter()
Who = Annotated[SignedIn, Depends(signed_in)]
PAGE_SIZE = 50
MAX_SCORES = 500
TraceSort = Literal["start_time", "latency", "cost", "tokens"]


@router.get("/traces")
def traces_page(request: Request, who: Who) -> Response:
    project_id = who.project_id
    engine = server_state(request).engine
    query = ListQuery.parse(request.query_params)
    page: Page[dict[str, Any]] = Page([], None)
    error = None
    try:
        page = queries.list_traces(
            engine,
            project_id,
            query.to_filter(),
            limit=PAGE_SIZE,
            cursor=query.get("cursor") or None,
            sort=cast(TraceSort, query.sort),
            descending=query.descending,
        )
    except ValueError as exc:  # a bad filter value or cursor: say which, show no rows
        error = str(exc)
    scores = queries.scores_by_trace(engine, project_id, [t["trace_id"] for t in page.items])
    template = "trace_rows.html" if request.headers.get("hx-target") == "trace-results" else "traces.html"
    return render(
        request,
        template,
        who,
        query=query,
        page=page,
        scores=scores,
        error=error,
        ranges=RANGES,
        sorts=SORTS,
    )


# Model calls without a price leave the trace total short: the page says how many, never shows $0 alone.
_PRICED_TYPES = frozenset({"generation", "embedding"})


@router.get("/traces/{trace_id}")
def trace_page(request: Request, who: Who, trace_id: str, observation: str | None = None) -> Response:
    project_id = who.project_id
    engine = server_state(request).engine
    trace = queries.get_trace_outline(engine, project_id, trace_id.lower())
    if trace is None:
        raise UiError(404, "No such trace in this project (it may still be arriving).")
    layout = waterfall.layout(trace["observations"])
    selected = observation or trace["root_span_id"] or (layout.rows[0].span_id if layout.rows else None)
    panel = _panel(engine, project_id, trace["trace_id"], selected, trace["scores"]) if selected else None
    return render(
        request,
        "trace.html",
        who,
        trace=trace,
        trace_id=trace["trace_id"],
        layout=layout,
        selected=selected,
        panel=panel,
        trace_scores=[s for s in trace["scores"] if not s["observation_id"]],
        unpriced_calls=sum(
            1 for o in trace["observations"] if o["type"] in _PRICED_TYPES and o["total_cost_nanos"] is None
        ),
    )


@router.get("/traces/{trace_id}/observations/{span_id}")
def observation_panel(request: Request, who: Who, trace_id: str, span_id: str) -> Response:
    """The panel alone (for htmx); a plain visit gets the whole trace page with it selected."""
    trace_id = trace_id.lower()
    if not is_htmx(request):
        return RedirectResponse(f"/traces/{trace_id}?{urlencode({'observation': span_id})}", status_code=303)
    engine = server_state(request).engine
    scores = queries.list_scores(engine, who.project_id, trace_id=trace_id, limit=MAX_SCORES).items
    panel = _panel(engine, who.project_id, trace_id, span_id, scores)
    return render(request, "observation_panel.html", who, trace_id=trace_id, panel=panel)


@router.get("/traces/{trace_id}/observations/{span_id}/json")
def observation_json(request: Request, who: Who, trace_id: str, span_id: str) -> JsonResponse:
    found = queries.get_observation(server_state(request).engine, who.project_id, trace_id.lower(), span_id)
    if found is None:
        raise UiError(404, "No such observation in this project.")
    return JsonResponse(found)


def _panel(
    engine: Engine, project_id: str, trace_id: str, span_id: str, scores: list[dict[str, Any]]
) -> dict[str, Any]:
    obs = queries.get_observation(engine, project_id, trace_id, span_id)
    if obs is None:
        raise UiError(404, "No such observation in this trace.")
    return {
        "obs": obs,
        "input": content.show(obs["input"]),
        "output": content.show(obs["output"]),
        "metadata": content.show_json(obs["metadata"]) if obs["metadata"] else None,
        "parameters": content.show_json(obs["model_parameters"]) if obs["model_parameters"] else None,
        "scores": [s for s in scores if s["observation_id"] == span_id],
    }
