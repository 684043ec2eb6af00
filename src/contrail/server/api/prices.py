"""Prices: the project's overrides of the built-in catalogue, and re-pricing stored observations.

API keys carry no roles, so any key of a project may change its prices (as any key may ingest);
the Web UI limits the same changes to members and admins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from contrail.analytics import overrides, recalculate
from contrail.analytics.price_file import MAX_FILE_BYTES, PriceFileError
from contrail.server.api.params import _time
from contrail.server.auth import Principal
from contrail.server.body import read_body
from contrail.server.errors import ERROR_RESPONSES, ApiError
from contrail.server.state import principal, project_prices, server_state

router = APIRouter(prefix="/api/v1/prices", tags=["prices"], responses=ERROR_RESPONSES)

Caller = Annotated[Principal, Depends(principal)]


class RecalculateIn(BaseModel):
    start: str = Field(description="Re-price observations starting at or after this time (RFC 3339)")
    end: str = Field(description="...and before this time (RFC 3339); at most 366 days after start")
    models: list[str] | None = Field(default=None, description="Only these models (names or catalogue keys)")


@router.get("", summary="The project's price overrides (and optionally the built-in prices)")
def list_prices(request: Request, caller: Caller, include_builtin: bool = False) -> dict[str, Any]:
    engine = server_state(request).engine
    return overrides.effective_prices(engine, caller.project_id, include_builtin=include_builtin)


@router.get("/match", summary="Which price entry a model name gets in this project, and why")
async def match_price(
    request: Request,
    caller: Caller,
    model: Annotated[str, Query(max_length=256, description="As traced; empty: nothing matches")] = "",
    provider: Annotated[str | None, Query(max_length=100)] = None,
    at: Annotated[str | None, Query(description="Prices valid at this time (RFC 3339); default now")] = None,
) -> dict[str, Any]:
    catalogue = await project_prices(request, caller.project_id)
    return overrides.explain_match(catalogue, model, provider, _time("at", at))


@router.put("", summary="Add or replace price overrides from a price document (all or nothing)")
async def put_prices(request: Request, caller: Caller) -> dict[str, Any]:
    state = server_state(request)
    body = await read_body(
        request,
        max_bytes=min(state.settings.max_request_bytes, MAX_FILE_BYTES),
        max_decompressed_bytes=MAX_FILE_BYTES,
    )
    try:
        document = overrides.parse_document_text(body, origin="the request body")
        result = await run_in_threadpool(overrides.put_overrides, state.engine, caller.project_id, document)
    except PriceFileError as exc:
        raise _invalid_document(exc) from exc
    state.prices.invalidate(caller.project_id)
    return {"added": result.added, "replaced": result.replaced, "version": result.version}


@router.delete("/{provider}/{model:path}", summary="Delete one override (the built-in price applies again)")
def delete_price(request: Request, caller: Caller, provider: str, model: str) -> dict[str, Any]:
    state = server_state(request)
    try:
        version = overrides.delete_override(state.engine, caller.project_id, provider, model)
    except overrides.OverrideNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    state.prices.invalidate(caller.project_id)
    return {"deleted": f"{provider.strip().lower()}/{model}", "version": version}


@router.post("/recalculate", summary="Re-price stored observations of a time range with current prices")
async def recalculate_prices(request: Request, caller: Caller, body: RecalculateIn) -> dict[str, Any]:
    start_us, end_us = _time("start", body.start), _time("end", body.end)
    if start_us is None or end_us is None:  # pragma: no cover - both are required strings
        raise ApiError(422, "invalid_parameters", "start and end are required.")
    try:
        recalculate.check_range(start_us, end_us, body.models)
    except recalculate.RecalculateError as exc:
        raise ApiError(422, "invalid_range", str(exc)) from exc
    state = server_state(request)
    state.prices.invalidate(caller.project_id)  # re-price with what is stored now, not a cached copy
    catalogue = await project_prices(request, caller.project_id)
    result = await run_in_threadpool(
        recalculate.recalculate, state.engine, caller.project_id, catalogue, start_us, end_us, body.models
    )
    return result.as_dict()


def _invalid_document(exc: PriceFileError) -> ApiError:
    return ApiError(
        422,
        "invalid_price_document",
        f"The price document has {len(exc.problems)} problem(s); nothing was changed.",
        {"problems": exc.problems},
    )
