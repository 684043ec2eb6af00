"""instrument_openai() with the real openai SDK against the fake provider (fake_llm fixture)."""

import json

import openai
import pytest

import contrail
from contrail.sdk.instrument import openai as instrument_module
from contrail.testing.sdk import capture

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]


@pytest.fixture
def client(fake_llm):
    with fake_llm.openai_client() as sync_client:
        yield sync_client


@pytest.fixture(autouse=True)
def instrumented():
    assert contrail.instrument_openai()
    assert contrail.instrument_openai()  # idempotent
    yield
    instrument_module.uninstrument()


def test_chat_completion_is_a_generation_with_usage_and_models(fake_llm, client):
    with capture() as traced:
        reply = client.chat.completions.create(model="fake-gpt", messages=MESSAGES, temperature=0.3)
    span = traced.one(name="openai.chat.completions")
    assert span["type"] == "generation" and span["provider"] == "openai"
    assert span["model_requested"] == "fake-gpt" and span["model_response"] == reply.model
    assert span["model_parameters"] == {"temperature": 0.3}
    assert span["input"] == MESSAGES
    assert span["output"]["content"] == reply.choices[0].message.content
    assert span["usage"]["input_tokens"] == reply.usage.prompt_tokens
    assert span["usage"]["output_tokens"] == reply.usage.completion_tokens
    assert span["metadata"]["finish_reason"] == "stop"
    assert "usage_estimated" not in span["metadata"]


def test_streaming_records_ttft_output_and_injected_usage_without_leaking_it(fake_llm, client):
    with capture() as traced:
        stream = client.chat.completions.create(model="fake-gpt", messages=MESSAGES, stream=True)
        assert isinstance(stream, openai.Stream)
        chunks = list(stream)
    assert all(chunk.choices for chunk in chunks)  # the usage-only chunk we asked for stays hidden
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert fake_llm.requests[-1].body["stream_options"] == {"include_usage": True}
    span = traced.one(name="openai.chat.completions")
    assert span["output"]["content"] == text
    assert span["ttft_us"] >= 0
    assert span["usage"]["output_tokens"] > 0
    assert "usage_estimated" not in span["metadata"]


def test_stream_without_usage_is_estimated_and_flagged(fake_llm, client):
    with capture() as traced:
        stream = client.chat.completions.create(
            model="fake-gpt", messages=MESSAGES, stream=True, stream_options={"include_usage": False}
        )
        for _ in stream:
            pass
    span = traced.one(name="openai.chat.completions")
    assert span["metadata"]["usage_estimated"] is True
    assert span["usage"]["input_tokens"] > 0 and span["usage"]["output_tokens"] > 0


def test_tool_calls_non_streaming_and_streaming(fake_llm, client):
    fake_llm.script.on(prompt_contains="weather").tool_call("get_weather", {"city": "Paris"})
    messages = [{"role": "user", "content": "weather in Paris?"}]
    with capture() as traced:
        client.chat.completions.create(model="fake-gpt", messages=messages)
        for _ in client.chat.completions.create(model="fake-gpt", messages=messages, stream=True):
            pass
    plain, streamed = traced.find(name="openai.chat.completions")
    for span in (plain, streamed):
        (call,) = span["output"]["tool_calls"]
        assert call["function"]["name"] == "get_weather"
        assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
        assert span["metadata"]["finish_reason"] == "tool_calls"


def test_errors_record_status_code_and_reraise(fake_llm, client):
    fake_llm.script.on(times=1).error(429, retry_after=0.01)
    with capture() as traced, pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="fake-gpt", messages=MESSAGES)
    span = traced.one(name="openai.chat.completions")
    assert span["status"] == "error"
    assert span["metadata"]["error.status_code"] == 429
    assert span["metadata"]["error.type"] == "RateLimitError"


async def test_async_chat_and_stream_parity(fake_llm):
    async with fake_llm.async_openai_client() as client:
        await _async_agent(client)


async def _async_agent(client):
    @contrail.observe
    async def agent():
        await client.chat.completions.create(model="fake-gpt", messages=MESSAGES)
        stream = await client.chat.completions.create(model="fake-gpt", messages=MESSAGES, stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream])

    with capture() as traced:
        text = await agent()
    root = traced.one(name="agent")
    plain, streamed = traced.children(root)
    assert plain["output"]["content"] == streamed["output"]["content"] == text
    assert streamed["ttft_us"] >= 0 and streamed["usage"]["output_tokens"] > 0


def test_responses_api(fake_llm, client):
    with capture() as traced:
        response = client.responses.create(
            model="fake-gpt", input="hello responses", instructions="Be brief."
        )
        streamed = "".join(
            e.delta
            for e in client.responses.create(model="fake-gpt", input="hello again", stream=True)
            if e.type == "response.output_text.delta"
        )
    plain, stream = traced.find(name="openai.responses")
    assert plain["output"] == response.output_text
    assert plain["input"] == {"system": "Be brief.", "input": "hello responses"}
    assert plain["usage"]["input_tokens"] == response.usage.input_tokens
    assert stream["output"] == streamed and stream["ttft_us"] >= 0
    assert stream["usage"]["output_tokens"] > 0


async def test_embeddings_sync_and_async(fake_llm):
    with capture() as traced, fake_llm.openai_client() as client:
        client.embeddings.create(model="fake-embedding", input=["a", "b"])
        async with fake_llm.async_openai_client() as async_client:
            await async_client.embeddings.create(model="fake-embedding", input="c")
    first, second = traced.find(name="openai.embeddings")
    assert first["type"] == "embedding" and first["input"] == ["a", "b"]
    assert first["metadata"]["embeddings.count"] == 2 and second["metadata"]["embeddings.count"] == 1
    assert first["metadata"]["embeddings.dimensions"] > 0
    assert "output" not in first
    assert first["usage"]["input_tokens"] > 0


def test_stream_abandoned_early_still_ends_the_span(fake_llm, client):
    fake_llm.script.on().respond("one two three four five six seven")
    with capture() as traced:
        stream = client.chat.completions.create(model="fake-gpt", messages=MESSAGES, stream=True)
        iterator = iter(stream)
        next(iterator)
        iterator.close()
        stream._iterator.close()
    span = traced.one(name="openai.chat.completions")
    assert span["metadata"]["stream.closed_early"] is True
