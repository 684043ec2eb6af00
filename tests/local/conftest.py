"""Fixtures for the fake provider tests: in-process SDK clients over ASGI (live: ``fake_llm``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import httpx2
import openai
import pytest

from contrail.local.fake import FakeScript, create_fake_llm_app


@pytest.fixture
def script() -> FakeScript:
    return FakeScript()


@pytest.fixture
async def asgi_openai(script: FakeScript) -> AsyncIterator[openai.AsyncOpenAI]:
    transport = httpx2.ASGITransport(app=create_fake_llm_app(script))
    async with openai.AsyncOpenAI(
        base_url="http://fake/v1",
        api_key="sk-test",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    ) as client:
        yield client


@pytest.fixture
async def asgi_anthropic(script: FakeScript) -> AsyncIterator[anthropic.AsyncAnthropic]:
    transport = httpx2.ASGITransport(app=create_fake_llm_app(script))
    async with anthropic.AsyncAnthropic(
        base_url="http://fake",
        api_key="sk-test",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    ) as client:
        yield client
