"""Assert on what your code traces: an in-memory capture of exported observations and scores.

    from contrail.testing.sdk import capture

    def test_answer_is_traced():
        with capture() as traced:
            answer("What is Contrail?")
        span = traced.one(name="answer")
        assert span["output"] == "..."

or use the ``contrail_capture`` pytest fixture (enable it with ``pytest_plugins = ["contrail.testing.sdk"]``).
Captured events went through the same mask hook and redaction as real exports, and use sequential
ids and a stepping clock, so assertions are deterministic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import threading
from collections.abc import Iterator
from typing import Any

from contrail.sdk import tracer as _tracer
from contrail.sdk.config import Config, resolve
from contrail.sdk.encoding import Encoder, Exportable

try:
    import pytest
except ImportError:  # the fixture is only defined when pytest is installed
    pytest = None  # type: ignore[assignment]

START_US = 1_700_000_000_000_000


class StepClock:
    """A nanosecond clock starting at ``start_us`` that advances ``step_us`` at every reading."""

    def __init__(self, start_us: int = START_US, step_us: int = 1_000) -> None:
        self._next = itertools.count(start_us * 1_000, step_us * 1_000)
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return next(self._next)


class SequentialIds:
    """Trace ids ``000…001``, ``000…002``…; span ids likewise (16 hex digits)."""

    def __init__(self) -> None:
        self._traces = itertools.count(1)
        self._spans = itertools.count(1)

    def trace_id(self) -> int:
        return next(self._traces)

    def span_id(self) -> int:
        return next(self._spans)


class CaptureExporter:
    """Encodes every item synchronously (mask hook, redaction) and keeps the decoded events."""

    def __init__(self, config: Config) -> None:
        self.encoder = Encoder(config)
        self.events: list[dict[str, Any]] = []
        self.dropped = 0
        self._lock = threading.Lock()

    def submit(self, item: Exportable) -> None:
        event = self.encoder.event(item)
        decoded = json.loads(self.encoder.body([event]))["batch"][0]
        with self._lock:
            self.events.append(decoded)

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        return None


@dataclasses.dataclass
class Captured:
    """What the code under test exported, in export order (a span is exported when it ends)."""

    exporter: CaptureExporter

    @property
    def observations(self) -> list[dict[str, Any]]:
        return [e["body"] for e in self.exporter.events if e["type"] == "observation"]

    @property
    def scores(self) -> list[dict[str, Any]]:
        return [e["body"] for e in self.exporter.events if e["type"] == "score"]

    def find(self, **fields: Any) -> list[dict[str, Any]]:
        """Observations whose fields equal all of ``fields`` (e.g. ``name="rag", type="retriever"``)."""
        return [o for o in self.observations if all(o.get(k) == v for k, v in fields.items())]

    def one(self, **fields: Any) -> dict[str, Any]:
        """The single observation matching ``fields``; AssertionError if there are none or several."""
        found = self.find(**fields)
        if len(found) != 1:
            raise AssertionError(f"expected one observation with {fields}, found {len(found)}")
        return found[0]

    def children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        return [o for o in self.observations if o.get("parent_span_id") == parent["span_id"]]

    def clear(self) -> None:
        self.exporter.events.clear()


@contextlib.contextmanager
def capture(**settings: Any) -> Iterator[Captured]:
    """Route all tracing to memory for the ``with`` block (deterministic ids and clock).

    ``settings`` are ``contrail.configure`` options (e.g. ``mask=...``, ``redact_pii=True``,
    ``capture=False``). The previous configuration is restored afterwards.
    """
    config = resolve({"host": "http://capture.invalid", **settings})
    exporter = CaptureExporter(config)
    ids = SequentialIds()
    previous = _tracer.STATE
    _tracer.install(
        config,
        retire=False,
        exporter=exporter,
        clock=StepClock(),
        trace_ids=ids.trace_id,
        span_ids=ids.span_id,
    )
    try:
        yield Captured(exporter)
    finally:
        _tracer.STATE = previous
        _tracer.apply_settings(previous.config if previous is not None else resolve())


if pytest is not None:

    @pytest.fixture
    def contrail_capture() -> Iterator[Captured]:
        """Everything traced during the test, captured in memory (see :func:`capture`)."""
        with capture() as captured:
            yield captured
