"""Datasets: create, list, delete; upsert, archive and read items (any version); JSONL/CSV import and
export; items from production traces. The contract is docs/datasets.md."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import Scope

from contrail.evals import dataset_files, datasets
from contrail.server.api.ingest import read_json
from contrail.server.api.params import MAX_PAGE, cursor_errors, filter_params
from contrail.server.auth import Principal
from contrail.server.body import read_body
from contrail.server.errors import ERROR_RESPONSES, ApiError
from contrail.server.state import principal, server_state

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# Inside a path segment, an encoded "/" (a dataset name's) becomes this until the route has matched.
_SLASH = "\x1f"


class EncodedSlashRoute(APIRoute):
    """Matches on the raw path, so a name sent as ``team%2Fqa`` stays one path parameter."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raw = scope.get("raw_path")
        if scope["type"] != "http" or not raw:
            return super().matches(scope)
        path = "/".join(unquote(s).replace("/", _SLASH) for s in raw.decode("latin-1").split("/"))
        match, child = super().matches({**scope, "path": path})
        if match != Match.NONE:
            params = child.get("path_params", {})
            child["path_params"] = {k: v.replace(_SLASH, "/") for k, v in params.items()}
        return match, child


router = APIRouter(
    prefix="/api/v1", tags=["datasets"], responses=ERROR_RESPONSES, route_class=EncodedSlashRoute
)

Caller = Annotated[Principal, Depends(principal)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
_ERROR_STATUS = {"not_found": (404, "not_found"), "conflict": (409, "conflict"), "invalid": (422, "invalid")}


class DatasetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] | None = None


class TraceFilterIn(BaseModel):
    """The query parameters of GET /api/v1/traces, as JSON."""

    model_config = ConfigDict(extra="forbid")
    from_time: str | None = None
    to_time: str | None = None
    name: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    tag: list[str] | None = None
    environment: str | None = None
    release: str | None = None
    model: str | None = None
    error: bool | None = None
    min_latency_ms: float | None = Field(default=None, ge=0)
    max_latency_ms: float | None = Field(default=None, ge=0)
    min_cost: str | Decimal | None = None
    max_cost: str | Decimal | None = None
    metadata: list[str] | None = None
    q: str | None = None


class FromTracesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trace_ids: list[str] | None = Field(default=None, min_length=1, max_length=datasets.MAX_FROM_TRACES)
    filter: TraceFilterIn | None = None
    limit: int = Field(default=1000, ge=1, le=datasets.MAX_FROM_TRACES)
    use: Literal["trace", "root_span"] = "trace"


async def json_body(request: Request, model: type[M]) -> M:
    """The JSON body (size-limited, 400 if not JSON) validated as ``model`` (422 naming each field)."""
    payload = await read_json(request)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        details = [{"loc": list(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise ApiError(422, "invalid_parameters", "The request body is invalid.", details) from exc


async def call(request: Request, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking store function on the thread pool; its refusals become error envelopes."""
    state = server_state(request)
    try:
        with cursor_errors():
            return await run_in_threadpool(function, state.engine, *args, **kwargs)
    except datasets.DatasetError as exc:
        status, code = _ERROR_STATUS[exc.kind]
        raise ApiError(status, code, exc.message, exc.details) from exc
    except dataset_files.ItemsError as exc:
        raise ApiError(422, "invalid_items", str(exc), exc.details()) from exc
    except dataset_files.TooManyItemsError as exc:
        raise ApiError(413, "payload_too_large", str(exc)) from exc


@router.post("/datasets", status_code=201, summary="Create a dataset")
async def create_dataset(request: Request, caller: Caller) -> dict[str, Any]:
    body = await json_body(request, DatasetIn)
    return await call(
        request, datasets.create_dataset, caller.project_id, body.name, body.description, body.metadata
    )


@router.get("/datasets", summary="List datasets by name")
async def list_datasets(
    request: Request, caller: Caller, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    page = await call(request, datasets.list_datasets, caller.project_id, limit=limit, cursor=cursor)
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get("/datasets/{name}", summary="One dataset (URL-encode a / in its name)")
async def get_dataset(request: Request, caller: Caller, name: str) -> dict[str, Any]:
    return await call(request, datasets.get_dataset, caller.project_id, name)


@router.delete("/datasets/{name}", status_code=204, summary="Delete a dataset (soft)")
async def delete_dataset(request: Request, caller: Caller, name: str) -> Response:
    await call(request, datasets.delete_dataset, caller.project_id, name)
    return Response(status_code=204)


@router.post("/datasets/{name}/items", summary="Add or update items (a new version when anything changes)")
async def upsert_items(request: Request, caller: Caller, name: str) -> dict[str, Any]:
    payload = await read_json(request)
    if not isinstance(payload, dict) or set(payload) != {"items"}:
        raise ApiError(422, "invalid_parameters", 'The body must be {"items": [...]}.')
    if isinstance(payload["items"], list) and len(payload["items"]) > dataset_files.MAX_ITEMS_PER_REQUEST:
        raise ApiError(413, "payload_too_large", str(dataset_files.TooManyItemsError(len(payload["items"]))))
    result = await call(request, _validated_upsert, caller.project_id, name, payload["items"])
    return result.as_dict()


def _validated_upsert(engine: Any, project_id: str, name: str, raw: Any) -> datasets.UpsertResult:
    return datasets.upsert_items(engine, project_id, name, dataset_files.items_from_list(raw))


@router.post("/datasets/{name}/import", summary="Import a JSONL or CSV file (all lines or none)")
async def import_file(
    request: Request, caller: Caller, name: str, format: Literal["jsonl", "csv"] = "jsonl"
) -> dict[str, Any]:
    settings = server_state(request).settings
    data = await read_body(
        request, max_bytes=settings.max_request_bytes, max_decompressed_bytes=settings.max_decompressed_bytes
    )
    result = await call(request, _imported, caller.project_id, name, data, format)
    return result.as_dict()


def _imported(engine: Any, project_id: str, name: str, data: bytes, fmt: str) -> datasets.UpsertResult:
    datasets.get_dataset(engine, project_id, name)  # 404 before reporting the file's errors
    return datasets.upsert_items(engine, project_id, name, dataset_files.parse_file(data, fmt))


@router.get("/datasets/{name}/export", summary="Export a version as JSONL or CSV")
async def export_file(
    request: Request,
    caller: Caller,
    name: str,
    format: Literal["jsonl", "csv"] = "jsonl",
    version: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    dataset = await call(request, datasets.get_dataset, caller.project_id, name)
    if version is not None and version > dataset["version"]:
        raise ApiError(
            422, "invalid", f"Dataset {name!r} is at version {dataset['version']}; no version {version}."
        )
    pinned = dataset["version"] if version is None else version
    items = datasets.iter_items(server_state(request).engine, caller.project_id, name, pinned)
    lines = dataset_files.jsonl_lines(items) if format == "jsonl" else dataset_files.csv_lines(items)
    filename = f"{name.replace('/', '_')}-v{pinned}.{format}"
    return StreamingResponse(
        _chunked(lines),
        media_type="text/plain; charset=utf-8" if format == "jsonl" else "text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _chunked(lines: Iterator[str], size: int = 64 * 1024) -> Iterator[bytes]:
    buffer: list[str] = []
    held = 0
    for line in lines:
        buffer.append(line)
        held += len(line)
        if held >= size:
            yield "".join(buffer).encode()
            buffer, held = [], 0
    if buffer:
        yield "".join(buffer).encode()


@router.post("/datasets/{name}/items/from-traces", summary="Add items from production traces")
async def items_from_traces(request: Request, caller: Caller, name: str) -> dict[str, Any]:
    body = await json_body(request, FromTracesIn)
    if body.trace_ids is None and body.filter is None:
        raise ApiError(422, "invalid_parameters", "Give trace_ids or a filter.")
    if body.trace_ids is not None and body.filter is not None:
        raise ApiError(422, "invalid_parameters", "Give trace_ids or a filter, not both.")
    flt = None
    if body.filter is not None:
        values = body.filter.model_dump()
        values["min_cost"] = None if values["min_cost"] is None else str(values["min_cost"])
        values["max_cost"] = None if values["max_cost"] is None else str(values["max_cost"])
        flt = filter_params(**values)
    result = await call(
        request,
        datasets.items_from_traces,
        caller.project_id,
        name,
        trace_ids=body.trace_ids,
        flt=flt,
        limit=body.limit,
        use=body.use,
    )
    return result.as_dict()


@router.get("/datasets/{name}/items", summary="Items as of a version (default: the latest)")
async def list_items(
    request: Request,
    caller: Caller,
    name: str,
    version: Annotated[int | None, Query(ge=0)] = None,
    status: Literal["active", "archived", "all"] = "active",
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    page = await call(
        request,
        datasets.list_items,
        caller.project_id,
        name,
        version=version,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get("/datasets/{name}/items/{item_id}", summary="One item (its latest contents)")
async def get_item(request: Request, caller: Caller, name: str, item_id: str) -> dict[str, Any]:
    return await call(request, datasets.get_item, caller.project_id, name, item_id)


@router.get("/datasets/{name}/items/{item_id}/history", summary="Every version of an item, newest first")
async def item_history(request: Request, caller: Caller, name: str, item_id: str) -> dict[str, Any]:
    rows = await call(request, datasets.item_history, caller.project_id, name, item_id)
    return {"data": rows, "next_cursor": None}


@router.delete("/datasets/{name}/items/{item_id}", status_code=204, summary="Archive an item (a new version)")
async def archive_item(request: Request, caller: Caller, name: str, item_id: str) -> Response:
    await call(request, datasets.archive_item, caller.project_id, name, item_id)
    return Response(status_code=204)
