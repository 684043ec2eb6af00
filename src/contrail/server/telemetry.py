"""Prometheus metrics of the running server: ingest counters, write latency, and per-project LLM usage.

Per-project series carry the project id and a model label bounded to ``MAX_MODELS_PER_PROJECT``
names (the rest count under ``other``), so a client sending random model names cannot blow up the
scrape. Counters live in this process: with ``--workers N`` each worker reports its own share, so
sum them per worker (``instance``/``pid``) or scrape one worker per process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from contrail._version import __version__
from contrail.schema.observation import Observation

MAX_MODELS_PER_PROJECT = 50
OTHER = "other"


class LlmUsage(Collector):
    """Tokens, cost and calls per (project, model), exposed only to the project asking."""

    def __init__(self) -> None:
        # (project, model) -> [calls, errors, input tokens, output tokens, cost nanos]
        self._totals: dict[tuple[str, str], list[int]] = {}
        self._models: dict[str, set[str]] = {}
        self.project_id: str | None = None  # set per scrape by ServerTelemetry.render

    def add(self, project_id: str, observations: Iterable[Observation]) -> None:
        for obs in observations:
            if obs.model is None:
                continue
            totals = self._totals.setdefault(
                (project_id, self._label(project_id, obs.model)), [0, 0, 0, 0, 0]
            )
            totals[0] += 1
            totals[1] += obs.is_error
            totals[2] += obs.usage.input_tokens or 0
            totals[3] += obs.usage.output_tokens or 0
            totals[4] += int((obs.cost.total or Decimal(0)) * 1_000_000_000)

    def _label(self, project_id: str, model: str) -> str:
        models = self._models.setdefault(project_id, set())
        if model in models:
            return model
        if len(models) >= MAX_MODELS_PER_PROJECT:
            return OTHER
        models.add(model)
        return model

    def collect(self) -> Iterator[CounterMetricFamily]:
        labels = ["project", "model"]
        calls = CounterMetricFamily("contrail_llm_calls", "Model calls ingested", labels=labels)
        errors = CounterMetricFamily("contrail_llm_errors", "Model calls that failed", labels=labels)
        tokens = CounterMetricFamily("contrail_llm_tokens", "Tokens ingested", labels=[*labels, "direction"])
        cost = CounterMetricFamily("contrail_llm_cost_usd", "Cost of ingested calls (USD)", labels=labels)
        for (project, model), (n, failed, tokens_in, tokens_out, nanos) in sorted(self._totals.items()):
            if project != self.project_id:
                continue
            calls.add_metric([project, model], n)
            errors.add_metric([project, model], failed)
            tokens.add_metric([project, model, "input"], tokens_in)
            tokens.add_metric([project, model, "output"], tokens_out)
            cost.add_metric([project, model], nanos / 1_000_000_000)
        yield from (calls, errors, tokens, cost)


class ServerTelemetry:
    """The server's metrics; ``render(project_id)`` gives the Prometheus text exposition."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.spans = Counter(
            "contrail_ingest_spans",
            "Spans and events received",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        self.write_seconds = Histogram(
            "contrail_write_group_seconds",
            "Time to commit one write group",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.pending = Gauge(
            "contrail_write_queue_pending", "Spans waiting for the writer", registry=self.registry
        )
        info = Gauge(
            "contrail_build_info", "Version of this server", ["version", "pid"], registry=self.registry
        )
        info.labels(__version__, str(os.getpid())).set(1)
        self.llm = LlmUsage()
        self.registry.register(self.llm)

    def render(self, project_id: str, pending_spans: int) -> bytes:
        self.pending.set(pending_spans)
        self.llm.project_id = project_id
        return generate_latest(self.registry)
