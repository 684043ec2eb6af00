"""Settings → Prices: the project's price overrides, a model-match lookup, and importing a price file.

Viewers see the overrides and look up matches; members and admins import files and delete entries
(the ``manage_keys`` level, as for API keys). Forms carry the session's CSRF token like every other.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from contrail.analytics import overrides
from contrail.analytics.price_file import MAX_FILE_BYTES, PriceFileError
from contrail.server.state import project_prices, server_state
from contrail.server.ui.session import SignedIn, UiError, signed_in
from contrail.server.ui.templating import render

router = APIRouter(prefix="/settings/prices")
Who = Annotated[SignedIn, Depends(signed_in)]


@router.get("")
async def prices_page(request: Request, who: Who, model: str = "", provider: str = "") -> Response:
    return await _page(request, who, model=model.strip()[:256], provider=provider.strip()[:100])


@router.post("")
async def import_prices(
    request: Request,
    who: Who,
    document: Annotated[str, Form(max_length=MAX_FILE_BYTES)] = "",
    upload: Annotated[UploadFile | None, File()] = None,
) -> Response:
    project = who.require("manage_keys")
    raw: bytes = document.encode()
    if upload is not None and upload.filename:
        raw = await upload.read(MAX_FILE_BYTES + 1)
    if not raw.strip():
        return await _page(request, who, status=422, problems=["Paste a price document or choose a file."])
    if len(raw) > MAX_FILE_BYTES:
        return await _page(request, who, status=422, problems=["The file is larger than 10 MB."])
    engine = server_state(request).engine
    try:
        parsed = overrides.parse_document_text(raw, origin="the document")
        result = await run_in_threadpool(overrides.put_overrides, engine, project.project_id, parsed)
    except PriceFileError as exc:
        return await _page(request, who, status=422, problems=exc.problems)
    server_state(request).prices.invalidate(project.project_id)
    message = f"Imported: {len(result.added)} added, {len(result.replaced)} replaced."
    return await _page(request, who, status=201, message=message)


@router.post("/{provider}/{model:path}/delete")
def delete_price(request: Request, who: Who, provider: str, model: str) -> Response:
    project = who.require("manage_keys")
    state = server_state(request)
    try:
        overrides.delete_override(state.engine, project.project_id, provider, model)
    except overrides.OverrideNotFound as exc:
        raise UiError(404, str(exc)) from exc
    state.prices.invalidate(project.project_id)
    return RedirectResponse(f"/settings/prices?project={project.project_id}", status_code=303)


async def _page(
    request: Request,
    who: Who,
    *,
    status: int = 200,
    model: str = "",
    provider: str = "",
    problems: list[str] | None = None,
    message: str | None = None,
) -> Response:
    project = who.require("read")
    engine = server_state(request).engine
    listed = await run_in_threadpool(overrides.effective_prices, engine, project.project_id)
    match: dict[str, Any] | None = None
    if model:
        catalogue = await project_prices(request, project.project_id)
        match = overrides.explain_match(catalogue, model, provider or None, None)
    return render(
        request,
        "settings_prices.html",
        who,
        status=status,
        overrides=listed["overrides"],
        model=model,
        provider=provider,
        match=match,
        problems=problems or [],
        message=message,
    )
