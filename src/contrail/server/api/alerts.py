"""Budgets, spike thresholds, webhooks and alert events of the calling project."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from contrail.analytics import budgets, spikes
from contrail.schema.timeconv import now_us, us_to_rfc3339
from contrail.server import alerts, webhooks
from contrail.server.auth import Principal
from contrail.server.errors import ERROR_RESPONSES, ApiError
from contrail.server.state import principal, server_state

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=ERROR_RESPONSES)

Caller = Annotated[Principal, Depends(principal)]


class BudgetIn(BaseModel):
    amount_usd: Any = Field(description='USD as a decimal string or number, e.g. "25.00"')
    enabled: bool = True


class SpikeSettingsIn(BaseModel):
    factor: Any = Field(default=3.0, description="An hour is a spike above factor x its trailing median")
    min_tokens: Any = Field(default=10_000, description="Smallest token count per hour worth an alert")
    min_cost_usd: Any = Field(default="1", description="Smallest cost per hour worth an alert (USD)")


class WebhookIn(BaseModel):
    url: str = Field(max_length=webhooks.MAX_URL_LENGTH, description="http:// or https:// URL")


def checker(request: Request) -> alerts.AlertChecker:
    found: alerts.AlertChecker = request.app.state.contrail_alerts
    return found


@router.get("/budgets", summary="The project's budgets with this period's spend")
def list_budgets(request: Request, caller: Caller) -> dict[str, Any]:
    engine = server_state(request).engine
    current = {s.budget.period: s for s in budgets.statuses(engine, now_us(), caller.project_id)}
    data = []
    for budget in budgets.list_budgets(engine, caller.project_id):
        row: dict[str, Any] = {"period": budget.period, "amount_usd": str(budget.amount_usd)}
        row |= {"enabled": budget.enabled, "timezone": budget.timezone}
        status = current.get(budget.period)
        row |= alerts.budget_summary(status) if status else {"spend_usd": None, "level": None}
        data.append(row)
    return {"data": data}


@router.put("/budgets/{period}", summary="Set the daily or monthly budget")
def put_budget(request: Request, caller: Caller, period: str, body: BudgetIn) -> dict[str, Any]:
    try:
        budget = budgets.set_budget(
            server_state(request).engine, caller.project_id, period, body.amount_usd, enabled=body.enabled
        )
    except budgets.BudgetError as exc:
        raise ApiError(422, "invalid_budget", str(exc)) from exc
    checker(request).wake()
    return {"period": budget.period, "amount_usd": str(budget.amount_usd), "enabled": budget.enabled}


@router.delete("/budgets/{period}", status_code=204, summary="Remove the daily or monthly budget")
def delete_budget(request: Request, caller: Caller, period: str) -> Response:
    try:
        found = budgets.delete_budget(server_state(request).engine, caller.project_id, period)
    except budgets.BudgetError as exc:
        raise ApiError(422, "invalid_budget", str(exc)) from exc
    if not found:
        raise ApiError(404, "not_found", f"This project has no {period} budget.")
    checker(request).wake()
    return Response(status_code=204)


@router.get("/alerts/settings", summary="Spike detection thresholds")
def get_spike_settings(request: Request, caller: Caller) -> dict[str, Any]:
    return _settings_dict(spikes.get_settings(server_state(request).engine, caller.project_id))


@router.put("/alerts/settings", summary="Set spike detection thresholds")
def put_spike_settings(request: Request, caller: Caller, body: SpikeSettingsIn) -> dict[str, Any]:
    try:
        checked = spikes.check_settings(body.factor, body.min_tokens, body.min_cost_usd)
    except spikes.SpikeSettingsError as exc:
        raise ApiError(422, "invalid_settings", str(exc)) from exc
    return _settings_dict(spikes.set_settings(server_state(request).engine, caller.project_id, checked))


@router.get("/alerts", summary="Recent alert events with their webhook deliveries, newest first")
def list_alerts(
    request: Request,
    caller: Caller,
    kind: Annotated[str | None, Query(description=", ".join(alerts.KINDS))] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    if kind is not None and kind not in alerts.KINDS:
        raise ApiError(422, "invalid_parameters", f"kind must be one of {', '.join(alerts.KINDS)}.")
    events = alerts.list_events(server_state(request).engine, caller.project_id, kind=kind, limit=limit)
    return {"data": [event_dict(e) for e in events]}


@router.post("/webhooks", status_code=201, summary="Register a webhook; the answer holds its secret, once")
def create_webhook(request: Request, caller: Caller, body: WebhookIn) -> dict[str, Any]:
    state = server_state(request)
    try:
        issued = webhooks.create_webhook(
            state.engine, caller.project_id, body.url, allow_private=state.settings.webhook_allow_private
        )
    except webhooks.WebhookError as exc:
        raise ApiError(422, "invalid_webhook", str(exc)) from exc
    return webhook_dict(issued.webhook) | {"secret": issued.secret}


@router.get("/webhooks", summary="The project's webhooks (secrets are never shown again)")
def list_webhooks(request: Request, caller: Caller) -> dict[str, Any]:
    found = webhooks.list_webhooks(server_state(request).engine, caller.project_id)
    return {"data": [webhook_dict(w) for w in found]}


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Remove a webhook and its deliveries")
def delete_webhook(request: Request, caller: Caller, webhook_id: str) -> Response:
    if not webhooks.delete_webhook(server_state(request).engine, caller.project_id, webhook_id):
        raise ApiError(404, "not_found", "This project has no such webhook.")
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/test", status_code=202, summary="Send a test event to one webhook")
def test_webhook(request: Request, caller: Caller, webhook_id: str) -> dict[str, Any]:
    event_id = alerts.send_test_event(server_state(request).engine, caller.project_id, webhook_id, now_us())
    if event_id is None:
        raise ApiError(404, "not_found", "This project has no such webhook.")
    checker(request).wake()
    return {"event_id": event_id}


def webhook_dict(webhook: webhooks.Webhook) -> dict[str, Any]:
    out = dataclasses.asdict(webhook)
    out["created"] = us_to_rfc3339(out.pop("created_us"))
    out.pop("project_id")
    return out


def event_dict(event: alerts.AlertEvent) -> dict[str, Any]:
    deliveries = []
    for delivery in event.deliveries:
        row = dataclasses.asdict(delivery)
        row["next_attempt"] = (
            us_to_rfc3339(row.pop("next_attempt_us")) if delivery.status == "pending" else None
        )
        deliveries.append(row)
    return {
        "id": event.id,
        "kind": event.kind,
        "created": us_to_rfc3339(event.created_us),
        "details": event.details,
        "deliveries": deliveries,
    }


def _settings_dict(settings: spikes.SpikeSettings) -> dict[str, Any]:
    return {
        "factor": settings.factor,
        "min_tokens": settings.min_tokens,
        "min_cost_usd": str(settings.min_cost_usd),
    }
