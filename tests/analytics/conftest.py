"""Helpers for the analytics tests: observations at a fixed time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from contrail.schema.observation import Cost, Observation, ObservationType, Usage

NOW_US = int(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000


def at(day: str) -> int:
    """Microseconds since the epoch of a UTC date (YYYY-MM-DD)."""
    moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12), dt.timezone.utc)
    return int(moment.timestamp()) * 1_000_000


def generation(
    model: str | None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    *,
    cached: int | None = None,
    reasoning: int | None = None,
    total: int | None = None,
    start_us: int = NOW_US,
    kind: ObservationType = ObservationType.GENERATION,
    provider: str | None = None,
    client_total: Decimal | None = None,
    **fields: Any,
) -> Observation:
    return Observation(
        trace_id="0" * 32,
        span_id="1" * 16,
        name="call",
        start_us=start_us,
        type=kind,
        model_requested=model,
        provider=provider,
        usage=Usage(input_tokens, output_tokens, cached, reasoning, total),
        cost=Cost(total=client_total),
        **fields,
    )
