"""The Dashboard: traffic, cost, tokens, latency, TTFT and errors over time, top tables, segments,
a cost projection and a what-if, with a CSV export of every chart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from contrail.analytics import dashboard, metrics
from contrail.schema.timeconv import now_us
from contrail.server.state import project_prices, server_state
from contrail.server.ui.session import SignedIn, UiError, signed_in
from contrail.server.ui.templating import render

router = APIRouter()
Who = Annotated[SignedIn, Depends(signed_in)]


def _query(
    range: str = "7d",
    model: Annotated[str | None, Query()] = None,
    environment: Annotated[str | None, Query()] = None,
    release: Annotated[str | None, Query()] = None,
    segment: str = "region",
    what_if: str = "gpt-4o-mini",
) -> dashboard.DashboardQuery:
    return dashboard.DashboardQuery(
        range, model or None, environment or None, release or None, segment, what_if
    )


Params = Annotated[dashboard.DashboardQuery, Depends(_query)]


async def _board(request: Request, who: SignedIn, query: dashboard.DashboardQuery) -> dashboard.Dashboard:
    prices = await project_prices(request, who.project_id)
    engine = server_state(request).engine
    try:
        return await run_in_threadpool(dashboard.build, engine, who.project_id, query, now_us(), prices)
    except (metrics.MetricsError, ValueError) as exc:
        raise UiError(422, str(exc)) from exc


@router.get("/dashboard")
async def dashboard_page(request: Request, who: Who, query: Params) -> Response:
    board = await _board(request, who, query)
    return render(
        request,
        "dashboard.html",
        who,
        board=board,
        charts=dashboard.chart_data(board),
        ranges=list(dashboard.RANGES),
    )


@router.get("/dashboard.csv")
async def dashboard_csv(request: Request, who: Who, query: Params, chart: str = "traffic") -> Response:
    board = await _board(request, who, query)
    try:
        rows = dashboard.csv_rows(board, chart)
    except metrics.MetricsError as exc:
        raise UiError(422, str(exc)) from exc
    return Response(
        dashboard.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="contrail-{chart}.csv"'},
    )
