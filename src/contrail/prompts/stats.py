"""What each prompt version did: calls, latency, cost and scores of the observations it produced.

Observations record ``prompt_name``/``prompt_version`` (the SDK's ``get_prompt`` links them, and the
UI's playground sets them). Every query is scoped to one project. Latency percentiles are exact
(nearest rank, computed in SQL as ``analytics.metrics`` does). A score counts for a version when it
is attached to one of the version's observations, or to a trace holding one (each score once per
version, however many of the version's observations the trace holds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from contrail.analytics.metrics import _aggregates, _percentiles
from contrail.store.tables import observations, scores
from contrail.store.types import nanos_to_usd

_o = observations.c
_s = scores.c


@dataclasses.dataclass(frozen=True, slots=True)
class ScoreAverage:
    name: str
    mean: float
    count: int


@dataclasses.dataclass(frozen=True, slots=True)
class VersionStats:
    """Aggregates of one version's observations; ``None`` where nothing was measured or priced."""

    version: int
    count: int = 0
    error_count: int = 0
    priced_count: int = 0
    total_tokens: int | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    cost_usd: Decimal | None = None
    scores: tuple[ScoreAverage, ...] = ()

    @property
    def cost_per_call_usd(self) -> Decimal | None:
        """Mean cost of the priced calls (unpriced calls are unknown, not free)."""
        if self.cost_usd is None or not self.priced_count:
            return None
        return self.cost_usd / self.priced_count

    @property
    def error_rate(self) -> float | None:
        return self.error_count / self.count if self.count else None


def version_stats(
    engine: Engine, project_id: str, name: str, versions: Sequence[int]
) -> dict[int, VersionStats]:
    """Stats of each of ``versions`` of prompt ``name`` (a version nothing used gets zero counts)."""
    wanted = sorted(set(versions))
    if not wanted:
        return {}
    where = [_o.project_id == project_id, _o.prompt_name == name, _o.prompt_version.in_(wanted)]
    keys: list[ColumnElement[Any]] = [_o.prompt_version]
    with engine.connect() as connection:
        totals = connection.execute(
            select(_o.prompt_version, func.count(_o.total_cost_nanos).label("priced"), *_aggregates())
            .where(*where)
            .group_by(_o.prompt_version)
        ).all()
        latency = _percentiles(connection, keys, where, _o.duration_us)
        averages = _score_averages(connection, where)
    found = {
        int(row.prompt_version): VersionStats(
            version=int(row.prompt_version),
            count=int(row.obs_count),
            error_count=int(row.error_count or 0),
            priced_count=int(row.priced),
            total_tokens=None if row.total_tokens is None else int(row.total_tokens),
            latency_p50_ms=latency.get((row.prompt_version,), {}).get("p50"),
            latency_p95_ms=latency.get((row.prompt_version,), {}).get("p95"),
            cost_usd=nanos_to_usd(int(row.cost_nanos)) if row.cost_nanos is not None else None,
            scores=tuple(averages.get(int(row.prompt_version), ())),
        )
        for row in totals
    }
    return {v: found.get(v, VersionStats(version=v)) for v in wanted}


def _score_averages(connection: Any, where: list[ColumnElement[bool]]) -> dict[int, list[ScoreAverage]]:
    used = select(_o.project_id, _o.trace_id, _o.span_id, _o.prompt_version).where(*where).subquery()
    attached = (
        select(used.c.prompt_version, _s.id, _s.name, _s.value)
        .join(
            scores,
            and_(
                _s.project_id == used.c.project_id,
                _s.trace_id == used.c.trace_id,
                or_(_s.observation_id == used.c.span_id, _s.observation_id.is_(None)),
            ),
        )
        .where(_s.value.is_not(None))
        .distinct()
        .subquery()
    )
    rows = connection.execute(
        select(
            attached.c.prompt_version,
            attached.c.name,
            func.avg(attached.c.value).label("mean"),
            func.count().label("n"),
        )
        .group_by(attached.c.prompt_version, attached.c.name)
        .order_by(attached.c.prompt_version, attached.c.name)
    )
    averages: dict[int, list[ScoreAverage]] = {}
    for version, score_name, mean, count in rows:
        averages.setdefault(int(version), []).append(ScoreAverage(score_name, float(mean), int(count)))
    return averages
