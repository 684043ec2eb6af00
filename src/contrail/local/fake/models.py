"""``GET /v1/models`` and ``GET /v1/models/{id}`` in the OpenAI or Anthropic shape."""

from __future__ import annotations

from typing import Any

import orjson

from contrail.local.fake.errors import Dialect, unknown_model
from contrail.local.fake.script import FakeScript

#: Listed when the script accepts any model name.
DEFAULT_MODELS = ("fake-gpt", "fake-claude", "fake-embedding")


def listed_models(script: FakeScript) -> list[str]:
    """The concrete (non-glob) model names the script serves, or :data:`DEFAULT_MODELS`."""
    if script.models is None:
        return list(DEFAULT_MODELS)
    return [m for m in script.models if not any(ch in m for ch in "*?[")]


async def handle_models(script: FakeScript, path: str, dialect: Dialect) -> bytes:
    """The JSON body for a models list (``path == /v1/models``) or a single model lookup."""
    if path == "/v1/models":
        names = listed_models(script)
        if dialect == "anthropic":
            data = [_anthropic_model(n) for n in names]
            first, last = (names[0], names[-1]) if names else (None, None)
            return orjson.dumps({"data": data, "has_more": False, "first_id": first, "last_id": last})
        return orjson.dumps({"object": "list", "data": [_openai_model(n) for n in names]})
    name = path.removeprefix("/v1/models/")
    if not script.accepts_model(name):
        raise unknown_model(dialect, name)
    return orjson.dumps(_anthropic_model(name) if dialect == "anthropic" else _openai_model(name))


def _openai_model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "contrail-fake"}


def _anthropic_model(name: str) -> dict[str, Any]:
    return {"type": "model", "id": name, "display_name": name, "created_at": "2025-01-01T00:00:00Z"}
