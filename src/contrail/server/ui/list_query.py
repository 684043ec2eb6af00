"""A list page's filters, sort and page as URL query parameters (so every view is a shareable link).

The same parameters as the JSON API (``from_time``, ``user_id``, ``tag``, ``metadata``, ``q``…),
parsed by the API's own ``filter_params`` so the UI and the API can never disagree; empty form fields
mean "any". ``range`` (1h, 24h, 7d, 30d) is a shortcut for ``from_time``.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from contrail.schema.timeconv import now_us, us_to_rfc3339
from contrail.server.api.params import filter_params
from contrail.server.errors import ApiError
from contrail.store.filters import Filter

RANGES = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}
SORTS = ("start_time", "latency", "cost", "tokens")
OBSERVATION_TYPES = (
    "span",
    "generation",
    "event",
    "tool",
    "retriever",
    "embedding",
    "agent",
    "chain",
    "guardrail",
)
LEVELS = ("debug", "default", "warning", "error")
_SINGLE = (
    "from_time",
    "to_time",
    "range",
    "name",
    "user_id",
    "session_id",
    "environment",
    "release",
    "model",
    "error",
    "min_latency_ms",
    "max_latency_ms",
    "min_cost",
    "max_cost",
    "q",
    "type",
    "level",
    "sort",
    "order",
    "cursor",
    "live",
    "project",
)


@dataclasses.dataclass(slots=True)
class ListQuery:
    values: dict[str, str]
    tags: list[str]
    metadata: list[str]

    @classmethod
    def parse(cls, params: QueryParams) -> ListQuery:
        values = {k: params[k].strip() for k in _SINGLE if params.get(k, "").strip()}
        tags = [t.strip() for raw in params.getlist("tag") for t in raw.split(",") if t.strip()]
        metadata = [m.strip() for m in params.getlist("metadata") if m.strip()]
        return cls(values, tags, metadata)

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)

    @property
    def sort(self) -> str:
        return self.get("sort") if self.get("sort") in SORTS else "start_time"

    @property
    def descending(self) -> bool:
        return self.get("order") != "asc"

    @property
    def live(self) -> bool:
        return self.get("live") == "1"

    @property
    def filtered(self) -> bool:
        ignored = {"sort", "order", "cursor", "live", "project"}
        return bool(self.tags or self.metadata or set(self.values) - ignored)

    def to_filter(self) -> Filter:
        """The store filter; raises ValueError with a message for people on a bad value."""
        from_time = self.values.get("from_time")
        if not from_time and self.get("range") in RANGES:
            from_time = us_to_rfc3339(now_us() - RANGES[self.get("range")] * 1_000_000)
        error = {"true": True, "false": False}.get(self.get("error"))
        try:
            flt = filter_params(
                from_time=from_time,
                to_time=self.values.get("to_time"),
                name=self.values.get("name"),
                user_id=self.values.get("user_id"),
                session_id=self.values.get("session_id"),
                tag=self.tags,
                environment=self.values.get("environment"),
                release=self.values.get("release"),
                model=self.values.get("model"),
                error=error,
                min_latency_ms=self._number("min_latency_ms"),
                max_latency_ms=self._number("max_latency_ms"),
                min_cost=self.values.get("min_cost"),
                max_cost=self.values.get("max_cost"),
                metadata=self.metadata,
                q=self.values.get("q"),
            )
        except ApiError as exc:
            raise ValueError(exc.message) from exc
        if self.get("type") in OBSERVATION_TYPES:
            flt.type = self.get("type")
        if self.get("level") in LEVELS:
            flt.level = self.get("level")
        return flt

    def url(self, path: str, **changes: Any) -> str:
        """``path`` with this query, changed by ``changes`` (None removes a key); cursor is dropped
        unless given, since any other change starts again from the first page."""
        values = dict(self.values)
        values.pop("cursor", None)
        for key, value in changes.items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = str(value)
        pairs = [*values.items(), *(("tag", t) for t in self.tags), *(("metadata", m) for m in self.metadata)]
        return f"{path}?{urlencode(pairs)}" if pairs else path

    def sort_url(self, path: str, column: str) -> str:
        """Sort by ``column``; a second click on the current column flips the order."""
        order = "asc" if self.sort == column and self.descending else "desc"
        return self.url(path, sort=column, order=order)

    def _number(self, key: str) -> float | None:
        raw = self.values.get(key)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError as exc:
            raise ValueError(f"{key}: {raw!r} is not a number") from exc
        if value < 0 or value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{key}: must be a finite, non-negative number")
        return value
