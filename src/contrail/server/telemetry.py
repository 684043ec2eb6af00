"""Prometheus metrics of the running server: ingest counters, write latency, and per-project LLM usage.

Per-project series carry the project id and a model label bounded to ``MAX_MODELS_PER_PROJECT``
names (the rest count under ``other``), so a client sending random model names cannot blow up the
scrape; a scrape shows the LLM series of the calling project only.

With ``contrail server --workers N`` the launcher points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory for that start (:func:`shared_metrics_directory`) before the workers start: every worker
keeps its values in files there (``prometheus_client``'s multiprocess mode) and a scrape, whichever
worker answers it, adds up all of them. The model names admitted per project are shared there too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from contrail._version import __version__
from contrail.schema.observation import Observation
from contrail.server.model_labels import ModelLabels, SharedModelLabels

logger = logging.getLogger(__name__)

MAX_MODELS_PER_PROJECT = 50
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LLM_PREFIX = "contrail_llm_"
# Cost is counted in whole nanodollars (exact in a double up to $9M per series) and shown in USD.
_COST_NANOS = "contrail_llm_cost_nanos"
_COST_USD = "contrail_llm_cost_usd"


@contextlib.contextmanager
def shared_metrics_directory() -> Iterator[Path]:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` to a new empty directory for the worker processes started
    inside the block (they inherit the environment), and remove it afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="contrail-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    try:
        yield directory
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def _shared_directory() -> Path | None:
    raw = os.environ.get(MULTIPROC_ENV)
    if not raw:
        return None
    if values.ValueClass is values.MutexValue:
        logger.warning(
            "%s is set but prometheus_client was imported before it was; /metrics shows this process only",
            MULTIPROC_ENV,
        )
        return None
    return Path(raw)


class LlmUsage:
    """Calls, errors, tokens and cost per (project, model) as counters in ``registry``."""

    def __init__(self, registry: CollectorRegistry, labels: ModelLabels | SharedModelLabels) -> None:
        names = ["project", "model"]
        self.calls = Counter("contrail_llm_calls", "Model calls ingested", names, registry=registry)
        self.errors = Counter("contrail_llm_errors", "Model calls that failed", names, registry=registry)
        self.tokens = Counter(
            "contrail_llm_tokens", "Tokens ingested", [*names, "direction"], registry=registry
        )
        self.cost = Counter(_COST_NANOS, "Cost of ingested calls (USD)", names, registry=registry)
        self._labels = labels

    def totals(self, project_id: str, observations: Iterable[Observation]) -> dict[str, list[int]]:
        """Calls, errors, input and output tokens and cost in nanodollars, per model label."""
        # Summed per model first: one counter update per series and batch, not per observation.
        totals: dict[str, list[int]] = {}
        for obs in observations:
            if obs.model is None:
                continue
            model = self._labels.label(project_id, obs.model)
            sums = totals.setdefault(model, [0, 0, 0, 0, 0])
            sums[0] += 1
            sums[1] += obs.is_error
            sums[2] += obs.usage.input_tokens or 0
            sums[3] += obs.usage.output_tokens or 0
            sums[4] += int((obs.cost.total or Decimal(0)) * 1_000_000_000)
        return totals

    def record(self, project_id: str, totals: dict[str, list[int]]) -> None:
        for model, (calls, errors, tokens_in, tokens_out, nanos) in totals.items():
            self.calls.labels(project_id, model).inc(calls)
            self.errors.labels(project_id, model).inc(errors)
            self.tokens.labels(project_id, model, "input").inc(tokens_in)
            self.tokens.labels(project_id, model, "output").inc(tokens_out)
            self.cost.labels(project_id, model).inc(nanos)


class _ScrapeView(Collector):
    """What one project's scrape shows: every metric of ``source``, the LLM ones cut to that project
    (without their ``_created`` samples) and the cost in USD."""

    def __init__(self, source: Collector, project_id: str) -> None:
        self.source = source
        self.project_id = project_id

    def collect(self) -> Iterator[Metric]:
        for family in self.source.collect():
            yield self._scoped(family) if family.name.startswith(_LLM_PREFIX) else family

    def _scoped(self, family: Metric) -> Metric:
        cost = family.name == _COST_NANOS
        scoped = Metric(_COST_USD if cost else family.name, family.documentation, family.type)
        for sample in sorted(family.samples, key=lambda s: sorted(s.labels.items())):
            if sample.labels.get("project") != self.project_id or sample.name.endswith("_created"):
                continue
            if cost:
                scoped.add_sample(_COST_USD + "_total", sample.labels, sample.value / 1_000_000_000)
            else:
                scoped.add_sample(sample.name, sample.labels, sample.value)
        return scoped


class ServerTelemetry:
    """The server's metrics; ``render(project_id)`` gives the Prometheus text exposition.

    ``directory``: the multiprocess directory (default: ``PROMETHEUS_MULTIPROC_DIR`` when set before
    ``prometheus_client`` was imported); None keeps every value in this process.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else _shared_directory()
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
        # Each worker has its own write queue: the server's backlog is the sum over live workers.
        self.pending = Gauge(
            "contrail_write_queue_pending",
            "Spans waiting for the writer",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._build_info()
        labels: ModelLabels | SharedModelLabels = ModelLabels(MAX_MODELS_PER_PROJECT)
        self._source: Collector = self.registry
        if self.directory is not None:
            labels = SharedModelLabels(self.directory / "model-labels", MAX_MODELS_PER_PROJECT)
            self._source = MultiProcessCollector(None, str(self.directory))  # type: ignore[no-untyped-call]
        self.llm = LlmUsage(self.registry, labels)

    def _build_info(self) -> None:
        help_text = "Version of this server"
        if self.directory is None:
            info = Gauge("contrail_build_info", help_text, ["version", "pid"], registry=self.registry)
            info.labels(__version__, str(os.getpid())).set(1)
            return
        # One series per live worker: multiprocess mode adds the pid label itself.
        shared = Gauge(
            "contrail_build_info", help_text, ["version"], registry=self.registry, multiprocess_mode="liveall"
        )
        shared.labels(__version__).set(1)

    def render(self, project_id: str, pending_spans: int) -> bytes:
        self.pending.set(pending_spans)
        return generate_latest(_ScrapeView(self._source, project_id))

    def close(self) -> None:
        """Drop this process's live gauges (its build info and write backlog) from the shared view."""
        if self.directory is not None:
            mark_process_dead(os.getpid(), str(self.directory))  # type: ignore[no-untyped-call]
