"""The experiment runner against an in-memory backend: concurrency, errors, timeouts, retries,
resume, caching and tracing. (Runs against a real server live in test_runner_server.py.)"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from contrail.evals.base import EvalCase, ScoreResult
from contrail.evals.cache import ResultCache
from contrail.evals.client import DatasetItem, EvalsApiError, MemoryBackend
from contrail.evals.runner import ItemResult, arun_experiment, run_experiment
from contrail.evals.targets import RetryPolicy, TargetHTTPError, TargetOutput
from contrail.testing.sdk import capture

FAST_RETRY = RetryPolicy(max_retries=5, base_delay_s=0.001)


class Exact:
    """Scores 1.0 when the output equals the expected output; counts calls per item input."""

    name = "exact"

    def __init__(self) -> None:
        self.calls: dict[Any, int] = {}

    async def score(self, case: EvalCase) -> ScoreResult:
        self.calls[case.input] = self.calls.get(case.input, 0) + 1
        ok = case.output == case.expected
        return ScoreResult(self.name, value=1.0 if ok else 0.0, passed=ok)


def backend(n: int = 10) -> MemoryBackend:
    items = [DatasetItem(f"item-{i}", f"q{i}", f"Q{i}") for i in range(n)]
    return MemoryBackend({"qa": items})


async def test_callable_target_is_run_and_scored_for_every_item() -> None:
    store = backend(10)
    run = await arun_experiment("qa", str.upper, [Exact()], name="e1", backend=store, tracing=False)
    assert len(run.results) == 10
    assert run.metrics()["exact.mean"] == 1.0
    assert run.metrics()["exact.pass_rate"] == 1.0
    stored = store.results[run.id]
    assert sorted(stored) == sorted(f"item-{i}" for i in range(10))
    assert stored["item-3"]["output"] == "Q3"
    assert stored["item-3"]["scores"] == [{"name": "exact", "value": 1.0, "passed": True}]
    assert store.experiments[run.id]["status"] == "completed"
    assert store.experiments[run.id]["target"]["kind"] == "python"


async def test_async_target_runs_items_concurrently_up_to_the_limit() -> None:
    active, peak = 0, 0

    async def target(question: str) -> str:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        return question.upper()

    await arun_experiment("qa", target, [], name="c", backend=backend(20), concurrency=4, tracing=False)
    assert peak == 4


async def test_a_target_that_raises_fails_its_item_only() -> None:
    def target(question: str) -> str:
        if question == "q2":
            raise ValueError("boom on q2")
        return question.upper()

    store = backend(5)
    run = await arun_experiment("qa", target, [Exact()], name="r", backend=store, tracing=False)
    failed = [r for r in run.results if r.error]
    assert [r.item_id for r in failed] == ["item-2"]
    assert failed[0].error == "ValueError: boom on q2"
    assert failed[0].scores == ()
    assert run.metrics()["errors"] == 1
    assert run.metrics()["exact.mean"] == 1.0
    assert store.results[run.id]["item-2"]["error"] == "ValueError: boom on q2"


async def test_a_target_that_hangs_gets_a_timeout_error() -> None:
    release = asyncio.Event()

    async def target(question: str) -> str:
        if question == "q1":
            await release.wait()  # never set: hangs until the runner's timeout cancels it
        return question.upper()

    run = await arun_experiment("qa", target, [], name="h", backend=backend(3), timeout_s=0.2, tracing=False)
    errors = {r.item_id: r.error for r in run.results}
    assert errors["item-1"] == "TimeoutError: the target did not answer within 0.2 s"
    assert errors["item-0"] is None and errors["item-2"] is None


async def test_a_sync_target_that_hangs_gets_a_timeout_error() -> None:
    release = threading.Event()

    def target(question: str) -> str:
        if question == "q0":
            release.wait(10)
        return question

    try:
        run = await arun_experiment(
            "qa", target, [], name="hs", backend=backend(2), timeout_s=0.2, tracing=False
        )
    finally:
        release.set()
    assert {r.item_id: r.error is not None for r in run.results} == {"item-0": True, "item-1": False}


async def test_transient_errors_are_retried_with_the_servers_retry_after() -> None:
    attempts: dict[str, int] = {}

    async def target(question: str) -> str:
        attempts[question] = attempts.get(question, 0) + 1
        if attempts[question] <= 2:
            raise TargetHTTPError(429, "slow down", retry_after=0.01)
        return question.upper()

    run = await arun_experiment(
        "qa", target, [Exact()], name="t", backend=backend(3), retry=FAST_RETRY, tracing=False
    )
    assert all(r.error is None for r in run.results)
    assert attempts == {"q0": 3, "q1": 3, "q2": 3}


async def test_retries_stop_after_max_retries_and_non_transient_errors_are_not_retried() -> None:
    calls: list[int] = []

    async def target(question: str) -> str:
        calls.append(1)
        raise TargetHTTPError(503 if question == "q0" else 400, "nope")

    run = await arun_experiment(
        "qa", target, [], name="m", backend=backend(2), retry=RetryPolicy(2, 0.001), tracing=False
    )
    errors = {r.item_id: r.error for r in run.results}
    assert errors["item-0"] == "TargetHTTPError: HTTP 503: nope (after 3 attempts)"
    assert errors["item-1"] == "TargetHTTPError: HTTP 400: nope"
    assert len(calls) == 3 + 1


async def test_cancelled_run_is_interrupted_and_resume_scores_each_item_exactly_once() -> None:
    store = backend(30)
    scorer = Exact()
    started = 0
    enough = asyncio.Event()

    async def target(question: str) -> str:
        nonlocal started
        started += 1
        if started >= 10:
            enough.set()
        await asyncio.sleep(0.002)
        return question.upper()

    task = asyncio.create_task(
        arun_experiment("qa", target, [scorer], name="resumable", backend=store, concurrency=3, tracing=False)
    )
    await enough.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    experiment_id = next(iter(store.experiments))
    assert store.experiments[experiment_id]["status"] == "interrupted"
    first = dict(store.results[experiment_id])
    assert 0 < len(first) < 30
    assert sum(scorer.calls.values()) == len(first)  # everything scored was uploaded

    run = await arun_experiment(
        "qa", target, [scorer], name="resumable", backend=store, resume=True, tracing=False
    )
    assert run.id == experiment_id
    assert store.experiments[experiment_id]["status"] == "completed"
    assert len(store.results[experiment_id]) == 30
    assert scorer.calls == {f"q{i}": 1 for i in range(30)}
    assert len(run.results) == 30
    assert sum(r.resumed for r in run.results) == len(first)


async def test_same_name_without_resume_is_a_conflict() -> None:
    store = backend(2)
    await arun_experiment("qa", str.upper, [], name="dup", backend=store, tracing=False)
    with pytest.raises(EvalsApiError) as caught:
        await arun_experiment("qa", str.upper, [], name="dup", backend=store, tracing=False)
    assert caught.value.status == 409


async def test_unknown_dataset_raises_not_found() -> None:
    with pytest.raises(EvalsApiError) as caught:
        await arun_experiment("nope", str.upper, [], backend=backend(1), tracing=False)
    assert caught.value.status == 404


async def test_cache_replays_identical_calls(tmp_path: Path) -> None:
    calls: list[str] = []

    async def target(question: str) -> TargetOutput:
        calls.append(question)
        return TargetOutput(question.upper(), cost_usd=None, input_tokens=3, output_tokens=1)

    cache = ResultCache(tmp_path / "cache.sqlite3")
    await arun_experiment("qa", target, [], name="a", backend=backend(4), cache=cache, tracing=False)
    cache = ResultCache(tmp_path / "cache.sqlite3")
    run = await arun_experiment("qa", target, [], name="b", backend=backend(4), cache=cache, tracing=False)
    assert len(calls) == 4
    assert all(r.cached and r.output == r.input.upper() and r.input_tokens == 3 for r in run.results)
    run = await arun_experiment("qa", target, [], name="c", backend=backend(4), cache=False, tracing=False)
    assert len(calls) == 8 and not any(r.cached for r in run.results)


async def test_scorer_that_raises_becomes_a_score_error() -> None:
    class Broken:
        name = "broken"

        async def score(self, case: EvalCase) -> ScoreResult:
            raise RuntimeError("bad scorer")

    run = await arun_experiment(
        "qa", str.upper, [Broken(), Exact()], name="s", backend=backend(2), tracing=False
    )
    first = run.results[0]
    assert [s.name for s in first.scores] == ["broken", "exact"]
    assert first.scores[0].error == "RuntimeError: bad scorer"
    assert run.metrics()["broken.errors"] == 2
    assert first.failed


async def test_each_item_is_one_trace_named_after_the_experiment() -> None:
    store = backend(3)
    with capture() as traced:
        run = await arun_experiment("qa", str.upper, [Exact()], name="traced-run", backend=store)
    roots = traced.find(name="traced-run")
    assert len(roots) == 3
    by_item = {o["trace"]["metadata"]["dataset_item_id"]: o for o in roots}
    assert sorted(by_item) == ["item-0", "item-1", "item-2"]
    root = by_item["item-1"]
    assert root["trace"]["metadata"]["experiment_id"] == run.id
    assert root["trace"]["metadata"]["dataset"] == "qa"
    assert root["output"] == "Q1"
    result = next(r for r in run.results if r.item_id == "item-1")
    assert result.trace_id == root["trace_id"]
    assert store.results[run.id]["item-1"]["trace_id"] == root["trace_id"]


def test_sync_wrapper_runs_outside_an_event_loop() -> None:
    run = run_experiment("qa", str.upper, [Exact()], name="sync", backend=backend(2), tracing=False)
    assert run.metrics()["exact.mean"] == 1.0


async def test_sync_wrapper_refuses_inside_an_event_loop() -> None:
    with pytest.raises(RuntimeError, match="arun_experiment"):
        run_experiment("qa", str.upper, [], backend=backend(1), tracing=False)


def test_result_round_trips_through_the_wire_format() -> None:
    result = ItemResult(
        "i1", "q", "Q", output="Q", latency_ms=1.5, scores=(ScoreResult("exact", value=1.0, passed=True),)
    )
    back = ItemResult.from_wire({**result.to_wire(), "input": "q", "expected_output": "Q"})
    assert back.scores == result.scores and back.output == "Q" and back.resumed
