"""The runner against a live Contrail server (SQLite and PostgreSQL) and the fake provider over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import contrail
from contrail.evals.base import EvalCase, ScoreResult
from contrail.evals.client import EvalsApiError, EvalsClient, ServerUnreachableError
from contrail.evals.runner import arun_experiment
from contrail.evals.targets import HttpTarget, ModelTarget, RetryPolicy
from contrail.sdk import tracer as _tracer
from contrail.testing.fake_llm import FakeLLM
from tests.conftest import LiveContrail

FAST_RETRY = RetryPolicy(max_retries=6, base_delay_s=0.001)


class Echoed:
    """1.0 when the output contains the item's question; counts scorings per item input."""

    name = "echoed"

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    async def score(self, case: EvalCase) -> ScoreResult:
        question = case.input["q"]
        self.calls[question] = self.calls.get(question, 0) + 1
        ok = question in str(case.output)
        return ScoreResult(self.name, value=float(ok), passed=ok)


@pytest.fixture
def traced_to(contrail: LiveContrail) -> Iterator[LiveContrail]:
    """The SDK exports to the live server for the test, then goes back to its previous settings."""
    previous = _tracer.STATE
    contrail_sdk_configure(contrail)
    try:
        yield contrail
    finally:
        _restore(previous)


def _restore(previous: _tracer.Tracer | None) -> None:
    contrail.shutdown(5)
    _tracer.STATE = previous


def contrail_sdk_configure(live: LiveContrail) -> None:
    contrail.configure(host=live.url, secret_key=live.secret_key, flush_interval=0.05)


async def make_dataset(live: LiveContrail, name: str, n: int) -> EvalsClient:
    client = EvalsClient(live.url, secret_key=live.secret_key)
    await client.create_dataset(name)
    await client.upsert_items(name, [{"id": f"item-{i}", "input": {"q": f"question {i}"}} for i in range(n)])
    return client


def model_target(fake_llm: FakeLLM) -> ModelTarget:
    return ModelTarget(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Please repeat: {{q}}"}],
        base_url=fake_llm.openai_base_url,
        api_key="sk-test",
    )


async def test_model_target_through_the_fake_provider_with_429s(
    traced_to: LiveContrail, fake_llm: FakeLLM
) -> None:
    fake_llm.script.on(times=6).error(429, retry_after=0.01)
    client = await make_dataset(traced_to, "qa/golden", 8)
    scorer = Echoed()
    run = await arun_experiment(
        "qa/golden", model_target(fake_llm), [scorer], name="m1", backend=client, concurrency=4,
        retry=FAST_RETRY, cache=False,
    )  # fmt: skip
    assert all(r.error is None for r in run.results), [r.error for r in run.results]
    assert run.metrics()["echoed.mean"] == 1.0
    assert len(fake_llm.requests) == 8 + 6
    assert contrail.flush(10)
    stored = await client.experiment_results(run.id)
    assert sorted(r["item_id"] for r in stored) == [f"item-{i}" for i in range(8)]
    one = next(r for r in stored if r["item_id"] == "item-3")
    assert "question 3" in one["output"] and one["input_tokens"] > 0 and one["trace_id"]
    assert one["scores"][0]["name"] == "echoed" and one["scores"][0]["value"] == 1.0
    experiment = await client.get_experiment(run.id)
    assert experiment["status"] == "completed"
    assert experiment["summary"]["scores"]["echoed"]["mean"] == 1.0
    # the item's trace reached the server, named after the experiment, linked to the item
    with traced_to.client() as http:
        trace = poll(http, f"/api/v1/traces/{one['trace_id']}")
    assert trace["name"] == "m1"
    assert trace["metadata"]["dataset_item_id"] == "item-3"
    assert trace["metadata"]["experiment_id"] == run.id
    await client.aclose()


def poll(http: httpx.Client, path: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 10
    while True:
        response = http.get(path)
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body
        time.sleep(0.05)


async def test_provider_errors_hangs_and_exhausted_retries(contrail: LiveContrail, fake_llm: FakeLLM) -> None:
    fake_llm.script.on(prompt_contains="question 1").error(500)
    fake_llm.script.on(prompt_contains="question 2").timeout(10)
    fake_llm.script.on(prompt_contains="question 3").error(400)
    client = await make_dataset(contrail, "errors", 5)
    run = await arun_experiment(
        "errors", model_target(fake_llm), [Echoed()], name="e", backend=client, timeout_s=0.5,
        retry=RetryPolicy(max_retries=2, base_delay_s=0.001), cache=False, tracing=False,
    )  # fmt: skip
    errors = {r.item_id: r.error for r in run.results}
    assert errors["item-0"] is None and errors["item-4"] is None
    assert errors["item-1"].startswith("InternalServerError") and "after 3 attempts" in errors["item-1"]
    assert errors["item-2"] == "TimeoutError: the target did not answer within 0.5 s"
    assert errors["item-3"].startswith("BadRequestError")
    stored = {r["item_id"]: r for r in await client.experiment_results(run.id)}
    assert stored["item-2"]["error"] == errors["item-2"]
    summary = (await client.get_experiment(run.id))["summary"]
    assert summary["errors"] == 3
    await client.aclose()


async def test_interrupted_run_resumes_and_scores_each_item_once(contrail: LiveContrail) -> None:
    client = await make_dataset(contrail, "resume", 40)
    scorer = Echoed()
    calls = 0
    enough = asyncio.Event()

    async def target(input: dict[str, str]) -> str:
        nonlocal calls
        calls += 1
        if calls >= 12:
            enough.set()
        await asyncio.sleep(0.005)
        return input["q"]

    task = asyncio.create_task(
        arun_experiment("resume", target, [scorer], name="r", backend=client, concurrency=4, tracing=False)
    )
    await enough.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    experiments = await client.list_experiments("resume")
    assert [e["status"] for e in experiments] == ["interrupted"]
    first = await client.experiment_results(experiments[0]["id"])
    assert 0 < len(first) < 40 and sum(scorer.calls.values()) == len(first)

    run = await arun_experiment(
        "resume", target, [scorer], name="r", backend=client, resume=True, tracing=False
    )
    assert run.id == experiments[0]["id"]
    assert scorer.calls == {f"question {i}": 1 for i in range(40)}
    assert len(await client.experiment_results(run.id)) == 40
    assert (await client.get_experiment(run.id))["status"] == "completed"
    await client.aclose()


async def test_http_target_posts_json_and_reads_the_output_path(
    sqlite_contrail: LiveContrail, fake_llm: FakeLLM
) -> None:
    client = await make_dataset(sqlite_contrail, "http", 3)
    target = HttpTarget(
        f"{fake_llm.openai_base_url}/chat/completions",
        headers={"Authorization": "Bearer sk-test"},
        output_path="choices.0.message.content",
    )

    async def body_adapter(input: dict[str, str]) -> Any:
        return await target({"model": "m", "messages": [{"role": "user", "content": input["q"]}]})

    run = await arun_experiment("http", body_adapter, [Echoed()], name="h", backend=client, tracing=False)
    assert run.metrics()["echoed.mean"] == 1.0
    await target.aclose()
    await client.aclose()


async def test_unknown_dataset_and_unreachable_server(sqlite_contrail: LiveContrail) -> None:
    client = EvalsClient(sqlite_contrail.url, secret_key=sqlite_contrail.secret_key)
    with pytest.raises(EvalsApiError) as caught:
        await arun_experiment("missing", str, [], backend=client, tracing=False)
    assert caught.value.status == 404
    await client.aclose()
    dead = EvalsClient("http://127.0.0.1:9", retry=RetryPolicy(max_retries=1, base_delay_s=0.001))
    with pytest.raises(ServerUnreachableError, match=r"Cannot reach Contrail at http://127\.0\.0\.1:9"):
        await arun_experiment("qa", str, [], backend=dead, tracing=False)
    await dead.aclose()
