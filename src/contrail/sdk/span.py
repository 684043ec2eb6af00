"""The live span: one observation being recorded, and its wire form.

Only the fields a span actually uses live in its instance dict; everything else falls back to the
class-level defaults, which keeps creating a span on the hot path cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from contrail.sdk import snapshot as _snapshot

_UNSET: Any = object()

TYPES = frozenset(
    {"span", "generation", "event", "tool", "retriever", "embedding", "agent", "chain", "guardrail"}
)
LEVELS = frozenset({"debug", "default", "warning", "error"})

_USAGE_KEYS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "total_tokens": "total_tokens",
    "cached_input_tokens": "cached_input_tokens",
    "reasoning_tokens": "reasoning_tokens",
    "cache_write_input_tokens": "cache_write_input_tokens",
    "audio_input_tokens": "audio_input_tokens",
    "audio_output_tokens": "audio_output_tokens",
    "prompt_tokens": "input_tokens",
    "completion_tokens": "output_tokens",
    "input": "input_tokens",
    "output": "output_tokens",
    "total": "total_tokens",
}


class Span:
    """One observation in flight. Update it with :meth:`update`; the SDK ends and exports it.

    ``sampled`` is False for spans of a trace dropped by sampling: they propagate context but are
    never exported.
    """

    pid: int = 0
    end_ns: int | None = None
    status: str = "unset"
    status_message: str | None = None
    level: str = "default"
    input: Any = None
    output: Any = None
    metadata: dict[str, Any] | None = None
    model_requested: str | None = None
    model_response: str | None = None
    provider: str | None = None
    model_parameters: dict[str, Any] | None = None
    usage: dict[str, int] | None = None
    cost_usd: str | None = None
    ttft_us: int | None = None
    user_id: str | None = None
    session_id: str | None = None
    version: str | None = None
    tags: list[str] | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    trace_attrs: dict[str, Any] | None = None
    # (binder, args, kwargs) of a call whose arguments are all immutable: bound at export time
    raw_input: tuple[Callable[..., dict[str, Any]], tuple[Any, ...], dict[str, Any]] | None = None
    sampled: bool = True
    kind = "observation"

    def __init__(self, tid: int, sid: int, pid: int, name: str, type_: str, start_ns: int) -> None:
        # ids stay integers and times nanoseconds until export: formatting them is off the hot path
        self.tid = tid
        self.sid = sid
        if pid:
            self.pid = pid
        self.name = name
        self.type = type_
        self.start_ns = start_ns

    @property
    def trace_id(self) -> str:
        return f"{self.tid:032x}"

    @property
    def span_id(self) -> str:
        return f"{self.sid:016x}"

    @property
    def parent_span_id(self) -> str | None:
        return f"{self.pid:016x}" if self.pid else None

    def __repr__(self) -> str:
        return f"<Span {self.type} {self.name!r} {self.trace_id}/{self.span_id}>"

    @property
    def is_recording(self) -> bool:
        return self.sampled

    def update(
        self,
        *,
        name: str | None = None,
        input: Any = _UNSET,
        output: Any = _UNSET,
        metadata: Mapping[str, Any] | None = None,
        level: str | None = None,
        status_message: str | None = None,
        version: str | None = None,
        model: str | None = None,
        model_parameters: Mapping[str, Any] | None = None,
        usage: Mapping[str, Any] | Any = None,
        cost_usd: str | None = None,
        prompt_name: str | None = None,
        prompt_version: int | None = None,
        tags: list[str] | None = None,
    ) -> Span:
        """Set fields of this span; ``None`` leaves a field unchanged. Returns the span."""
        if name:
            self.name = str(name)
        if input is not _UNSET:
            self.input = _snapshot.snapshot(input)
            self.raw_input = None
        if output is not _UNSET:
            self.output = _snapshot.snapshot(output)
        if metadata:
            self.add_metadata(metadata)
        if level is not None:
            self.level = level if level in LEVELS else "default"
        self._set_optional(status_message=status_message, version=version, model_requested=model)
        self._set_optional(cost_usd=None if cost_usd is None else str(cost_usd))
        self._set_optional(prompt_name=prompt_name, prompt_version=prompt_version)
        if model_parameters:
            self.model_parameters = _snapshot.snapshot(dict(model_parameters))
        if usage is not None:
            self.set_usage(usage)
        if tags:
            self.tags = [*(self.tags or ()), *map(str, tags)]
        return self

    def _set_optional(self, **values: Any) -> None:
        for key, value in values.items():
            if value is not None:
                setattr(self, key, value)

    def add_metadata(self, metadata: Mapping[str, Any]) -> None:
        merged = dict(self.metadata or {})
        merged.update(_snapshot.snapshot(dict(metadata)))
        self.metadata = merged

    def set_usage(self, usage: Mapping[str, Any] | Any) -> None:
        """Accept our names, OpenAI's (prompt/completion_tokens) or Langfuse's (input/output)."""
        raw = usage if isinstance(usage, Mapping) else getattr(usage, "__dict__", {})
        counts = dict(self.usage or {})
        for key, value in raw.items():
            target = _USAGE_KEYS.get(key)
            if target is not None and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                counts[target] = value
        self.usage = counts

    def set_trace(self, **values: Any) -> None:
        """Record trace-level values (name, input, output, tags, metadata) carried by this span."""
        attrs = dict(self.trace_attrs or {})
        for key, value in values.items():
            if key == "tags":
                attrs["tags"] = [*attrs.get("tags", ()), *map(str, value)]
            elif key == "metadata":
                attrs["metadata"] = {**attrs.get("metadata", {}), **_snapshot.snapshot(dict(value))}
            else:
                attrs[key] = _snapshot.snapshot(value)
        self.trace_attrs = attrs

    def record_error(self, exc: BaseException, status_code: int | None = None) -> None:
        """Mark the span failed with ``exc`` (its type, message and optional HTTP status code)."""
        self.status = "error"
        self.level = "error"
        self.status_message = _snapshot.truncate(f"{type(exc).__name__}: {exc}", 2_000)
        extra: dict[str, Any] = {"error.type": type(exc).__qualname__}
        if status_code is not None:
            extra["error.status_code"] = status_code
        self.add_metadata(extra)

    def to_wire(self) -> dict[str, Any]:
        """The ``body`` of an ``observation`` ingest event (see contrail.schema.wire.ObservationIn).

        Built from the instance dict, which holds only the fields that were set: fields left at
        their class default are the wire defaults too, so they are not sent.
        """
        body = vars(self).copy()
        body["trace_id"] = f"{body.pop('tid'):032x}"
        body["span_id"] = f"{body.pop('sid'):016x}"
        pid = body.pop("pid", 0)
        if pid:
            body["parent_span_id"] = f"{pid:016x}"
        body["start_us"] = body.pop("start_ns") // 1000
        end = body.pop("end_ns", None)
        if end is not None:
            body["end_us"] = end // 1000
        raw = body.pop("raw_input", None)
        if raw is not None and "input" not in body:
            body["input"] = raw[0](raw[1], raw[2])
        body.pop("sampled", None)
        attrs = body.pop("trace_attrs", None)
        if attrs:
            body["trace"] = attrs
        if None in body.values():
            body = {key: value for key, value in body.items() if value is not None}
        return body
