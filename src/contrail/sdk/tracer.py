"""The process-wide tracer: configuration, clock, id generator and exporter, and the span lifecycle.

``STATE`` is None until the first traced call or ``configure()``; the hot path reads it once per
call. ``configure()`` swaps in a new Tracer atomically; spans already in flight finish on the old one.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from contrail.sdk import guard, snapshot
from contrail.sdk.config import Config, resolve
from contrail.sdk.context import current
from contrail.sdk.span import Span

if TYPE_CHECKING:
    from contrail.sdk.encoding import Exportable

Clock = Callable[[], int]  # nanoseconds since the epoch
IdSource = Callable[[], int]  # a non-zero id (128 bits for traces, 64 for spans)


class Exporter(Protocol):
    dropped: int

    def submit(self, item: Exportable) -> None: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def shutdown(self, timeout: float | None = None) -> None: ...


def _trace_id() -> int:
    return random.getrandbits(128) or 1


def _span_id() -> int:
    return random.getrandbits(64) or 1


class Tracer:
    """Starts and ends spans for one configuration."""

    def __init__(
        self,
        config: Config,
        exporter: Exporter | None = None,
        clock: Clock | None = None,
        trace_ids: IdSource | None = None,
        span_ids: IdSource | None = None,
    ) -> None:
        self.config = config
        self.enabled = config.enabled
        self.capture = config.capture
        self.sample_rate = config.sample_rate
        self.now_ns = clock or time.time_ns
        self.new_trace_id = trace_ids or _trace_id
        self.new_span_id = span_ids or _span_id
        if exporter is None and config.enabled:
            from contrail.sdk.exporter import HttpExporter

            exporter = HttpExporter(config)
        self.exporter = exporter
        self.submit = exporter.submit if exporter is not None else _discard

    def start(self, name: str, type_: str) -> Span:
        """A new span, child of the current one (or of the active OpenTelemetry span)."""
        parent = current.get()
        if parent is not None:
            pid = parent.sid
            if "opentelemetry.trace" in sys.modules:
                pid = _otel_inner_parent(parent) or pid
            span = Span(parent.tid, self.new_span_id(), pid, name, type_, self.now_ns())
            if not parent.sampled:
                span.sampled = False
            elif parent.user_id is not None or parent.session_id is not None:
                span.user_id, span.session_id = parent.user_id, parent.session_id
            return span
        otel = _otel_parent() if "opentelemetry.trace" in sys.modules else None
        tid, pid = otel or (self.new_trace_id(), 0)
        span = Span(tid, self.new_span_id(), pid, name, type_, self.now_ns())
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:
            span.sampled = False
        return span

    def finish(self, span: Span) -> None:
        """End ``span`` now and queue it for export (unless sampled out or already ended)."""
        if span.end_ns is None:
            span.end_ns = self.now_ns()
            if span.sampled:
                self.submit(span)


def _discard(item: Exportable) -> None:
    return None


def _otel_parent() -> tuple[int, int] | None:
    """(trace_id, span_id) of the active OpenTelemetry span, when the app has loaded OpenTelemetry."""
    otel = sys.modules.get("opentelemetry.trace")
    if otel is None:
        return None
    try:
        ctx = otel.get_current_span().get_span_context()
    except Exception as exc:  # a broken OTel setup must not break tracing
        guard.report("otel", exc)
        return None
    if not ctx.is_valid:
        return None
    return ctx.trace_id, ctx.span_id


def _otel_inner_parent(parent: Span) -> int | None:
    """The active OTel span's id when it was started inside ``parent`` (same trace, later start)."""
    otel = sys.modules["opentelemetry.trace"]
    try:
        active = otel.get_current_span()
        ctx = active.get_span_context()
        started = getattr(active, "start_time", None)
    except Exception as exc:  # a broken OTel setup must not break tracing
        guard.report("otel", exc)
        return None
    same_trace = ctx.trace_id == parent.tid or OTEL_ADOPTED.get(ctx.trace_id) == parent.tid
    if ctx.is_valid and same_trace and started is not None and started > parent.start_ns:
        return int(ctx.span_id)
    return None


# OTel trace id -> Contrail trace id, for OTel root spans started inside a Contrail span
# (filled by contrail.otel's span processor, bounded there).
OTEL_ADOPTED: dict[int, int] = {}


STATE: Tracer | None = None
_init_lock = threading.Lock()


def init() -> Tracer:
    """The current tracer, created from the environment on first use."""
    global STATE
    with _init_lock:
        if STATE is None:
            STATE = _build(resolve())
        return STATE


def _build(config: Config, **parts: Any) -> Tracer:
    apply_settings(config)
    return Tracer(config, **parts)


def apply_settings(config: Config) -> None:
    """Process-wide settings a Config carries: strict mode and snapshot size limits."""
    guard.set_strict(config.strict)
    snapshot.DEFAULT_LIMITS.max_chars = config.max_field_chars
    snapshot.DEFAULT_LIMITS.max_items = config.max_items
    snapshot.DEFAULT_LIMITS.max_depth = config.max_depth


def install(config: Config, *, retire: bool = True, **parts: Any) -> Tracer:
    """Replace the tracer (``configure`` and the testing helpers).

    With ``retire`` the old tracer's exporter is flushed and stopped in the background.
    """
    global STATE
    tracer = _build(config, **parts)
    with _init_lock:
        old, STATE = STATE, tracer
    if retire and old is not None and old.exporter is not None and old.exporter is not tracer.exporter:
        # flushing the old exporter may wait on a slow server: never on the caller's thread
        threading.Thread(target=old.exporter.shutdown, name="contrail-retire", daemon=True).start()
    return tracer


def current_tracer() -> Tracer:
    return STATE or init()
