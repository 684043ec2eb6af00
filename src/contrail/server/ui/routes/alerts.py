"""Settings · Budgets & alerts: budgets, spike thresholds, webhooks, recent alerts and deliveries.

Everyone in the project reads; only admins change budgets and webhooks (a webhook sends project data
to a URL of their choosing). The budget banner of every page reads the alert checker's memory.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from contrail.analytics import budgets, spikes
from contrail.analytics.budgets import BudgetStatus
from contrail.schema.timeconv import now_us
from contrail.server import alerts, webhooks
from contrail.server.state import server_state
from contrail.server.ui.session import SignedIn, UiError, signed_in
from contrail.server.ui.templating import render
from contrail.store.accounts import Action

router = APIRouter(prefix="/settings/alerts")
Who = Annotated[SignedIn, Depends(signed_in)]
_MANAGE: Action = "manage_members"


def budget_banner(request: Request, project_id: str) -> list[BudgetStatus]:
    """The project's budgets at 80% or more, as of the checker's last round (no query)."""
    checker: alerts.AlertChecker | None = getattr(request.app.state, "contrail_alerts", None)
    return checker.banner(project_id) if checker is not None else []


@router.get("")
def alerts_page(request: Request, who: Who) -> Response:
    return _page(request, who)


@router.get("/spikes")
def spikes_fragment(request: Request, who: Who) -> Response:
    project = who.require("read")
    found = alerts.list_events(server_state(request).engine, project.project_id, kind="spike", limit=20)
    return render(request, "_alerts.html", who, spikes=found)


@router.post("/budgets/{period}")
def save_budget(
    request: Request,
    who: Who,
    period: str,
    amount_usd: Annotated[str, Form(max_length=60)],
    enabled: Annotated[str | None, Form()] = None,
) -> Response:
    project = who.require(_MANAGE)
    try:
        budgets.set_budget(
            server_state(request).engine, project.project_id, period, amount_usd, enabled=enabled is not None
        )
    except budgets.BudgetError as exc:
        return _page(request, who, error=str(exc), status=422)
    _wake(request)
    return _back(project.project_id)


@router.post("/budgets/{period}/delete")
def remove_budget(request: Request, who: Who, period: str) -> Response:
    project = who.require(_MANAGE)
    try:
        budgets.delete_budget(server_state(request).engine, project.project_id, period)
    except budgets.BudgetError as exc:
        raise UiError(404, str(exc)) from exc
    _wake(request)
    return _back(project.project_id)


@router.post("/spike-settings")
def save_spike_settings(
    request: Request,
    who: Who,
    factor: Annotated[str, Form(max_length=30)],
    min_tokens: Annotated[str, Form(max_length=30)],
    min_cost_usd: Annotated[str, Form(max_length=60)],
) -> Response:
    project = who.require(_MANAGE)
    try:
        checked = spikes.check_settings(_number(factor, float), _number(min_tokens, int), min_cost_usd)
    except spikes.SpikeSettingsError as exc:
        return _page(request, who, error=str(exc), status=422)
    spikes.set_settings(server_state(request).engine, project.project_id, checked)
    return _back(project.project_id)


@router.post("/webhooks")
def add_webhook(request: Request, who: Who, url: Annotated[str, Form(max_length=4000)]) -> Response:
    project = who.require(_MANAGE)
    state = server_state(request)
    try:
        issued = webhooks.create_webhook(
            state.engine, project.project_id, url, allow_private=state.settings.webhook_allow_private
        )
    except webhooks.WebhookError as exc:
        return _page(request, who, error=str(exc), status=422)
    return _page(request, who, issued=issued, status=201)


@router.post("/webhooks/{webhook_id}/test")
def test_webhook(request: Request, who: Who, webhook_id: str) -> Response:
    project = who.require(_MANAGE)
    if alerts.send_test_event(server_state(request).engine, project.project_id, webhook_id, now_us()) is None:
        raise UiError(404, "This project has no such webhook.")
    _wake(request)
    return _back(project.project_id)


@router.post("/webhooks/{webhook_id}/delete")
def remove_webhook(request: Request, who: Who, webhook_id: str) -> Response:
    project = who.require(_MANAGE)
    if not webhooks.delete_webhook(server_state(request).engine, project.project_id, webhook_id):
        raise UiError(404, "This project has no such webhook.")
    return _back(project.project_id)


def _page(
    request: Request,
    who: Who,
    *,
    error: str | None = None,
    issued: webhooks.IssuedWebhook | None = None,
    status: int = 200,
) -> Response:
    project = who.require("read")
    engine = server_state(request).engine
    return render(
        request,
        "settings_alerts.html",
        who,
        status=status,
        error=error,
        issued=issued,
        budgets={b.period: b for b in budgets.list_budgets(engine, project.project_id)},
        current={s.budget.period: s for s in budgets.statuses(engine, now_us(), project.project_id)},
        spike_settings=spikes.get_settings(engine, project.project_id),
        hooks=webhooks.list_webhooks(engine, project.project_id),
        events=alerts.list_events(engine, project.project_id, limit=30),
        periods=budgets.PERIODS,
    )


def _number(text: str, kind: type[float] | type[int]) -> object:
    try:
        return kind(text.strip())
    except ValueError:
        return text  # check_settings names the field and the expected form


def _wake(request: Request) -> None:
    checker: alerts.AlertChecker | None = getattr(request.app.state, "contrail_alerts", None)
    if checker is not None:
        checker.wake()


def _back(project_id: str) -> RedirectResponse:
    return RedirectResponse(f"/settings/alerts?project={project_id}", status_code=303)
