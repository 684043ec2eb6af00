"""instrument_anthropic() with the real anthropic SDK against the fake provider (fake_llm fixture)."""

import anthropic
import pytest

import contrail
from contrail.sdk.instrument import anthropic as instrument_module
from contrail.testing.sdk import capture

MESSAGES = [{"role": "user", "content": "hello claude"}]


@pytest.fixture
def client(fake_llm):
    with fake_llm.anthropic_client() as sync_client:
        yield sync_client


@pytest.fixture(autouse=True)
def instrumented():
    assert contrail.instrument_anthropic()
    yield
    instrument_module.uninstrument()


def test_messages_create_records_generation(fake_llm, client):
    with capture() as traced:
        reply = client.messages.create(
            model="fake-claude", max_tokens=64, system="Be brief.", messages=MESSAGES, stop_sequences=["END"]
        )
    span = traced.one(name="anthropic.messages")
    assert span["provider"] == "anthropic" and span["type"] == "generation"
    assert span["input"] == {"system": "Be brief.", "messages": MESSAGES}
    assert span["output"] == reply.content[0].text
    assert span["model_parameters"] == {"max_tokens": 64, "stop_sequences": ["END"]}
    cached = reply.usage.cache_read_input_tokens or 0
    assert span["usage"]["input_tokens"] == reply.usage.input_tokens + cached
    assert span["usage"]["output_tokens"] == reply.usage.output_tokens
    assert span["model_response"] == reply.model
    assert span["metadata"]["finish_reason"] == "end_turn"


def test_streaming_create_and_stream_helper(fake_llm, client):
    with capture() as traced:
        events = list(
            client.messages.create(model="fake-claude", max_tokens=64, messages=MESSAGES, stream=True)
        )
        with client.messages.stream(model="fake-claude", max_tokens=64, messages=MESSAGES) as stream:
            helper_text = "".join(stream.text_stream)
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    created, helper = traced.find(name="anthropic.messages")
    assert created["output"] == text and helper["output"] == helper_text
    for span in (created, helper):
        assert span["ttft_us"] >= 0
        assert span["usage"]["input_tokens"] > 0 and span["usage"]["output_tokens"] > 0
        assert "usage_estimated" not in span["metadata"]


def test_tool_use_streamed_and_plain(fake_llm, client):
    fake_llm.script.on(prompt_contains="weather").tool_call("get_weather", {"city": "Oslo"})
    messages = [{"role": "user", "content": "weather in Oslo?"}]
    with capture() as traced:
        client.messages.create(model="fake-claude", max_tokens=64, messages=messages)
        list(client.messages.create(model="fake-claude", max_tokens=64, messages=messages, stream=True))
    for span in traced.find(name="anthropic.messages"):
        tool = next(block for block in span["output"] if block["type"] == "tool_use")
        assert tool["name"] == "get_weather" and tool["input"] == {"city": "Oslo"}
        assert span["metadata"]["finish_reason"] == "tool_use"


def test_error_status_code(fake_llm, client):
    fake_llm.script.on(times=1).error(529, "overloaded")
    with capture() as traced, pytest.raises(anthropic.APIStatusError):
        client.messages.create(model="fake-claude", max_tokens=8, messages=MESSAGES)
    span = traced.one(name="anthropic.messages")
    assert span["status"] == "error" and span["metadata"]["error.status_code"] == 529


async def test_async_parity(fake_llm):
    async with fake_llm.async_anthropic_client() as client:
        with capture() as traced:
            reply = await client.messages.create(model="fake-claude", max_tokens=64, messages=MESSAGES)
            stream = await client.messages.create(
                model="fake-claude", max_tokens=64, messages=MESSAGES, stream=True
            )
            streamed = "".join([e.delta.text async for e in stream if e.type == "content_block_delta"])
            async with client.messages.stream(
                model="fake-claude", max_tokens=64, messages=MESSAGES
            ) as helper:
                helper_text = "".join([t async for t in helper.text_stream])
    plain, created, managed = traced.find(name="anthropic.messages")
    assert plain["output"] == reply.content[0].text
    assert created["output"] == streamed and managed["output"] == helper_text
    assert created["usage"]["output_tokens"] > 0 and managed["ttft_us"] >= 0


def test_cache_reads_count_as_input_tokens(fake_llm, client):
    fake_llm.script.on().usage(cache_read_tokens=5)
    with capture() as traced:
        reply = client.messages.create(model="fake-claude", max_tokens=8, messages=MESSAGES)
    usage = traced.one(name="anthropic.messages")["usage"]
    assert usage["cached_input_tokens"] == reply.usage.cache_read_input_tokens == 5
    assert usage["input_tokens"] == reply.usage.input_tokens + 5 + (
        reply.usage.cache_creation_input_tokens or 0
    )
