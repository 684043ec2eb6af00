"""pytest plugin registered by the ``contrail-llmops`` distribution (entry point ``pytest11``).

Fixtures import their dependencies lazily so that installing the bare SDK never breaks a test session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from contrail.testing.sdk import contrail_capture

__all__ = ["contrail_capture", "fake_llm", "fake_llm_server"]

if TYPE_CHECKING:
    from contrail.local.fake.server import FakeLLMServer
    from contrail.testing.fake_llm import FakeLLM


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLMServer]:
    """One fake LLM provider on a free 127.0.0.1 port for the whole session (see ``fake_llm``)."""
    from contrail.testing.fake_llm import running_fake_llm_server

    with running_fake_llm_server() as server:
        yield server


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLMServer) -> FakeLLM:
    """A live fake OpenAI/Anthropic provider with a fresh script (``.script``, ``.url``, clients)."""
    from contrail.testing.fake_llm import FakeLLM

    return FakeLLM(fake_llm_server)
