"""Errors, bad input, latency, timeouts and dropped connections, seen through the SDKs' exception classes."""

from __future__ import annotations

import time

import anthropic
import httpx
import httpx2
import openai
import pytest

from contrail.local.fake import FakeScript
from contrail.testing.fake_llm import FakeLLM

MESSAGES = [{"role": "user", "content": "Hello there"}]

OPENAI_ERRORS = [
    (400, openai.BadRequestError),
    (401, openai.AuthenticationError),
    (404, openai.NotFoundError),
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (503, openai.InternalServerError),
]
ANTHROPIC_ERRORS = [
    (400, anthropic.BadRequestError, "invalid_request_error"),
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (529, anthropic.OverloadedError, "overloaded_error"),
]


@pytest.mark.parametrize(("status", "error_class"), OPENAI_ERRORS)
async def test_scripted_openai_errors_map_to_sdk_classes(
    asgi_openai: openai.AsyncOpenAI, script: FakeScript, status: int, error_class: type[openai.APIStatusError]
) -> None:
    script.on().error(status, "scripted failure", code="scripted")
    with pytest.raises(error_class) as caught:
        await asgi_openai.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == status
    assert caught.value.message.endswith("scripted failure")
    assert caught.value.code == "scripted"


@pytest.mark.parametrize(("status", "error_class", "kind"), ANTHROPIC_ERRORS)
async def test_scripted_anthropic_errors_map_to_sdk_classes(
    asgi_anthropic: anthropic.AsyncAnthropic,
    script: FakeScript,
    status: int,
    error_class: type[anthropic.APIStatusError],
    kind: str,
) -> None:
    script.on().error(status)
    with pytest.raises(error_class) as caught:
        await asgi_anthropic.messages.create(model="c", max_tokens=8, messages=MESSAGES)
    assert caught.value.status_code == status
    assert isinstance(caught.value.body, dict) and caught.value.body["error"]["type"] == kind


def test_retry_after_is_honoured_by_the_sdk_retry(fake_llm: FakeLLM) -> None:
    fake_llm.script.on(times=2).error(429, retry_after=0.01)
    with fake_llm.openai_client(max_retries=2) as client:
        raw = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "Hello there"
    assert len(fake_llm.requests) == 3
    assert [r.headers["x-stainless-retry-count"] for r in fake_llm.requests] == ["0", "1", "2"]


def test_retry_after_headers_are_sent(fake_llm: FakeLLM) -> None:
    fake_llm.script.on().error(429, retry_after=1.5)
    response = httpx.post(
        f"{fake_llm.openai_base_url}/chat/completions", json={"model": "m", "messages": MESSAGES}
    )
    assert response.status_code == 429
    assert (response.headers["retry-after"], response.headers["retry-after-ms"]) == ("2", "1500")
    assert response.json()["error"]["type"] == "requests"


def test_malformed_json_gets_each_providers_400_shape(fake_llm: FakeLLM) -> None:
    openai_reply = httpx.post(f"{fake_llm.openai_base_url}/chat/completions", content=b"{not json")
    anthropic_reply = httpx.post(f"{fake_llm.url}/v1/messages", content=b"[1, 2")
    assert openai_reply.status_code == anthropic_reply.status_code == 400
    assert openai_reply.json()["error"]["type"] == "invalid_request_error"
    assert anthropic_reply.json()["type"] == "error"
    assert anthropic_reply.json()["error"]["type"] == "invalid_request_error"


async def test_missing_fields_are_bad_requests(
    asgi_openai: openai.AsyncOpenAI, asgi_anthropic: anthropic.AsyncAnthropic
) -> None:
    with pytest.raises(openai.BadRequestError) as openai_error:
        await asgi_openai.post("/chat/completions", body={"model": "m"}, cast_to=object)
    with pytest.raises(anthropic.BadRequestError) as anthropic_error:
        await asgi_anthropic.post("/v1/messages", body={"model": "c", "messages": MESSAGES}, cast_to=object)
    assert openai_error.value.param == "messages"
    assert "max_tokens" in anthropic_error.value.message


async def test_unknown_models_are_404(
    asgi_openai: openai.AsyncOpenAI, asgi_anthropic: anthropic.AsyncAnthropic, script: FakeScript
) -> None:
    script.models = ("gpt-4o",)
    with pytest.raises(openai.NotFoundError) as openai_error:
        await asgi_openai.chat.completions.create(model="gpt-nope", messages=MESSAGES)
    with pytest.raises(anthropic.NotFoundError):
        await asgi_anthropic.messages.create(model="claude-nope", max_tokens=8, messages=MESSAGES)
    assert openai_error.value.code == "model_not_found"
    assert script.requests == []


async def test_oversized_body_is_413_and_long_prompt_is_context_error(
    asgi_openai: openai.AsyncOpenAI,
) -> None:
    script = FakeScript(max_body_bytes=1_000, context_window=5)
    transport_app = asgi_openai._client._transport
    transport_app.app.script = script  # type: ignore[attr-defined]
    with pytest.raises(openai.APIStatusError) as too_large:
        await asgi_openai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x" * 2_000}]
        )
    with pytest.raises(openai.BadRequestError) as too_long:
        await asgi_openai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "a b c d e f"}]
        )
    assert too_large.value.status_code == 413
    assert too_long.value.code == "context_length_exceeded"


def test_unknown_path_is_404(fake_llm: FakeLLM) -> None:
    with fake_llm.openai_client() as client, pytest.raises(openai.NotFoundError):
        client.post("/nowhere", body={}, cast_to=object)


def test_client_timeout_fires_on_a_hung_request(fake_llm: FakeLLM) -> None:
    fake_llm.script.on().timeout(5)
    started = time.monotonic()
    with fake_llm.openai_client(timeout=0.2) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert time.monotonic() - started < 2


def test_anthropic_timeout_while_waiting_for_first_token(fake_llm: FakeLLM) -> None:
    fake_llm.script.on().latency(ttft_ms=5_000)
    with fake_llm.anthropic_client(timeout=0.2) as client, pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model="c", max_tokens=8, messages=MESSAGES)


def test_openai_stream_dropped_mid_way_raises_connection_error(fake_llm: FakeLLM) -> None:
    fake_llm.script.on().respond("one two three four").drop(after_tokens=2)
    received: list[str] = []
    with fake_llm.openai_client() as client, pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "one two"


def test_anthropic_stream_dropped_mid_way_raises_the_transport_error(fake_llm: FakeLLM) -> None:
    # Older anthropic SDKs let the httpx2 error out of a stream's iteration; newer ones (2.17) wrap it
    # in APIConnectionError. Either way the client sees the connection cut mid-message.
    fake_llm.script.on().respond("one two three four").drop(after_tokens=1)
    with (
        fake_llm.anthropic_client() as client,
        pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)) as raised,
        client.messages.stream(model="c", max_tokens=64, messages=MESSAGES) as stream,
    ):
        list(stream.text_stream)
    assert "incomplete chunked read" in str(raised.value)


def test_non_streaming_drop_is_a_connection_error(fake_llm: FakeLLM) -> None:
    fake_llm.script.on(times=1).drop()
    with fake_llm.openai_client() as client, pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    with fake_llm.openai_client() as client:  # the server keeps serving
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content


def test_time_to_first_token_and_token_rate(fake_llm: FakeLLM) -> None:
    fake_llm.script.on().respond("a b c d e").latency(ttft_ms=150, tokens_per_s=50)
    started = time.monotonic()
    arrivals: list[float] = []
    with fake_llm.openai_client() as client:
        for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 5
    assert arrivals[0] >= 0.15
    assert arrivals[-1] - arrivals[0] >= 4 / 50 * 0.9
