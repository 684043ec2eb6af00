"""Prompt registry API under /api/v1/prompts: versions, labels, label history, diff, soft delete.

Prompt names may hold ``/`` (folders): send them as they are or URL-encoded (``%2F``). No name
segment may be ``versions``, ``labels`` or ``diff``, so the sub-paths below are unambiguous.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from contrail.prompts import lookup, registry
from contrail.prompts.content import ContentError, ContentTooLargeError
from contrail.prompts.model import (
    LabelEvent,
    PromptConflictError,
    PromptNotFoundError,
    PromptSummary,
    PromptVersion,
)
from contrail.prompts.names import InvalidNameError
from contrail.schema.timeconv import us_to_rfc3339
from contrail.server.api.params import MAX_PAGE, cursor_errors
from contrail.server.auth import Principal
from contrail.server.errors import ERROR_RESPONSES, ApiError, ErrorEnvelope
from contrail.server.state import principal, server_state

PROMPT_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    409: {"model": ErrorEnvelope, "description": "Conflicts with the registry's state"},
    413: {"model": ErrorEnvelope, "description": "The version is over 1 MB"},
}
router = APIRouter(prefix="/api/v1/prompts", tags=["prompts"], responses=PROMPT_ERRORS)
Caller = Annotated[Principal, Depends(principal)]


class PromptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="1-200 of letters, digits, - _ . / (slashes make folders)")
    type: Literal["text", "chat"] = "text"
    prompt: str | list[dict[str, Any]] = Field(
        description="Text with {{variables}}, or chat messages {role, content} and {type: placeholder, name}"
    )
    config: dict[str, Any] | None = Field(default=None, description="Model, temperature, tools, schema...")
    labels: list[str] = Field(default_factory=list, description="Labels to point at the new version")
    tags: list[str] | None = Field(default=None, description="Replace the prompt's tags (all versions)")
    commit_message: str | None = None


class LabelMoves(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: dict[str, int | None] = Field(
        description="label -> version to point it at, or null to remove it; applied atomically"
    )


class PromptVersionOut(BaseModel):
    id: str
    name: str
    version: int
    type: str
    prompt: str | list[dict[str, Any]]
    config: dict[str, Any]
    variables: list[str]
    labels: list[str]
    tags: list[str]
    commit_message: str | None
    created_by: str | None
    created_at: str | None


@contextlib.contextmanager
def prompt_errors() -> Iterator[None]:
    """Map the registry's errors to the envelope: 404, 409, 413, 422."""
    try:
        yield
    except PromptNotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    except PromptConflictError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    except ContentTooLargeError as exc:
        raise ApiError(413, "prompt_too_large", str(exc)) from exc
    except (ContentError, InvalidNameError, ValueError) as exc:
        raise ApiError(422, "invalid_prompt", str(exc)) from exc


def version_json(version: PromptVersion) -> dict[str, Any]:
    body = dataclasses.asdict(version)
    del body["created_us"], body["content_hash"]
    body["created_at"] = us_to_rfc3339(version.created_us)
    return body


def _summary_json(summary: PromptSummary) -> dict[str, Any]:
    body = dataclasses.asdict(summary)
    del body["id"], body["updated_us"]
    body["updated_at"] = us_to_rfc3339(summary.updated_us)
    return body


def _event_json(event: LabelEvent) -> dict[str, Any]:
    body = dataclasses.asdict(event)
    del body["created_us"]
    body["created_at"] = us_to_rfc3339(event.created_us)
    return body


@router.post("", status_code=201, summary="Create a prompt version", response_model=PromptVersionOut)
def create_prompt_version(request: Request, caller: Caller, body: PromptCreate) -> dict[str, Any]:
    return version_json(create_from(request, caller, body.model_dump()))


def create_from(request: Request, caller: Principal, fields: dict[str, Any]) -> PromptVersion:
    """Create a version from request ``fields`` (PromptCreate's) by ``caller``, errors as envelopes."""
    with prompt_errors():
        return registry.create_version(
            server_state(request).engine, caller.project_id, created_by=caller.public_key, **fields
        )


@router.get("", summary="List prompts by name")
def list_prompts(
    request: Request,
    caller: Caller,
    name_prefix: Annotated[str | None, Query(description="Names starting with this (e.g. a folder/)")] = None,
    label: str | None = None,
    tag: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    with cursor_errors():
        page = lookup.list_prompts(
            server_state(request).engine,
            caller.project_id,
            name_prefix=name_prefix,
            label=label,
            tag=tag,
            limit=limit,
            cursor=cursor,
        )
    return {"data": [_summary_json(s) for s in page.items], "next_cursor": page.next_cursor}


@router.get("/{name:path}/versions", summary="List a prompt's versions, newest first")
def list_versions(request: Request, caller: Caller, name: str) -> dict[str, Any]:
    with prompt_errors():
        versions = lookup.list_versions(server_state(request).engine, caller.project_id, name)
    return {"data": [version_json(v) for v in versions]}


@router.patch("/{name:path}/labels", summary="Move labels between versions (atomically)")
def move_labels(request: Request, caller: Caller, name: str, body: LabelMoves) -> dict[str, Any]:
    with prompt_errors():
        labels = registry.set_labels(
            server_state(request).engine, caller.project_id, name, body.labels, caller.public_key
        )
    return {"name": name, "labels": labels}


@router.get("/{name:path}/labels/history", summary="Label moves: who, when, from and to which version")
def label_history(
    request: Request, caller: Caller, name: str, limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100
) -> dict[str, Any]:
    with prompt_errors():
        events = lookup.label_history(server_state(request).engine, caller.project_id, name, limit=limit)
    return {"data": [_event_json(e) for e in events]}


@router.get("/{name:path}/diff", summary="Diff two versions (prompt and config)")
def diff_versions(
    request: Request,
    caller: Caller,
    name: str,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> dict[str, Any]:
    with prompt_errors():
        diff = lookup.diff_stored_versions(
            server_state(request).engine, caller.project_id, name, from_version, to_version
        )
    return dataclasses.asdict(diff) | {"changed": diff.changed}


@router.delete("/{name:path}/versions/{version}", status_code=204, summary="Soft-delete one version")
def delete_version(request: Request, caller: Caller, name: str, version: int) -> Response:
    with prompt_errors():
        registry.delete_version(
            server_state(request).engine, caller.project_id, name, version, caller.public_key
        )
    return Response(status_code=204)


@router.delete("/{name:path}", status_code=204, summary="Soft-delete a prompt and all its versions")
def delete_prompt(request: Request, caller: Caller, name: str) -> Response:
    with prompt_errors():
        registry.delete_prompt(server_state(request).engine, caller.project_id, name, caller.public_key)
    return Response(status_code=204)


@router.get(
    "/{name:path}",
    summary="Get a version by label (default production) or number",
    response_model=PromptVersionOut,
)
def get_prompt(
    request: Request,
    caller: Caller,
    name: str,
    label: str | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    with prompt_errors():
        found = lookup.get_version(
            server_state(request).engine, caller.project_id, name, label=label, version=version
        )
    return version_json(found)
