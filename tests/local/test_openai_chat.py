"""Chat completions through the real openai SDK: live server (sync) and in-process ASGI (async)."""

from __future__ import annotations

import json

import openai
import pydantic
import pytest

from contrail.local.fake import FakeScript
from contrail.testing.fake_llm import FakeLLM

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello, world!"}]


class Weather(pydantic.BaseModel):
    city: str
    celsius: int
    sunny: bool


def test_sync_echo_with_consistent_usage(fake_llm: FakeLLM) -> None:
    with fake_llm.openai_client() as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices[0].message.content == "Hello, world!"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 4)
    assert completion.usage.total_tokens == 11


async def test_async_in_process_parity(asgi_openai: openai.AsyncOpenAI, script: FakeScript) -> None:
    script.on(model="gpt-x", prompt_contains="Hello").respond("Canned answer.")
    completion = await asgi_openai.chat.completions.create(model="gpt-x", messages=MESSAGES)
    assert completion.choices[0].message.content == "Canned answer."
    assert completion.usage is not None and completion.usage.completion_tokens == 3
    [logged] = script.requests
    assert (logged.api, logged.model, logged.last_user) == ("openai.chat", "gpt-x", "Hello, world!")
    assert logged.headers["authorization"] == "[redacted]"


def test_stream_chunks_rebuild_the_answer_and_end_with_usage(fake_llm: FakeLLM) -> None:
    fake_llm.script.on().respond("One two, three.")
    with fake_llm.openai_client() as client:
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "One two, three."
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5
    assert all(c.usage is None for c in chunks[:-1])


async def test_async_stream_without_usage_option_sends_no_usage(asgi_openai: openai.AsyncOpenAI) -> None:
    stream = await asgi_openai.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    chunks = [c async for c in stream]
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello, world!"


def test_tool_calls_plain_and_streamed(fake_llm: FakeLLM) -> None:
    fake_llm.script.on(prompt_contains="weather").tool_call("get_weather", {"city": "Paris"}).tool_call(
        "get_time"
    )
    messages = [{"role": "user", "content": "What's the weather?"}]
    with fake_llm.openai_client() as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=messages)
        with client.chat.completions.stream(model="gpt-4o", messages=messages) as stream:
            final = stream.get_final_completion()
    calls = completion.choices[0].message.tool_calls
    assert completion.choices[0].finish_reason == "tool_calls"
    assert calls is not None and [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    streamed = final.choices[0].message.tool_calls
    assert streamed is not None
    assert [(c.function.name, c.function.arguments) for c in streamed] == [
        (c.function.name, c.function.arguments) for c in calls
    ]
    assert all(c.id.startswith("call_") for c in streamed)


async def test_json_object_mode_echo_is_valid_json(asgi_openai: openai.AsyncOpenAI) -> None:
    completion = await asgi_openai.chat.completions.create(
        model="m", messages=MESSAGES, response_format={"type": "json_object"}
    )
    assert json.loads(completion.choices[0].message.content or "") == {"echo": "Hello, world!"}


async def test_json_schema_parse_gets_a_valid_instance(asgi_openai: openai.AsyncOpenAI) -> None:
    completion = await asgi_openai.chat.completions.parse(
        model="m", messages=MESSAGES, response_format=Weather
    )
    assert completion.choices[0].message.parsed == Weather(city="Hello, world!", celsius=0, sunny=False)


async def test_scripted_json_and_invalid_json(asgi_openai: openai.AsyncOpenAI, script: FakeScript) -> None:
    script.on(prompt_contains="valid").json({"answer": 42})
    script.on(prompt_contains="broken").invalid_json()
    good = await asgi_openai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "valid"}]
    )
    bad = await asgi_openai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "broken"}]
    )
    assert json.loads(good.choices[0].message.content or "") == {"answer": 42}
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.choices[0].message.content or "")


async def test_refusal_uses_the_refusal_field_under_structured_outputs(
    asgi_openai: openai.AsyncOpenAI, script: FakeScript
) -> None:
    script.on().refuse("I can't help with that.")
    parsed = await asgi_openai.chat.completions.parse(model="m", messages=MESSAGES, response_format=Weather)
    plain = await asgi_openai.chat.completions.create(model="m", messages=MESSAGES)
    assert parsed.choices[0].message.refusal == "I can't help with that."
    assert parsed.choices[0].message.parsed is None
    assert plain.choices[0].message.content == "I can't help with that."


async def test_max_tokens_truncates_with_length_finish(
    asgi_openai: openai.AsyncOpenAI, script: FakeScript
) -> None:
    script.on().respond("a b c d e f")
    completion = await asgi_openai.chat.completions.create(
        model="m", messages=MESSAGES, max_completion_tokens=2
    )
    assert completion.choices[0].message.content == "a b"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 2


async def test_multipart_content_and_tool_results_count_as_prompt(
    asgi_openai: openai.AsyncOpenAI, script: FakeScript
) -> None:
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "result text"},
    ]
    completion = await asgi_openai.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert "result text" in script.requests[0].prompt
    assert completion.choices[0].message.content == "look"
