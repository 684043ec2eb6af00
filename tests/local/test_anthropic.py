"""Messages API through the real anthropic SDK: plain, streamed, tools, caching, count_tokens."""

from __future__ import annotations

import anthropic

from contrail.local.fake import FakeScript
from contrail.testing.fake_llm import FakeLLM

MESSAGES = [{"role": "user", "content": "Hello, Claude!"}]


def test_sync_message_with_usage(fake_llm: FakeLLM) -> None:
    with fake_llm.anthropic_client() as client:
        message = client.messages.create(
            model="claude-x", max_tokens=64, system="Be kind.", messages=MESSAGES
        )
    assert message.content[0].type == "text" and message.content[0].text == "Hello, Claude!"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 4)
    assert fake_llm.requests[0].headers["authorization"] == "[redacted]"


async def test_async_stream_event_sequence(
    asgi_anthropic: anthropic.AsyncAnthropic, script: FakeScript
) -> None:
    script.on().respond("Streamed reply.")
    async with asgi_anthropic.messages.stream(model="claude-x", max_tokens=64, messages=MESSAGES) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "message_delta" in kinds
    assert final.content[0].type == "text" and final.content[0].text == "Streamed reply."
    assert final.usage.output_tokens == 3


def test_streamed_tool_use_reassembles_input(fake_llm: FakeLLM) -> None:
    fake_llm.script.on(api="anthropic.messages").tool_call("lookup", {"q": "paris", "n": 3})
    with fake_llm.anthropic_client() as client:
        plain = client.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES)
        with client.messages.stream(model="claude-x", max_tokens=64, messages=MESSAGES) as stream:
            final = stream.get_final_message()
    for message in (plain, final):
        assert message.stop_reason == "tool_use"
        block = message.content[0]
        assert block.type == "tool_use" and block.name == "lookup" and block.input == {"q": "paris", "n": 3}


async def test_cache_control_creates_then_reads(asgi_anthropic: anthropic.AsyncAnthropic) -> None:
    system = [{"type": "text", "text": "A long shared preamble " * 5, "cache_control": {"type": "ephemeral"}}]
    first = await asgi_anthropic.messages.create(model="c", max_tokens=8, system=system, messages=MESSAGES)  # type: ignore[arg-type]
    second = await asgi_anthropic.messages.create(model="c", max_tokens=8, system=system, messages=MESSAGES)  # type: ignore[arg-type]
    assert (first.usage.cache_creation_input_tokens, first.usage.cache_read_input_tokens) == (20, 0)
    assert (second.usage.cache_creation_input_tokens, second.usage.cache_read_input_tokens) == (0, 20)
    assert first.usage.input_tokens == second.usage.input_tokens == 4


async def test_scripted_cache_usage_and_refusal(
    asgi_anthropic: anthropic.AsyncAnthropic, script: FakeScript
) -> None:
    script.on().refuse("No.").usage(cache_read_tokens=100)
    message = await asgi_anthropic.messages.create(model="c", max_tokens=8, messages=MESSAGES)
    assert message.stop_reason == "refusal"
    assert message.usage.cache_read_input_tokens == 100


async def test_max_tokens_stop_reason_and_count_tokens(asgi_anthropic: anthropic.AsyncAnthropic) -> None:
    message = await asgi_anthropic.messages.create(model="c", max_tokens=2, messages=MESSAGES)
    counted = await asgi_anthropic.messages.count_tokens(model="c", messages=MESSAGES)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "text" and message.content[0].text == "Hello,"
    assert counted.input_tokens == message.usage.input_tokens == 4
