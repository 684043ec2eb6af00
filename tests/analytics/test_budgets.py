"""Budgets: spend per UTC day and month, warning and crossed events once per period, one recorder."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert

from contrail.analytics import budgets
from contrail.server import alerts, webhooks
from contrail.store.database import open_engine, writing
from contrail.store.migrate import upgrade
from contrail.store.projects import create_project
from contrail.store.tables import observations

NOON = int(dt.datetime(2026, 6, 15, 12, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000
DAY_US = 86_400_000_000


@pytest.fixture(name="engine")
def engine_fixture(database_url: str) -> Iterator[Engine]:
    """A migrated engine on each backend (shared by the spike and webhook tests)."""
    engine = open_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _project(engine: Engine) -> str:
    return create_project(engine, f"budget-{uuid.uuid4().hex[:10]}").id


def spend_at(
    engine: Engine, project_id: str, start_us: int, usd: str, *, name: str = "chat", **extra: object
) -> None:
    """One priced observation (the columns the checks read)."""
    row = {
        "project_id": project_id,
        "trace_id": uuid.uuid4().hex,
        "span_id": uuid.uuid4().hex[:16],
        "name": name,
        "type": "generation",
        "start_us": start_us,
        "status": "ok",
        "level": "DEFAULT",
        "is_error": False,
        "total_cost_nanos": int(Decimal(usd) * 1_000_000_000),
        "ingested_us": start_us,
    } | extra
    with writing(engine).begin() as connection:
        connection.execute(insert(observations).values(**row))


def in_parallel(engine: Engine, n: int, task: Callable[[Engine], object]) -> None:
    """Run ``task`` at once on ``n`` threads, each with its own engine (as separate server processes)."""
    url = engine.url.render_as_string(hide_password=False)
    engines = [open_engine(url) for _ in range(n)]
    barrier = threading.Barrier(n)
    failures: list[BaseException] = []

    def run(other: Engine) -> None:
        barrier.wait()
        try:
            task(other)
        except BaseException as exc:  # collected: the assertion below names it
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in engines:
        other.dispose()
    assert failures == []


def test_period_bounds_are_utc_days_and_months() -> None:
    start, end = budgets.period_bounds("daily", NOON)
    assert (start, end) == (NOON - DAY_US // 2, NOON + DAY_US // 2)
    december = int(dt.datetime(2026, 12, 31, 23, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000
    start, end = budgets.period_bounds("monthly", december)
    assert start == int(dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000
    assert end == int(dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000


@pytest.mark.parametrize(
    "amount", ["-5", "0", "abc", "NaN", "Infinity", "1e30", "0.0000000001", True, None, [], float("inf"), -1]
)
def test_bad_amounts_are_refused(amount: object) -> None:
    with pytest.raises(budgets.BudgetError):
        budgets.check_amount(amount)


def test_set_replace_list_and_delete(engine: Engine) -> None:
    project_id = _project(engine)
    budgets.set_budget(engine, project_id, "daily", "10")
    budgets.set_budget(engine, project_id, "daily", 12.5)
    budgets.set_budget(engine, project_id, "monthly", "300", enabled=False)
    found = budgets.list_budgets(engine, project_id)
    assert [(b.period, b.amount_usd, b.enabled) for b in found] == [
        ("daily", Decimal("12.5"), True),
        ("monthly", Decimal(300), False),
    ]
    with pytest.raises(budgets.BudgetError):
        budgets.set_budget(engine, project_id, "weekly", "1")
    assert budgets.delete_budget(engine, project_id, "daily")
    assert not budgets.delete_budget(engine, project_id, "daily")
    assert budgets.list_budgets(engine, _project(engine)) == []  # another project sees none


def test_warning_then_crossed_once_per_period_and_amount(engine: Engine) -> None:
    project_id = _project(engine)
    other = _project(engine)
    budgets.set_budget(engine, project_id, "daily", "10")
    spend_at(engine, project_id, NOON - DAY_US, "50")  # yesterday: another period
    spend_at(engine, other, NOON, "50")  # another project
    spend_at(engine, project_id, NOON - 3600_000_000, "5")

    def kinds() -> list[str]:
        return sorted(e.kind for e in alerts.list_events(engine, project_id))

    [status] = [s for s in alerts.check_budgets(engine, NOON) if s.budget.project_id == project_id]
    assert (status.spend_usd, status.level) == (Decimal(5), "ok")
    assert kinds() == []
    spend_at(engine, project_id, NOON, "3.5")
    alerts.check_budgets(engine, NOON)
    alerts.check_budgets(engine, NOON + 1)
    assert kinds() == ["budget_warning"]
    spend_at(engine, project_id, NOON + 1, "2")
    alerts.check_budgets(engine, NOON + 2)
    alerts.check_budgets(engine, NOON + 3)
    assert kinds() == ["budget_crossed", "budget_warning"]
    crossed = alerts.list_events(engine, project_id, kind="budget_crossed")[0]
    assert crossed.details["spend_usd"] == "10.5" and crossed.details["percent"] == 105.0
    budgets.set_budget(engine, project_id, "daily", "20")  # raised: ok again, may alert again later
    [status] = [s for s in alerts.check_budgets(engine, NOON + 4) if s.budget.project_id == project_id]
    assert status.level == "ok"
    alerts.check_budgets(engine, NOON + DAY_US)  # the next day starts from zero
    assert kinds() == ["budget_crossed", "budget_warning"]


def test_monthly_budget_counts_the_whole_month(engine: Engine) -> None:
    project_id = _project(engine)
    budgets.set_budget(engine, project_id, "monthly", "100")
    for day in range(14):  # June 1..14, plus the 15th
        spend_at(engine, project_id, NOON - (day + 1) * DAY_US, "7")
    spend_at(engine, project_id, NOON, "2")
    spend_at(engine, project_id, NOON - 20 * DAY_US, "1000")  # May
    [status] = budgets.statuses(engine, NOON, project_id)
    assert (status.spend_usd, status.level) == (Decimal(100), "crossed")


def test_several_checkers_record_and_queue_one_event(engine: Engine) -> None:
    project_id = _project(engine)
    webhooks.create_webhook(engine, project_id, "http://127.0.0.1:9/hook", allow_private=True)
    budgets.set_budget(engine, project_id, "daily", "1")
    spend_at(engine, project_id, NOON, "2")
    in_parallel(engine, 4, lambda other: alerts.check_budgets(other, NOON))
    events = alerts.list_events(engine, project_id)
    assert [e.kind for e in events] == ["budget_crossed"]
    assert len(events[0].deliveries) == 1
