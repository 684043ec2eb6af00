"""The real Langfuse Python SDK's prompt management against a live Contrail, unchanged."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from tests.conftest import LiveContrail


@pytest.fixture
def langfuse(contrail: LiveContrail) -> Iterator[object]:
    from langfuse import Langfuse

    client = Langfuse(
        public_key=contrail.public_key,
        secret_key=contrail.secret_key,
        base_url=contrail.url,
        tracer_provider=TracerProvider(),  # never touch the global provider in tests
    )
    yield client
    client.shutdown()


def test_create_get_compile_and_update_text_prompt(langfuse: object, contrail: LiveContrail) -> None:
    from langfuse import Langfuse

    assert isinstance(langfuse, Langfuse)
    created = langfuse.create_prompt(
        name="folder/greeting",
        prompt="Hello {{ name }}, welcome to {{place}}!",
        labels=["production"],
        tags=["onboarding"],
        config={"model": "gpt-4o-mini", "temperature": 0.3},
        commit_message="first",
    )
    assert created.version == 1
    langfuse.create_prompt(name="folder/greeting", prompt="Hi {{name}} at {{place}}", type="text")

    production = langfuse.get_prompt("folder/greeting", cache_ttl_seconds=0)
    assert (production.version, production.labels) == (1, ["production"])
    assert production.config == {"model": "gpt-4o-mini", "temperature": 0.3}
    assert production.compile(name="Ada", place="Contrail") == "Hello Ada, welcome to Contrail!"
    assert production.commit_message == "first"
    latest = langfuse.get_prompt("folder/greeting", label="latest", cache_ttl_seconds=0)
    assert latest.version == 2 and latest.tags == ["onboarding"]
    assert (
        langfuse.get_prompt("folder/greeting", version=2, cache_ttl_seconds=0).prompt
        == "Hi {{name}} at {{place}}"
    )

    updated = langfuse.update_prompt(name="folder/greeting", version=2, new_labels=["production", "staging"])
    assert set(updated.labels) == {"latest", "production", "staging"}
    assert langfuse.get_prompt("folder/greeting", cache_ttl_seconds=0).version == 2
    with contrail.client() as http:
        history = http.get("/api/v1/prompts/folder/greeting/labels/history").json()["data"]
    assert ("production", 1, 2) in [(e["label"], e["from_version"], e["to_version"]) for e in history]


def test_chat_prompt_with_placeholder(langfuse: object) -> None:
    from langfuse import Langfuse

    assert isinstance(langfuse, Langfuse)
    langfuse.create_prompt(
        name="chat-helper",
        type="chat",
        prompt=[
            {"role": "system", "content": "You help with {{topic}}."},
            {"type": "placeholder", "name": "history"},
            {"role": "user", "content": "{{question}}"},
        ],
        labels=["production"],
    )
    prompt = langfuse.get_prompt("chat-helper", type="chat", cache_ttl_seconds=0)
    assert prompt.version == 1
    compiled = prompt.compile(
        topic="taxes", question="why?", history=[{"role": "user", "content": "earlier"}]
    )
    assert compiled == [
        {"role": "system", "content": "You help with taxes."},
        {"role": "user", "content": "earlier"},
        {"role": "user", "content": "why?"},
    ]


def test_missing_prompt_uses_the_sdk_fallback_and_list_has_meta(
    langfuse: object, contrail: LiveContrail
) -> None:
    from langfuse import Langfuse

    assert isinstance(langfuse, Langfuse)
    fallback = langfuse.get_prompt("nowhere", fallback="Default {{x}}", cache_ttl_seconds=0, max_retries=0)
    assert fallback.is_fallback and fallback.compile(x="1") == "Default 1"
    langfuse.create_prompt(name="a", prompt="x", labels=["production"])
    langfuse.create_prompt(name="b", prompt="y")
    listed = langfuse.api.prompts.list(limit=1, page=2)
    assert [p.name for p in listed.data] == ["b"]
    assert (listed.meta.total_items, listed.meta.total_pages) == (2, 2)
    with httpx.Client(base_url=contrail.url, auth=(contrail.public_key, contrail.secret_key)) as http:
        assert http.get("/api/public/v2/prompts/a").json()["labels"] == ["latest", "production"]
        assert http.get("/api/public/v2/prompts/nowhere").status_code == 404
        assert (
            http.get("/api/public/v2/prompts", params={"label": "production"}).json()["meta"]["totalItems"]
            == 1
        )
