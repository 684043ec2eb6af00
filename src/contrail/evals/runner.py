"""Run a target over a dataset, score every output, and record it all as an experiment.

    run = await arun_experiment("qa-golden", answer, ["exact_match"], name="rag-v2")
    run.metrics()["exact_match.mean"]

Items run concurrently (``concurrency`` at a time); transient target failures (429/5xx, connection
errors) are retried with exponential backoff and jitter, honouring Retry-After; each attempt is
bounded by ``timeout_s``. A target that raises or hangs gives that item an error and the others go
on. Each item is one trace named after the experiment (metadata: dataset, item and experiment ids),
sent by the SDK's background exporter; results are uploaded in batches by a background task, so the
runner adds well under a millisecond per item. ``resume=True`` continues an interrupted experiment
of the same name, skipping items that already have a result without an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import itertools
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from contrail.evals.base import EvalCase, Scorer, ScoreResult
from contrail.evals.cache import ResultCache, cache_key
from contrail.evals.client import DatasetItem, EvalsClient, ExperimentBackend
from contrail.evals.targets import CallableTarget, RetryPolicy, Target, TargetOutput, retry_hint

_log = logging.getLogger(__name__)

ScorerLike = Scorer | Callable[..., Any] | str | Mapping[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class ItemResult:
    """One dataset item's outcome; ``resumed`` when an earlier run of the experiment produced it."""

    item_id: str
    input: Any
    expected: Any = None
    output: Any = None
    error: str | None = None
    latency_ms: float | None = None
    cost_usd: Decimal | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    scores: tuple[ScoreResult, ...] = ()
    trace_id: str | None = None
    cached: bool = False
    resumed: bool = False

    def to_wire(self) -> dict[str, Any]:
        """The body of one result in ``POST /api/v1/experiments/{id}/results``."""
        wire: dict[str, Any] = {"item_id": self.item_id, "output": self.output, "scores": []}
        for key in ("trace_id", "error", "latency_ms", "input_tokens", "output_tokens"):
            value = getattr(self, key)
            if value is not None:
                wire[key] = value
        if self.cost_usd is not None:
            wire["cost_usd"] = str(self.cost_usd)
        for score in self.scores:
            body = {"name": score.name}
            for key in ("value", "label", "passed", "reason", "error"):
                value = getattr(score, key)
                if value is not None:
                    body[key] = value
            wire["scores"].append(body)
        return wire

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> ItemResult:
        """A result as the server returns it (item input/expected output joined)."""
        scores = tuple(
            ScoreResult(
                name=str(s["name"]),
                value=_finite(s.get("value")),
                label=s.get("label"),
                passed=s.get("passed"),
                reason=s.get("reason"),
                error=s.get("error"),
            )
            for s in raw.get("scores") or ()
        )
        cost = raw.get("cost_usd")
        return cls(
            item_id=str(raw["item_id"]),
            input=raw.get("input"),
            expected=raw.get("expected_output"),
            output=raw.get("output"),
            error=raw.get("error"),
            latency_ms=raw.get("latency_ms"),
            cost_usd=None if cost is None else Decimal(str(cost)),
            input_tokens=raw.get("input_tokens"),
            output_tokens=raw.get("output_tokens"),
            scores=scores,
            trace_id=raw.get("trace_id"),
            resumed=True,
        )

    @property
    def failed(self) -> bool:
        """The target failed, a scorer could not decide, or a scorer said the output did not pass."""
        return self.error is not None or any(s.error is not None or s.passed is False for s in self.scores)


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


@dataclasses.dataclass
class ExperimentRun:
    """What a run produced: the experiment record and every item's result (earlier runs included)."""

    experiment: dict[str, Any]
    dataset: str
    results: list[ItemResult]

    @property
    def id(self) -> str:
        return str(self.experiment["id"])

    @property
    def name(self) -> str:
        return str(self.experiment["name"])

    def metrics(self) -> dict[str, float]:
        """Flat metrics for thresholds and reports.

        Per scorer ``<name>.mean`` (over items it could score), ``.pass_rate``, ``.errors``, ``.n``;
        overall ``items``, ``errors`` / ``error_rate`` (target failures), ``latency_p50_ms``,
        ``latency_p95_ms``, ``cost_usd_total``.
        """
        out: dict[str, float] = {"items": float(len(self.results))}
        errors = sum(1 for r in self.results if r.error is not None)
        out["errors"] = float(errors)
        out["error_rate"] = errors / len(self.results) if self.results else 0.0
        latencies = sorted(r.latency_ms for r in self.results if r.latency_ms is not None)
        if latencies:
            out["latency_p50_ms"] = _nearest_rank(latencies, 0.50)
            out["latency_p95_ms"] = _nearest_rank(latencies, 0.95)
        costs = [r.cost_usd for r in self.results if r.cost_usd is not None]
        if costs:
            out["cost_usd_total"] = float(sum(costs, Decimal(0)))
        for name, scores in self.scores_by_name().items():
            out.update(_score_metrics(name, scores))
        return out

    def scores_by_name(self) -> dict[str, list[ScoreResult]]:
        by_name: dict[str, list[ScoreResult]] = {}
        for result in self.results:
            for score in result.scores:
                by_name.setdefault(score.name, []).append(score)
        return by_name


def _score_metrics(name: str, scores: list[ScoreResult]) -> dict[str, float]:
    values = [s.value for s in scores if s.value is not None]
    verdicts = [s.passed for s in scores if s.passed is not None]
    out = {f"{name}.n": float(len(values)), f"{name}.errors": float(sum(1 for s in scores if s.error))}
    if values:
        out[f"{name}.mean"] = math.fsum(values) / len(values)
    if verdicts:
        out[f"{name}.pass_rate"] = sum(verdicts) / len(verdicts)
    return out


def _nearest_rank(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --- the run ----------------------------------------------------------------------------------


def run_experiment(
    dataset: str, target: Target | Callable[[Any], Any], *args: Any, **kwargs: Any
) -> ExperimentRun:
    """Blocking :func:`arun_experiment` (not from inside a running event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(arun_experiment(dataset, target, *args, **kwargs))
    raise RuntimeError("run_experiment() was called inside an event loop: use `await arun_experiment(...)`")


async def arun_experiment(
    dataset: str,
    target: Target | Callable[[Any], Any],
    scorers: Sequence[ScorerLike] = (),
    *,
    name: str | None = None,
    backend: ExperimentBackend | None = None,
    dataset_version: int | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    concurrency: int = 8,
    timeout_s: float = 60.0,
    retry: RetryPolicy | None = None,
    resume: bool = False,
    cache: ResultCache | bool | None = None,
    progress: bool | None = None,
    tracing: bool = True,
) -> ExperimentRun:
    """Run ``target`` over every active item of ``dataset`` and record the experiment.

    ``target``: a :class:`~contrail.evals.targets.Target` or a function of the item input (sync or
    async). ``scorers``: Scorer objects, plain functions (adapted by ``as_scorer``) or specs for
    ``build_scorer``. ``backend`` defaults to the server the SDK exports to. ``cache``: a
    ResultCache, True (default location), False, or None (on for cacheable targets: HTTP and
    model targets, not plain functions). ``progress``: None shows a bar only on a terminal.
    Raises ``EvalsApiError`` when the dataset is unknown or the server refuses the experiment.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    owned = backend is None
    store: ExperimentBackend = EvalsClient.from_config() if backend is None else backend
    resolved = _as_target(target, concurrency)
    try:
        run = _Run(
            store,
            dataset,
            resolved,
            _as_scorers(scorers),
            concurrency=concurrency,
            timeout_s=timeout_s,
            retry=retry or RetryPolicy(),
            cache=_as_cache(cache, resolved),
            progress=sys.stderr.isatty() if progress is None else progress,
            tracing=tracing,
        )
        return await run.execute(
            name or _default_name(dataset),
            resume=resume,
            dataset_version=dataset_version,
            description=description,
            metadata=metadata,
        )
    finally:
        await resolved.aclose()
        if owned and isinstance(store, EvalsClient):
            await store.aclose()


def _default_name(dataset: str) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{dataset.replace('/', '-')}-{stamp}"


def _as_target(target: Target | Callable[[Any], Any], concurrency: int) -> Target:
    if hasattr(target, "describe") and hasattr(target, "kind"):
        return target  # type: ignore[return-value]
    if callable(target):
        return CallableTarget(target, threads=concurrency)
    raise TypeError(f"target must be a callable or a Target, got {type(target).__name__}")


def _as_scorers(scorers: Sequence[ScorerLike]) -> list[Scorer]:
    out: list[Scorer] = []
    for scorer in scorers:
        if isinstance(scorer, Scorer):
            out.append(scorer)
        elif isinstance(scorer, (str, Mapping)):
            from contrail.evals.scorers import build_scorer

            out.append(build_scorer({"type": scorer} if isinstance(scorer, str) else scorer))
        elif callable(scorer):
            from contrail.evals.scorers import as_scorer

            out.append(as_scorer(scorer))
        else:
            raise TypeError(f"not a scorer: {scorer!r}")
    names = [s.name for s in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"two scorers share the name {duplicates[0]!r}; give them distinct names")
    return out


def _as_cache(cache: ResultCache | bool | None, target: Target) -> ResultCache | None:
    if isinstance(cache, ResultCache):
        return cache
    if cache is True or (cache is None and target.cacheable):
        return ResultCache()
    return None


class _Run:
    """One execution of an experiment (fresh or resumed)."""

    def __init__(
        self,
        store: ExperimentBackend,
        dataset: str,
        target: Target,
        scorers: list[Scorer],
        *,
        concurrency: int,
        timeout_s: float,
        retry: RetryPolicy,
        cache: ResultCache | None,
        progress: bool,
        tracing: bool,
    ) -> None:
        self.store = store
        self.dataset = dataset
        self.target = target
        self.scorers = scorers
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retry = retry
        self.cache = cache
        self.show_progress = progress
        self.tracing = tracing
        self.target_spec = target.describe()
        self.results: list[ItemResult] = []
        self.trace_meta: dict[str, Any] = {}

    async def execute(
        self,
        name: str,
        *,
        resume: bool,
        dataset_version: int | None,
        description: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> ExperimentRun:
        items = await self.store.dataset_items(self.dataset, dataset_version)
        body: dict[str, Any] = {"name": name, "dataset": self.dataset, "target": self.target_spec}
        for key, value in (("dataset_version", dataset_version), ("description", description)):
            if value is not None:
                body[key] = value
        body["metadata"] = dict(metadata or {})
        experiment = await self.store.create_experiment(body, resume=resume)
        done = await self._earlier_results(experiment) if resume else {}
        if experiment.get("status") != "running":
            experiment = await self.store.set_status(experiment["id"], "running")
        self.results = list(done.values())
        todo = [item for item in items if item.id not in done]
        self.trace_meta = {
            "dataset": self.dataset,
            "experiment_id": experiment["id"],
            "experiment_name": name,
        }
        await self._run_items(experiment, todo)
        return ExperimentRun(experiment, self.dataset, self.results)

    async def _earlier_results(self, experiment: Mapping[str, Any]) -> dict[str, ItemResult]:
        rows = await self.store.experiment_results(str(experiment["id"]))
        earlier = (ItemResult.from_wire(row) for row in rows)
        return {r.item_id: r for r in earlier if r.error is None}

    async def _run_items(self, experiment: dict[str, Any], todo: list[DatasetItem]) -> None:
        experiment_id = str(experiment["id"])
        uploader = _Uploader(self.store, experiment_id)
        bar = _ProgressBar(experiment["name"], len(todo), self.show_progress)
        pending = iter(todo)
        status = "failed"
        try:
            workers = [self._worker(pending, uploader, bar) for _ in range(min(self.concurrency, len(todo)))]
            await asyncio.gather(*workers)
            status = "completed"
        except asyncio.CancelledError:
            status = "interrupted"
            raise
        finally:
            bar.close()
            await _finish(self, uploader, experiment, status)

    async def _worker(self, pending: Iterator[DatasetItem], uploader: _Uploader, bar: _ProgressBar) -> None:
        # The iterator is shared: next() never awaits, so each item goes to exactly one worker.
        for item in pending:
            result = await self.run_item(item)
            self.results.append(result)
            uploader.add(result.to_wire())
            bar.advance()

    async def run_item(self, item: DatasetItem) -> ItemResult:
        """Call the target inside the item's trace, then score what it produced."""
        if self.tracing:
            from contrail.sdk.scope import span

            meta = {**self.trace_meta, "dataset_item_id": item.id}
            async with span(self.trace_meta["experiment_name"], type="chain", input=item.input) as scope:
                if scope.sampled:
                    scope.set_trace(name=self.trace_meta["experiment_name"], metadata=meta, tags=["eval"])
                outcome = await self.call_target(item.input)
                _record(scope, outcome)
            trace_id = scope.trace_id if scope.sampled else None
        else:
            outcome = await self.call_target(item.input)
            trace_id = None
        return await self.scored(item, outcome, trace_id)

    async def call_target(self, input: Any) -> _Outcome:
        """The target's output (from the cache when possible), retrying transient failures."""
        key = cache_key(self.target_spec, input) if self.cache is not None else None
        if key is not None and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return _Outcome(hit, cached=True)
        for attempt in itertools.count():
            started = time.perf_counter()
            try:
                output = await asyncio.wait_for(self.target(input), self.timeout_s)
            except asyncio.TimeoutError:
                return _Outcome(error=f"TimeoutError: the target did not answer within {self.timeout_s:g} s")
            except Exception as exc:  # the item records the error; the other items go on
                hint = retry_hint(exc)
                if hint is None or attempt >= self.retry.max_retries:
                    suffix = f" (after {attempt + 1} attempts)" if hint is not None else ""
                    return _Outcome(error=f"{type(exc).__name__}: {exc}{suffix}"[:4000])
                await asyncio.sleep(self.retry.delay(attempt, hint))
                continue
            latency_ms = (time.perf_counter() - started) * 1000
            if key is not None and self.cache is not None:
                self.cache.put(key, output)
            return _Outcome(output, latency_ms=latency_ms)
        raise AssertionError("unreachable")  # pragma: no cover

    async def scored(self, item: DatasetItem, outcome: _Outcome, trace_id: str | None) -> ItemResult:
        output = outcome.output
        scores: tuple[ScoreResult, ...] = ()
        if outcome.error is None and output is not None and self.scorers:
            case = EvalCase(
                input=item.input,
                output=output.output,
                expected=item.expected_output,
                metadata=item.metadata,
                context=output.context,
                latency_seconds=None if outcome.latency_ms is None else outcome.latency_ms / 1000,
                cost_usd=output.cost_usd,
                trace_id=trace_id,
            )
            if len(self.scorers) == 1:
                scores = (await _score(self.scorers[0], case),)
            else:
                scores = tuple(await asyncio.gather(*(_score(s, case) for s in self.scorers)))
        return ItemResult(
            item_id=item.id,
            input=item.input,
            expected=item.expected_output,
            output=None if output is None else output.output,
            error=outcome.error,
            latency_ms=outcome.latency_ms,
            cost_usd=None if output is None else output.cost_usd,
            input_tokens=None if output is None else output.input_tokens,
            output_tokens=None if output is None else output.output_tokens,
            scores=scores,
            trace_id=trace_id,
            cached=outcome.cached,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class _Outcome:
    output: TargetOutput | None = None
    error: str | None = None
    latency_ms: float | None = None
    cached: bool = False


def _record(scope: Any, outcome: _Outcome) -> None:
    if not scope.sampled:
        return
    if outcome.error is not None:
        scope.status, scope.level, scope.status_message = "error", "error", outcome.error[:2000]
    elif outcome.output is not None:
        cost = None if outcome.output.cost_traced else outcome.output.cost_usd
        scope.update(output=outcome.output.output, cost_usd=cost)
        if outcome.cached:
            scope.add_metadata({"cached": True})


async def _score(scorer: Scorer, case: EvalCase) -> ScoreResult:
    try:
        result = await scorer.score(case)
    except Exception as exc:  # the contract says scorers return errors; a buggy one must not stop the run
        _log.warning("scorer %r raised %s", scorer.name, type(exc).__name__)
        return ScoreResult(name=scorer.name, error=f"{type(exc).__name__}: {exc}"[:2000])
    if not isinstance(result, ScoreResult):
        return ScoreResult(
            name=scorer.name, error=f"scorer returned {type(result).__name__}, not ScoreResult"
        )
    return result


async def _finish(run: _Run, uploader: _Uploader, experiment: Mapping[str, Any], status: str) -> None:
    """Upload what is left, mark the experiment, and send the traces (also when interrupted)."""
    experiment_id = str(experiment["id"])
    try:
        await asyncio.shield(uploader.close())
        await asyncio.shield(run.store.set_status(experiment_id, status))
    finally:
        if run.cache is not None:
            run.cache.close()
        if run.tracing:
            import contrail

            await asyncio.shield(asyncio.to_thread(contrail.flush, 30.0))


class _Uploader:
    """Batches results to the store from a background task (no HTTP call on an item's path)."""

    BATCH = 200
    INTERVAL_S = 0.5

    def __init__(self, store: ExperimentBackend, experiment_id: str) -> None:
        self.store = store
        self.experiment_id = experiment_id
        self.pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def add(self, result: dict[str, Any]) -> None:
        self.pending.append(result)
        if self._task is None:
            self._task = asyncio.create_task(self._loop())
        if len(self.pending) >= self.BATCH:
            self._wake.set()

    async def _loop(self) -> None:
        while not self._closing:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.INTERVAL_S)
            self._wake.clear()
            try:
                await self._send()
            except Exception as exc:  # kept in pending; close() retries and raises if it still fails
                _log.warning("uploading results failed (%s); will retry", exc)

    async def _send(self) -> None:
        while self.pending:
            batch = self.pending[: self.BATCH]
            await self.store.write_results(self.experiment_id, batch)
            del self.pending[: len(batch)]

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            await task
        await self._send()


class _ProgressBar:
    """A rich progress bar on stderr, or nothing (not a terminal, or rich not installed)."""

    def __init__(self, title: str, total: int, enabled: bool) -> None:
        self._progress: Any = None
        self._task: Any = None
        if not enabled or total == 0:
            return
        try:
            from rich.console import Console
            from rich.progress import Progress
        except ImportError:
            return
        from rich.markup import escape

        self._progress = Progress(console=Console(stderr=True), transient=False)
        self._task = self._progress.add_task(escape(title), total=total)
        self._progress.start()

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
