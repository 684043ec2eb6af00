"""A registry prompt as the target of `contrail eval run`: fetched by label or version, compiled with
each item's input (missing variables are that item's error), sent to the fake provider, priced from
usage with the catalogue, and traced as a generation linked to the prompt's name and version."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from contrail.evals.client import EvalsClient
from contrail.evals.config import ConfigError, run_eval_file
from contrail.evals.targets import price_call
from contrail.testing.fake_llm import FakeLLM
from tests.conftest import LiveContrail
from tests.evals.online_fixtures import wait_for
from tests.evals.test_runner_server import traced_to  # noqa: F401 - the fixture

CHAT = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "Please repeat: {{q}}"},
]


@pytest.fixture
def prompted(traced_to: LiveContrail) -> Iterator[LiveContrail]:  # noqa: F811
    with traced_to.client() as http:
        first = {"name": "qa/answer", "type": "chat", "prompt": CHAT, "labels": ["production"]}
        assert http.post("/api/v1/prompts", json=first).status_code == 201
        second = {**first, "prompt": [{"role": "user", "content": "v2 {{q}}"}], "labels": []}
        assert http.post("/api/v1/prompts", json=second).status_code == 201
    yield traced_to


def _eval_file(tmp_path: Path, fake_llm: FakeLLM, selector: str) -> Path:
    path = tmp_path / "eval.yaml"
    path.write_text(
        "dataset: prompted\n"
        f"target: {{kind: prompt, prompt: qa/answer, {selector}model: gpt-4o-mini, "
        f"base_url: '{fake_llm.openai_base_url}'}}\n"
        "scorers: [{type: contains, value: 'question'}]\nmax_error_rate: 0.5\ncache: false\n"
    )
    return path


async def test_prompt_target_compiles_links_and_prices(
    prompted: LiveContrail, fake_llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    async with EvalsClient(prompted.url, secret_key=prompted.secret_key) as client:
        await client.create_dataset("prompted")
        items = [{"id": f"item-{i}", "input": {"q": f"question {i}", "extra": i}} for i in range(3)]
        items += [{"id": "no-q", "input": {"other": 1}}, {"id": "text", "input": "just text"}]
        await client.upsert_items("prompted", items)
        verdict = await run_eval_file(_eval_file(tmp_path, fake_llm, ""), client=client, name="by-label")
        by_version = await run_eval_file(
            _eval_file(tmp_path, fake_llm, "version: 2, "), client=client, name="by-version"
        )
    results = {r.item_id: r for r in verdict.run.results}
    assert results["item-1"].error is None and "question 1" in str(results["item-1"].output)
    assert "Please repeat: question 1" in str(fake_llm.requests[0]) or any(
        "Please repeat: question" in str(r) for r in fake_llm.requests
    )
    assert "missing" in (results["no-q"].error or "") and "q" in (results["no-q"].error or "")
    assert (results["no-q"].error or "").startswith("PromptInputError: prompt 'qa/answer' v1")
    assert "must be an object" in (results["text"].error or "")
    usage = results["item-1"]
    assert usage.cost_usd is not None and usage.cost_usd > 0
    assert usage.cost_usd == price_call("gpt-4o-mini", usage.input_tokens, usage.output_tokens)
    assert any("v2 question" in str(r) for r in fake_llm.requests)
    assert verdict.run.experiment["target"]["prompt_name"] == "qa/answer"
    assert verdict.run.experiment["target"]["prompt_version"] == 1
    assert by_version.run.experiment["target"]["prompt_version"] == 2
    # The generation of item-1's trace is linked to the prompt version, with the same cost.
    with prompted.client() as http:

        def generation() -> dict[str, object] | None:
            found = http.get(
                "/api/v1/observations", params={"type": "generation", "trace_id": usage.trace_id}
            ).json()["data"]
            return found[0] if found else None

        seen = wait_for(generation, what="the linked generation")
        trace = http.get(f"/api/v1/traces/{usage.trace_id}").json()
    assert (seen["prompt_name"], seen["prompt_version"]) == ("qa/answer", 1)
    assert Decimal(str(trace["total_cost_usd"])) == usage.cost_usd


async def test_unknown_prompt_and_both_selectors_are_config_errors(
    prompted: LiveContrail, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    async with EvalsClient(prompted.url, secret_key=prompted.secret_key) as client:
        await client.create_dataset("prompted")
        both = _eval_file(tmp_path, fake_llm, "version: 1, label: production, ")
        with pytest.raises(ConfigError, match="not both"):
            await run_eval_file(both, client=client)
        unknown = _eval_file(tmp_path, fake_llm, "").read_text().replace("qa/answer", "qa/missing")
        (tmp_path / "eval.yaml").write_text(unknown)
        with pytest.raises(ConfigError, match="qa/missing"):
            await run_eval_file(tmp_path / "eval.yaml", client=client)
