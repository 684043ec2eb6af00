"""The prompt playground: pick a version, fill its variables, run it on a provider, see the answer,
tokens, cost and latency, and open the trace the run was recorded as.

Everyone in the project sees the page; members and admins run (a run writes a trace and may spend
money on the configured endpoint). A run is one generation written through the server's normal write
path (priced with the project's catalogue, committed before the answer), with prompt_name/version set.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from contrail.analytics.cost import price_observations
from contrail.prompts import lookup, playground
from contrail.prompts.model import PromptNotFoundError, PromptVersion
from contrail.prompts.names import LATEST
from contrail.prompts.playground import PlaygroundError, RunResult
from contrail.server.state import project_prices, server_state, submit
from contrail.server.ui.session import SignedIn, UiError, signed_in
from contrail.server.ui.templating import is_htmx, render
from contrail.store.accounts import Action
from contrail.store.writer import WriteBatch

router = APIRouter(prefix="/playground")
Who = Annotated[SignedIn, Depends(signed_in)]
RUN: Action = "manage_keys"
PICKER_SIZE = 200


@router.get("")
async def playground_page(request: Request, who: Who, prompt: str = "", version: str = "") -> Response:
    project = who.require("read")
    if not prompt:
        engine = server_state(request).engine
        listed = await run_in_threadpool(lookup.list_prompts, engine, project.project_id, limit=PICKER_SIZE)
        return render(request, "playground.html", who, chosen=None, prompts=listed.items)
    chosen = await _version(request, project.project_id, prompt, version)
    return await _page(request, who, chosen, {})


@router.post("/run")
async def run_playground(request: Request, who: Who) -> Response:
    project = who.require(RUN)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    chosen = await _version(request, project.project_id, form.get("prompt", ""), form.get("version", ""))
    settings = server_state(request).settings
    enabled = {p.key for p in playground.providers(settings.playground_openai_base_url) if p.available}
    try:
        run = playground.parse_run(chosen, form, enabled=enabled)
        messages = playground.messages_for(chosen, run.values)
        key = settings.playground_openai_api_key
        endpoint = await run_in_threadpool(
            playground.endpoint_for,
            run.provider,
            settings.playground_openai_base_url,
            key.get_secret_value() if key else None,
        )
        result = await playground.call_model(
            endpoint, run, messages, timeout_s=settings.playground_timeout_seconds
        )
    except PlaygroundError as exc:
        # htmx swaps only 2xx answers; a plain form post gets the 422 it deserves.
        return await _outcome(
            request, who, chosen, form, problem=str(exc), status=200 if is_htmx(request) else 422
        )
    observation = playground.observation_for(chosen, run, messages, result, who.user.email)
    price_observations([observation], await project_prices(request, project.project_id))
    await submit(request, WriteBatch(project.project_id, [observation]), "playground")
    return await _outcome(
        request,
        who,
        chosen,
        form,
        result=result,
        cost=observation.cost.total,
        trace_id=observation.trace_id,
        provider=run.provider,
        status=201,
    )


async def _version(request: Request, project_id: str, name: str, version: str) -> PromptVersion:
    engine = server_state(request).engine
    number = version.strip()
    if number and (not number.isdigit() or len(number) > 9):
        raise UiError(404, f"Prompt {name!r} has no version {version!r}.")
    try:
        if number:
            return await run_in_threadpool(
                lambda: lookup.get_version(engine, project_id, name, version=int(number))
            )
        return await run_in_threadpool(lambda: lookup.get_version(engine, project_id, name, label=LATEST))
    except PromptNotFoundError as exc:
        raise UiError(404, str(exc)) from exc


async def _outcome(
    request: Request,
    who: SignedIn,
    chosen: PromptVersion,
    form: Mapping[str, str],
    *,
    status: int,
    problem: str | None = None,
    result: RunResult | None = None,
    cost: Decimal | None = None,
    trace_id: str | None = None,
    provider: str | None = None,
) -> Response:
    outcome = {"problem": problem, "result": result, "cost": cost, "trace_id": trace_id, "provider": provider}
    if is_htmx(request):
        return render(request, "playground_result.html", who, status=status, outcome=outcome)
    return await _page(request, who, chosen, form, outcome=outcome, status=status)


async def _page(
    request: Request,
    who: SignedIn,
    chosen: PromptVersion,
    form: Mapping[str, str],
    *,
    outcome: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    project = who.require("read")
    engine = server_state(request).engine
    versions = await run_in_threadpool(lookup.list_versions, engine, project.project_id, chosen.name)
    settings = server_state(request).settings
    return render(
        request,
        "playground.html",
        who,
        status=status,
        chosen=chosen,
        versions=versions,
        form=form,
        providers=playground.providers(settings.playground_openai_base_url),
        default_model=str(chosen.config.get("model") or playground.DEFAULT_MODEL),
        outcome=outcome,
    )
