"""contrail.get_prompt against a live Contrail: cache, stale-while-revalidate, fallbacks, linking."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

import contrail
from contrail.prompts.template import RenderError
from contrail.sdk import guard
from contrail.sdk import tracer as _tracer
from contrail.sdk.config import resolve
from contrail.sdk.instrument import openai as instrument_openai_module
from contrail.sdk.prompts import CompiledMessages, PromptClient, PromptUnavailableError
from tests.conftest import LiveContrail


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _fresh_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CONTRAIL_STRICT", "1")
    guard.reset()
    yield
    tracer, _tracer.STATE = _tracer.STATE, None
    if tracer is not None and tracer.exporter is not None:
        tracer.exporter.shutdown(timeout=0.2)


def _client(live: LiveContrail, clock: Clock) -> PromptClient:
    config = resolve({"host": live.url, "public_key": live.public_key, "secret_key": live.secret_key})
    return PromptClient(lambda: config, clock=clock)


def _push(
    live: LiveContrail, text: str, labels: tuple[str, ...] = ("production",), name: str = "qa/answer"
) -> int:
    with live.client() as http:
        response = http.post("/api/v1/prompts", json={"name": name, "prompt": text, "labels": list(labels)})
        assert response.status_code == 201, response.text
        return int(response.json()["version"])


def _wait_idle(client: PromptClient) -> None:
    deadline = time.monotonic() + 10
    while client.refreshing():
        assert time.monotonic() < deadline, "background refresh did not finish"
        time.sleep(0.01)


def test_get_compile_and_cache_hits(sqlite_contrail: LiveContrail) -> None:
    _push(sqlite_contrail, "Answer {{question}} briefly.")
    clock = Clock()
    client = _client(sqlite_contrail, clock)
    prompt = client.get("qa/answer")
    assert (prompt.name, prompt.version, prompt.type, prompt.is_fallback) == ("qa/answer", 1, "text", False)
    assert prompt.labels == ["latest", "production"] and prompt.variables == ["question"]
    assert prompt.compile(question="why?") == "Answer why? briefly."
    with pytest.raises(RenderError, match="missing variables: question"):
        prompt.compile()
    with pytest.raises(RenderError, match="unknown variables: extra"):
        prompt.compile(question="q", extra=1)
    assert prompt.compile(question="q", extra=1, allow_extra=True) == "Answer q briefly."
    _push(sqlite_contrail, "Changed {{question}}")
    assert client.get("qa/answer") is prompt  # within the TTL: served from the cache
    assert client.get("qa/answer", cache_ttl_seconds=0).version == 2  # no cache: always asks the server
    assert client.get("qa/answer", label="latest").version == 2  # another key
    assert client.get("qa/answer", version=1, cache_ttl_seconds=0).version == 1
    client.close()


def test_stale_while_revalidate(sqlite_contrail: LiveContrail) -> None:
    _push(sqlite_contrail, "v1 {{x}}")
    clock = Clock()
    client = _client(sqlite_contrail, clock)
    first = client.get("qa/answer", cache_ttl_seconds=30)
    _push(sqlite_contrail, "v2 {{x}}")
    clock.now += 31
    assert client.get("qa/answer", cache_ttl_seconds=30) is first  # stale, returned at once
    _wait_idle(client)
    assert client.get("qa/answer", cache_ttl_seconds=30).version == 2
    client.close()


def test_server_down_serves_cache_then_fallback_then_raises(sqlite_contrail: LiveContrail) -> None:
    _push(sqlite_contrail, "cached {{x}}")
    clock = Clock()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    closed_port = sock.getsockname()[1]
    sock.close()
    live = _client(sqlite_contrail, clock)
    cached = live.get("qa/answer", cache_ttl_seconds=5)
    down_config = resolve({"host": f"http://127.0.0.1:{closed_port}", "timeout": 2.0})
    down = PromptClient(lambda: down_config, clock=clock)
    down._cache.update(live._cache)  # the same process had fetched it before the server went away
    clock.now += 10
    assert down.get("qa/answer", cache_ttl_seconds=0) is cached  # expired, but better than nothing
    fallback = down.get("other", fallback="Default {{x}}")
    assert fallback.is_fallback and fallback.version is None and fallback.compile(x="1") == "Default 1"
    chat = down.get("chat", fallback=[{"role": "user", "content": "{{q}}"}])
    assert chat.type == "chat" and chat.compile(q="hi") == [{"role": "user", "content": "hi"}]
    with pytest.raises(PromptUnavailableError, match=r"Cannot get prompt 'other'.*fallback="):
        down.get("other")
    live.close()
    down.close()


def test_not_found_uses_fallback_or_says_why(sqlite_contrail: LiveContrail) -> None:
    client = _client(sqlite_contrail, Clock())
    assert client.get("missing", fallback="fb").is_fallback
    with pytest.raises(PromptUnavailableError, match="HTTP 404: No prompt named 'missing'"):
        client.get("missing")
    client.close()


def test_compiled_prompt_links_generations_end_to_end(
    sqlite_contrail: LiveContrail, fake_llm: object
) -> None:
    with sqlite_contrail.client() as http:
        http.post(
            "/api/v1/prompts",
            json={
                "name": "support/reply",
                "type": "chat",
                "prompt": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "{{q}}"}],
                "labels": ["production"],
            },
        )
    _push(sqlite_contrail, "Summarise: {{text}}", name="summarise")
    contrail.configure(
        host=sqlite_contrail.url,
        public_key=sqlite_contrail.public_key,
        secret_key=sqlite_contrail.secret_key,
        flush_interval=0.05,
    )
    assert contrail.instrument_openai()
    try:
        chat = contrail.get_prompt("support/reply", cache_ttl_seconds=0)
        messages = chat.compile(q="Where is my parcel?")
        assert isinstance(messages, CompiledMessages)
        text = contrail.get_prompt("summarise", cache_ttl_seconds=0)
        summary_request = [{"role": "user", "content": text.compile(text="long text")}]
        with fake_llm.openai_client() as client, contrail.span("request") as root:  # type: ignore[attr-defined]
            client.chat.completions.create(model="fake-gpt", messages=messages)
            client.chat.completions.create(model="fake-gpt", messages=summary_request)
            with text.use():
                client.chat.completions.create(model="fake-gpt", messages=[{"role": "user", "content": "x"}])
            client.chat.completions.create(model="fake-gpt", messages=[{"role": "user", "content": "plain"}])
            with contrail.generation("manual", prompt=chat) as manual:
                manual.update(output="ok")
            trace_id = root.trace_id
        assert contrail.flush(10)
    finally:
        instrument_openai_module.uninstrument()
    with sqlite_contrail.client() as http:
        trace = http.get(f"/api/v1/traces/{trace_id}").json()
    generations = sorted(
        (o["start_time"], o["name"], o["prompt_name"], o["prompt_version"])
        for o in trace["observations"]
        if o["type"] == "generation"
    )
    assert [(name, p, v) for _, name, p, v in generations] == [
        ("openai.chat.completions", "support/reply", 1),
        ("openai.chat.completions", "summarise", 1),
        ("openai.chat.completions", "summarise", 1),
        ("openai.chat.completions", None, None),
        ("manual", "support/reply", 1),
    ]


def test_anthropic_system_prompt_links_and_fallbacks_do_not(fake_llm: object) -> None:
    from contrail.prompts.content import check_content
    from contrail.sdk.instrument import anthropic as instrument_anthropic_module
    from contrail.sdk.prompts import Prompt
    from contrail.testing.sdk import capture

    system = Prompt("assistant/system", 4, check_content("text", "Be {{tone}}."))
    fallback = Prompt("assistant/system", None, check_content("text", "Be {{tone}}."), is_fallback=True)
    user = [{"role": "user", "content": "hello"}]
    assert contrail.instrument_anthropic()
    try:
        with capture() as traced, fake_llm.anthropic_client() as client:  # type: ignore[attr-defined]
            client.messages.create(
                model="fake-claude", max_tokens=20, system=system.compile(tone="brief"), messages=user
            )
            client.messages.create(
                model="fake-claude", max_tokens=20, system=fallback.compile(tone="brief"), messages=user
            )
    finally:
        instrument_anthropic_module.uninstrument()
    linked = [(o.get("prompt_name"), o.get("prompt_version")) for o in traced.find(type="generation")]
    assert linked == [("assistant/system", 4), (None, None)]
