"""How scorers read an output (or an expected output) as text.

Targets return strings, provider messages or arbitrary JSON. The rule, applied to outputs and expected
outputs alike: ``None`` has no text; a string is itself; an OpenAI chat message (``{"content": ...}``), a
chat completion (``{"choices": [{"message": ...}]}``), an Anthropic message (``{"content": [{"type":
"text", "text": ...}]}``) or a dict holding a ``text``/``output``/``answer`` string gives that text;
lists of text content parts are joined; numbers and booleans are written as JSON; anything else is its
compact JSON with sorted keys (so ``{"a": 1}`` compares equal however it was built).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

_TEXT_KEYS = ("text", "output", "answer", "content")


def as_text(value: Any) -> str | None:
    """The text a scorer compares, or None when there is none (see the module docstring)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        text = _mapping_text(value)
        return text if text is not None else _json(value)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        parts = _parts_text(value)
        return parts if parts is not None else _json(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return _json(value)


def _mapping_text(value: Mapping[str, Any]) -> str | None:
    choices = value.get("choices")
    if isinstance(choices, Sequence) and choices and isinstance(choices[0], Mapping):
        message = choices[0].get("message") or choices[0]
        if isinstance(message, Mapping):
            return _mapping_text(message)
    for key in _TEXT_KEYS:
        if key not in value:
            continue
        inner = value[key]
        if isinstance(inner, str):
            return inner
        if isinstance(inner, Sequence) and key == "content":
            return _parts_text(inner)
    return None


def _parts_text(parts: Sequence[Any]) -> str | None:
    """Join the text of content parts (``{"type": "text", "text": ...}``); None unless all are such parts."""
    if not parts or not all(isinstance(p, Mapping) and isinstance(p.get("text"), str) for p in parts):
        return None
    return "".join(part["text"] for part in parts)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
