"""The per-trace rollup row, merged in memory while a write group is applied."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

# Which source named the trace / gave its input and output: explicit trace attributes beat the
# root span, which beats whatever span arrived first.
_RANK_FIRST_SEEN, _RANK_ROOT, _RANK_EXPLICIT = 0, 1, 2


class TraceRollup:
    """Accumulates one trace's totals and descriptors; ``as_driver_row`` gives the UPDATE parameters."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "name",
        "name_rank",
        "root_span_id",
        "start_us",
        "end_us",
        "duration_us",
        "user_id",
        "session_id",
        "environment",
        "release",
        "version",
        "tags",
        "models",
        "metadata",
        "input_preview",
        "output_preview",
        "io_rank",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "total_cost_nanos",
        "error_count",
        "observation_count",
        "updated_us",
    )

    def __init__(self, row: Mapping[str, Any], now_us: int) -> None:
        self.project_id: str = row["project_id"]
        self.trace_id: str = row["trace_id"]
        self.previously_stored = bool(row["observation_count"])
        self.values: dict[str, Any] = {c: row[c] for c in self.COLUMNS}
        self.values["updated_us"] = now_us
        if not self.previously_stored:
            self.values["start_us"] = None  # the placeholder's start is the insert time, not data
        self.values["tags"] = list(row["tags"] or [])
        self.values["models"] = list(row["models"] or [])
        self.values["metadata"] = dict(row["metadata"] or {})
        # What the trace counted for before this write, so the session, user and trace rollups can
        # take it back; its own copies of the containers ``add`` changes in place.
        self.before: dict[str, Any] | None = None
        if self.previously_stored:
            v = self.values
            self.before = v | {
                "tags": list(v["tags"]),
                "models": list(v["models"]),
                "metadata": dict(v["metadata"]),
            }

    def add(self, row: Mapping[str, Any], old: Mapping[str, Any] | None) -> None:
        """Fold one observation row in (as ``writer.WriteBatch.prepare`` builds it, with its ``_``
        trace fields); ``old`` is its stored earlier version, whose totals are taken back."""
        v = self.values
        if old is None:
            v["observation_count"] += 1
        for column in ("input_tokens", "output_tokens", "total_tokens", "total_cost_nanos"):
            v[column] += (row[column] or 0) - ((old[column] or 0) if old else 0)
        v["error_count"] += int(row["is_error"]) - (int(old["is_error"]) if old else 0)
        start = row["start_us"]
        end = row["end_us"] if row["end_us"] is not None else start
        v["start_us"] = start if v["start_us"] is None else min(v["start_us"], start)
        v["end_us"] = end if v["end_us"] is None else max(v["end_us"], end)
        v["duration_us"] = v["end_us"] - v["start_us"]
        for column in ("user_id", "session_id", "environment", "release", "version"):
            value = row[column]
            if value is not None:
                v[column] = value
        _extend_unique(v["tags"], row["_tags"])
        _extend_unique(v["tags"], row["_trace_tags"])
        # Both names, so a filter on the requested model ("gpt-4o") finds what answered
        # ("gpt-4o-2024-08-06") and the other way round.
        for model in (row["model_requested"], row["model_response"]):
            if model is not None and model not in v["models"]:
                v["models"].append(model)
        v["metadata"].update(row["_trace_metadata"])
        self._describe(row)

    def _describe(self, row: Mapping[str, Any]) -> None:
        v = self.values
        is_root = row["parent_span_id"] is None
        if is_root:
            v["root_span_id"] = row["span_id"]
        trace_name = row["_trace_name"]
        name_rank = _RANK_EXPLICIT if trace_name else _RANK_ROOT if is_root else _RANK_FIRST_SEEN
        if v["name"] is None or name_rank > v["name_rank"]:
            v["name"] = trace_name or row["name"]
            v["name_rank"] = name_rank
        io_rank = _RANK_EXPLICIT if row["_explicit_io"] else _RANK_ROOT if is_root else None
        if io_rank is not None and io_rank >= v["io_rank"]:
            v["input_preview"] = row["_input_preview"] or v["input_preview"]
            v["output_preview"] = row["_output_preview"] or v["output_preview"]
            v["io_rank"] = io_rank

    def as_driver_row(self) -> tuple[Any, ...]:
        """Values for ``UPDATE traces SET <COLUMNS> WHERE project_id = ? AND trace_id = ?``."""
        values = dict(self.values)
        for column in ("tags", "models", "metadata"):
            values[column] = orjson.dumps(values[column]).decode() if values[column] else None
        return (*(values[c] for c in self.COLUMNS), self.project_id, self.trace_id)


def _extend_unique(target: list[str], items: list[str]) -> None:
    for item in items:
        if item not in target:
            target.append(item)
