"""Experiments: create (or resume), list, status, per-item results (scores also land on the traces),
summaries, and the item-by-item comparison of two runs. The contract is docs/datasets.md."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from contrail.evals import calibration_data, experiments
from contrail.server.api.datasets import EncodedSlashRoute, call, json_body
from contrail.server.api.params import MAX_PAGE
from contrail.server.auth import Principal
from contrail.server.errors import ERROR_RESPONSES
from contrail.server.responses import JsonResponse
from contrail.server.state import principal, submit
from contrail.store.writer import WriteBatch

router = APIRouter(
    prefix="/api/v1", tags=["experiments"], responses=ERROR_RESPONSES, route_class=EncodedSlashRoute
)

Caller = Annotated[Principal, Depends(principal)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: experiments.Status


@router.post("/experiments", status_code=201, summary="Create an experiment (or resume one by name)")
async def create_experiment(request: Request, caller: Caller) -> JsonResponse:
    body = await json_body(request, experiments.ExperimentIn)
    experiment, created = await call(request, experiments.create_experiment, caller.project_id, body)
    return JsonResponse(experiment, status_code=201 if created else 200)


@router.get("/experiments", summary="List experiments, newest first")
async def list_experiments(
    request: Request, caller: Caller, dataset: str | None = None, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    page = await call(
        request, experiments.list_experiments, caller.project_id, dataset=dataset, limit=limit, cursor=cursor
    )
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get("/experiments/compare", summary="Compare two experiments item by item")
async def compare(
    request: Request, caller: Caller, baseline: str, candidate: str, metric: str | None = None
) -> dict[str, Any]:
    return await call(
        request, experiments.compare_experiments, caller.project_id, baseline, candidate, metric
    )


@router.get("/experiments/{experiment_id}", summary="One experiment with its summary")
async def get_experiment(request: Request, caller: Caller, experiment_id: str) -> dict[str, Any]:
    return await call(request, experiments.get_experiment, caller.project_id, experiment_id)


@router.get("/experiments/{experiment_id}/calibration", summary="Agreement of a judge with human labels")
async def calibration(
    request: Request,
    caller: Caller,
    experiment_id: str,
    judge: Annotated[str, Query(min_length=1, max_length=200)],
    human: Annotated[str, Query(min_length=1, max_length=200)],
) -> dict[str, Any]:
    return await call(request, calibration_data.calibration, caller.project_id, experiment_id, judge, human)


@router.patch("/experiments/{experiment_id}", summary="Set an experiment's status")
async def set_status(request: Request, caller: Caller, experiment_id: str) -> dict[str, Any]:
    body = await json_body(request, StatusIn)
    return await call(request, experiments.set_status, caller.project_id, experiment_id, body.status)


@router.post("/experiments/{experiment_id}/results", summary="Record (replace) results of items")
async def write_results(request: Request, caller: Caller, experiment_id: str) -> dict[str, Any]:
    body = await json_body(request, experiments.ResultsIn)
    scores = await call(request, experiments.write_results, caller.project_id, experiment_id, body.results)
    if scores:
        await submit(request, WriteBatch(caller.project_id, scores=scores), "api")
    return {"written": len(body.results)}


@router.get(
    "/experiments/{experiment_id}/results", summary="Results with their items' input and expected output"
)
async def list_results(
    request: Request, caller: Caller, experiment_id: str, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    page = await call(
        request, experiments.list_results, caller.project_id, experiment_id, limit=limit, cursor=cursor
    )
    return {"data": page.items, "next_cursor": page.next_cursor}
