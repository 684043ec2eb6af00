"""The ``fake_llm`` pytest fixture's object: a live fake provider plus ready-made SDK clients.

Tests script the fake through ``fake_llm.script`` and point their code at ``fake_llm.openai_base_url``
(OpenAI SDK) or ``fake_llm.url`` (Anthropic SDK)::

    def test_retries_on_429(fake_llm):
        fake_llm.script.on(times=1).error(429, retry_after=0.01)
        client = fake_llm.openai_client(max_retries=1)
        assert client.chat.completions.create(model="m", messages=[...]).choices[0].message.content
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import anthropic
    import openai

    from contrail.local.fake import FakeRequest, FakeScript
    from contrail.local.fake.server import FakeLLMServer

_EXTRA_HINT = "The fake_llm fixture needs the server extra: pip install 'contrail-llmops[server]'"
_API_KEY = "sk-contrail-fake"


def _server_class() -> type[FakeLLMServer]:
    try:
        from contrail.local.fake.server import FakeLLMServer
    except ImportError as err:
        raise ImportError(f"{_EXTRA_HINT} ({err})") from err
    return FakeLLMServer


@contextmanager
def running_fake_llm_server() -> Iterator[FakeLLMServer]:
    """Start a fake provider on a free 127.0.0.1 port and stop it on exit."""
    with _server_class()() as server:
        yield server


class FakeLLM:
    """A running fake provider with a fresh :class:`FakeScript` (what the ``fake_llm`` fixture yields)."""

    def __init__(self, server: FakeLLMServer) -> None:
        from contrail.local.fake import FakeScript

        self.server = server
        server.script = FakeScript()

    @property
    def script(self) -> FakeScript:
        """The script answering requests; add rules with ``script.on(...)``."""
        return self.server.script

    @script.setter
    def script(self, script: FakeScript) -> None:
        self.server.script = script

    @property
    def requests(self) -> list[FakeRequest]:
        """Requests received since this test started."""
        return self.server.script.requests

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the Anthropic SDK's ``base_url``."""
        return self.server.url

    @property
    def openai_base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the OpenAI SDK's ``base_url``."""
        return self.server.openai_base_url

    def openai_client(self, **kwargs: Any) -> openai.OpenAI:
        """An ``openai.OpenAI`` client for this fake (``max_retries=0`` unless given)."""
        import openai

        return openai.OpenAI(**self._client_options(self.openai_base_url, kwargs))

    def async_openai_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` client for this fake (``max_retries=0`` unless given)."""
        import openai

        return openai.AsyncOpenAI(**self._client_options(self.openai_base_url, kwargs))

    def anthropic_client(self, **kwargs: Any) -> anthropic.Anthropic:
        """An ``anthropic.Anthropic`` client for this fake (``max_retries=0`` unless given)."""
        import anthropic

        return anthropic.Anthropic(**self._client_options(self.url, kwargs))

    def async_anthropic_client(self, **kwargs: Any) -> anthropic.AsyncAnthropic:
        """An ``anthropic.AsyncAnthropic`` client for this fake (``max_retries=0`` unless given)."""
        import anthropic

        return anthropic.AsyncAnthropic(**self._client_options(self.url, kwargs))

    @staticmethod
    def _client_options(base_url: str, overrides: dict[str, Any]) -> dict[str, Any]:
        return {"base_url": base_url, "api_key": _API_KEY, "max_retries": 0, **overrides}
