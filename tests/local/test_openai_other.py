"""Embeddings, models and the Responses API through the real openai SDK."""

from __future__ import annotations

import base64
import json
import math
import struct

import openai

from contrail.local.fake import FakeScript
from contrail.testing.fake_llm import FakeLLM


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_embeddings_are_deterministic_unit_vectors(asgi_openai: openai.AsyncOpenAI) -> None:
    texts = ["the cat sat", "the cat sat", "a cat ran", "quantum chromodynamics"]
    result = await asgi_openai.embeddings.create(model="text-embedding-3-small", input=texts)
    vectors = [d.embedding for d in result.data]
    assert len(vectors[0]) == 1536
    assert math.isclose(_cosine(vectors[0], vectors[0]), 1.0, rel_tol=1e-6)
    assert vectors[0] == vectors[1]
    assert _cosine(vectors[0], vectors[2]) > _cosine(vectors[0], vectors[3])
    assert result.usage.prompt_tokens == 3 + 3 + 3 + 2


def test_embeddings_float_and_base64_agree(fake_llm: FakeLLM, script: FakeScript) -> None:
    with fake_llm.openai_client() as client:
        floats = client.embeddings.create(model="e", input="hello", encoding_format="float", dimensions=8)
        raw = client.with_raw_response.embeddings.create(
            model="e", input="hello", encoding_format="base64", dimensions=8
        )
    encoded = json.loads(raw.http_response.text)["data"][0]["embedding"]
    decoded = struct.unpack("<8f", base64.b64decode(encoded))
    assert all(
        math.isclose(a, b, rel_tol=1e-6) for a, b in zip(decoded, floats.data[0].embedding, strict=True)
    )


def test_models_list_and_retrieve(fake_llm: FakeLLM) -> None:
    fake_llm.script = FakeScript(models=["gpt-4o", "claude-*"])
    with fake_llm.openai_client() as client:
        assert [m.id for m in client.models.list()] == ["gpt-4o"]
        assert client.models.retrieve("claude-3-haiku").id == "claude-3-haiku"


async def test_responses_plain_text_and_usage(asgi_openai: openai.AsyncOpenAI) -> None:
    response = await asgi_openai.responses.create(model="gpt-4o", instructions="Be terse.", input="Hi there!")
    assert response.output_text == "Hi there!"
    assert response.status == "completed"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (6, 3)


def test_responses_event_stream_in_order(fake_llm: FakeLLM) -> None:
    fake_llm.script.on().respond("Streaming works.")
    with fake_llm.openai_client() as client, client.responses.stream(model="gpt-4o", input="go") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Streaming works."
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.output_text == "Streaming works."


async def test_responses_tool_call_and_json_schema(
    asgi_openai: openai.AsyncOpenAI, script: FakeScript
) -> None:
    script.on(prompt_contains="weather").tool_call("get_weather", {"city": "Oslo"})
    called = await asgi_openai.responses.create(model="m", input="weather please")
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    shaped = await asgi_openai.responses.create(
        model="m", input="count", text={"format": {"type": "json_schema", "name": "n", "schema": schema}}
    )
    [item] = called.output
    assert item.type == "function_call" and json.loads(item.arguments) == {"city": "Oslo"}
    assert json.loads(shaped.output_text) == {"n": 0}


async def test_responses_max_output_tokens_is_incomplete(asgi_openai: openai.AsyncOpenAI) -> None:
    response = await asgi_openai.responses.create(model="m", input="one two three", max_output_tokens=1)
    assert response.status == "incomplete"
    assert (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )
    assert response.output_text == "one"
