"""A trace's observations as tree rows with a timeline bar each, laid out on the server.

The tree is walked with an explicit stack (traces may be thousands of spans deep), and bar positions
are computed here as SVG coordinates in a 0..1000 viewBox, so the page needs neither inline styles
nor script to draw the waterfall.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from contrail.store.types import nanos_to_usd

VIEW_WIDTH = 1000
MIN_BAR = 2.0
MAX_INDENT = 24
# Large traces start with only their first levels open; small ones fully open.
COLLAPSE_ABOVE_ROWS = 200
OPEN_DEPTH = 1
DASH = "\u2013"  # shown for a missing value


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    span_id: str
    name: str
    type: str
    depth: int
    indent: int
    has_children: bool
    open: bool
    hidden: bool
    is_error: bool
    level: str
    model: str | None
    duration_ms: float | None
    offset_ms: float
    total_tokens: int | None
    cost_usd: Decimal | None
    bar_x: float
    bar_width: float


@dataclasses.dataclass(frozen=True, slots=True)
class Waterfall:
    rows: list[Row]
    duration_ms: float
    ticks: list[tuple[float, str]]  # (x in the viewBox, label)


def layout(observations: list[Mapping[str, Any]]) -> Waterfall:
    """Rows in depth-first order (children by start time), with bars relative to the whole trace.

    Observations whose parent is missing (not yet arrived, or cut by the observation limit) are
    shown as roots rather than dropped.
    """
    if not observations:
        return Waterfall([], 0.0, [])
    start = min(o["start_us"] for o in observations)
    end = max(_end_us(o) for o in observations)
    span = max(end - start, 1)
    children, roots = _children(observations)
    collapse = len(observations) > COLLAPSE_ABOVE_ROWS
    rows: list[Row] = []
    stack: list[tuple[Mapping[str, Any], int, bool]] = [(o, 0, False) for o in reversed(roots)]
    seen: set[str] = set()
    while stack:
        obs, depth, hidden = stack.pop()
        span_id = obs["span_id"]
        if span_id in seen:  # a parent cycle in bad data: show each span once
            continue
        seen.add(span_id)
        kids = children.get(span_id, [])
        is_open = not collapse or depth < OPEN_DEPTH
        rows.append(_row(obs, depth, bool(kids), is_open, hidden, start, span))
        stack.extend((kid, depth + 1, hidden or not is_open) for kid in reversed(kids))
    return Waterfall(rows, span / 1000, _ticks(span))


def _children(
    observations: Iterable[Mapping[str, Any]],
) -> tuple[dict[str, list[Mapping[str, Any]]], list[Mapping[str, Any]]]:
    ids = {o["span_id"] for o in observations}
    children: dict[str, list[Mapping[str, Any]]] = {}
    roots: list[Mapping[str, Any]] = []
    for obs in observations:  # already in start order, so each child list is too
        parent = obs["parent_span_id"]
        if parent and parent in ids and parent != obs["span_id"]:
            children.setdefault(parent, []).append(obs)
        else:
            roots.append(obs)
    return children, roots


def _row(
    obs: Mapping[str, Any], depth: int, has_children: bool, is_open: bool, hidden: bool, start: int, span: int
) -> Row:
    offset = obs["start_us"] - start
    duration = obs["duration_us"]
    x = offset / span * VIEW_WIDTH
    width = max((_end_us(obs) - obs["start_us"]) / span * VIEW_WIDTH, MIN_BAR)
    return Row(
        span_id=obs["span_id"],
        name=obs["name"],
        type=obs["type"],
        depth=depth,
        indent=min(depth, MAX_INDENT),
        has_children=has_children,
        open=is_open,
        hidden=hidden,
        is_error=bool(obs["is_error"]),
        level=obs["level"],
        model=obs["model"],
        duration_ms=None if duration is None else duration / 1000,
        offset_ms=offset / 1000,
        total_tokens=obs["total_tokens"],
        cost_usd=nanos_to_usd(obs["total_cost_nanos"]),
        bar_x=round(min(x, VIEW_WIDTH - MIN_BAR), 2),
        bar_width=round(min(width, VIEW_WIDTH - min(x, VIEW_WIDTH - MIN_BAR)), 2),
    )


def _end_us(obs: Mapping[str, Any]) -> int:
    start: int = obs["start_us"]
    end: int | None = obs["end_us"]
    return start if end is None else max(end, start)


def _ticks(span_us: int) -> list[tuple[float, str]]:
    """Four evenly spaced time labels across the trace."""
    return [(VIEW_WIDTH * i / 4, format_ms(span_us * i / 4 / 1000)) for i in range(5)]


def format_ms(ms: float | None) -> str:
    """A duration for people: 850 ms, 1.25 s, 2 m 05 s."""
    if ms is None:
        return DASH
    if ms == 0:
        return "0"
    if ms < 1:
        return f"{ms * 1000:.0f} µs"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(ms / 1000, 60)
    return f"{minutes:.0f} m {seconds:02.0f} s"
