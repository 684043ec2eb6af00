"""Langfuse-compatible prompt API (/api/public/v2/prompts) so the Langfuse SDK's ``get_prompt``,
``create_prompt`` and ``update_prompt`` work against Contrail unchanged.

Not supported: prompt dependencies (``resolve`` is accepted and ignored), ``fromUpdatedAt``/
``toUpdatedAt`` list filters.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from contrail.prompts import lookup, registry
from contrail.prompts.model import PromptSummary, PromptVersion
from contrail.schema.timeconv import us_to_rfc3339
from contrail.server.api.prompts import PROMPT_ERRORS, create_from, prompt_errors
from contrail.server.auth import Principal
from contrail.server.state import principal, server_state

router = APIRouter(prefix="/api/public/v2/prompts", tags=["langfuse-compatible"], responses=PROMPT_ERRORS)
Caller = Annotated[Principal, Depends(principal)]


class LangfusePromptCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str
    type: Literal["text", "chat"] | None = None
    prompt: str | list[dict[str, Any]]
    config: Any = None
    labels: list[str] | None = None
    tags: list[str] | None = None
    commit_message: str | None = Field(default=None, alias="commitMessage")


class NewLabels(BaseModel):
    new_labels: list[str] = Field(alias="newLabels")


def langfuse_prompt(version: PromptVersion) -> dict[str, Any]:
    stamp = us_to_rfc3339(version.created_us)
    return {
        "id": version.id,
        "type": version.type,
        "name": version.name,
        "version": version.version,
        "prompt": version.prompt,
        "config": version.config,
        "labels": version.labels,
        "tags": version.tags,
        "commitMessage": version.commit_message,
        "createdBy": version.created_by,
        "createdAt": stamp,
        "updatedAt": stamp,
        "resolutionGraph": None,
    }


def _meta(summary: PromptSummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "type": summary.type,
        "versions": summary.versions,
        "labels": sorted(summary.labels),
        "tags": summary.tags,
        "lastUpdatedAt": us_to_rfc3339(summary.updated_us),
        "lastConfig": summary.last_config,
    }


@router.get("/{name:path}", summary="Get a prompt (Langfuse v2 shape)")
def get_prompt(
    request: Request,
    caller: Caller,
    name: str,
    label: str | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
    resolve: bool | None = None,
) -> dict[str, Any]:
    with prompt_errors():
        found = lookup.get_version(
            server_state(request).engine, caller.project_id, name, label=label, version=version
        )
    return langfuse_prompt(found)


@router.get("", summary="List prompts (Langfuse v2 shape, numbered pages)")
def list_prompts(
    request: Request,
    caller: Caller,
    name: str | None = None,
    label: str | None = None,
    tag: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    total, items = lookup.count_and_list_prompts(
        server_state(request).engine,
        caller.project_id,
        name=name,
        label=label,
        tag=tag,
        page=page,
        limit=limit,
    )
    meta = {"page": page, "limit": limit, "totalItems": total, "totalPages": math.ceil(total / limit)}
    return {"data": [_meta(s) for s in items], "meta": meta}


@router.post("", status_code=201, summary="Create a prompt version (Langfuse v2 shape)")
def create_prompt(request: Request, caller: Caller, body: LangfusePromptCreate) -> dict[str, Any]:
    fields = body.model_dump(exclude={"type"}) | {
        "type": body.type or ("chat" if isinstance(body.prompt, list) else "text"),
        "labels": body.labels or [],
    }
    created = create_from(request, caller, fields)
    return langfuse_prompt(created)


@router.patch("/{name:path}/versions/{version}", summary="Add labels to a version (Langfuse v2)")
def update_labels(
    request: Request, caller: Caller, name: str, version: int, body: NewLabels
) -> dict[str, Any]:
    with prompt_errors():
        updated = registry.add_labels(
            server_state(request).engine, caller.project_id, name, version, body.new_labels, caller.public_key
        )
    return langfuse_prompt(updated)
