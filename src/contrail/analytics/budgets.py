"""Per-project cost budgets: daily and monthly amounts in USD, and how much of each is spent.

Periods are UTC calendar days and months. Spend is the exact sum of the observations' stored cost
whose start falls in the period (the ``(project_id, start_us)`` index bounds the scan). A budget
reaches two levels: ``warning`` at 80% and ``crossed`` at 100%; each level is one alert event per
period and amount, so raising a crossed budget lets it alert again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Literal

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from contrail.schema.timeconv import now_us
from contrail.store.alert_tables import budgets
from contrail.store.database import writing
from contrail.store.tables import observations
from contrail.store.types import nanos_to_usd, usd_to_nanos

Period = Literal["daily", "monthly"]
Level = Literal["ok", "warning", "crossed"]
PERIODS: tuple[Period, ...] = ("daily", "monthly")
WARNING_FRACTION = Decimal("0.8")
# A billion dollars a day is no budget anyone means; it also keeps nano-dollars inside 64 bits.
MAX_BUDGET_USD = Decimal(1_000_000_000)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class BudgetError(ValueError):
    """A budget that cannot be set as asked; the message says what to change."""


@dataclasses.dataclass(frozen=True, slots=True)
class Budget:
    project_id: str
    period: Period
    amount_usd: Decimal
    timezone: str
    enabled: bool
    updated_us: int


@dataclasses.dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A budget in its current period: what is spent and which level that reaches."""

    budget: Budget
    period_start_us: int
    spend_usd: Decimal

    @property
    def fraction(self) -> Decimal:
        return self.spend_usd / self.budget.amount_usd

    @property
    def level(self) -> Level:
        if self.fraction >= 1:
            return "crossed"
        return "warning" if self.fraction >= WARNING_FRACTION else "ok"


def check_period(period: str) -> Period:
    for known in PERIODS:
        if period == known:
            return known
    raise BudgetError(f"Unknown budget period {period!r}: use daily or monthly.")


def check_amount(value: object) -> Decimal:
    """A positive, finite USD amount up to MAX_BUDGET_USD (strings, ints or floats); else BudgetError."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise BudgetError('amount_usd must be a decimal number of USD, e.g. "25.00".')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise BudgetError(f"amount_usd {str(value)[:40]!r} is not a decimal number of USD.") from exc
    if not amount.is_finite() or amount <= 0:
        raise BudgetError("amount_usd must be a finite amount above zero.")
    if amount > MAX_BUDGET_USD:
        raise BudgetError(f"amount_usd must be at most {MAX_BUDGET_USD:,} USD.")
    if usd_to_nanos(amount) == 0:
        raise BudgetError("amount_usd is below one nano-dollar.")
    return amount


def list_budgets(engine: Engine, project_id: str) -> list[Budget]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(budgets).where(budgets.c.project_id == project_id).order_by(budgets.c.period)
        ).all()
    return [_budget(row) for row in rows]


def set_budget(
    engine: Engine, project_id: str, period: str, amount: object, *, enabled: bool = True
) -> Budget:
    """Create or replace the project's budget for ``period``; raises BudgetError on bad input."""
    checked_period, checked_amount = check_period(period), check_amount(amount)
    values = {"amount_nanos": usd_to_nanos(checked_amount), "enabled": enabled, "updated_us": now_us()}
    key = (budgets.c.project_id == project_id) & (budgets.c.period == checked_period)
    with writing(engine).begin() as connection:
        if not connection.execute(update(budgets).where(key).values(**values)).rowcount:
            connection.execute(
                insert(budgets).values(project_id=project_id, period=checked_period, timezone="UTC", **values)
            )
        row = connection.execute(select(budgets).where(key)).one()
    return _budget(row)


def delete_budget(engine: Engine, project_id: str, period: str) -> bool:
    """Remove the budget; False when the project had none for ``period``."""
    key = (budgets.c.project_id == project_id) & (budgets.c.period == check_period(period))
    with writing(engine).begin() as connection:
        return bool(connection.execute(delete(budgets).where(key)).rowcount)


def period_bounds(period: Period, at_us: int) -> tuple[int, int]:
    """The UTC day or month holding ``at_us``, as [start, end) microseconds."""
    moment = _EPOCH + dt.timedelta(microseconds=at_us)
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        end = start + dt.timedelta(days=1)
    else:
        start = start.replace(day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
    return _us(start), _us(end)


def spend(connection: Connection, project_id: str, start_us: int, end_us: int) -> Decimal:
    """Exact USD spent by observations starting in [start_us, end_us)."""
    total = connection.execute(
        select(func.coalesce(func.sum(observations.c.total_cost_nanos), 0)).where(
            observations.c.project_id == project_id,
            observations.c.start_us >= start_us,
            observations.c.start_us < end_us,
        )
    ).scalar_one()
    return nanos_to_usd(int(total)) or Decimal(0)


def statuses(engine: Engine, at_us: int, project_id: str | None = None) -> list[BudgetStatus]:
    """Every enabled budget (of one project, or of all) with its spend in the period holding ``at_us``."""
    query = select(budgets).where(budgets.c.enabled.is_(True))
    if project_id is not None:
        query = query.where(budgets.c.project_id == project_id)
    found = []
    with engine.connect() as connection:
        for row in connection.execute(query.order_by(budgets.c.project_id, budgets.c.period)).all():
            budget = _budget(row)
            start, end = period_bounds(budget.period, at_us)
            found.append(BudgetStatus(budget, start, spend(connection, budget.project_id, start, end)))
    return found


def _budget(row: object) -> Budget:
    mapping = row._mapping  # type: ignore[attr-defined]
    return Budget(
        project_id=mapping["project_id"],
        period=check_period(mapping["period"]),
        amount_usd=nanos_to_usd(mapping["amount_nanos"]) or Decimal(0),
        timezone=mapping["timezone"],
        enabled=bool(mapping["enabled"]),
        updated_us=mapping["updated_us"],
    )


def _us(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)
