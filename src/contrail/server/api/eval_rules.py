"""Online evaluation rules of the calling project, and each rule's recent jobs. See docs/evals-online.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from contrail.evals import online, online_jobs
from contrail.server.api.datasets import json_body
from contrail.server.auth import Principal
from contrail.server.errors import ERROR_RESPONSES, ApiError
from contrail.server.state import principal, server_state

router = APIRouter(prefix="/api/v1", tags=["online evaluation"], responses=ERROR_RESPONSES)

Caller = Annotated[Principal, Depends(principal)]
T = TypeVar("T")
_STATUS = {"not_found": 404, "conflict": 409, "invalid": 422}


async def _call(request: Request, function: Callable[..., T], *args: Any) -> T:
    try:
        return await run_in_threadpool(function, server_state(request).engine, *args)
    except online.RuleError as exc:
        raise ApiError(_STATUS[exc.kind], exc.kind, exc.message) from exc


@router.get("/eval-rules", summary="The project's online evaluation rules with their job counts")
async def list_rules(request: Request, caller: Caller) -> dict[str, Any]:
    rules = await _call(request, online.list_rules, caller.project_id)
    counts = await _call(request, online_jobs.job_counts, caller.project_id)
    empty = dict.fromkeys(online_jobs.STATUSES, 0)
    return {"data": [r.as_dict() | {"jobs": counts.get(r.id, empty)} for r in rules]}


@router.post("/eval-rules", status_code=201, summary="Create an online evaluation rule")
async def create_rule(request: Request, caller: Caller) -> dict[str, Any]:
    body = await json_body(request, online.RuleIn)
    rule = await _call(request, online.create_rule, caller.project_id, body)
    return rule.as_dict()


@router.get("/eval-rules/{rule_id}", summary="One online evaluation rule")
async def get_rule(request: Request, caller: Caller, rule_id: str) -> dict[str, Any]:
    return (await _call(request, online.get_rule, caller.project_id, rule_id)).as_dict()


@router.patch("/eval-rules/{rule_id}", summary="Change a rule (enable, disable, sampling, filter, scorer)")
async def update_rule(request: Request, caller: Caller, rule_id: str) -> dict[str, Any]:
    patch = await json_body(request, online.RulePatch)
    return (await _call(request, online.update_rule, caller.project_id, rule_id, patch)).as_dict()


@router.delete("/eval-rules/{rule_id}", status_code=204, summary="Delete a rule and its queued jobs")
async def delete_rule(request: Request, caller: Caller, rule_id: str) -> Response:
    await _call(request, online.delete_rule, caller.project_id, rule_id)
    return Response(status_code=204)


@router.get("/eval-rules/{rule_id}/jobs", summary="A rule's newest jobs and their errors")
async def list_jobs(
    request: Request,
    caller: Caller,
    rule_id: str,
    status: Literal["pending", "running", "done", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    await _call(request, online.get_rule, caller.project_id, rule_id)
    engine = server_state(request).engine
    jobs = await run_in_threadpool(
        online_jobs.list_jobs, engine, caller.project_id, rule_id, status=status, limit=limit
    )
    return {"data": jobs}
