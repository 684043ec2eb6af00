"""A fake LLM provider speaking the OpenAI and Anthropic HTTP APIs, scripted per test.

Use it in-process (:func:`create_fake_llm_app` behind an ASGI transport), as a live server
(:class:`FakeLLMServer`, or the ``fake_llm`` pytest fixture), or from the shell
(``contrail fake-llm serve``). Needs the ``server`` extra (uvicorn, orjson).
"""

from contrail.local.fake.app import FakeLLMApp, create_fake_llm_app
from contrail.local.fake.script import MAX_DELAY_S, FakeRequest, FakeScript, Rule
from contrail.local.fake.tokens import count_tokens

__all__ = [
    "MAX_DELAY_S",
    "FakeLLMApp",
    "FakeRequest",
    "FakeScript",
    "Rule",
    "count_tokens",
    "create_fake_llm_app",
]
