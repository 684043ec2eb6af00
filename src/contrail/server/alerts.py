"""Alert events and the background checker that raises them and sends their webhooks.

An event is recorded at most once per (project, kind, dedupe key) whatever the number of server
processes: the insert that loses the unique constraint does nothing, and only the winner queues the
event's deliveries. The checker thread evaluates budgets every ``alert_check_seconds``, spikes once
per hour, and sends due webhook deliveries every second (or at once when woken). It keeps the last
budget levels in memory so the UI's banner costs no query per page view.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from contrail.analytics import budgets, spikes
from contrail.schema.ids import uuid7
from contrail.schema.timeconv import now_us, us_to_rfc3339
from contrail.server import webhooks
from contrail.server.settings import Settings
from contrail.store.alert_tables import alert_events, webhook_deliveries
from contrail.store.alert_tables import webhooks as webhook_table
from contrail.store.database import writing
from contrail.store.tables import projects

logger = logging.getLogger(__name__)

KINDS = ("budget_warning", "budget_crossed", "spike", "test")
_DELIVER_EVERY_S = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    webhook_id: str
    status: str
    attempts: int
    next_attempt_us: int
    response_code: int | None
    last_error: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class AlertEvent:
    id: str
    project_id: str
    kind: str
    dedupe_key: str
    period_start_us: int | None
    details: dict[str, Any]
    created_us: int
    deliveries: list[Delivery]


def record_event(
    engine: Engine,
    project_id: str,
    kind: str,
    dedupe_key: str,
    details: dict[str, Any],
    *,
    at_us: int,
    period_start_us: int | None = None,
    webhook_id: str | None = None,
) -> str | None:
    """Record an event and queue its deliveries (to ``webhook_id`` only, when given).

    Returns the new event's id, or None when this (project, kind, dedupe key) was already recorded.
    """
    event_id = uuid7()
    row = {
        "id": event_id,
        "project_id": project_id,
        "kind": kind,
        "dedupe_key": dedupe_key[:200],
        "period_start_us": period_start_us,
        "details": orjson.dumps(details).decode(),
        "created_us": at_us,
    }
    with writing(engine).begin() as connection:
        if not _insert_once(connection, row):
            return None
        targets = select(webhook_table.c.id).where(
            webhook_table.c.project_id == project_id, webhook_table.c.enabled.is_(True)
        )
        if webhook_id is not None:
            targets = targets.where(webhook_table.c.id == webhook_id)
        for (target,) in connection.execute(targets).all():
            connection.execute(
                webhook_deliveries.insert().values(**_new_delivery(event_id, target, project_id, at_us))
            )
    return event_id


def _insert_once(connection: Connection, row: dict[str, Any]) -> bool:
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = (
        dialect_insert(alert_events)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["project_id", "kind", "dedupe_key"])
        .returning(alert_events.c.id)
    )
    # RETURNING, not rowcount: psycopg reports -1 rows for a skipped INSERT ... ON CONFLICT.
    return connection.execute(statement).first() is not None


def _new_delivery(event_id: str, webhook_id: str, project_id: str, at_us: int) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "project_id": project_id,
        "event_id": event_id,
        "webhook_id": webhook_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_us": at_us,
        "created_us": at_us,
        "updated_us": at_us,
    }


def list_events(
    engine: Engine, project_id: str, *, kind: str | None = None, limit: int = 50
) -> list[AlertEvent]:
    """The project's newest events, each with its deliveries."""
    query = select(alert_events).where(alert_events.c.project_id == project_id)
    if kind is not None:
        query = query.where(alert_events.c.kind == kind)
    with engine.connect() as connection:
        rows = connection.execute(
            query.order_by(alert_events.c.created_us.desc(), alert_events.c.id.desc()).limit(limit)
        ).all()
        deliveries = _deliveries(connection, project_id, [r.id for r in rows])
    return [
        AlertEvent(
            r.id,
            r.project_id,
            r.kind,
            r.dedupe_key,
            r.period_start_us,
            orjson.loads(r.details),
            r.created_us,
            deliveries.get(r.id, []),
        )
        for r in rows
    ]


def _deliveries(connection: Connection, project_id: str, event_ids: list[str]) -> dict[str, list[Delivery]]:
    if not event_ids:
        return {}
    c = webhook_deliveries.c
    rows = connection.execute(
        select(
            c.event_id,
            c.id,
            c.webhook_id,
            c.status,
            c.attempts,
            c.next_attempt_us,
            c.response_code,
            c.last_error,
        )
        .where(c.project_id == project_id, c.event_id.in_(event_ids))
        .order_by(c.id)
    ).all()
    found: dict[str, list[Delivery]] = {}
    for r in rows:
        found.setdefault(r.event_id, []).append(Delivery(*r[1:]))
    return found


def send_test_event(engine: Engine, project_id: str, webhook_id: str, at_us: int) -> str | None:
    """Queue a ``test`` event for one webhook; None when the project has no such webhook."""
    if webhooks.get_webhook(engine, project_id, webhook_id) is None:
        return None
    details = {"message": "A test event from Contrail: your webhook receives and verifies alerts."}
    return record_event(engine, project_id, "test", uuid7(), details, at_us=at_us, webhook_id=webhook_id)


def check_budgets(engine: Engine, at_us: int) -> list[budgets.BudgetStatus]:
    """Record a warning or crossed event for each budget that reached a level; returns every status."""
    found = budgets.statuses(engine, at_us)
    for status in found:
        if status.level == "ok":
            continue
        budget = status.budget
        start = us_to_rfc3339(status.period_start_us) or ""
        details = {
            "period": budget.period,
            "period_start": start,
            "amount_usd": str(budget.amount_usd),
            "spend_usd": str(status.spend_usd),
            "percent": float(round(status.fraction * 100, 1)),
        }
        key = f"{budget.period}:{start}:{budget.amount_usd}"
        kind = f"budget_{status.level}"
        record_event(
            engine, budget.project_id, kind, key, details, at_us=at_us, period_start_us=status.period_start_us
        )
    return found


def check_spikes(engine: Engine, at_us: int) -> int:
    """Record an event per spike in the last complete hour, for every project; returns how many were new."""
    with engine.connect() as connection:
        project_ids = list(connection.execute(select(projects.c.id)).scalars())
    recorded = 0
    for project_id in project_ids:
        for spike in spikes.find_spikes(engine, project_id, at_us):
            hour = us_to_rfc3339(spike.hour_us) or ""
            key = f"{hour}:{spike.model or ''}:{spike.name}"
            if record_event(
                engine,
                project_id,
                "spike",
                key,
                _spike_details(spike),
                at_us=at_us,
                period_start_us=spike.hour_us,
            ):
                recorded += 1
    return recorded


def _spike_details(spike: spikes.Spike) -> dict[str, Any]:
    return {
        "hour": us_to_rfc3339(spike.hour_us),
        "name": spike.name,
        "model": spike.model,
        "metrics": list(spike.metrics),
        "tokens": spike.tokens,
        "cost_usd": str(spike.cost_usd),
        "median_tokens": spike.median_tokens,
        "median_cost_usd": str(spike.median_cost_usd),
        "factor": spike.factor,
        "history_hours": spike.history_hours,
    }


def policy_from(settings: Settings) -> webhooks.DeliveryPolicy:
    public_url = settings.public_url or f"http://{settings.bind_host}:{settings.port}"
    return webhooks.DeliveryPolicy(
        max_attempts=settings.webhook_max_attempts,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private,
        public_url=public_url,
    )


class AlertChecker:
    """The server's background alert thread (one per process; the database keeps them consistent)."""

    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], int] = now_us) -> None:
        self._engine = engine
        self._interval_s = settings.alert_check_seconds
        self.policy = policy_from(settings)
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._levels: dict[str, list[budgets.BudgetStatus]] = {}
        self._spikes_hour: int | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="contrail-alerts", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def wake(self) -> None:
        """Check budgets and send due deliveries now (after a budget or webhook changed)."""
        self._wake.set()

    def banner(self, project_id: str) -> list[budgets.BudgetStatus]:
        """The project's budgets at warning or crossed level, as of the last check (no query)."""
        return [s for s in self._levels.get(project_id, []) if s.level != "ok"]

    def _run(self) -> None:
        next_check = 0.0
        with httpx.Client(follow_redirects=False) as client:
            while not self._stop.is_set():
                woken = self._wake.is_set()
                self._wake.clear()
                if woken or time.monotonic() >= next_check:
                    self._safely(self._check)
                    next_check = time.monotonic() + self._interval_s
                self._safely(lambda: webhooks.deliver_due(self._engine, client, self.policy, self._clock()))
                self._wake.wait(min(_DELIVER_EVERY_S, self._interval_s))

    def _check(self) -> None:
        at = self._clock()
        levels: dict[str, list[budgets.BudgetStatus]] = {}
        for status in check_budgets(self._engine, at):
            levels.setdefault(status.budget.project_id, []).append(status)
        self._levels = levels
        hour = spikes.last_complete_hour(at)
        if hour != self._spikes_hour:
            check_spikes(self._engine, at)
            self._spikes_hour = hour

    @staticmethod
    def _safely(task: Callable[[], object]) -> None:
        try:
            task()
        except Exception:
            # The alert thread must outlive a database hiccup; the next round tries again.
            logger.warning("Alert check or webhook delivery failed; will retry", exc_info=True)


def budget_summary(status: budgets.BudgetStatus) -> dict[str, Any]:
    """A budget and its current period as the API shows it."""
    return {
        "period": status.budget.period,
        "amount_usd": str(status.budget.amount_usd),
        "spend_usd": str(status.spend_usd),
        "percent": float(round(status.fraction * 100, 1)),
        "level": status.level,
        "period_start": us_to_rfc3339(status.period_start_us),
    }
