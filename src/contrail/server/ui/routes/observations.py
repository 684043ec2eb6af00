"""Observations search: every span matching the filters, e.g. errored generations of one model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from contrail.server.state import server_state
from contrail.server.ui.list_query import LEVELS, OBSERVATION_TYPES, RANGES, ListQuery
from contrail.server.ui.session import SignedIn, signed_in
from contrail.server.ui.templating import render
from contrail.store import queries
from contrail.store.pagination import Page

router = APIRouter()
Who = Annotated[SignedIn, Depends(signed_in)]
PAGE_SIZE = 50


@router.get("/observations")
def observations_page(request: Request, who: Who) -> Response:
    query = ListQuery.parse(request.query_params)
    page: Page[dict[str, Any]] = Page([], None)
    error = None
    try:
        page = queries.list_observations(
            server_state(request).engine,
            who.project_id,
            query.to_filter(),
            limit=PAGE_SIZE,
            cursor=query.get("cursor") or None,
        )
    except ValueError as exc:  # a bad filter value or cursor: say which, show no rows
        error = str(exc)
    return render(
        request,
        "observations.html",
        who,
        query=query,
        page=page,
        error=error,
        ranges=RANGES,
        types=OBSERVATION_TYPES,
        levels=LEVELS,
    )
