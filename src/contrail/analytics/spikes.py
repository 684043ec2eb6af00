"""Token and cost spikes: an hour far above its usual level, per observation name and model.

For each (name, model) the last complete UTC hour is compared with the median of the hours before
it, up to a week back (168 hours) and starting at the group's first active hour in that week; hours
without calls count as zero. A group needs 24 hours of such history. The hour is a spike when its
tokens or its cost exceed ``factor`` times the median and reach the project's minimum volume (so a
quiet feature going from 10 to 40 tokens is not news). Service names are not a column of their own
(they sit in each span's resource metadata), so observation name stands in for "which feature". Hourly
totals come from the metric rollups (analytics.rollups.hourly_totals).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, Engine, insert, select, update

from contrail.analytics import rollups
from contrail.schema.timeconv import now_us
from contrail.store.alert_tables import alert_settings
from contrail.store.database import writing
from contrail.store.types import nanos_to_usd, usd_to_nanos

HOUR_US = 3_600_000_000
HISTORY_HOURS = 168
MIN_HISTORY_HOURS = 24
MIN_FACTOR, MAX_FACTOR = 1.1, 1000.0
MAX_MIN_TOKENS = 10**12
MAX_MIN_COST_USD = Decimal(1_000_000)


class SpikeSettingsError(ValueError):
    """Spike thresholds that cannot be used; the message says what to change."""


@dataclasses.dataclass(frozen=True, slots=True)
class SpikeSettings:
    """When an hour counts as a spike. A project without its own settings uses these defaults."""

    factor: float = 3.0
    min_tokens: int = 10_000
    min_cost_usd: Decimal = Decimal("1")


@dataclasses.dataclass(frozen=True, slots=True)
class HourTotal:
    hour_us: int
    name: str
    model: str | None
    tokens: int
    cost_nanos: int


@dataclasses.dataclass(frozen=True, slots=True)
class Spike:
    hour_us: int
    name: str
    model: str | None
    metrics: tuple[str, ...]  # "tokens", "cost", or both
    tokens: int
    cost_usd: Decimal
    median_tokens: float
    median_cost_usd: Decimal
    factor: float
    history_hours: int


def check_settings(factor: object, min_tokens: object, min_cost_usd: object) -> SpikeSettings:
    """Validate thresholds from a request; raises SpikeSettingsError naming the bad field."""
    if isinstance(factor, bool) or not isinstance(factor, (int, float)):
        raise SpikeSettingsError("factor must be a number, e.g. 3.")
    if not MIN_FACTOR <= float(factor) <= MAX_FACTOR:
        raise SpikeSettingsError(f"factor must be between {MIN_FACTOR} and {MAX_FACTOR:g}.")
    if isinstance(min_tokens, bool) or not isinstance(min_tokens, int):
        raise SpikeSettingsError("min_tokens must be a whole number of tokens.")
    if not 0 <= min_tokens <= MAX_MIN_TOKENS:
        raise SpikeSettingsError(f"min_tokens must be between 0 and {MAX_MIN_TOKENS:,}.")
    try:
        cost = Decimal(str(min_cost_usd).strip())
    except InvalidOperation as exc:
        raise SpikeSettingsError("min_cost_usd must be a decimal number of USD.") from exc
    if isinstance(min_cost_usd, bool) or not cost.is_finite() or not 0 <= cost <= MAX_MIN_COST_USD:
        raise SpikeSettingsError(f"min_cost_usd must be between 0 and {MAX_MIN_COST_USD:,} USD.")
    return SpikeSettings(float(factor), min_tokens, cost)


def get_settings(engine: Engine, project_id: str) -> SpikeSettings:
    with engine.connect() as connection:
        row = connection.execute(
            select(alert_settings).where(alert_settings.c.project_id == project_id)
        ).one_or_none()
    if row is None:
        return SpikeSettings()
    return SpikeSettings(
        row.spike_factor, row.spike_min_tokens, nanos_to_usd(row.spike_min_cost_nanos) or Decimal(0)
    )


def set_settings(engine: Engine, project_id: str, settings: SpikeSettings) -> SpikeSettings:
    values = {
        "spike_factor": settings.factor,
        "spike_min_tokens": settings.min_tokens,
        "spike_min_cost_nanos": usd_to_nanos(settings.min_cost_usd),
        "updated_us": now_us(),
    }
    key = alert_settings.c.project_id == project_id
    with writing(engine).begin() as connection:
        if not connection.execute(update(alert_settings).where(key).values(**values)).rowcount:
            connection.execute(insert(alert_settings).values(project_id=project_id, **values))
    return get_settings(engine, project_id)


def last_complete_hour(at_us: int) -> int:
    return at_us - at_us % HOUR_US - HOUR_US


def hourly_totals(connection: Connection, project_id: str, start_us: int, end_us: int) -> list[HourTotal]:
    """Tokens (input + output) and cost per hour, name and model, read from the metric rollups."""
    rows = rollups.hourly_totals(connection, project_id, start_us, end_us, group_by=("name", "model"))
    return [
        HourTotal(
            row.hour_us,
            row.group["name"],
            row.group["model"],
            row.input_tokens + row.output_tokens,
            usd_to_nanos(row.cost_usd) or 0,
        )
        for row in rows
    ]


def detect(totals: list[HourTotal], hour_us: int, settings: SpikeSettings) -> list[Spike]:
    """The groups whose hour ``hour_us`` is a spike against their earlier hours in ``totals``."""
    by_group: dict[tuple[str, str | None], dict[int, HourTotal]] = defaultdict(dict)
    for total in totals:
        by_group[(total.name, total.model)][total.hour_us] = total
    spikes = []
    for (name, model), hours in sorted(by_group.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        current = hours.get(hour_us)
        earlier = [h for h in hours if hour_us - HISTORY_HOURS * HOUR_US <= h < hour_us]
        if current is None or not earlier:
            continue
        span = range(min(earlier), hour_us, HOUR_US)
        if len(span) < MIN_HISTORY_HOURS:
            continue
        spike = _judge(current, [hours.get(h) for h in span], settings)
        if spike is not None:
            spikes.append(dataclasses.replace(spike, name=name, model=model))
    return spikes


def find_spikes(
    engine: Engine, project_id: str, at_us: int, settings: SpikeSettings | None = None
) -> list[Spike]:
    """Spikes in the last complete hour before ``at_us`` for one project."""
    settings = settings or get_settings(engine, project_id)
    hour = last_complete_hour(at_us)
    with engine.connect() as connection:
        totals = hourly_totals(connection, project_id, hour - HISTORY_HOURS * HOUR_US, hour + HOUR_US)
    return detect(totals, hour, settings)


def _judge(current: HourTotal, history: list[HourTotal | None], settings: SpikeSettings) -> Spike | None:
    median_tokens = statistics.median([h.tokens if h else 0 for h in history])
    median_cost = Decimal(statistics.median([h.cost_nanos if h else 0 for h in history]))
    min_cost_nanos = usd_to_nanos(settings.min_cost_usd) or 0
    metrics = []
    if current.tokens >= settings.min_tokens and current.tokens > settings.factor * median_tokens:
        metrics.append("tokens")
    cost = current.cost_nanos
    if cost > 0 and cost >= min_cost_nanos and cost > Decimal(str(settings.factor)) * median_cost:
        metrics.append("cost")
    if not metrics:
        return None
    return Spike(
        hour_us=current.hour_us,
        name=current.name,
        model=current.model,
        metrics=tuple(metrics),
        tokens=current.tokens,
        cost_usd=nanos_to_usd(cost) or Decimal(0),
        median_tokens=float(median_tokens),
        median_cost_usd=(median_cost / Decimal(1_000_000_000)),
        factor=settings.factor,
        history_hours=len(history),
    )
